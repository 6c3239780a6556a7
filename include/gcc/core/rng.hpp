// Seeded random numbers that are the same on every platform (xoshiro256** + Box-Muller), unlike
// std::normal_distribution whose output is implementation-defined.
#pragma once
#include <cmath>
#include <cstdint>

#include "tensor.hpp"

namespace gcc {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) { reseed(seed); }

  void reseed(uint64_t seed) {
    uint64_t x = seed;
    for (auto& s : s_) s = splitmix64(x);
    has_spare_ = false;
  }
  // Uniform 64-bit integer.
  uint64_t next_u64() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [0, n).
  uint64_t below(uint64_t n) {
    GCC_CHECK(n > 0, "Rng::below: n must be positive");
    return static_cast<uint64_t>(uniform() * static_cast<double>(n)) % n;
  }
  // Standard normal (Box-Muller, the spare value is kept for the next call).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = uniform(), u2 = uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double th = 6.283185307179586 * u2;
    spare_ = r * std::sin(th);
    has_spare_ = true;
    return r * std::cos(th);
  }
  double normal(double mean, double std) { return mean + std * normal(); }

  // Fill a tensor (any device; generated on the host, copied over).
  void fill_uniform(const Tensor& t, double lo, double hi) {
    fill_with(t, [&] { return static_cast<float>(uniform(lo, hi)); });
  }
  void fill_normal(const Tensor& t, double mean, double std) {
    fill_with(t, [&] { return static_cast<float>(normal(mean, std)); });
  }

  // Full state, for checkpoints.
  struct State {
    uint64_t s[4];
    bool has_spare;
    double spare;
  };
  State state() const { return State{{s_[0], s_[1], s_[2], s_[3]}, has_spare_, spare_}; }
  void set_state(const State& st) {
    for (int i = 0; i < 4; ++i) s_[i] = st.s[i];
    has_spare_ = st.has_spare;
    spare_ = st.spare;
  }

 private:
  template <typename F>
  void fill_with(const Tensor& t, F&& gen) {
    Tensor host = t.device().is_cpu() && t.is_contiguous() ? t : Tensor::empty(t.shape());
    float* p = host.data();
    for (int64_t i = 0; i < host.numel(); ++i) p[i] = gen();
    if (!host.same_storage(t)) t.copy_from(host);
  }
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  uint64_t s_[4];
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace gcc
