// Driver for the pooling kernels of gcc/kernels/pool.cuh: max pooling (ResNet's 3x3 / 2 pad 1 stem,
// the resnet18-stl stem 2x2 / 2 pad 1), average pooling (the -stl head 7x7 / 7) and global average
// pooling (the ResNet head, [256, 512, 4, 4] -> [256, 512]), forward and backward: a CPU reference
// (cpu::max_pool2d_* / avg_pool2d_* / global_avg_pool2d_* of gcc/ops/pool.hpp), the versions below
// checked against it for several block sizes and shapes (ties, NaN and -inf windows, 1x1 planes,
// rectangular kernels), and a timing sweep at GCC's shapes with batch 256.
//
// Max and average pooling:
//   v1  textbook: one thread per output with 64-bit index division, grid = ceil(n / block); backward
//       scatters: gx zeroed, then each output atomicAdds its gradient into its window's maximum (max)
//       or into every element of its window (avg). NON-DETERMINISTIC: where windows overlap (3x3 / 2,
//       3x3 / 1) an input's contributions arrive in any order, so the float sum changes from run to run
//       and differs from the CPU's by rounding (the checks allow 1e-6).
//   v2  the library (gcc::kernels::max_pool2d_* / avg_pool2d_*): grid-stride, 32-bit fast division of
//       the index; backward GATHERS: max pooling first stores every window's argmax (scratch [N, C, Ho,
//       Wo] ints), then one thread per input element adds the gradients of the windows covering it, in
//       the CPU's output order. Deterministic and bit-exact with the CPU (checked with tolerance 0).
// Global average pooling:
//   v1  the library (gcc::kernels::global_avg_pool2d_*): one thread per plane summing its hw values in
//       order, as the CPU does (bit-exact); backward one thread per element.
//   v2  a warp per plane: lanes sum strided values, then a shuffle tree. Coalesced and with 32x the
//       parallelism on few, large planes, but the float sum is reassociated: not the CPU's bits
//       (checked to 1e-5 relative).
// The library keeps the gather backward (v2) for max / avg pooling: exact and run-to-run reproducible
// like the CPU reference (the op tests compare to 0 ulp, with integer ties), no memset of gx and no
// atomics contention where windows overlap; the argmax scratch costs one int per output. For global
// average pooling it keeps one thread per plane (v1): the CPU's in-order sum to the bit, and at the
// ResNet head (131,072 planes of 16 values) there is parallelism enough without splitting planes; a
// warp per plane would leave half the lanes idle at hw = 16. Timing figures: in the README (owed to a
// GPU run; this driver prints them).
//
// Build and run, in a folder holding this file, driver.cuh and a copy of kernels/gcc/ (or in kernels/dev/
// with -I.. instead of -I.); VERSION picks one version, --check skips the timing sweep:
//   nvcc -O3 -std=c++17 -arch=native -I. pool.cu -o pool && ./pool [VERSION] [--check]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "driver.cuh"
#include "gcc/kernels/pool.cuh"

namespace {

using gcc::kernels::Launch;
using gcc::kernels::PoolGeom;

// ---- CPU reference (gcc::cpu::max_pool2d_* / avg_pool2d_* / global_avg_pool2d_*) ----------------------
struct Win {
  int64_t h0, h1, w0, w1;
};
Win window_cpu(const PoolGeom& g, int64_t oh, int64_t ow) {
  const int64_t hs = oh * g.sh - g.ph, ws = ow * g.sw - g.pw;
  return Win{std::max<int64_t>(hs, 0), std::min<int64_t>(hs + g.kh, g.H), std::max<int64_t>(ws, 0),
             std::min<int64_t>(ws + g.kw, g.W)};
}
int64_t argmax_cpu(const float* plane, int64_t W, const Win& win) {
  int64_t best = win.h0 * W + win.w0;
  float bv = -std::numeric_limits<float>::infinity();
  for (int64_t ih = win.h0; ih < win.h1; ++ih)
    for (int64_t iw = win.w0; iw < win.w1; ++iw) {
      const float v = plane[ih * W + iw];
      if (v > bv || std::isnan(v)) {
        bv = v;
        best = ih * W + iw;
      }
    }
  return best;
}

void max_forward_cpu(const std::vector<float>& x, std::vector<float>& y, int64_t planes, const PoolGeom& g) {
  const int64_t HW = int64_t{g.H} * g.W, OHW = int64_t{g.Ho} * g.Wo;
  y.assign(planes * OHW, 0.f);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oh = 0; oh < g.Ho; ++oh)
      for (int64_t ow = 0; ow < g.Wo; ++ow)
        y[p * OHW + oh * g.Wo + ow] = x[p * HW + argmax_cpu(&x[p * HW], g.W, window_cpu(g, oh, ow))];
}

