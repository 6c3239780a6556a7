// Driver for the reductions along one dimension of gcc/kernels/reduce.cuh (sum_dim / mean, max_dim with
// its first-maximum index, forward and backward): a CPU reference (gcc/ops/reduce.hpp's formulas), the
// versions below checked against it for several launch shapes and problem sizes, and a timing sweep over
// GCC's shapes: [1536, 128] embedding rows, [256, 512, 16] / [256, 64, 1024] -> mean over the spatial
// positions, [1536, 10] cluster logits (argmax), column sums of [1536, 200] (AGC's cluster masses), the
// middle dim of [256, 512, 16], and long rows [16, 60000].
//
// A tensor is seen as [outer, len, inner] around the reduced dimension (AxisGeom); inner == 1 is the
// last dimension (contiguous rows), inner > 1 a middle or leading one (strided "columns").
//   v1  one thread per output (o, i), a serial double loop over c: the textbook kernel.
//   v2  the library (gcc::kernels::sum_dim_forward / max_dim_forward / *_backward): launch_axis picks
//       RowWarp (one warp per row) for rows up to 256 long, or up to 2048 long when there are at
//       least 4 rows per SM; RowBlock (one block of 256/512/1024 threads per row) for longer or fewer
//       rows; Column ((32, 8) blocks: 32 neighbouring inner positions, 8 threads down each) when
//       inner > 1. Backward: one grid-stride elementwise pass (32-bit indices when they fit).
//   v3  v2 with the row mode forced to RowWarp (forward only; inner > 1 stays Column, backward = v2).
//   v4  v2 with the row mode forced to RowBlock (forward only; likewise).
// The library keeps v2. Every version reproduces the CPU's rules exactly: max and its index bit for bit
// (a NaN wins, then the larger value, then the first index: ArgMaxOp is commutative and associative, so
// any reduction tree gives the CPU's answer), sums in double then rounded once to float, so a
// different summation order only moves the last float bit (checks: 2 ulp relative + 1e-8 absolute;
// backward passes are exact). v1 is correct but parallel only over the outputs: [1536, 200] column
// sums are 200 threads each summing 1536 values, and along rows neighbouring threads read addresses
// `len` apart (uncoalesced). v2 spreads each slice over a warp / block / 8 threads with coalesced reads,
// and its group reductions have a fixed order, so results are deterministic run to run. v3/v4 show
// why the choice depends on the row length and count: a warp per row leaves a long or lone row to
// 32 threads; a block per short row idles most of the block. The timings are owed to a GPU run (README).
//
// Build and run, in a folder holding this file, driver.cuh and a copy of kernels/gcc/ (or in kernels/dev/
// with -I.. instead of -I.); VERSION picks one version, --check skips the timing sweep:
//   nvcc -O3 -std=c++17 -arch=native -I. reduce.cu -o reduce && ./reduce [VERSION] [--check]
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "driver.cuh"
#include "gcc/kernels/reduce.cuh"

namespace {

using gcc::kernels::AxisGeom;
using gcc::kernels::AxisMode;
using gcc::kernels::Launch;

constexpr int kVersions = 4;

// ---- CPU reference (gcc::cpu::sum_dim_* / max_dim_*: the same loops and accumulation) -----------------
double row_sum(const float* p, int64_t n) {  // detail::row_sum: four accumulators
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) s0 += p[i], s1 += p[i + 1], s2 += p[i + 2], s3 += p[i + 3];
  for (; i < n; ++i) s0 += p[i];
  return (s0 + s1) + (s2 + s3);
}

void sum_cpu(const std::vector<float>& x /* [outer, len, inner] */, const AxisGeom& a, float scale,
             std::vector<float>& y /* [outer, inner] */) {
  y.assign(static_cast<std::size_t>(a.outer * a.inner), 0.f);
  for (int64_t o = 0; o < a.outer; ++o) {
    if (a.inner == 1) {
      y[o] = static_cast<float>(row_sum(x.data() + o * a.len, a.len) * scale);
      continue;
    }
    for (int64_t i = 0; i < a.inner; ++i) {
      double acc = 0.0;
      for (int64_t c = 0; c < a.len; ++c) acc += x[(o * a.len + c) * a.inner + i];
      y[o * a.inner + i] = static_cast<float>(acc * scale);
    }
  }
}

void sum_backward_cpu(const std::vector<float>& gy /* [outer, inner] */, const AxisGeom& a, float scale,
                      std::vector<float>& gx /* [outer, len, inner] */) {
  gx.assign(static_cast<std::size_t>(a.outer * a.len * a.inner), 0.f);
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t c = 0; c < a.len; ++c)
      for (int64_t i = 0; i < a.inner; ++i) gx[(o * a.len + c) * a.inner + i] = gy[o * a.inner + i] * scale;
}

