// Driver for the optimiser updates of gcc/kernels/optim.cuh (SGD with momentum, Adam, EMA): a CPU
// reference, the kernel versions below checked against it for several block sizes, and a timing sweep
// over GCC's parameter tensors (ResNet-18 at full width: 11.2 M parameters in 62 tensors).
//
//   v1  one thread per element, grid = ceil(n / block): the textbook kernel.
//   v2  the library's grid-stride kernel (gcc::kernels::sgd_update / adam_update / ema_update): at
//       most 8 blocks per SM loop over the tensor.
//   v3  v2 with float4 loads and stores where the tensor is 16-byte aligned (a scalar tail).
// Every version rounds each product and sum on its own (no FMA), so all three equal the CPU bit for
// bit (the checks allow 1e-6 relative only for a host compiler that contracts the reference into
// FMAs). The updates are pure bandwidth (SGD moves 20 bytes per parameter, Adam 28). The library keeps
// v2: as simple as v1, no alignment condition as in v3, and a grid sized to the card rather than to
// the tensor. Whether v3's wider loads pay on a large tensor is what the sweep measures (README).
//
// Build and run, in a folder holding this file, driver.cuh and a copy of kernels/gcc/ (or in kernels/dev/
// with -I.. instead of -I.); VERSION picks one version, --check skips the timing sweep:
//   nvcc -O3 -std=c++17 -arch=native -I. optim.cu -o optim && ./optim [VERSION] [--check]
#include <cmath>
#include <cstdio>
#include <vector>

#include "driver.cuh"
#include "gcc/kernels/optim.cuh"

namespace {

using gcc::kernels::Launch;

// ---- CPU reference (gcc::cpu::sgd_update / adam_update: the same float formulas) ---------------------
void sgd_cpu(std::vector<float>& p, const std::vector<float>& g, std::vector<float>& buf, float lr, float momentum,
             float wd, bool first) {
  for (std::size_t i = 0; i < p.size(); ++i) {
    const float wp = wd * p[i];
    float d = g[i] + wp;
    if (momentum != 0.f) {
      if (!first) {
        const float mb = momentum * buf[i];
        d = mb + d;
      }
      buf[i] = d;
    }
    const float step = lr * d;
    p[i] = p[i] - step;
  }
}

void adam_cpu(std::vector<float>& p, const std::vector<float>& g, std::vector<float>& m1, std::vector<float>& m2,
              float b1, float b2, float eps, float wd, float step_size, float bc2_sqrt) {
  for (std::size_t i = 0; i < p.size(); ++i) {
    const float wp = wd * p[i];
    const float d = g[i] + wp;
    const float a1 = b1 * m1[i], a2 = (1.f - b1) * d;
    const float m = a1 + a2;
    const float c1 = b2 * m2[i], c2 = (1.f - b2) * d;
    const float c3 = c2 * d;
    const float v = c1 + c3;
    m1[i] = m;
    m2[i] = v;
    const float denom = std::sqrt(v) / bc2_sqrt + eps;
    const float q = m / denom;
    const float s = step_size * q;
    p[i] = p[i] - s;
  }
}

// ---- v1: one thread per element ------------------------------------------------------------------------
__global__ void sgd_v1(float* p, const float* g, float* buf, float lr, float momentum, float wd, bool first,
                       int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float d = __fadd_rn(g[i], __fmul_rn(wd, p[i]));
  if (momentum != 0.f) {
    d = first ? d : __fadd_rn(__fmul_rn(momentum, buf[i]), d);
    buf[i] = d;
  }
  p[i] = __fsub_rn(p[i], __fmul_rn(lr, d));
}

// ---- v3: float4 body, scalar tail ------------------------------------------------------------------------
__device__ __forceinline__ float sgd_one(float p, float g, float& b, float lr, float momentum, float wd, bool first) {
  float d = __fadd_rn(g, __fmul_rn(wd, p));
  if (momentum != 0.f) {
    d = first ? d : __fadd_rn(__fmul_rn(momentum, b), d);
    b = d;
  }
  return __fsub_rn(p, __fmul_rn(lr, d));
}

__global__ void sgd_v3(float* p, const float* g, float* buf, float lr, float momentum, float wd, bool first,
                       int64_t n) {
  const int64_t n4 = n / 4;
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n4; i += stride) {
    float4 pv = reinterpret_cast<float4*>(p)[i];
    const float4 gv = reinterpret_cast<const float4*>(g)[i];
    float4 bv = momentum != 0.f ? reinterpret_cast<float4*>(buf)[i] : make_float4(0.f, 0.f, 0.f, 0.f);
    pv.x = sgd_one(pv.x, gv.x, bv.x, lr, momentum, wd, first);
    pv.y = sgd_one(pv.y, gv.y, bv.y, lr, momentum, wd, first);
    pv.z = sgd_one(pv.z, gv.z, bv.z, lr, momentum, wd, first);
    pv.w = sgd_one(pv.w, gv.w, bv.w, lr, momentum, wd, first);
    reinterpret_cast<float4*>(p)[i] = pv;
    if (momentum != 0.f) reinterpret_cast<float4*>(buf)[i] = bv;
  }
  for (int64_t i = 4 * n4 + static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    float b = momentum != 0.f ? buf[i] : 0.f;
    p[i] = sgd_one(p[i], g[i], b, lr, momentum, wd, first);
    if (momentum != 0.f) buf[i] = b;
  }
}