void max_backward_cpu(const std::vector<float>& x, const std::vector<float>& gy, std::vector<float>& gx,
                      int64_t planes, const PoolGeom& g) {
  const int64_t HW = int64_t{g.H} * g.W, OHW = int64_t{g.Ho} * g.Wo;
  gx.assign(planes * HW, 0.f);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oh = 0; oh < g.Ho; ++oh)
      for (int64_t ow = 0; ow < g.Wo; ++ow)
        gx[p * HW + argmax_cpu(&x[p * HW], g.W, window_cpu(g, oh, ow))] += gy[p * OHW + oh * g.Wo + ow];
}

void avg_forward_cpu(const std::vector<float>& x, std::vector<float>& y, int64_t planes, const PoolGeom& g) {
  const int64_t HW = int64_t{g.H} * g.W, OHW = int64_t{g.Ho} * g.Wo;
  const float div = static_cast<float>(g.kh * g.kw);
  y.assign(planes * OHW, 0.f);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oh = 0; oh < g.Ho; ++oh)
      for (int64_t ow = 0; ow < g.Wo; ++ow) {
        const Win win = window_cpu(g, oh, ow);
        float s = 0.f;
        for (int64_t ih = win.h0; ih < win.h1; ++ih)
          for (int64_t iw = win.w0; iw < win.w1; ++iw) s += x[p * HW + ih * g.W + iw];
        y[p * OHW + oh * g.Wo + ow] = s / div;
      }
}

void avg_backward_cpu(const std::vector<float>& gy, std::vector<float>& gx, int64_t planes, const PoolGeom& g) {
  const int64_t HW = int64_t{g.H} * g.W, OHW = int64_t{g.Ho} * g.Wo;
  const float div = static_cast<float>(g.kh * g.kw);
  gx.assign(planes * HW, 0.f);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oh = 0; oh < g.Ho; ++oh)
      for (int64_t ow = 0; ow < g.Wo; ++ow) {
        const Win win = window_cpu(g, oh, ow);
        const float v = gy[p * OHW + oh * g.Wo + ow] / div;
        for (int64_t ih = win.h0; ih < win.h1; ++ih)
          for (int64_t iw = win.w0; iw < win.w1; ++iw) gx[p * HW + ih * g.W + iw] += v;
      }
}

void gap_forward_cpu(const std::vector<float>& x, std::vector<float>& y, int64_t planes, int64_t hw) {
  y.assign(planes, 0.f);
  for (int64_t p = 0; p < planes; ++p) {
    float s = 0.f;
    for (int64_t i = 0; i < hw; ++i) s += x[p * hw + i];
    y[p] = s / static_cast<float>(hw);
  }
}

void gap_backward_cpu(const std::vector<float>& gy, std::vector<float>& gx, int64_t planes, int64_t hw) {
  gx.assign(planes * hw, 0.f);
  for (int64_t p = 0; p < planes; ++p)
    std::fill(gx.begin() + p * hw, gx.begin() + (p + 1) * hw, gy[p] / static_cast<float>(hw));
}

// ---- v1 (max / avg): one thread per output, scatter backward with atomics ----------------------------
__global__ void max_forward_v1(const float* x, float* y, int64_t n, PoolGeom g) {
  const int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (o >= n) return;
  const int64_t plane = o / (int64_t{g.Ho} * g.Wo);
  const int oh = static_cast<int>(o / g.Wo % g.Ho), ow = static_cast<int>(o % g.Wo);
  const float* xs = x + plane * g.H * g.W;
  y[o] = xs[gcc::kernels::pool_argmax_dev(xs, g, oh, ow)];
}

__global__ void max_backward_v1(const float* x, const float* gy, float* gx /* zeroed */, int64_t n, PoolGeom g) {
  const int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (o >= n) return;
  const int64_t plane = o / (int64_t{g.Ho} * g.Wo);
  const int oh = static_cast<int>(o / g.Wo % g.Ho), ow = static_cast<int>(o % g.Wo);
  const int64_t base = plane * g.H * g.W;
  atomicAdd(gx + base + gcc::kernels::pool_argmax_dev(x + base, g, oh, ow), gy[o]);
}

