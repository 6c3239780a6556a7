// Driver for the AGC loss's elementwise kernels of gcc/kernels/contrastive.cuh: xlogx forward
// (y = x log x, 0 for x <= 0) and backward (gx = gy (log max(x, FLT_MIN) + 1)), the entropy term of
// gcc/loss/agc.hpp (L_ne = log K + sum_k o_k log o_k over the cluster masses o).
//
//   v1  one thread per element, grid = ceil(n / block): the textbook kernel.
//   v2  the library's grid-stride kernels (gcc::kernels::xlogx_forward / xlogx_backward): at most 8
//       blocks per SM loop over the tensor.
// Both evaluate the CPU's float formula with the device logf (max 1 ulp error; the host's logf is
// within 0.82 ulp), so they agree with the CPU to a couple of ulps: 4e-7 relative for the forward
// (plus 1e-44 absolute for products in the denormal range), and for the backward 5e-7 absolute per
// unit of |gy| where log x + 1 cancels near x = 1/e. The arithmetic is identical in v1 and v2; the
// library keeps v2 for its grid sized to the card (no grid limit, no per-element block launch) and
// the same pattern as every other elementwise kernel. At AGC's real sizes (o is [K], K = 10/20/200;
// [1536, K] for the probabilities) both are pure launch latency: the sweep (README; the figures are
// owed to a GPU run) shows what a launch costs, not bandwidth.
//
// Build and run, in a folder holding this file, driver.cuh and a copy of kernels/gcc/ (or in kernels/dev/
// with -I.. instead of -I.); VERSION picks one version, --check skips the timing sweep:
//   nvcc -O3 -std=c++17 -arch=native -I. agc.cu -o agc -lcublas && ./agc [VERSION] [--check]
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <vector>

#include "driver.cuh"
#include "gcc/kernels/contrastive.cuh"

namespace {

using gcc::kernels::Launch;

// ---- CPU reference (gcc::cpu::xlogx_forward / xlogx_backward) -----------------------------------------
std::vector<float> xlogx_cpu(const std::vector<float>& x) {
  std::vector<float> y(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) y[i] = x[i] > 0.f ? x[i] * std::log(x[i]) : 0.f;
  return y;
}
std::vector<float> xlogx_backward_cpu(const std::vector<float>& x, const std::vector<float>& gy) {
  std::vector<float> gx(x.size());
  const float tiny = FLT_MIN;
  for (std::size_t i = 0; i < x.size(); ++i) gx[i] = gy[i] * (std::log(x[i] > tiny ? x[i] : tiny) + 1.f);
  return gx;
}

// ---- v1: one thread per element --------------------------------------------------------------------------
__global__ void xlogx_forward_v1(const float* x, float* y, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float v = x[i];
  y[i] = v > 0.f ? v * logf(v) : 0.f;
}
__global__ void xlogx_backward_v1(const float* x, const float* gy, float* gx, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float v = x[i];
  gx[i] = gy[i] * (logf(v > FLT_MIN ? v : FLT_MIN) + 1.f);
}

void run_forward(int v, const Launch& l, const float* x, float* y, int64_t n) {
  if (v == 2) {
    driver::check(gcc::kernels::xlogx_forward(l, x, y, n), "xlogx v2");
  } else if (n > 0) {
    xlogx_forward_v1<<<static_cast<unsigned>((n + l.threads - 1) / l.threads), l.threads, 0, l.stream>>>(x, y, n);
    driver::check(gcc::kernels::launched("xlogx_forward_v1"), "xlogx v1");
  }
}
void run_backward(int v, const Launch& l, const float* x, const float* gy, float* gx, int64_t n) {
  if (v == 2) {
    driver::check(gcc::kernels::xlogx_backward(l, x, gy, gx, n), "xlogx backward v2");
  } else if (n > 0) {
    xlogx_backward_v1<<<static_cast<unsigned>((n + l.threads - 1) / l.threads), l.threads, 0, l.stream>>>(x, gy, gx, n);
    driver::check(gcc::kernels::launched("xlogx_backward_v1"), "xlogx backward v1");
  }
}

// Cluster masses and probabilities in (0, 1], with the edge cases spread in: 0, -0, negatives, 1,
// denormals, values below and at FLT_MIN, large values, NaN (forward gives 0, backward clamps).
std::vector<float> inputs(int64_t n, driver::Rng& rng) {
  std::vector<float> x(static_cast<std::size_t>(n));
  const float special[] = {0.f, -0.f, -0.5f, 1.f, 1e-40f, 1e-44f, FLT_MIN, FLT_MIN * 0.5f,
                           1e30f, NAN, 0.36787944f /* 1/e: log x + 1 cancels */, 3.5f};
  for (int64_t i = 0; i < n; ++i)
    x[static_cast<std::size_t>(i)] = i % 7 == 3 ? special[(i / 7) % 12] : rng.uniform(0.f, 1.f);
  return x;
}

bool check(int v, const Launch& l, int64_t n) {
  driver::Rng rng(17 + static_cast<uint64_t>(n));
  const std::vector<float> x = inputs(n, rng), gy = driver::random_vector(static_cast<std::size_t>(n), rng);
  driver::Buffer<float> dx(x), dgy(gy), dy(static_cast<std::size_t>(n)), dgx(static_cast<std::size_t>(n));
  run_forward(v, l, dx.get(), dy.get(), n);
  run_backward(v, l, dx.get(), dgy.get(), dgx.get(), n);
  char what[96];
  std::snprintf(what, sizeof what, "xlogx v%d block %d%s n %lld", v, l.threads, l.sm_count == 1 ? " 1 SM" : "",
                static_cast<long long>(n));
  const bool a = driver::compare(what, xlogx_cpu(x), dy.download(), 1e-44, 4e-7);
  return driver::compare("  backward", xlogx_backward_cpu(x, gy), dgx.download(), 5e-7, 5e-7) && a;
}

}  // namespace

