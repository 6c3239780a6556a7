// Shared pieces of the CUDA kernels: grid-stride loops, the launch check, and the geometry of
// strided/broadcast views (dims merged where the layout allows, right-aligned into 4 slots).
#pragma once
#include <array>
#include <cstdint>

#include "gcc/core/tensor.hpp"
#include "gcc/cuda/check.cuh"
#include "gcc/cuda/context.cuh"

// for (I i = first index of this thread; i < n; i += all threads of the grid)
#define GCC_CUDA_GRID_STRIDE_LOOP(I, i, n)                                                        \
  for (I i = static_cast<I>(blockIdx.x) * static_cast<I>(blockDim.x) + static_cast<I>(threadIdx.x); \
       i < (n); i += static_cast<I>(blockDim.x) * static_cast<I>(gridDim.x))

// After every kernel launch: reports a bad launch configuration or a missing kernel image at once.
#define GCC_CUDA_LAUNCH_CHECK() GCC_CUDA_CHECK(cudaGetLastError())

namespace gcc {
namespace cuda {
namespace impl {

// kOps strided operands over one shape of at most 4 dims, passed to kernels by value. Slot 3 is the
// fastest-varying dimension; unused leading slots have size 1 and stride 0.
template <int kOps>
struct Geometry {
  int64_t size[4];
  int64_t stride[kOps][4];
};

// Geometry of operands that all have shape `shape` (e.g. broadcast views made by Tensor::expand).
// Size-1 dims are dropped and neighbouring dims merged when every operand steps through them as one.
template <int kOps>
inline Geometry<kOps> make_geometry(const Shape& shape, const std::array<const Tensor*, kOps>& ops) {
  int64_t size[4];
  int64_t stride[kOps][4];
  int nd = 0;
  for (int d = 0; d < shape.dims(); ++d) {
    if (shape[d] == 1) continue;
    size[nd] = shape[d];
    for (int o = 0; o < kOps; ++o) {
      GCC_CHECK(ops[o]->shape() == shape, "make_geometry: operand of shape ", ops[o]->shape().str(),
                " for iteration shape ", shape.str());
      stride[o][nd] = ops[o]->stride(d);
    }
    ++nd;
  }
  // Merge dim k-1 into k when, for every operand, stepping k-1 once equals stepping k size[k] times.
  int out = 0;
  for (int d = 0; d < nd; ++d) {
    bool merge = out > 0;
    for (int o = 0; o < kOps && merge; ++o) merge = stride[o][out - 1] == stride[o][d] * size[d];
    if (merge) {
      size[out - 1] *= size[d];
      for (int o = 0; o < kOps; ++o) stride[o][out - 1] = stride[o][d];
    } else {
      size[out] = size[d];
      for (int o = 0; o < kOps; ++o) stride[o][out] = stride[o][d];
      ++out;
    }
  }
  Geometry<kOps> g;
  for (int k = 0; k < 4; ++k) {
    const int src = k - (4 - out);
    g.size[k] = src >= 0 ? size[src] : 1;
    for (int o = 0; o < kOps; ++o) g.stride[o][k] = src >= 0 ? stride[o][src] : 0;
  }
  return g;
}

// Whether n items and every operand offset fit 32-bit index arithmetic (much faster division).
template <int kOps>
inline bool fits_32bit(const Geometry<kOps>& g, int64_t n) {
  const int64_t lim = int64_t{1} << 31;
  if (n >= lim) return false;
  for (int o = 0; o < kOps; ++o) {
    int64_t span = 0;
    for (int k = 0; k < 4; ++k) span += (g.size[k] - 1) * g.stride[o][k];
    if (span >= lim) return false;
  }
  return true;
}

// Offsets of the row-major element i in each operand.
template <typename I, int kOps>
__device__ __forceinline__ void strided_offsets(const Geometry<kOps>& g, I i, I (&off)[kOps]) {
#pragma unroll
  for (int o = 0; o < kOps; ++o) off[o] = 0;
#pragma unroll
  for (int k = 3; k > 0; --k) {
    const I s = static_cast<I>(g.size[k]);
    const I c = i % s;
    i /= s;
#pragma unroll
    for (int o = 0; o < kOps; ++o) off[o] += c * static_cast<I>(g.stride[o][k]);
  }
#pragma unroll
  for (int o = 0; o < kOps; ++o) off[o] += i * static_cast<I>(g.stride[o][0]);
}

// Sum of v over the block (blockDim.x a multiple of 32, at most 1024), valid in thread 0. The order
// of additions depends only on blockDim, so results are reproducible run to run.
__device__ __forceinline__ float block_sum(float v) {
  __shared__ float warp_sums[32];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  v = threadIdx.x < (blockDim.x >> 5) ? warp_sums[lane] : 0.f;
  if (warp == 0) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  }
  __syncthreads();  // warp_sums may be reused by the caller's next iteration
  return v;
}

// Throws unless t lives on a CUDA device; returns its index.
inline int cuda_device_of(const char* op, const Tensor& t) {
  GCC_CHECK(t.defined(), op, ": a tensor argument is undefined");
  GCC_CHECK(t.device().is_cuda(), op, ": CUDA kernel called with a tensor on ", t.device().str());
  return t.device().index;
}

}  // namespace impl
}  // namespace cuda
}  // namespace gcc