__global__ void avg_forward_v1(const float* x, float* y, int64_t n, PoolGeom g) {
  const int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (o >= n) return;
  const int64_t plane = o / (int64_t{g.Ho} * g.Wo);
  const int oh = static_cast<int>(o / g.Wo % g.Ho), ow = static_cast<int>(o % g.Wo);
  const float* xs = x + plane * g.H * g.W;
  int h0, h1, w0, w1;
  gcc::kernels::pool_window_dev(g, oh, ow, h0, h1, w0, w1);
  float s = 0.f;
  for (int ih = h0; ih < h1; ++ih)
    for (int iw = w0; iw < w1; ++iw) s += xs[ih * g.W + iw];
  y[o] = s / static_cast<float>(g.kh * g.kw);
}

__global__ void avg_backward_v1(const float* gy, float* gx /* zeroed */, int64_t n, PoolGeom g) {
  const int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (o >= n) return;
  const int64_t plane = o / (int64_t{g.Ho} * g.Wo);
  const int oh = static_cast<int>(o / g.Wo % g.Ho), ow = static_cast<int>(o % g.Wo);
  float* gxs = gx + plane * g.H * g.W;
  int h0, h1, w0, w1;
  gcc::kernels::pool_window_dev(g, oh, ow, h0, h1, w0, w1);
  const float v = gy[o] / static_cast<float>(g.kh * g.kw);
  for (int ih = h0; ih < h1; ++ih)
    for (int iw = w0; iw < w1; ++iw) atomicAdd(gxs + ih * g.W + iw, v);
}

// ---- v2 (global average): a warp per plane -------------------------------------------------------------
__global__ void gap_forward_v2(const float* x, float* y, int64_t planes, int64_t hw) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * blockDim.x / 32;
  for (int64_t p = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32; p < planes; p += warps) {
    float s = 0.f;
    for (int64_t i = lane; i < hw; i += 32) s += x[p * hw + i];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
    if (lane == 0) y[p] = s / static_cast<float>(hw);
  }
}

__global__ void gap_backward_v2(const float* gy, float* gx, int64_t planes, int64_t hw) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * blockDim.x / 32;
  for (int64_t p = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32; p < planes; p += warps) {
    const float v = gy[p] / static_cast<float>(hw);
    for (int64_t i = lane; i < hw; i += 32) gx[p * hw + i] = v;
  }
}

// ---- running the versions -------------------------------------------------------------------------------
unsigned blocks_for(const Launch& l, int64_t n) { return static_cast<unsigned>((n + l.threads - 1) / l.threads); }

enum class Op { kMax, kAvg };

void run_forward(Op op, int v, const Launch& l, const float* x, float* y, int64_t planes, const PoolGeom& g) {
  const int64_t n = planes * g.Ho * g.Wo;
  if (v == 1) {
    if (n == 0) return;
    if (op == Op::kMax) max_forward_v1<<<blocks_for(l, n), l.threads, 0, l.stream>>>(x, y, n, g);
    else avg_forward_v1<<<blocks_for(l, n), l.threads, 0, l.stream>>>(x, y, n, g);
    driver::check(gcc::kernels::launched("pool forward v1"), "forward v1");
  } else if (op == Op::kMax) {
    driver::check(gcc::kernels::max_pool2d_forward(l, x, y, planes, g), "max forward v2");
  } else {
    driver::check(gcc::kernels::avg_pool2d_forward(l, x, y, planes, g), "avg forward v2");
  }
}

void run_backward(Op op, int v, const Launch& l, const float* x, const float* gy, float* gx, int* argmax,
                  int64_t planes, const PoolGeom& g) {
  const int64_t n = planes * g.Ho * g.Wo;
  if (v == 1) {
    DRIVER_CUDA_CHECK(cudaMemsetAsync(gx, 0, static_cast<std::size_t>(planes) * g.H * g.W * sizeof(float), l.stream));
    if (n == 0) return;
    if (op == Op::kMax) max_backward_v1<<<blocks_for(l, n), l.threads, 0, l.stream>>>(x, gy, gx, n, g);
    else avg_backward_v1<<<blocks_for(l, n), l.threads, 0, l.stream>>>(gy, gx, n, g);
    driver::check(gcc::kernels::launched("pool backward v1"), "backward v1");
  } else if (op == Op::kMax) {
    driver::check(gcc::kernels::max_pool2d_backward(l, x, gy, gx, planes, g, argmax), "max backward v2");
  } else {
    driver::check(gcc::kernels::avg_pool2d_backward(l, gy, gx, planes, g), "avg backward v2");
  }
}

