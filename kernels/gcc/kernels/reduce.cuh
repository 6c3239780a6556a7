// Reductions along one dimension on raw device pointers (the CUDA side of gcc/ops/reduce.hpp's
// cpu::sum_dim_*, max_dim_*), and the axis machinery the row-normalising kernels (softmax.cuh) and the
// row losses (contrastive.cuh) share: group all-reductions with a fixed order (warp, block, or the 8
// threads of a column of a 32x8 tile), the [outer, len, inner] view of a tensor around the reduced
// dimension, the launcher picking one warp or one block per contiguous row or 32x8 column tiles, and
// the deterministic final mean of per-row parts. Needs only the CUDA runtime. Driver: kernels/dev/reduce.cu.
#pragma once
#include <cfloat>
#include <cmath>
#include <cstdint>

#include "common.cuh"

namespace gcc {
namespace kernels {

// ---- group all-reductions -------------------------------------------------------------------------
// A "group" is the set of threads that reduce one slice together: a warp, a whole block, or the 8
// threads of a column of a 32x8 tile. Every reduction is an all-reduce (each member gets the result)
// with a fixed combination order, so results are identical in every member and on every run.

// (value, index) for max with PyTorch's rule: a NaN wins, then the larger value, then the smaller index.
struct ValIdx {
  float v;
  int64_t i;
};
__device__ __forceinline__ bool validx_better(const ValIdx& a, const ValIdx& b) {
  const bool an = ::isnan(a.v), bn = ::isnan(b.v);
  if (an != bn) return an;
  if (!an && a.v != b.v) return a.v > b.v;
  return a.i < b.i;
}

struct SumOp {
  __device__ __forceinline__ double operator()(double a, double b) const { return a + b; }
};
// The larger of two values, never a NaN (NaNs are skipped, as detail::row_max does on the CPU).
struct MaxOp {
  __device__ __forceinline__ float operator()(float a, float b) const { return b > a ? b : a; }
};
struct ArgMaxOp {
  __device__ __forceinline__ ValIdx operator()(const ValIdx& a, const ValIdx& b) const {
    return validx_better(b, a) ? b : a;
  }
};

__device__ __forceinline__ float shfl_xor(float v, int m) { return __shfl_xor_sync(0xffffffffu, v, m); }
__device__ __forceinline__ double shfl_xor(double v, int m) { return __shfl_xor_sync(0xffffffffu, v, m); }
__device__ __forceinline__ ValIdx shfl_xor(const ValIdx& v, int m) {
  ValIdx r;
  r.v = __shfl_xor_sync(0xffffffffu, v.v, m);
  r.i = static_cast<int64_t>(__shfl_xor_sync(0xffffffffu, static_cast<long long>(v.i), m));
  return r;
}

// Butterfly over the 32 lanes: every lane ends with op over all lanes (op commutative).
template <typename T, typename Op>
__device__ __forceinline__ T warp_allreduce(T v, Op op) {
#pragma unroll
  for (int m = 16; m > 0; m >>= 1) v = op(v, shfl_xor(v, m));
  return v;
}

// Over the whole block (blockDim.x a multiple of 32, blockDim.y == 1).
template <typename T, typename Op>
__device__ __forceinline__ T block_allreduce(T v, Op op) {
  __shared__ T partial[32];
  v = warp_allreduce(v, op);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  T r = partial[0];
  for (int w = 1; w < warps; ++w) r = op(r, partial[w]);
  __syncthreads();  // partial may be reused by the next call
  return r;
}

// Over the blockDim.y threads sharing threadIdx.x in a (32, kTileRows) block.
constexpr int kTileRows = 8;
template <typename T, typename Op>
__device__ __forceinline__ T column_allreduce(T v, Op op) {
  __shared__ T partial[kTileRows][32];
  partial[threadIdx.y][threadIdx.x] = v;
  __syncthreads();
  T r = partial[0][threadIdx.x];
#pragma unroll
  for (int y = 1; y < kTileRows; ++y) r = op(r, partial[y][threadIdx.x]);
  __syncthreads();
  return r;
}

enum class AxisMode { RowWarp, RowBlock, Column };

// The group reducing one slice; `first`/`step` say which elements c of the slice this thread visits.
template <AxisMode M>
struct Group {
  int first, step;
  template <typename T, typename Op>
  __device__ __forceinline__ T all(T v, Op op) const {
    if constexpr (M == AxisMode::RowWarp) return warp_allreduce(v, op);
    else if constexpr (M == AxisMode::RowBlock) return block_allreduce(v, op);
    else return column_allreduce(v, op);
  }
  __device__ __forceinline__ double sum(double v) const { return all(v, SumOp{}); }
  __device__ __forceinline__ float max(float v) const { return all(v, MaxOp{}); }
  __device__ __forceinline__ ValIdx argmax(ValIdx v) const { return all(v, ArgMaxOp{}); }
  __device__ __forceinline__ bool leader() const { return first == 0; }
};

// A contiguous tensor seen as [outer, len, inner] around the reduced dimension (the caller computes
// it, e.g. from gcc::detail::axis_split: outer = product of the sizes before dim, len = size(dim),
// inner = product of the sizes after it).
struct AxisGeom {
  int64_t outer, len, inner;
};

// One slice of an axis problem, handed to the op's body:
//   element c of the slice is at base + c * stride (c in [0, len)); its reduced position is `out`.
//   `valid` is false for the padding columns of a partial tile: such threads take part in the
//   group's reductions (visiting no element) but must not write anything.
struct Slice {
  int64_t base, out, stride, len;
  bool valid;
  __device__ __forceinline__ int64_t count() const { return valid ? len : 0; }
};

// Runs body(group, slice) for every slice: RowWarp (inner == 1, short or many rows: one warp per row),
// RowBlock (inner == 1, long rows or few of them: one block per row), Column (inner > 1: a
// (32, kTileRows) block takes 32 neighbouring inner positions, 8 threads per position).
template <AxisMode M, typename Body>
__global__ void axis_kernel(AxisGeom a, Body body) {
  if constexpr (M == AxisMode::RowWarp) {
    const Group<M> g{static_cast<int>(threadIdx.x & 31), 32};
    const int64_t wpb = blockDim.x >> 5;
    for (int64_t o = blockIdx.x * wpb + (threadIdx.x >> 5); o < a.outer; o += gridDim.x * wpb)
      body(g, Slice{o * a.len, o, 1, a.len, true});
  } else if constexpr (M == AxisMode::RowBlock) {
    const Group<M> g{static_cast<int>(threadIdx.x), static_cast<int>(blockDim.x)};
    for (int64_t o = blockIdx.x; o < a.outer; o += gridDim.x) body(g, Slice{o * a.len, o, 1, a.len, true});
  } else {
    const Group<M> g{static_cast<int>(threadIdx.y), kTileRows};
    const int64_t tpo = (a.inner + 31) / 32, tiles = a.outer * tpo;
    for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
      const int64_t o = t / tpo, i = (t % tpo) * 32 + threadIdx.x;
      const bool valid = i < a.inner;
      const int64_t ic = valid ? i : 0;
      body(g, Slice{o * a.len * a.inner + ic, o * a.inner + ic, a.inner, a.len, valid});
    }
  }
}

// The mode launch_axis picks for a geometry (outer, inner > 0): a warp per row while rows are short
// or many enough to fill the GPU with warps, else a block per row; column tiles when inner > 1.
inline AxisMode axis_mode(const Launch& l, const AxisGeom& a) {
  if (a.inner != 1) return AxisMode::Column;
  const bool warp_rows = a.len <= 256 || (a.len <= 2048 && a.outer >= 4 * static_cast<int64_t>(l.sm_count));
  return warp_rows ? AxisMode::RowWarp : AxisMode::RowBlock;
}

// Launches body over every slice of `a` on l.stream in mode M with the library's launch shape: RowWarp
// 256 threads (8 rows per block) and at most 16 blocks per SM; RowBlock 256/512/1024 threads (len
// below 2048 / from 2048 / from 16384), at most 8 blocks per SM; Column (32, 8) blocks, at most 8 per
// SM. The block sizes are fixed by the mode and the row length (l.threads is not used).
template <AxisMode M, typename Body>
Status launch_axis_as(const Launch& l, const AxisGeom& a, Body body) {
  if (a.outer == 0 || a.inner == 0) return Status{};
  if constexpr (M == AxisMode::RowWarp) {
    const int64_t warps = 8;  // 256 threads, 8 rows per block
    axis_kernel<AxisMode::RowWarp><<<l.capped((a.outer + warps - 1) / warps, 16), 256, 0, l.stream>>>(a, body);
    return launched("axis_kernel<RowWarp>");
  } else if constexpr (M == AxisMode::RowBlock) {
    const int threads = a.len >= 16384 ? 1024 : (a.len >= 2048 ? 512 : 256);
    axis_kernel<AxisMode::RowBlock><<<l.capped(a.outer, 8), threads, 0, l.stream>>>(a, body);
    return launched("axis_kernel<RowBlock>");
  } else {
    const int64_t tiles = a.outer * ((a.inner + 31) / 32);
    axis_kernel<AxisMode::Column><<<l.capped(tiles, 8), dim3(32, kTileRows), 0, l.stream>>>(a, body);
    return launched("axis_kernel<Column>");
  }
}

// Picks the mode for the geometry (axis_mode) and launches body over every slice on l.stream.
// (RowWarp / RowBlock need inner == 1; CrossEntropyBody indexes rows directly and is only ever
// launched with inner == 1.)
template <typename Body>
Status launch_axis(const Launch& l, const AxisGeom& a, Body body) {
  if (a.outer == 0 || a.inner == 0) return Status{};
  switch (axis_mode(l, a)) {
    case AxisMode::RowWarp: return launch_axis_as<AxisMode::RowWarp>(l, a, body);
    case AxisMode::RowBlock: return launch_axis_as<AxisMode::RowBlock>(l, a, body);
    default: return launch_axis_as<AxisMode::Column>(l, a, body);
  }
}

// ---- bodies ---------------------------------------------------------------------------------------
struct SumBody {
  const float* x;  // [outer, len, inner]
  float* y;        // [outer, inner]
  float scale;
  template <typename G>
  __device__ void operator()(const G& g, const Slice& s) const {
    double acc = 0.0;
    for (int64_t c = g.first; c < s.count(); c += g.step) acc += x[s.base + c * s.stride];
    acc = g.sum(acc);
    if (s.valid && g.leader()) y[s.out] = static_cast<float>(acc * static_cast<double>(scale));
  }
};

struct MaxBody {
  const float* x;  // [outer, len, inner]
  float* y;        // [outer, inner]
  float* index;    // [outer, inner]
  template <typename G>
  __device__ void operator()(const G& g, const Slice& s) const {
    ValIdx best{-INFINITY, INT64_MAX};  // loses to every element, -inf included
    for (int64_t c = g.first; c < s.count(); c += g.step) {
      const ValIdx cand{x[s.base + c * s.stride], c};
      if (validx_better(cand, best)) best = cand;
    }
    best = g.argmax(best);
    if (s.valid && g.leader()) {
      y[s.out] = best.v;
      index[s.out] = static_cast<float>(best.i);
    }
  }
};

template <typename I>
__global__ void sum_backward_kernel(const float* gy /* [outer, inner] */, float* gx /* [outer, len, inner] */,
                                    float scale, AxisGeom a, I n) {
  GCC_CUDA_GRID_STRIDE_LOOP(I, e, n) {
    const I r = (e / static_cast<I>(a.len * a.inner)) * static_cast<I>(a.inner) + e % static_cast<I>(a.inner);
    gx[e] = gy[r] * scale;
  }
}

template <typename I>
__global__ void max_backward_kernel(const float* gy /* [outer, inner] */, const float* index /* [outer, inner] */,
                                    float* gx /* [outer, len, inner] */, AxisGeom a, I n) {
  GCC_CUDA_GRID_STRIDE_LOOP(I, e, n) {
    const I inner = static_cast<I>(a.inner), len = static_cast<I>(a.len);
    const I r = (e / (len * inner)) * inner + e % inner;
    const I c = (e / inner) % len;
    gx[e] = static_cast<I>(index[r]) == c ? gy[r] : 0.f;
  }
}

// out[0] = total / divisor (0 when divisor == 0), total = the sum of the n per-row parts (double):
// the deterministic final step of the row losses (cross-entropy, RGC); one block, no atomics.
GCC_HEADER_KERNEL void mean_of_parts_kernel(const double* parts /* [n] */, int64_t n, double divisor,
                                            float* out /* [1] */) {
  double acc = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) acc += parts[i];
  acc = block_allreduce(acc, SumOp{});
  if (threadIdx.x == 0) out[0] = divisor != 0.0 ? static_cast<float>(acc / divisor) : 0.f;
}