// The first maximum; a NaN beats every number and the first NaN wins.
void max_cpu(const std::vector<float>& x, const AxisGeom& a, std::vector<float>& y, std::vector<float>& index) {
  y.assign(static_cast<std::size_t>(a.outer * a.inner), 0.f);
  index.assign(y.size(), 0.f);
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t i = 0; i < a.inner; ++i) {
      float best = x[o * a.len * a.inner + i];
      int64_t arg = 0;
      for (int64_t c = 1; c < a.len; ++c) {
        const float v = x[(o * a.len + c) * a.inner + i];
        if (v > best || (std::isnan(v) && !std::isnan(best))) best = v, arg = c;
      }
      y[o * a.inner + i] = best;
      index[o * a.inner + i] = static_cast<float>(arg);
    }
}

void max_backward_cpu(const std::vector<float>& gy, const std::vector<float>& index, const AxisGeom& a,
                      std::vector<float>& gx) {
  gx.assign(static_cast<std::size_t>(a.outer * a.len * a.inner), 0.f);
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t i = 0; i < a.inner; ++i) {
      const int64_t c = static_cast<int64_t>(index[o * a.inner + i]);
      gx[(o * a.len + c) * a.inner + i] = gy[o * a.inner + i];
    }
}

// ---- v1: one thread per output, serial loop ---------------------------------------------------------------
__global__ void sum_v1(const float* x, float* y, float scale, AxisGeom a) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= a.outer * a.inner) return;
  const int64_t o = r / a.inner, i = r % a.inner;
  double acc = 0.0;
  for (int64_t c = 0; c < a.len; ++c) acc += x[(o * a.len + c) * a.inner + i];
  y[r] = static_cast<float>(acc * static_cast<double>(scale));
}

__global__ void max_v1(const float* x, float* y, float* index, AxisGeom a) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= a.outer * a.inner) return;
  const int64_t o = r / a.inner, i = r % a.inner;
  float best = x[o * a.len * a.inner + i];
  int64_t arg = 0;
  for (int64_t c = 1; c < a.len; ++c) {
    const float v = x[(o * a.len + c) * a.inner + i];
    if (v > best || (::isnan(v) && !::isnan(best))) best = v, arg = c;
  }
  y[r] = best;
  index[r] = static_cast<float>(arg);
}

__global__ void sum_backward_v1(const float* gy, float* gx, float scale, AxisGeom a) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= a.outer * a.inner) return;
  const int64_t o = r / a.inner, i = r % a.inner;
  const float v = gy[r] * scale;
  for (int64_t c = 0; c < a.len; ++c) gx[(o * a.len + c) * a.inner + i] = v;
}

__global__ void max_backward_v1(const float* gy, const float* index, float* gx, AxisGeom a) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= a.outer * a.inner) return;
  const int64_t o = r / a.inner, i = r % a.inner, arg = static_cast<int64_t>(index[r]);
  for (int64_t c = 0; c < a.len; ++c) gx[(o * a.len + c) * a.inner + i] = c == arg ? gy[r] : 0.f;
}

unsigned v1_grid(const Launch& l, const AxisGeom& a) {
  const int64_t n = a.outer * a.inner;
  return static_cast<unsigned>(n > 0 ? (n + l.threads - 1) / l.threads : 1);
}

// v3 / v4: the library's bodies with the row mode forced (inner > 1 keeps Column, the only mode for it).
template <typename Body>
gcc::kernels::Status forced(int v, const Launch& l, const AxisGeom& a, Body body) {
  if (a.inner != 1) return gcc::kernels::launch_axis_as<AxisMode::Column>(l, a, body);
  return v == 3 ? gcc::kernels::launch_axis_as<AxisMode::RowWarp>(l, a, body)
                : gcc::kernels::launch_axis_as<AxisMode::RowBlock>(l, a, body);
}

void run_sum(int v, const Launch& l, const float* x, const AxisGeom& a, float scale, float* y) {
  if (v == 1) {
    if (a.outer * a.inner > 0) sum_v1<<<v1_grid(l, a), l.threads, 0, l.stream>>>(x, y, scale, a);
    driver::check(gcc::kernels::launched("sum_v1"), "sum v1");
  } else if (v == 2) {
    driver::check(gcc::kernels::sum_dim_forward(l, x, a, scale, y), "sum v2");
  } else {
    driver::check(forced(v, l, a, gcc::kernels::SumBody{x, y, scale}), "sum v3/v4");
  }
}

void run_max(int v, const Launch& l, const float* x, const AxisGeom& a, float* y, float* index) {
  if (v == 1) {
    if (a.outer * a.inner > 0) max_v1<<<v1_grid(l, a), l.threads, 0, l.stream>>>(x, y, index, a);
    driver::check(gcc::kernels::launched("max_v1"), "max v1");
  } else if (v == 2) {
    driver::check(gcc::kernels::max_dim_forward(l, x, a, y, index), "max v2");
  } else {
    driver::check(forced(v, l, a, gcc::kernels::MaxBody{x, y, index}), "max v3/v4");
  }
}