int main(int argc, char** argv) {
  const driver::Args args = driver::parse_args(argc, argv, 2,
      "agc: xlogx forward / backward (gcc/kernels/contrastive.cuh), the AGC entropy term, versions 1-2\n"
      "checked against the CPU and timed at K = 10/20/200 clusters ([K] masses and [1536, K] probabilities)");
  if (!driver::gpu_present("agc")) return 1;
  const driver::Card card = driver::card();
  driver::print_card(card, "agc");
  bool ok = true;
  std::printf("correctness (against the CPU reference: device vs host logf, see the top):\n");
  for (int v = 1; v <= 2; ++v) {
    if (!driver::wanted(args, v)) continue;
    for (int threads : {64, 256, 1024})
      for (int sms : {0, 1}) {
        if (v == 1 && sms == 1) continue;  // v1's grid does not depend on the SM count
        Launch l = gcc::kernels::launch_on(nullptr, threads);
        if (sms == 1) l.sm_count = 1;
        for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{10}, int64_t{200}, int64_t{1536 * 20},
                          int64_t{1536 * 200}, (int64_t{1} << 20) + 3})
          ok = check(v, l, n) && ok;
      }
  }
  if (!args.check_only) {
    std::printf("timing (median of %d calls; forward moves 8 bytes per element, backward 12):\n", args.repeat);
    for (int64_t K : {int64_t{10}, int64_t{20}, int64_t{200}})
      for (int64_t rows : {int64_t{1}, int64_t{1536}}) {
        const int64_t n = rows * K;
        driver::Rng rng(3);
        driver::Buffer<float> x(inputs(n, rng)), gy(driver::random_vector(static_cast<std::size_t>(n), rng));
        driver::Buffer<float> y(static_cast<std::size_t>(n)), gx(static_cast<std::size_t>(n));
        char shape[48];
        std::snprintf(shape, sizeof shape, "[%lld, %lld]", static_cast<long long>(rows), static_cast<long long>(K));
        for (int v = 1; v <= 2; ++v) {
          if (!driver::wanted(args, v)) continue;
          for (int threads : {128, 256}) {
            const Launch l = gcc::kernels::launch_on(nullptr, threads);
            char version[40];
            std::snprintf(version, sizeof version, "forward v%d block %d", v, threads);
            double ms = driver::time_ms(nullptr, args.repeat, [&] { run_forward(v, l, x.get(), y.get(), n); });
            driver::print_timing(card, version, shape, ms, 8.0 * n, 0.0);
            std::snprintf(version, sizeof version, "backward v%d block %d", v, threads);
            ms = driver::time_ms(nullptr, args.repeat, [&] { run_backward(v, l, x.get(), gy.get(), gx.get(), n); });
            driver::print_timing(card, version, shape, ms, 12.0 * n, 0.0);
          }
        }
      }
  }
  std::printf(ok ? "agc: every check passed\n" : "agc: CHECKS FAILED\n");
  return ok ? 0 : 1;
}
