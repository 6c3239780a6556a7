// What every kernel header of gcc/kernels/ shares, needing only the CUDA runtime: the header-kernel
// idiom, the launch description (stream, SM count, block size), the status launchers return,
// grid-stride loops, block sums, and the geometry of strided/broadcast operands.
// Nothing here (or in any gcc/kernels/ header) includes gcc::Tensor, the allocator or cuDNN: a kernel
// header plus this one can be copied into an empty folder and built with nvcc alone (kernels/dev/).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

// ---- the header-kernel idiom ---------------------------------------------------------------------
// A plain `__global__ void f(...)` defined in a header is defined again in every .cu file that
// includes it: two such files in one program fail to link (duplicate symbol). A function template
// may be defined in many translation units (the linker keeps one copy), and nvcc accepts __global__
// templates, so every kernel of this library without template parameters of its own is written
//     GCC_HEADER_KERNEL void name(...) { ... }      // = template <int Unused = 0> __global__
// and launched as usual, name<<<grid, block, 0, stream>>>(...): the default argument fills Unused.
// Kernels that are templates anyway (on an op, an index type, a functor) need no extra parameter.
#define GCC_HEADER_KERNEL template <int Unused = 0> __global__

// for (I i = first index of this thread; i < n; i += all threads of the grid)
#define GCC_CUDA_GRID_STRIDE_LOOP(I, i, n)                                                        \
  for (I i = static_cast<I>(blockIdx.x) * static_cast<I>(blockDim.x) + static_cast<I>(threadIdx.x); \
       i < (n); i += static_cast<I>(blockDim.x) * static_cast<I>(gridDim.x))

namespace gcc {
namespace kernels {

// Where and how a launcher runs its kernels: the stream, the device's multiprocessor count (grids
// are capped at a few blocks per SM and grid-stride over the rest) and the threads per block of the
// grid-stride kernels (drivers sweep it; the library uses 256).
struct Launch {
  cudaStream_t stream = nullptr;
  int sm_count = 1;
  int threads = 256;

  // Blocks for a grid-stride loop over n items: enough to fill every SM (8 blocks each), never more
  // than needed.
  unsigned grid_for(int64_t n) const { return capped((n + threads - 1) / threads, 8); }
  // min(blocks, per_sm * sm_count), at least 1.
  unsigned capped(int64_t blocks, int per_sm) const {
    const int64_t cap = static_cast<int64_t>(sm_count) * per_sm;
    return static_cast<unsigned>(blocks < 1 ? 1 : (blocks < cap ? blocks : cap));
  }
};

// A Launch on `stream` for the current device (asks the runtime for its SM count).
inline Launch launch_on(cudaStream_t stream, int threads = 256) {
  Launch l;
  l.stream = stream;
  l.threads = threads;
  int dev = 0;
  if (cudaGetDevice(&dev) == cudaSuccess) cudaDeviceGetAttribute(&l.sm_count, cudaDevAttrMultiProcessorCount, dev);
  if (l.sm_count < 1) l.sm_count = 1;
  return l;
}

// What a launcher reports: success, or the first failing CUDA runtime call / kernel launch, or the
// status of a failing cuBLAS call (as an int, so this header needs no cuBLAS). `call` names it.
struct Status {
  cudaError_t cuda = cudaSuccess;
  int cublas = 0;  // a cublasStatus_t other than CUBLAS_STATUS_SUCCESS when cuBLAS failed
  const char* call = "";
  bool ok() const { return cuda == cudaSuccess && cublas == 0; }
};

// After a launch (or a runtime call returning `err`): the status naming `call`.
inline Status status_of(cudaError_t err, const char* call) {
  Status s;
  s.cuda = err;
  s.call = call;
  return s;
}
inline Status launched(const char* kernel) { return status_of(cudaGetLastError(), kernel); }

}  // namespace kernels
}  // namespace gcc

// Inside a launcher: returns the status of `expr` (a Status) unless it is ok.
#define GCC_KERNELS_TRY(expr)                          \
  do {                                                 \
    const ::gcc::kernels::Status gcc_k_st_ = (expr);   \
    if (!gcc_k_st_.ok()) return gcc_k_st_;             \
  } while (0)

namespace gcc {
namespace kernels {

// ---- strided / broadcast operands ----------------------------------------------------------------
// kOps strided operands over one shape of at most 4 dims, passed to kernels by value. Slot 3 is the
// fastest-varying dimension; unused leading slots have size 1 and stride 0.
template <int kOps>
struct Geometry {
  int64_t size[4];
  int64_t stride[kOps][4];
};

// The geometry of kOps operands of shape sizes[0..dims) with strides strides[o][0..dims) (e.g.
// broadcast views, stride 0). Size-1 dims are dropped and neighbouring dims merged when every
// operand steps through them as one; at most 4 dims may remain (returns false otherwise).
template <int kOps>
inline bool make_geometry(int dims, const int64_t* sizes, const int64_t* const (&strides)[kOps], Geometry<kOps>& g) {
  int64_t size[8];
  int64_t stride[kOps][8];
  int nd = 0;
  for (int d = 0; d < dims; ++d) {
    if (sizes[d] == 1) continue;
    if (nd == 8) return false;
    size[nd] = sizes[d];
    for (int o = 0; o < kOps; ++o) stride[o][nd] = strides[o][d];
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
  if (out > 4) return false;
  for (int k = 0; k < 4; ++k) {
    const int src = k - (4 - out);
    g.size[k] = src >= 0 ? size[src] : 1;
    for (int o = 0; o < kOps; ++o) g.stride[o][k] = src >= 0 ? stride[o][src] : 0;
  }
  return true;
}

// Whether n items fit 32-bit index arithmetic (0 <= i < 2^31: much faster division than 64-bit).
inline bool fits_32bit(int64_t n) { return n < (int64_t{1} << 31); }

// Whether n items and every operand offset fit 32-bit index arithmetic.
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

// ---- block sums ----------------------------------------------------------------------------------
// Sum of v over the block (blockDim.x a multiple of 32, at most 1024), valid in thread 0. The order
// of additions depends only on blockDim, so results are reproducible run to run.
template <typename T>
__device__ __forceinline__ T block_sum(T v) {
  __shared__ T warp_sums[32];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  v = threadIdx.x < (blockDim.x >> 5) ? warp_sums[lane] : T(0);
  if (warp == 0) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  }
  __syncthreads();  // warp_sums may be reused by the caller's next iteration
  return v;
}

}  // namespace kernels
}  // namespace gcc