constexpr float kLr = 0.05f, kMomentum = 0.9f, kWd = 5e-4f;

// One SGD step of version v on device buffers.
void run_sgd(int v, const Launch& l, float* p, const float* g, float* buf, bool first, int64_t n) {
  if (v == 1) {
    const unsigned grid = static_cast<unsigned>((n + l.threads - 1) / l.threads);
    sgd_v1<<<grid, l.threads, 0, l.stream>>>(p, g, buf, kLr, kMomentum, kWd, first, n);
    driver::check(gcc::kernels::launched("sgd_v1"), "sgd v1");
  } else if (v == 2) {
    driver::check(gcc::kernels::sgd_update(l, p, g, buf, kLr, kMomentum, kWd, first, n), "sgd v2");
  } else {
    sgd_v3<<<l.grid_for((n + 3) / 4), l.threads, 0, l.stream>>>(p, g, buf, kLr, kMomentum, kWd, first, n);
    driver::check(gcc::kernels::launched("sgd_v3"), "sgd v3");
  }
}

// Two SGD steps (first, then with momentum) of version v at block size `threads` against the CPU.
bool check_sgd(int v, int threads, int64_t n) {
  driver::Rng rng(7 + static_cast<uint64_t>(n));
  std::vector<float> p = driver::random_vector(n, rng), g = driver::random_vector(n, rng), buf(n, 0.f);
  driver::Buffer<float> dp(p), dg(g), db(buf);
  Launch l = gcc::kernels::launch_on(nullptr, threads);
  for (int step = 0; step < 2; ++step) {
    run_sgd(v, l, dp.get(), dg.get(), db.get(), step == 0, n);
    sgd_cpu(p, g, buf, kLr, kMomentum, kWd, step == 0);
  }
  char what[96];
  std::snprintf(what, sizeof what, "sgd v%d block %d n %lld", v, threads, static_cast<long long>(n));
  return driver::compare(what, p, dp.download(), 0.0, 1e-6) && driver::compare("  momentum buffer", buf, db.download(), 0.0, 1e-6);
}