void run_gap_forward(int v, const Launch& l, const float* x, float* y, int64_t planes, int64_t hw) {
  if (v == 1) {
    driver::check(gcc::kernels::global_avg_pool2d_forward(l, x, y, planes, hw), "gap forward v1");
  } else {
    const unsigned grid = l.capped((planes * 32 + l.threads - 1) / l.threads, 8);
    gap_forward_v2<<<grid, l.threads, 0, l.stream>>>(x, y, planes, hw);
    driver::check(gcc::kernels::launched("gap_forward_v2"), "gap forward v2");
  }
}

void run_gap_backward(int v, const Launch& l, const float* gy, float* gx, int64_t planes, int64_t hw) {
  if (v == 1) {
    driver::check(gcc::kernels::global_avg_pool2d_backward(l, gy, gx, planes, hw), "gap backward v1");
  } else {
    const unsigned grid = l.capped((planes * 32 + l.threads - 1) / l.threads, 8);
    gap_backward_v2<<<grid, l.threads, 0, l.stream>>>(gy, gx, planes, hw);
    driver::check(gcc::kernels::launched("gap_backward_v2"), "gap backward v2");
  }
}

// A pooling of planes N * C of H x W with kernel (kh, kw), stride (sh, sw), padding (ph, pw), floor mode.
struct Case {
  int64_t N, C;
  int H, W, kh, kw, sh, sw, ph, pw;
  PoolGeom geom() const {
    return PoolGeom{H, W, (H + 2 * ph - kh) / sh + 1, (W + 2 * pw - kw) / sw + 1, kh, kw, sh, sw, ph, pw};
  }
  int64_t planes() const { return N * C; }
};

// Inputs: 0 uniform, 1 small integers (ties everywhere), 2 uniform with NaN and -inf sprinkled in.
std::vector<float> make_input(std::size_t n, int kind, driver::Rng& rng) {
  std::vector<float> x = driver::random_vector(n, rng);
  if (kind == 1)
    for (float& v : x) v = std::floor(v * 2.5f);
  if (kind == 2)
    for (std::size_t i = 0; i < n; ++i) {
      if (i % 7 == 3) x[i] = -std::numeric_limits<float>::infinity();
      if (i % 23 == 5) x[i] = std::numeric_limits<float>::quiet_NaN();
    }
  return x;
}

// driver::compare with equal infinities counted as equal (a window of -inf gives -inf on both sides).
bool compare_inf(const char* what, std::vector<float> ref, std::vector<float> got, double atol, double rtol) {
  for (std::size_t i = 0; i < ref.size() && i < got.size(); ++i)
    if (std::isinf(ref[i]) && ref[i] == got[i]) ref[i] = got[i] = 0.f;
  return driver::compare(what, ref, got, atol, rtol);
}

bool check_pool(Op op, int v, int threads, const Case& cs, int kind) {
  const PoolGeom g = cs.geom();
  const int64_t planes = cs.planes(), ni = planes * g.H * g.W, no = planes * g.Ho * g.Wo;
  driver::Rng rng(31 + static_cast<uint64_t>(ni) + static_cast<uint64_t>(kind));
  const std::vector<float> x = make_input(ni, kind, rng), gy = driver::random_vector(no, rng);
  std::vector<float> y_ref, gx_ref;
  if (op == Op::kMax) {
    max_forward_cpu(x, y_ref, planes, g);
    max_backward_cpu(x, gy, gx_ref, planes, g);
  } else {
    avg_forward_cpu(x, y_ref, planes, g);
    avg_backward_cpu(gy, gx_ref, planes, g);
  }
  const Launch l = gcc::kernels::launch_on(nullptr, threads);
  driver::Buffer<float> dx(x), dgy(gy), dy(no), dgx(ni);
  driver::Buffer<int> argmax(no);
  run_forward(op, v, l, dx.get(), dy.get(), planes, g);
  run_backward(op, v, l, dx.get(), dgy.get(), dgx.get(), argmax.get(), planes, g);
  char what[128];
  std::snprintf(what, sizeof what, "%s v%d block %d [%lld,%lld,%d,%d] k%dx%d s%d,%d p%d,%d%s",
                op == Op::kMax ? "max" : "avg", v, threads, static_cast<long long>(cs.N), static_cast<long long>(cs.C),
                cs.H, cs.W, cs.kh, cs.kw, cs.sh, cs.sw, cs.ph, cs.pw, kind == 1 ? " ties" : kind == 2 ? " nan" : "");
  bool ok = compare_inf(what, y_ref, dy.download(), 0.0, 0.0);  // forward: the same sums in the same order
  // backward: v2 gathers in the CPU's order (exact); v1's atomics add in any order
  ok = driver::compare("  backward", gx_ref, dgx.download(), v == 1 ? 1e-6 : 0.0, v == 1 ? 1e-6 : 0.0) && ok;
  return ok;
}

