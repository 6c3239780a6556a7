// Per-channel machinery shared by the layer kernels (linear, conv2d, batch norm): tensors seen as
// [N, C, L], deterministic per-channel sums in double, and "y += bias[c]" / per-channel affine maps.
#pragma once
#include <cstdint>

#include "common.cuh"

namespace gcc {
namespace cuda {
namespace impl {

// ---- fast division by a run-time constant (n / d for 0 <= n, d < 2^31) ---------------------------
// The round-up multiplier method (as CUTLASS's FastDivmod): n / d = umulhi(n, mul) >> shr.
struct FastDiv {
  uint32_t d = 1, mul = 0, shr = 0;
  FastDiv() = default;
  explicit FastDiv(uint32_t divisor) : d(divisor) {
    if (d > 1) {
      uint32_t l = 0;  // ceil(log2(d))
      while ((uint64_t{1} << l) < d) ++l;
      const uint32_t p = 31 + l;
      mul = static_cast<uint32_t>(((uint64_t{1} << p) + d - 1) / d);
      shr = p - 32;
    }
  }
  __host__ __device__ __forceinline__ uint32_t div(uint32_t n) const {
#ifdef __CUDA_ARCH__
    return d == 1 ? n : (__umulhi(n, mul) >> shr);
#else
    return d == 1 ? n : static_cast<uint32_t>((static_cast<uint64_t>(n) * mul) >> 32) >> shr;
#endif
  }
};

// Channel of element i of a contiguous [N, C, L] tensor: (i / L) % C. 32-bit with fast division when
// the tensor has fewer than 2^31 elements, plain 64-bit division otherwise.
struct ChannelOf32 {
  FastDiv L, C;
  __device__ __forceinline__ uint32_t operator()(uint32_t i) const {
    const uint32_t q = L.div(i);
    return q - C.div(q) * C.d;
  }
};
struct ChannelOf64 {
  int64_t L, C;
  __device__ __forceinline__ int64_t operator()(int64_t i) const { return (i / L) % C; }
};

inline bool fits_int31(int64_t n) { return n < (int64_t{1} << 31); }

// Calls f(ChannelOf32{...}, uint32_t n) or f(ChannelOf64{...}, int64_t n) for a [N, C, L] tensor of
// `numel` elements.
template <typename F>
void with_channel_of(int64_t numel, int64_t C, int64_t L, F&& f) {
  if (fits_int31(numel)) {
    f(ChannelOf32{FastDiv(static_cast<uint32_t>(L)), FastDiv(static_cast<uint32_t>(C))},
      static_cast<uint32_t>(numel));
  } else {
    f(ChannelOf64{L, C}, numel);
  }
}

// ---- y[n, c, l] += bias[c] ----------------------------------------------------------------------------
template <typename I, typename Chan>
__global__ void add_channel_bias_kernel(float* y /* [N, C, L] */, const float* bias /* [C] */, I n, Chan chan) {
  GCC_CUDA_GRID_STRIDE_LOOP(I, i, n) { y[i] = __fadd_rn(y[i], bias[chan(i)]); }
}

// y [N, C, L] (contiguous, on the context's device) += bias [C] broadcast over N and L.
inline void add_channel_bias(Context& ctx, float* y, const float* bias, int64_t N, int64_t C, int64_t L) {
  const int64_t n = N * C * L;
  if (n == 0) return;
  with_channel_of(n, C, L, [&](auto chan, auto count) {
    add_channel_bias_kernel<<<ctx.grid_for(n), kThreadsPerBlock, 0, ctx.stream()>>>(y, bias, count, chan);
  });
  GCC_CUDA_LAUNCH_CHECK();
}

// ---- deterministic per-channel sums in double ------------------------------------------------------
// Sum of v over the block (blockDim.x a multiple of 32, at most 1024), valid in thread 0; a fixed
// tree, so the same inputs give the same bits on every run.
__device__ __forceinline__ double block_sum_double(double v) {
  __shared__ double warp_sums[32];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  v = threadIdx.x < (blockDim.x >> 5) ? warp_sums[lane] : 0.0;
  if (warp == 0) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  }
  __syncthreads();  // warp_sums is reused by the next call
  return v;
}

// How the per-channel sums of a [N, C, L] tensor are split: G blocks per channel, each summing `chunk`
// consecutive elements of the channel (ordered (n, l)) into one partial; the partials of a channel
// are then added in block order. Fixed by the shape and the GPU alone, hence deterministic.
struct ChannelReducePlan {
  int64_t N = 0, C = 0, L = 1;
  int64_t per_channel = 0;  // N * L
  int64_t chunk = 0;
  unsigned G = 1;
};

inline ChannelReducePlan plan_channel_reduce(const Context& ctx, int64_t N, int64_t C, int64_t L) {
  ChannelReducePlan p;
  p.N = N;
  p.C = C;
  p.L = L;
  p.per_channel = N * L;
  const int64_t want = C > 0 ? (static_cast<int64_t>(ctx.sm_count()) * 4 + C - 1) / C : 1;  // ~4 blocks/SM
  const int64_t cap = (p.per_channel + 4095) / 4096;  // at least 4096 elements (16 per thread) a block
  int64_t G = want < cap ? want : cap;
  if (G < 1) G = 1;
  if (G > 1024) G = 1024;
  p.chunk = (p.per_channel + G - 1) / G;
  if (p.chunk > 0) G = (p.per_channel + p.chunk - 1) / p.chunk;  // no empty blocks
  p.G = static_cast<unsigned>(G < 1 ? 1 : G);
  return p;
}

// Partials of F::kSums sums per (channel, block): partial[(c * G + g) * kSums + k].
template <typename F>
__global__ void channel_partial_kernel(F f, ChannelReducePlan p, double* partial /* [C, G, kSums] */) {
  const int64_t c = blockIdx.x;
  const int64_t g = blockIdx.y;
  const int64_t begin = g * p.chunk;
  const int64_t end = begin + p.chunk < p.per_channel ? begin + p.chunk : p.per_channel;
  double acc[F::kSums];
#pragma unroll
  for (int k = 0; k < F::kSums; ++k) acc[k] = 0.0;
  int64_t t = begin + threadIdx.x;
  if (t < end) {
    // (i, j) = (t / L, t % L), advanced by blockDim.x without dividing in the loop
    int64_t i = t / p.L, j = t - (t / p.L) * p.L;
    const int64_t step_i = blockDim.x / p.L, step_j = blockDim.x - step_i * p.L;
    for (; t < end; t += blockDim.x) {
      f.accumulate((i * p.C + c) * p.L + j, c, acc);
      i += step_i;
      j += step_j;
      if (j >= p.L) {
        j -= p.L;
        ++i;
      }
    }
  }
#pragma unroll
  for (int k = 0; k < F::kSums; ++k) {
    const double s = block_sum_double(acc[k]);
    if (threadIdx.x == 0) partial[(c * gridDim.y + g) * F::kSums + k] = s;
  }
}

// One thread per channel: the channel's partials added in block order, then fin.finalize(c, sums).
template <int kSums, typename Fin>
__global__ void channel_finalize_kernel(Fin fin, int64_t C, unsigned G, const double* partial /* [C, G, kSums] */) {
  GCC_CUDA_GRID_STRIDE_LOOP(int64_t, c, C) {
    double s[kSums];
#pragma unroll
    for (int k = 0; k < kSums; ++k) s[k] = 0.0;
    for (unsigned g = 0; g < G; ++g) {
#pragma unroll
      for (int k = 0; k < kSums; ++k) s[k] += partial[(c * G + g) * kSums + k];
    }
    fin.finalize(c, s);
  }
}

// Bytes of the partial buffer that channel_reduce needs for `kSums` sums.
inline std::size_t channel_partial_bytes(const ChannelReducePlan& p, int kSums) {
  return static_cast<std::size_t>(p.C) * p.G * static_cast<std::size_t>(kSums) * sizeof(double);
}

// For each channel c of a [N, C, L] tensor: sums[k] = sum over (n, l) of what f.accumulate adds at
// offset (n * C + c) * L + l (in double), then fin.finalize(c, sums) on the device. `partial` holds
// channel_partial_bytes(p, F::kSums) bytes (usually carved from the context workspace).
template <typename F, typename Fin>
void channel_reduce(Context& ctx, const ChannelReducePlan& p, const F& f, const Fin& fin, double* partial) {
  if (p.C == 0) return;
  const dim3 grid(static_cast<unsigned>(p.C), p.G);
  channel_partial_kernel<F><<<grid, kThreadsPerBlock, 0, ctx.stream()>>>(f, p, partial);
  GCC_CUDA_LAUNCH_CHECK();
  channel_finalize_kernel<F::kSums, Fin><<<ctx.grid_for(p.C), kThreadsPerBlock, 0, ctx.stream()>>>(fin, p.C, p.G,
                                                                                                    partial);
  GCC_CUDA_LAUNCH_CHECK();
}

// Sum of x over (n, l) per channel.
struct SumAccumulate {
  static constexpr int kSums = 1;
  const float* x;
  __device__ __forceinline__ void accumulate(int64_t off, int64_t, double* acc) const { acc[0] += x[off]; }
};
// out[c] = (float) sums[0]
struct StoreSumFinalize {
  float* out;
  __device__ __forceinline__ void finalize(int64_t c, const double* s) const { out[c] = static_cast<float>(s[0]); }
};

// out [C] = sum of x [N, C, L] over N and L (bias gradients), deterministic, accumulated in double.
inline void channel_sum(Context& ctx, const float* x, float* out, int64_t N, int64_t C, int64_t L) {
  if (C == 0) return;
  const ChannelReducePlan p = plan_channel_reduce(ctx, N, C, L);
  double* partial = static_cast<double*>(ctx.workspace(channel_partial_bytes(p, 1)));
  channel_reduce(ctx, p, SumAccumulate{x}, StoreSumFinalize{out}, partial);
}

}  // namespace impl
}  // namespace cuda
}  // namespace gcc