bool check_adam_and_ema(int threads, int64_t n) {
  driver::Rng rng(11);
  std::vector<float> p = driver::random_vector(n, rng), g = driver::random_vector(n, rng);
  std::vector<float> m1(n, 0.f), m2(n, 0.f);
  driver::Buffer<float> dp(p), dg(g), d1(m1), d2(m2);
  const Launch l = gcc::kernels::launch_on(nullptr, threads);
  const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
  for (int step = 1; step <= 3; ++step) {
    const float bc1 = static_cast<float>(1.0 - std::pow(0.9, step)), bc2 = static_cast<float>(1.0 - std::pow(0.999, step));
    driver::check(gcc::kernels::adam_update(l, dp.get(), dg.get(), d1.get(), d2.get(), b1, b2, eps, kWd, 1e-3f / bc1,
                                            std::sqrt(bc2), n), "adam");
    adam_cpu(p, g, m1, m2, b1, b2, eps, kWd, 1e-3f / bc1, std::sqrt(bc2));
  }
  std::vector<float> shadow = driver::random_vector(n, rng);
  driver::Buffer<float> ds(shadow);
  driver::check(gcc::kernels::ema_update(l, ds.get(), dp.get(), 0.99f, n), "ema");
  for (int64_t i = 0; i < n; ++i) {
    const float a = 0.99f * shadow[i], b = (1.f - 0.99f) * p[i];
    shadow[i] = a + b;
  }
  char what[96];
  std::snprintf(what, sizeof what, "adam (library) block %d n %lld", threads, static_cast<long long>(n));
  // sqrt and division are correctly rounded on both sides: exact as well
  return driver::compare(what, p, dp.download(), 0.0, 1e-6) && driver::compare("  ema (library)", shadow, ds.download(), 0.0, 1e-6);
}

}  // namespace

int main(int argc, char** argv) {
  const driver::Args args = driver::parse_args(argc, argv, 3,
      "optim: SGD / Adam / EMA updates (gcc/kernels/optim.cuh), versions 1-3 of the SGD kernel checked\n"
      "against the CPU and timed over GCC's parameter tensor sizes");
  if (!driver::gpu_present("optim")) return 1;
  const driver::Card card = driver::card();
  driver::print_card(card, "optim");
  bool ok = true;
  std::printf("correctness (against the CPU reference, 1e-6 relative):\n");
  for (int v = 1; v <= 3; ++v) {
    if (!driver::wanted(args, v)) continue;
    for (int threads : {128, 256, 512, 1024})
      for (int64_t n : {int64_t{1}, int64_t{37}, int64_t{4099}, int64_t{1} << 20}) ok = check_sgd(v, threads, n) && ok;
  }
  for (int threads : {128, 256}) ok = check_adam_and_ema(threads, 100003) && ok;
  if (!args.check_only) {
    std::printf("timing (median of %d calls; SGD with momentum moves 20 bytes per parameter):\n", args.repeat);
    // ResNet-18 tensors at full width: a 3x3 conv of 64, of 512 channels; the whole model in one tensor.
    for (int64_t n : {int64_t{64} * 64 * 9, int64_t{512} * 512 * 9, int64_t{11173962}}) {
      driver::Rng rng(3);
      driver::Buffer<float> p(driver::random_vector(n, rng)), g(driver::random_vector(n, rng)), b(n);
      for (int v = 1; v <= 3; ++v) {
        if (!driver::wanted(args, v)) continue;
        for (int threads : {128, 256, 512}) {
          const Launch l = gcc::kernels::launch_on(nullptr, threads);
          const double ms = driver::time_ms(nullptr, args.repeat, [&] { run_sgd(v, l, p.get(), g.get(), b.get(), false, n); });
          char version[32], shape[48];
          std::snprintf(version, sizeof version, "sgd v%d block %d", v, threads);
          std::snprintf(shape, sizeof shape, "n = %lld", static_cast<long long>(n));
          driver::print_timing(card, version, shape, ms, 20.0 * n, 0.0);
        }
      }
    }
  }
  std::printf(ok ? "optim: every check passed\n" : "optim: CHECKS FAILED\n");
  return ok ? 0 : 1;
}
