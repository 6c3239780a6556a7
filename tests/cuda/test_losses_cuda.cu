// Direct checks of the reduction, softmax and loss kernels that the op table cannot express: the fused
// RGC forward held to 1e-5 relative and run-to-run determinism, NaN and tie rules, empty dimensions.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "gcc/cuda.cuh"
#include "gcc/loss/rgc.hpp"
#include "gradcheck.hpp"

using gcc::Device;
using gcc::Shape;
using gcc::Tensor;

namespace {

Tensor unit_rows_host(const Shape& s, uint64_t seed) {
  Tensor t = gcc_test::rand_tensor(s, seed);
  const int64_t n = s[0], d = s[1];
  float* p = t.data();
  for (int64_t i = 0; i < n; ++i) {
    double ss = 0;
    for (int64_t c = 0; c < d; ++c) ss += static_cast<double>(p[i * d + c]) * p[i * d + c];
    const float inv = static_cast<float>(1.0 / std::sqrt(ss));
    for (int64_t c = 0; c < d; ++c) p[i * d + c] *= inv;
  }
  return t;
}

struct RgcResult {
  float loss;
  std::vector<float> saved;
};

RgcResult rgc_run(bool gpu, const Tensor& contrast, const Tensor& diag_w, float tau, bool denom_all) {
  const int64_t b = diag_w.size(1), m = contrast.size(0);
  const Device dev = gpu ? Device::cuda() : Device::cpu();
  const Tensor c = contrast.to(dev), w = diag_w.to(dev);
  const Tensor loss = Tensor::empty(Shape{}, dev), saved = Tensor::empty(Shape{b, m}, dev);
  if (gpu) gcc::cuda::rgc_forward(c, w, tau, denom_all, loss, saved);
  else gcc::cpu::rgc_forward(c, w, tau, denom_all, loss, saved);
  return {loss.item(), saved.to_vector()};
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_SUITE("cuda") {
  TEST_CASE("rgc_forward on the GPU: loss within 1e-5 relative of the CPU, gradient weights, determinism") {
    const int64_t b = 256, d = 128;
    for (int phase = 1; phase <= 2; ++phase) {
      CAPTURE(phase);
      const int64_t blocks = phase == 1 ? 2 : 5;
      const Tensor contrast = unit_rows_host(Shape{blocks * b, d}, 40 + phase);
      Tensor diag_w = Tensor::ones(Shape{blocks, b});
      if (phase == 2) {
        gcc::Rng rng(7);
        for (int64_t k = 2; k < blocks; ++k)
          for (int64_t i = 0; i < b; ++i) diag_w.at({k, i}) = static_cast<float>(rng.uniform(0.3, 1.7));
        diag_w.at({3, 5}) = 0.f;  // a zero weight: log clamps at FLT_MIN, stays finite
      }
      const bool denom_all = phase == 1;
      const RgcResult ref = rgc_run(false, contrast, diag_w, 0.1f, denom_all);
      const RgcResult got = rgc_run(true, contrast, diag_w, 0.1f, denom_all);
      REQUIRE(std::isfinite(ref.loss));
      CHECK_MESSAGE(std::fabs(got.loss - ref.loss) <= 1e-5 * std::fabs(ref.loss),
                    "phase " << phase << ": GPU loss " << got.loss << ", CPU " << ref.loss);
      double worst = 0;
      for (std::size_t i = 0; i < ref.saved.size(); ++i) {
        const double excess = std::fabs(static_cast<double>(got.saved[i]) - ref.saved[i]) -
                              (1e-6 + 1e-5 * std::fabs(static_cast<double>(ref.saved[i])));
        worst = excess > worst ? excess : worst;
      }
      CHECK_MESSAGE(worst == 0, "gradient weights differ beyond atol 1e-6 + rtol 1e-5 by " << worst);
      // Deterministic: no float atomics, the same bits on every run.
      const RgcResult again = rgc_run(true, contrast, diag_w, 0.1f, denom_all);
      CHECK(std::memcmp(&again.loss, &got.loss, sizeof(float)) == 0);
      CHECK(same_bits(again.saved, got.saved));
    }
  }

  TEST_CASE("rgc_backward on the GPU matches the CPU's two sgemms") {
    const int64_t b = 64, d = 32, blocks = 5;
    const Tensor contrast = unit_rows_host(Shape{blocks * b, d}, 3);
    const Tensor diag_w = Tensor::ones(Shape{blocks, b});
    const Tensor lc = Tensor::empty(Shape{}), sc = Tensor::empty(Shape{b, blocks * b});
    gcc::cpu::rgc_forward(contrast, diag_w, 0.2f, false, lc, sc);
    const Tensor gc = Tensor::empty(contrast.shape());
    gcc::cpu::rgc_backward(contrast, sc, 0.2f, 1.5f, gc);
    const Tensor gg = Tensor::empty(contrast.shape(), Device::cuda());
    gcc::cuda::rgc_backward(contrast.to(Device::cuda()), sc.to(Device::cuda()), 0.2f, 1.5f, gg);
    gcc_test::check_values(gg, gc.to_vector(), 1e-7, 1e-5, "rgc_backward");
  }

  TEST_CASE("softmax family edge cases on the GPU") {
    const Device cu = Device::cuda();
    // Saturated: log_softmax([1000, 0]) = [0, -1000] exactly.
    gcc_test::check_values(gcc::log_softmax(Tensor::from_vector({1000.f, 0.f}, Shape{1, 2}).to(cu), 1), {0.f, -1000.f},
                           0, 0, "log_softmax saturated");
    gcc_test::check_values(gcc::softmax(Tensor::from_vector({1000.f, 0.f}, Shape{1, 2}).to(cu), 1), {1.f, 0.f}, 0, 0,
                           "softmax saturated");
    // A NaN in a row propagates through exp (the maximum skips it), as on the CPU.
    const Tensor xn = Tensor::from_vector({1.f, NAN, 2.f, 0.f, 1.f, 2.f}, Shape{2, 3});
    const std::vector<float> sn = gcc::softmax(xn.to(cu), 1).to_vector(), sc = gcc::softmax(xn, 1).to_vector();
    for (int j = 0; j < 3; ++j) CHECK(std::isnan(sn[static_cast<std::size_t>(j)]));
    for (int j = 3; j < 6; ++j) CHECK(sn[static_cast<std::size_t>(j)] == doctest::Approx(sc[static_cast<std::size_t>(j)]).epsilon(1e-6));
  }

  TEST_CASE("max on the GPU: a NaN wins, ties go to the first maximum, empty-dimension errors") {
    const Device cu = Device::cuda();
    const Tensor x = Tensor::from_vector({0.f, 5.f, 5.f, 1.f, 1.f, NAN, 3.f, NAN, -INFINITY, -INFINITY, -INFINITY, -INFINITY},
                                         Shape{3, 4});
    const Tensor y = Tensor::empty(Shape{3}, cu), idx = Tensor::empty(Shape{3}, cu);
    gcc::cuda::max_dim_forward(x.to(cu), 1, y, idx);
    const std::vector<float> yv = y.to_vector(), iv = idx.to_vector();
    CHECK(yv[0] == 5.f);
    CHECK(iv[0] == 1.f);
    CHECK(std::isnan(yv[1]));
    CHECK(iv[1] == 1.f);
    CHECK(yv[2] == -INFINITY);
    CHECK(iv[2] == 0.f);
    const Tensor yc = Tensor::empty(Shape{3}), ic = Tensor::empty(Shape{3});
    gcc::cpu::max_dim_forward(x, 1, yc, ic);
    CHECK(ic.to_vector() == iv);
    CHECK_THROWS_WITH_AS(gcc::max(Tensor::zeros(Shape{3, 0}, cu), 1), doctest::Contains("is empty"), gcc::Error);
  }

  TEST_CASE("sum and mean over an empty dimension, cross-entropy with no samples, on the GPU") {
    const Device cu = Device::cuda();
    gcc_test::check_values(gcc::sum(Tensor::zeros(Shape{3, 0}, cu), 1), {0.f, 0.f, 0.f}, 0, 0, "sum of nothing");
    for (float v : gcc::mean(Tensor::zeros(Shape{2, 0}, cu), 1).to_vector()) CHECK(std::isnan(v));
    CHECK(gcc::sum_all(Tensor::zeros(Shape{0}, cu)).item() == 0.f);
    Tensor logits = Tensor::zeros(Shape{0, 4}, cu).set_requires_grad(true);
    const Tensor loss = gcc::cross_entropy(logits, {});
    CHECK(loss.item() == 0.f);
    loss.backward();
    CHECK(logits.grad().numel() == 0);
  }

  TEST_CASE("the kernels reject tensors on the wrong device or of the wrong size") {
    const Tensor x = Tensor::zeros(Shape{2, 3}, Device::cuda());
    CHECK_THROWS_WITH_AS(gcc::cuda::softmax_forward(Tensor::zeros(Shape{2, 3}), 1, false, x),
                         doctest::Contains("softmax_forward: input of shape [2, 3] is on cpu"), gcc::Error);
    CHECK_THROWS_WITH_AS(gcc::cuda::sum_dim_forward(x, 1, 1.f, Tensor::zeros(Shape{3}, Device::cuda())),
                         doctest::Contains("sum_dim_forward: output [3] for input [2, 3]"), gcc::Error);
    CHECK_THROWS_WITH_AS(gcc::cuda::rgc_forward(Tensor::zeros(Shape{6, 4}, Device::cuda()),
                                                Tensor::zeros(Shape{2, 2}, Device::cuda()), 0.1f, true,
                                                Tensor::zeros(Shape{}, Device::cuda()),
                                                Tensor::zeros(Shape{2, 6}, Device::cuda())),
                         doctest::Contains("rgc_forward: contrast [6, 4]"), gcc::Error);
  }
}