// ---- launchers --------------------------------------------------------------------------------------
// out[0] = sum(parts[0..n)) / divisor in double (0 when divisor == 0; n == 0 gives 0): one block of 512.
inline Status mean_of_parts(const Launch& l, const double* parts /* [n] */, int64_t n, double divisor,
                            float* out /* [1] */) {
  mean_of_parts_kernel<<<1, 512, 0, l.stream>>>(parts, n, divisor, out);
  return launched("mean_of_parts_kernel");
}

// y[o, i] = scale * sum_c x[o, c, i] (double accumulation, like the CPU; the order of the additions
// differs, so the result agrees to float rounding, and bit for bit when the sums are exact).
inline Status sum_dim_forward(const Launch& l, const float* x /* [outer, len, inner] */, const AxisGeom& a,
                              float scale, float* y /* [outer, inner] */) {
  return launch_axis(l, a, SumBody{x, y, scale});
}

// gx[o, c, i] = gy[o, i] * scale (bit-exact with the CPU).
inline Status sum_dim_backward(const Launch& l, const float* gy /* [outer, inner] */, const AxisGeom& a, float scale,
                               float* gx /* [outer, len, inner] */) {
  const int64_t n = a.outer * a.len * a.inner;
  if (n == 0) return Status{};
  if (fits_32bit(n)) {
    sum_backward_kernel<uint32_t><<<l.grid_for(n), l.threads, 0, l.stream>>>(gy, gx, scale, a,
                                                                             static_cast<uint32_t>(n));
  } else {
    sum_backward_kernel<int64_t><<<l.grid_for(n), l.threads, 0, l.stream>>>(gy, gx, scale, a, n);
  }
  return launched("sum_backward_kernel");
}