// Backward: v1 is the naive kernel, every other version the library's (there is no mode to force).
void run_sum_backward(int v, const Launch& l, const float* gy, const AxisGeom& a, float scale, float* gx) {
  if (v == 1) {
    if (a.outer * a.inner > 0) sum_backward_v1<<<v1_grid(l, a), l.threads, 0, l.stream>>>(gy, gx, scale, a);
    driver::check(gcc::kernels::launched("sum_backward_v1"), "sum backward v1");
  } else {
    driver::check(gcc::kernels::sum_dim_backward(l, gy, a, scale, gx), "sum backward v2");
  }
}

void run_max_backward(int v, const Launch& l, const float* gy, const float* index, const AxisGeom& a, float* gx) {
  if (v == 1) {
    if (a.outer * a.inner > 0) max_backward_v1<<<v1_grid(l, a), l.threads, 0, l.stream>>>(gy, index, gx, a);
    driver::check(gcc::kernels::launched("max_backward_v1"), "max backward v1");
  } else {
    driver::check(gcc::kernels::max_dim_backward(l, gy, index, a, gx), "max backward v2");
  }
}

const char* mode_name(const Launch& l, const AxisGeom& a) {
  switch (gcc::kernels::axis_mode(l, a)) {
    case AxisMode::RowWarp: return "warp";
    case AxisMode::RowBlock: return "block";
    default: return "column";
  }
}

template <typename T>
void append(std::vector<T>& to, const std::vector<T>& from) {
  to.insert(to.end(), from.begin(), from.end());
}

// Version v on one geometry with one launch description: sum (mean scale 1/len) forward against the CPU
// to 2 ulp, then sum backward, max forward (values and indices) and max backward, all bit for bit.
bool check_one(int v, const Launch& l, const AxisGeom& a) {
  const std::size_t n = static_cast<std::size_t>(a.outer * a.len * a.inner), m = static_cast<std::size_t>(a.outer * a.inner);
  driver::Rng rng(1000003 * static_cast<uint64_t>(a.outer) + 1009 * static_cast<uint64_t>(a.len) + static_cast<uint64_t>(a.inner));
  const std::vector<float> x = driver::random_vector(n, rng);
  std::vector<float> xi(n);  // small integers (ties everywhere) with a NaN every 97 elements
  for (std::size_t e = 0; e < n; ++e)
    xi[e] = e % 97 == 41 ? std::numeric_limits<float>::quiet_NaN() : std::floor(rng.uniform(-3.f, 4.f));
  const std::vector<float> gy = driver::random_vector(m, rng);
  const float scale = a.len > 0 ? 1.f / static_cast<float>(a.len) : 1.f;

  std::vector<float> y_ref, gx_ref, my_ref, mi_ref, mgx_ref;
  sum_cpu(x, a, scale, y_ref);
  sum_backward_cpu(gy, a, scale, gx_ref);
  max_cpu(xi, a, my_ref, mi_ref);
  max_backward_cpu(gy, mi_ref, a, mgx_ref);

  driver::Buffer<float> dx(x), dxi(xi), dgy(gy), dmi(mi_ref), dy(m), dgx(n), dmy(m), dmidx(m), dmgx(n);
  run_sum(v, l, dx.get(), a, scale, dy.get());
  run_sum_backward(v, l, dgy.get(), a, scale, dgx.get());
  run_max(v, l, dxi.get(), a, dmy.get(), dmidx.get());
  run_max_backward(v, l, dgy.get(), dmi.get(), a, dmgx.get());

  std::vector<float> exact_ref = gx_ref, exact_got = dgx.download();
  append(exact_ref, my_ref);
  append(exact_got, dmy.download());
  append(exact_ref, mi_ref);
  append(exact_got, dmidx.download());
  append(exact_ref, mgx_ref);
  append(exact_got, dmgx.download());

  char what[120];
  std::snprintf(what, sizeof what, "v%d b%d sm%d [%lld,%lld,%lld] %s mean", v, l.threads, l.sm_count,
                static_cast<long long>(a.outer), static_cast<long long>(a.len), static_cast<long long>(a.inner),
                v == 1 ? "naive" : (v == 2 ? mode_name(l, a) : (a.inner != 1 ? "column" : (v == 3 ? "warp" : "block"))));
  bool ok = driver::compare(what, y_ref, dy.download(), 1e-8, 2.4e-7);
  ok = driver::compare("  sum bwd, max fwd + index, max bwd (exact)", exact_ref, exact_got, 0.0, 0.0) && ok;
  return ok;
}

