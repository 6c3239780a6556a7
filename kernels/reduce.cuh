// CUDA versions of the reductions of gcc/ops/reduce.hpp (sum_dim, max_dim, forward and backward), and
// the axis machinery that softmax.cuh shares: one warp or one block per contiguous row, or a 32x8 tile.
#pragma once
#include <cfloat>
#include <cmath>
#include <cstdint>

#include "common.cuh"
#include "gcc/ops/reduce.hpp"

namespace gcc {
namespace cuda {
namespace impl {

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

// A contiguous tensor seen as [outer, len, inner] around the reduced dimension (detail::AxisSplit).
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

inline AxisGeom axis_geom(const Shape& s, int dim) {
  const detail::AxisSplit sp = detail::axis_split(s, dim);
  return AxisGeom{sp.outer, sp.len, sp.inner};
}

// Picks the mode for the geometry and launches body over every slice on the context stream.
// (CrossEntropyBody indexes rows directly: it is only ever launched with inner == 1.)
template <typename Body>
void launch_axis(Context& ctx, const AxisGeom& a, Body body) {
  if (a.outer == 0 || a.inner == 0) return;
  if (a.inner == 1) {
    // A warp per row while rows are short or many enough to fill the GPU with warps; else a block.
    const bool warp_rows = a.len <= 256 || (a.len <= 2048 && a.outer >= 4 * static_cast<int64_t>(ctx.sm_count()));
    if (warp_rows) {
      const int64_t warps = 8;  // 256 threads, 8 rows per block
      const int64_t need = (a.outer + warps - 1) / warps, cap = static_cast<int64_t>(ctx.sm_count()) * 16;
      const unsigned grid = static_cast<unsigned>(need < cap ? need : cap);
      axis_kernel<AxisMode::RowWarp><<<grid, 256, 0, ctx.stream()>>>(a, body);
    } else {
      const int threads = a.len >= 16384 ? 1024 : (a.len >= 2048 ? 512 : 256);
      const int64_t cap = static_cast<int64_t>(ctx.sm_count()) * 8;
      const unsigned grid = static_cast<unsigned>(a.outer < cap ? a.outer : cap);
      axis_kernel<AxisMode::RowBlock><<<grid, threads, 0, ctx.stream()>>>(a, body);
    }
  } else {
    const int64_t tiles = a.outer * ((a.inner + 31) / 32), cap = static_cast<int64_t>(ctx.sm_count()) * 8;
    const unsigned grid = static_cast<unsigned>(tiles < cap ? tiles : cap);
    axis_kernel<AxisMode::Column><<<grid, dim3(32, kTileRows), 0, ctx.stream()>>>(a, body);
  }
  GCC_CUDA_LAUNCH_CHECK();
}

inline void check_on_device_contiguous(const char* op, const Tensor& t, const char* what, int dev) {
  GCC_CHECK(t.defined(), op, ": ", what, " is undefined");
  GCC_CHECK(t.device().is_cuda() && t.device().index == dev, op, ": ", what, " of shape ", t.shape().str(),
            " is on ", t.device().str(), ", expected cuda:", dev);
  GCC_CHECK(t.is_contiguous(), op, ": ", what, " of shape ", t.shape().str(), " must be contiguous");
}

inline void check_axis(const char* op, const Tensor& t, int dim) {
  GCC_CHECK(t.dims() >= 1 && dim >= 0 && dim < t.dims(), op, ": dim ", dim, " out of range for shape ",
            t.shape().str());
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

inline bool fits_i32(int64_t n) { return n < (int64_t{1} << 31); }

// out[0] = total / divisor (0 when divisor == 0), total = the sum of the n per-row parts (double):
// the deterministic final step of the row losses (cross-entropy, RGC); one block, no atomics.
template <int Unused>
__global__ void mean_of_parts_kernel(const double* parts /* [n] */, int64_t n, double divisor, float* out /* [1] */) {
  double acc = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) acc += parts[i];
  acc = block_allreduce(acc, SumOp{});
  if (threadIdx.x == 0) out[0] = divisor != 0.0 ? static_cast<float>(acc / divisor) : 0.f;
}

inline void launch_mean_of_parts(Context& ctx, const double* parts, int64_t n, double divisor, float* out) {
  mean_of_parts_kernel<0><<<1, 512, 0, ctx.stream()>>>(parts, n, divisor, out);
  GCC_CUDA_LAUNCH_CHECK();
}

}  // namespace impl

// y[o, i] = scale * sum_c x[o, c, i] (double accumulation, like the CPU; the order of the additions
// differs, so the result agrees to float rounding, and bit for bit when the sums are exact).
inline void sum_dim_forward(const Tensor& x /* [*] */, int dim, float scale, const Tensor& y /* [x with dim reduced] */) {
  const int dev = impl::cuda_device_of("sum_dim_forward", y);
  impl::check_on_device_contiguous("sum_dim_forward", x, "input", dev);
  impl::check_on_device_contiguous("sum_dim_forward", y, "output", dev);
  impl::check_axis("sum_dim_forward", x, dim);
  const impl::AxisGeom a = impl::axis_geom(x.shape(), dim);
  GCC_CHECK(y.numel() == a.outer * a.inner, "sum_dim_forward: output ", y.shape().str(), " for input ",
            x.shape().str(), " reduced along dim ", dim);
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  impl::launch_axis(ctx, a, impl::SumBody{x.data(), y.data(), scale});
}

// gx[o, c, i] = gy[o, i] * scale (bit-exact with the CPU).
inline void sum_dim_backward(const Tensor& gy /* [x with dim reduced] */, int dim, float scale, const Tensor& gx /* [*] */) {
  const int dev = impl::cuda_device_of("sum_dim_backward", gx);
  impl::check_on_device_contiguous("sum_dim_backward", gy, "gradient", dev);
  impl::check_on_device_contiguous("sum_dim_backward", gx, "input gradient", dev);
  impl::check_axis("sum_dim_backward", gx, dim);
  const impl::AxisGeom a = impl::axis_geom(gx.shape(), dim);
  GCC_CHECK(gy.numel() == a.outer * a.inner, "sum_dim_backward: gradient ", gy.shape().str(), " for input ",
            gx.shape().str(), " reduced along dim ", dim);
  const int64_t n = gx.numel();
  if (n == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  if (impl::fits_i32(n)) {
    impl::sum_backward_kernel<uint32_t><<<ctx.grid_for(n), kThreadsPerBlock, 0, ctx.stream()>>>(
        gy.data(), gx.data(), scale, a, static_cast<uint32_t>(n));
  } else {
    impl::sum_backward_kernel<int64_t><<<ctx.grid_for(n), kThreadsPerBlock, 0, ctx.stream()>>>(
        gy.data(), gx.data(), scale, a, n);
  }
  GCC_CUDA_LAUNCH_CHECK();
}

// y = max along dim, index = the first position reaching it (as a float; a NaN wins). Bit-exact.
inline void max_dim_forward(const Tensor& x /* [*] */, int dim, const Tensor& y /* [x with dim reduced] */,
                            const Tensor& index /* [x with dim reduced] */) {
  const int dev = impl::cuda_device_of("max_dim_forward", y);
  impl::check_on_device_contiguous("max_dim_forward", x, "input", dev);
  impl::check_on_device_contiguous("max_dim_forward", y, "output", dev);
  impl::check_on_device_contiguous("max_dim_forward", index, "index", dev);
  impl::check_axis("max_dim_forward", x, dim);
  const impl::AxisGeom a = impl::axis_geom(x.shape(), dim);
  GCC_CHECK(a.len >= 1 || a.outer * a.inner == 0, "max_dim_forward: dimension ", dim, " of shape ",
            x.shape().str(), " is empty");
  GCC_CHECK(y.numel() == a.outer * a.inner && index.numel() == y.numel(), "max_dim_forward: output ",
            y.shape().str(), " / index ", index.shape().str(), " for input ", x.shape().str(), " along dim ", dim);
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  impl::launch_axis(ctx, a, impl::MaxBody{x.data(), y.data(), index.data()});
}

// gx = 0 except gx[o, index[o, i], i] = gy[o, i]. Bit-exact.
inline void max_dim_backward(const Tensor& gy /* [x with dim reduced] */, const Tensor& index /* [x with dim reduced] */,
                             int dim, const Tensor& gx /* [*] */) {
  const int dev = impl::cuda_device_of("max_dim_backward", gx);
  impl::check_on_device_contiguous("max_dim_backward", gy, "gradient", dev);
  impl::check_on_device_contiguous("max_dim_backward", index, "index", dev);
  impl::check_on_device_contiguous("max_dim_backward", gx, "input gradient", dev);
  impl::check_axis("max_dim_backward", gx, dim);
  const impl::AxisGeom a = impl::axis_geom(gx.shape(), dim);
  GCC_CHECK(gy.numel() == a.outer * a.inner && index.numel() == gy.numel(), "max_dim_backward: gradient ",
            gy.shape().str(), " / index ", index.shape().str(), " for input ", gx.shape().str(), " along dim ", dim);
  const int64_t n = gx.numel();
  if (n == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  if (impl::fits_i32(n)) {
    impl::max_backward_kernel<uint32_t><<<ctx.grid_for(n), kThreadsPerBlock, 0, ctx.stream()>>>(
        gy.data(), index.data(), gx.data(), a, static_cast<uint32_t>(n));
  } else {
    impl::max_backward_kernel<int64_t><<<ctx.grid_for(n), kThreadsPerBlock, 0, ctx.stream()>>>(
        gy.data(), index.data(), gx.data(), a, n);
  }
  GCC_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda
}  // namespace gcc