// y = max along the axis, index = the first position c reaching it (as a float; a NaN wins). Bit-exact.
// Needs a.len >= 1 unless outer * inner == 0.
inline Status max_dim_forward(const Launch& l, const float* x /* [outer, len, inner] */, const AxisGeom& a,
                              float* y /* [outer, inner] */, float* index /* [outer, inner] */) {
  return launch_axis(l, a, MaxBody{x, y, index});
}

// gx = 0 except gx[o, index[o, i], i] = gy[o, i]. Bit-exact.
inline Status max_dim_backward(const Launch& l, const float* gy /* [outer, inner] */,
                               const float* index /* [outer, inner] */, const AxisGeom& a,
                               float* gx /* [outer, len, inner] */) {
  const int64_t n = a.outer * a.len * a.inner;
  if (n == 0) return Status{};
  if (fits_32bit(n)) {
    max_backward_kernel<uint32_t><<<l.grid_for(n), l.threads, 0, l.stream>>>(gy, index, gx, a,
                                                                             static_cast<uint32_t>(n));
  } else {
    max_backward_kernel<int64_t><<<l.grid_for(n), l.threads, 0, l.stream>>>(gy, index, gx, a, n);
  }
  return launched("max_backward_kernel");
}

}  // namespace kernels
}  // namespace gcc