struct Shape3 {
  const char* name;
  AxisGeom a;
  bool max_too;  // time max_dim as well
};

}  // namespace

int main(int argc, char** argv) {
  const driver::Args args = driver::parse_args(argc, argv, kVersions,
      "reduce: sum_dim / mean / max_dim forward and backward (gcc/kernels/reduce.cuh), versions 1-4 checked\n"
      "against the CPU and timed over GCC's shapes");
  if (!driver::gpu_present("reduce")) return 1;
  const driver::Card card = driver::card();
  driver::print_card(card, "reduce");
  bool ok = true;

  std::printf("correctness (sum to 2 ulp + 1e-8, everything else bit for bit):\n");
  const AxisGeom shapes[] = {
      {1, 1, 1},     {1, 37, 1},    {3, 1, 1},     {37, 53, 1},   {1536, 10, 1}, {1536, 128, 1}, {131072, 16, 1},
      {7, 3000, 1},  {600, 1000, 1}, {3, 20000, 1}, {1, 37, 53},   {4, 7, 9},     {1, 1536, 200}, {2, 3000, 7},
      {3, 5, 33},    {256, 512, 16}, {5, 1, 40},
  };
  Launch small = gcc::kernels::launch_on(nullptr, 128);
  small.sm_count = 1;  // tiny grids: every grid-stride loop goes round many times
  const Launch lib = gcc::kernels::launch_on(nullptr, 256), wide = gcc::kernels::launch_on(nullptr, 1024);
  for (int v = 1; v <= kVersions; ++v) {
    if (!driver::wanted(args, v)) continue;
    for (const Launch& l : {small, lib, wide})
      for (const AxisGeom& a : shapes) ok = check_one(v, l, a) && ok;
  }

  if (!args.check_only) {
    std::printf("timing (median of %d calls; bytes = what the kernel must read and write):\n", args.repeat);
    const Shape3 sweep[] = {
        {"[1536, 128] sum dim 1", {1536, 128, 1}, false},
        {"[256, 512, 16] mean dim 2", {256 * 512, 16, 1}, false},
        {"[256, 64, 1024] mean dim 2", {256 * 64, 1024, 1}, false},
        {"[1536, 10] max dim 1", {1536, 10, 1}, true},
        {"[1536, 200] sum dim 0", {1, 1536, 200}, true},
        {"[256, 512, 16] sum dim 1", {256, 512, 16}, true},
        {"[16, 60000] sum dim 1", {16, 60000, 1}, true},
    };
    for (const Shape3& s : sweep) {
      const AxisGeom& a = s.a;
      const int64_t n = a.outer * a.len * a.inner, m = a.outer * a.inner;
      driver::Rng rng(5);
      driver::Buffer<float> x(driver::random_vector(n, rng)), gy(driver::random_vector(m, rng)), y(m), idx(m), gx(n);
      const std::vector<float> zeros(m, 0.f);
      idx.upload(zeros);
      const float scale = 1.f / static_cast<float>(a.len);
      std::printf(" %s (library mode: %s)\n", s.name, mode_name(lib, a));
      for (int v = 1; v <= kVersions; ++v) {
        if (!driver::wanted(args, v)) continue;
        char version[32];
        std::snprintf(version, sizeof version, "v%d sum fwd", v);
        double ms = driver::time_ms(nullptr, args.repeat, [&] { run_sum(v, lib, x.get(), a, scale, y.get()); });
        driver::print_timing(card, version, s.name, ms, 4.0 * (n + m), 0.0);
        if (s.max_too) {
          std::snprintf(version, sizeof version, "v%d max fwd", v);
          ms = driver::time_ms(nullptr, args.repeat, [&] { run_max(v, lib, x.get(), a, y.get(), idx.get()); });
          driver::print_timing(card, version, s.name, ms, 4.0 * (n + 2 * m), 0.0);
        }
        if (v > 2) continue;  // backward: v1 and the library only
        std::snprintf(version, sizeof version, "v%d sum bwd", v);
        ms = driver::time_ms(nullptr, args.repeat, [&] { run_sum_backward(v, lib, gy.get(), a, scale, gx.get()); });
        driver::print_timing(card, version, s.name, ms, 4.0 * (n + m), 0.0);
        if (s.max_too) {
          std::snprintf(version, sizeof version, "v%d max bwd", v);
          ms = driver::time_ms(nullptr, args.repeat,
                               [&] { run_max_backward(v, lib, gy.get(), idx.get(), a, gx.get()); });
          driver::print_timing(card, version, s.name, ms, 4.0 * (n + 2 * m), 0.0);
        }
      }
    }
  }
  std::printf(ok ? "reduce: every check passed\n" : "reduce: CHECKS FAILED\n");
  return ok ? 0 : 1;
}
