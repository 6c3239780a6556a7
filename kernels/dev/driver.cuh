// The plumbing every kernel driver of kernels/dev/ shares (and nothing else of gcc-toolkit but
// gcc/kernels/common.cuh): argument parsing, device buffers, a seeded RNG, the check of a GPU result
// against the CPU reference, CUDA-event timing (median of repeats) and the card's peak figures.
// Drivers are programs: on a CUDA error they print it and exit (the library itself never exits).
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "gcc/kernels/common.cuh"

#define DRIVER_CUDA_CHECK(call)                                                                   \
  do {                                                                                           \
    const cudaError_t driver_err_ = (call);                                                      \
    if (driver_err_ != cudaSuccess) {                                                            \
      std::fprintf(stderr, "CUDA call `%s` failed: %s (%s) [%s:%d]\n", #call,                    \
                   cudaGetErrorName(driver_err_), cudaGetErrorString(driver_err_), __FILE__, __LINE__); \
      std::exit(1);                                                                              \
    }                                                                                            \
  } while (0)

namespace driver {

// Exits with the failing call named when a launcher reports an error.
inline void check(const gcc::kernels::Status& s, const char* what) {
  if (s.ok()) return;
  if (s.cublas != 0)
    std::fprintf(stderr, "%s: cuBLAS call %s failed with status %d\n", what, s.call, s.cublas);
  else
    std::fprintf(stderr, "%s: %s failed: %s (%s)\n", what, s.call, cudaGetErrorName(s.cuda), cudaGetErrorString(s.cuda));
  std::exit(1);
}

// ---- command line: driver [VERSION] [--check] [--repeat R] [--help] --------------------------------
struct Args {
  int version = 0;      // 0: every version
  bool check_only = false;
  int repeat = 20;      // timed calls per measurement (the median is printed)
};

inline Args parse_args(int argc, char** argv, int versions, const char* about) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    if (s == "--help" || s == "-h") {
      std::printf("%s\n\nusage: %s [VERSION] [--check] [--repeat R]\n"
                  "  VERSION     run only kernel version VERSION (1..%d); default: every version\n"
                  "  --check     only the correctness checks, no timing sweep\n"
                  "  --repeat R  timed calls per measurement, the median is printed (default 20)\n",
                  about, argv[0], versions);
      std::exit(0);
    } else if (s == "--check") {
      a.check_only = true;
    } else if (s == "--repeat" && i + 1 < argc) {
      a.repeat = std::atoi(argv[++i]);
      if (a.repeat < 1) a.repeat = 1;
    } else if (!s.empty() && s.find_first_not_of("0123456789") == std::string::npos) {
      a.version = std::atoi(s.c_str());
      if (a.version < 1 || a.version > versions) {
        std::fprintf(stderr, "%s: version %d does not exist (1..%d)\n", argv[0], a.version, versions);
        std::exit(2);
      }
    } else {
      std::fprintf(stderr, "%s: unknown argument '%s' (try --help)\n", argv[0], s.c_str());
      std::exit(2);
    }
  }
  return a;
}
inline bool wanted(const Args& a, int version) { return a.version == 0 || a.version == version; }

// ---- host data ------------------------------------------------------------------------------------
// splitmix64: the same numbers on every machine.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  float uniform(float lo, float hi) { return lo + (hi - lo) * static_cast<float>((next() >> 40) * 0x1.0p-24); }
};

inline std::vector<float> random_vector(std::size_t n, Rng& rng, float lo = -1.f, float hi = 1.f) {
  std::vector<float> v(n);
  for (float& x : v) x = rng.uniform(lo, hi);
  return v;
}