bool check_gap(int v, int threads, int64_t planes, int64_t hw) {
  driver::Rng rng(57 + static_cast<uint64_t>(planes * hw));
  const std::vector<float> x = driver::random_vector(planes * hw, rng), gy = driver::random_vector(planes, rng);
  std::vector<float> y_ref, gx_ref;
  gap_forward_cpu(x, y_ref, planes, hw);
  gap_backward_cpu(gy, gx_ref, planes, hw);
  const Launch l = gcc::kernels::launch_on(nullptr, threads);
  driver::Buffer<float> dx(x), dgy(gy), dy(planes), dgx(planes * hw);
  run_gap_forward(v, l, dx.get(), dy.get(), planes, hw);
  run_gap_backward(v, l, dgy.get(), dgx.get(), planes, hw);
  char what[96];
  std::snprintf(what, sizeof what, "global avg v%d block %d planes %lld hw %lld", v, threads,
                static_cast<long long>(planes), static_cast<long long>(hw));
  // v1 sums in the CPU's order (exact); v2 reassociates the float sum (values in [-1, 1]: the error
  // stays well below 1e-6 for hw <= 1024)
  bool ok = driver::compare(what, y_ref, dy.download(), v == 1 ? 0.0 : 1e-6, v == 1 ? 0.0 : 1e-5);
  ok = driver::compare("  backward (exact)", gx_ref, dgx.download(), 0.0, 0.0) && ok;
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  const driver::Args args = driver::parse_args(argc, argv, 2,
      "pool: max / avg / global average pooling, forward and backward (gcc/kernels/pool.cuh), versions 1-2\n"
      "checked against the CPU and timed at GCC's shapes (batch 256); see the file's header for what each\n"
      "version number means for each op");
  if (!driver::gpu_present("pool")) return 1;
  const driver::Card card = driver::card();
  driver::print_card(card, "pool");
  bool ok = true;
  std::printf("correctness (against the CPU reference; 0 = bit for bit):\n");
  const std::vector<Case> max_cases = {
      {2, 3, 7, 9, 3, 3, 2, 2, 1, 1},    {1, 1, 1, 1, 3, 3, 2, 2, 1, 1},   {3, 5, 9, 8, 2, 2, 2, 2, 1, 1},
      {1, 2, 5, 5, 2, 2, 2, 2, 1, 1},    {2, 4, 6, 7, 3, 3, 1, 1, 1, 1},   {2, 3, 10, 11, 2, 3, 1, 2, 1, 1},
      {4, 8, 7, 7, 7, 7, 7, 7, 0, 0},    {1, 1, 33, 35, 1, 1, 1, 1, 0, 0}, {8, 64, 32, 32, 3, 3, 2, 2, 1, 1},
      {4, 64, 96, 96, 2, 2, 2, 2, 1, 1}};
  const std::vector<Case> avg_cases = {
      {4, 8, 7, 7, 7, 7, 7, 7, 0, 0},  {2, 3, 5, 5, 5, 5, 5, 5, 0, 0},    {2, 4, 6, 7, 3, 3, 1, 1, 1, 1},
      {2, 3, 7, 9, 3, 3, 2, 2, 1, 1},  {2, 3, 10, 11, 2, 3, 1, 2, 1, 1},  {1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
      {16, 512, 7, 7, 7, 7, 7, 7, 0, 0}};
  for (int v = 1; v <= 2; ++v) {
    if (!driver::wanted(args, v)) continue;
    for (int threads : {32, 128, 256, 1024}) {
      for (const Case& cs : max_cases)
        for (int kind : {0, 1, 2}) ok = check_pool(Op::kMax, v, threads, cs, kind) && ok;
      for (const Case& cs : avg_cases)
        for (int kind : {0, 1}) ok = check_pool(Op::kAvg, v, threads, cs, kind) && ok;
      for (int64_t planes : {int64_t{1}, int64_t{6}, int64_t{32}, int64_t{256} * 512})
        for (int64_t hw : {int64_t{1}, int64_t{16}, int64_t{35}, int64_t{1023}}) {
          if (planes * hw > (int64_t{1} << 24)) continue;
          ok = check_gap(v, threads, planes, hw) && ok;
        }
    }
  }
  if (!args.check_only) {
    std::printf("timing (median of %d calls; bytes = each input read once and each output written once):\n",
                args.repeat);
    struct Timed {
      const char* name;
      Op op;
      Case cs;
    };
    const Timed pools[] = {{"max 3x3/2 p1 (stem)", Op::kMax, {256, 64, 32, 32, 3, 3, 2, 2, 1, 1}},
                           {"max 2x2/2 p1 (stl stem)", Op::kMax, {256, 64, 96, 96, 2, 2, 2, 2, 1, 1}},
                           {"avg 7x7/7 (stl head)", Op::kAvg, {256, 512, 7, 7, 7, 7, 7, 7, 0, 0}}};
    for (const Timed& t : pools) {
      const PoolGeom g = t.cs.geom();
      const int64_t planes = t.cs.planes(), ni = planes * g.H * g.W, no = planes * g.Ho * g.Wo;
      driver::Rng rng(9);
      driver::Buffer<float> x(driver::random_vector(ni, rng)), gy(driver::random_vector(no, rng)), y(no), gx(ni);
      driver::Buffer<int> argmax(no);
      char shape[64];
      std::snprintf(shape, sizeof shape, "%s [%lld,%lld,%d,%d]", t.name, static_cast<long long>(t.cs.N),
                    static_cast<long long>(t.cs.C), t.cs.H, t.cs.W);
      for (int v = 1; v <= 2; ++v) {
        if (!driver::wanted(args, v)) continue;
        for (int threads : {128, 256, 512}) {
          const Launch l = gcc::kernels::launch_on(nullptr, threads);
          char version[40];
          std::snprintf(version, sizeof version, "fwd v%d block %d", v, threads);
          double ms =
              driver::time_ms(nullptr, args.repeat, [&] { run_forward(t.op, v, l, x.get(), y.get(), planes, g); });
          driver::print_timing(card, version, shape, ms, 4.0 * (ni + no), 0.0);
          std::snprintf(version, sizeof version, "bwd v%d block %d", v, threads);
          ms = driver::time_ms(nullptr, args.repeat,
                               [&] { run_backward(t.op, v, l, x.get(), gy.get(), gx.get(), argmax.get(), planes, g); });
          driver::print_timing(card, version, shape, ms, 4.0 * ((t.op == Op::kMax ? ni : 0) + no + ni), 0.0);
        }
      }
    }
    {  // the ResNet head: [256, 512, 4, 4] -> [256, 512]
      const int64_t planes = 256 * 512, hw = 16;
      driver::Rng rng(10);
      driver::Buffer<float> x(driver::random_vector(planes * hw, rng)), gy(driver::random_vector(planes, rng));
      driver::Buffer<float> y(planes), gx(planes * hw);
      for (int v = 1; v <= 2; ++v) {
        if (!driver::wanted(args, v)) continue;
        for (int threads : {128, 256, 512}) {
          const Launch l = gcc::kernels::launch_on(nullptr, threads);
          char version[40];
          std::snprintf(version, sizeof version, "gap fwd v%d block %d", v, threads);
          double ms =
              driver::time_ms(nullptr, args.repeat, [&] { run_gap_forward(v, l, x.get(), y.get(), planes, hw); });
          driver::print_timing(card, version, "[256,512,4,4] -> [256,512]", ms, 4.0 * planes * (hw + 1), 0.0);
          std::snprintf(version, sizeof version, "gap bwd v%d block %d", v, threads);
          ms = driver::time_ms(nullptr, args.repeat, [&] { run_gap_backward(v, l, gy.get(), gx.get(), planes, hw); });
          driver::print_timing(card, version, "[256,512] -> [256,512,4,4]", ms, 4.0 * planes * (hw + 1), 0.0);
        }
      }
    }
  }
  std::printf(ok ? "pool: every check passed\n" : "pool: CHECKS FAILED\n");
  return ok ? 0 : 1;
}