// ---- device buffers -------------------------------------------------------------------------------
template <typename T>
class Buffer {
 public:
  explicit Buffer(std::size_t n) : n_(n) { DRIVER_CUDA_CHECK(cudaMalloc(&p_, (n ? n : 1) * sizeof(T))); }
  explicit Buffer(const std::vector<T>& host) : Buffer(host.size()) { upload(host); }
  ~Buffer() { cudaFree(p_); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  T* get() const { return p_; }
  std::size_t size() const { return n_; }
  void upload(const std::vector<T>& host) {
    DRIVER_CUDA_CHECK(cudaMemcpy(p_, host.data(), std::min(n_, host.size()) * sizeof(T), cudaMemcpyHostToDevice));
  }
  std::vector<T> download() const {
    std::vector<T> host(n_);
    DRIVER_CUDA_CHECK(cudaDeviceSynchronize());
    DRIVER_CUDA_CHECK(cudaMemcpy(host.data(), p_, n_ * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }

 private:
  T* p_ = nullptr;
  std::size_t n_;
};

// ---- correctness --------------------------------------------------------------------------------
// |got - ref| <= atol + rtol |ref| everywhere (NaN only where ref is NaN); prints one line, returns the verdict.
inline bool compare(const char* what, const std::vector<float>& ref, const std::vector<float>& got, double atol,
                    double rtol) {
  std::size_t bad = 0, worst = 0;
  double worst_err = 0.0;
  const std::size_t n = std::min(ref.size(), got.size());
  for (std::size_t i = 0; i < n; ++i) {
    const double r = ref[i], g = got[i];
    const bool both_nan = std::isnan(r) && std::isnan(g);
    const double err = both_nan ? 0.0 : std::fabs(g - r);
    if (!both_nan && !(err <= atol + rtol * std::fabs(r))) ++bad;
    if (!both_nan && (err > worst_err || std::isnan(err))) {
      worst_err = err;
      worst = i;
    }
  }
  if (ref.size() != got.size()) bad += 1;
  std::printf("  check %-44s %s  max |err| %.3g%s\n", what, bad ? "FAIL" : "ok  ", worst_err,
              bad ? (" at " + std::to_string(worst) + ", " + std::to_string(bad) + " elements off").c_str() : "");
  return bad == 0;
}

// ---- the card ---------------------------------------------------------------------------------------
struct Card {
  std::string name;
  int sm_count = 1;
  double mem_gbs = 0.0;     // peak DRAM bandwidth, GB/s (memory clock x bus width x 2)
  double fp32_gflops = 0.0; // peak FP32 (non-tensor) GFLOP/s: SMs x FP32 lanes x 2 x clock
};

inline Card card() {
  int dev = 0;
  DRIVER_CUDA_CHECK(cudaGetDevice(&dev));
  cudaDeviceProp p{};
  DRIVER_CUDA_CHECK(cudaGetDeviceProperties(&p, dev));
  Card c;
  c.name = p.name;
  c.sm_count = p.multiProcessorCount;
  int mem_khz = 0, bus_bits = 0, clock_khz = 0;
  cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, dev);
  cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, dev);
  cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, dev);
  c.mem_gbs = 2.0 * mem_khz * 1e3 * (bus_bits / 8.0) / 1e9;
  const int lanes = (p.major == 8 && p.minor == 0) || p.major < 8 ? 64 : 128;  // FP32 lanes per SM
  c.fp32_gflops = static_cast<double>(c.sm_count) * lanes * 2.0 * clock_khz * 1e3 / 1e9;
  return c;
}

inline void print_card(const Card& c, const char* driver_name) {
  std::printf("%s on %s: %d SMs, peak %.0f GB/s, %.1f TFLOP/s FP32\n", driver_name, c.name.c_str(), c.sm_count,
              c.mem_gbs, c.fp32_gflops / 1e3);
}

// ---- timing -------------------------------------------------------------------------------------
// Median milliseconds of one call of fn() on `stream` over `repeat` calls (after two warm-up calls).
template <typename F>
double time_ms(cudaStream_t stream, int repeat, F&& fn) {
  cudaEvent_t a, b;
  DRIVER_CUDA_CHECK(cudaEventCreate(&a));
  DRIVER_CUDA_CHECK(cudaEventCreate(&b));
  fn();
  fn();
  std::vector<double> t;
  for (int r = 0; r < repeat; ++r) {
    DRIVER_CUDA_CHECK(cudaEventRecord(a, stream));
    fn();
    DRIVER_CUDA_CHECK(cudaEventRecord(b, stream));
    DRIVER_CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0.f;
    DRIVER_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// One line of a timing sweep: bytes moved and flops done per call give GB/s and GFLOP/s, each with its
// fraction of the card's peak (0 bytes or 0 flops: that column is left out).
inline void print_timing(const Card& c, const char* version, const char* shape, double ms, double bytes,
                         double flops) {
  std::printf("  %-22s %-30s %9.3f us", version, shape, ms * 1e3);
  if (bytes > 0) {
    const double gbs = bytes / (ms * 1e-3) / 1e9;
    std::printf("  %8.1f GB/s (%4.1f%% of peak)", gbs, 100.0 * gbs / c.mem_gbs);
  }
  if (flops > 0) {
    const double gf = flops / (ms * 1e-3) / 1e9;
    std::printf("  %8.1f GFLOP/s (%4.1f%% of peak)", gf, 100.0 * gf / c.fp32_gflops);
  }
  std::printf("\n");
}

// "No usable GPU" is an answer, not a crash: prints why and returns false.
inline bool gpu_present(const char* driver_name) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    std::fprintf(stderr, "%s: no usable GPU (%s)\n", driver_name, e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    return false;
  }
  return true;
}

}  // namespace driver
