// Per-channel machinery on raw device pointers, shared by the layer kernels (linear and conv2d bias,
// batch norm): contiguous tensors seen as [N, C, L], the channel of an element by fast division,
// "y += bias[c]", and deterministic per-channel sums in double (G blocks per channel, then a finalize
// pass adding the G partials in block order). Needs only the CUDA runtime.
// Drivers: kernels/dev/batchnorm.cu (channel_reduce, channel_sum, add_channel_bias).
#pragma once
#include <cstddef>
#include <cstdint>

#include "common.cuh"

namespace gcc {
namespace kernels {

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

// Calls f(ChannelOf32{...}, uint32_t n) or f(ChannelOf64{...}, int64_t n) for a [N, C, L] tensor of
// `numel` elements.
template <typename F>
void with_channel_of(int64_t numel, int64_t C, int64_t L, F&& f) {
  if (fits_32bit(numel)) {
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

// y [N, C, L] (contiguous) += bias [C] broadcast over N and L.
inline Status add_channel_bias(const Launch& l, float* y, const float* bias, int64_t N, int64_t C, int64_t L) {
  const int64_t n = N * C * L;
  if (n == 0) return Status{};
  with_channel_of(n, C, L, [&](auto chan, auto count) {
    add_channel_bias_kernel<<<l.grid_for(n), l.threads, 0, l.stream>>>(y, bias, count, chan);
  });
  return launched("add_channel_bias_kernel");
}

// ---- deterministic per-channel sums in double ------------------------------------------------------
// How the per-channel sums of a [N, C, L] tensor are split: G blocks per channel, each summing `chunk`
// consecutive elements of the channel (ordered (n, l)) into one partial; the partials of a channel
// are then added in block order. Fixed by the shape, the SM count and the block size alone, hence
// deterministic (the same bits on every run on the same GPU).
struct ChannelReducePlan {
  int64_t N = 0, C = 0, L = 1;
  int64_t per_channel = 0;  // N * L
  int64_t chunk = 0;
  unsigned G = 1;
};

inline ChannelReducePlan plan_channel_reduce(const Launch& l, int64_t N, int64_t C, int64_t L) {
  ChannelReducePlan p;
  p.N = N;
  p.C = C;
  p.L = L;
  p.per_channel = N * L;
  const int64_t want = C > 0 ? (static_cast<int64_t>(l.sm_count) * 4 + C - 1) / C : 1;  // ~4 blocks/SM
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
// F: static constexpr int kSums; __device__ void accumulate(int64_t offset, int64_t c, double* acc) const.
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
    const double s = block_sum<double>(acc[k]);
    if (threadIdx.x == 0) partial[(c * gridDim.y + g) * F::kSums + k] = s;
  }
}

// One thread per channel: the channel's partials added in block order, then fin.finalize(c, sums).
// Fin: __device__ void finalize(int64_t c, const double* sums) const.
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

// Bytes of the partial buffer that channel_reduce needs for `kSums` sums: [C, G, kSums] doubles.
inline std::size_t channel_partial_bytes(const ChannelReducePlan& p, int kSums) {
  return static_cast<std::size_t>(p.C) * p.G * static_cast<std::size_t>(kSums) * sizeof(double);
}

// For each channel c of a [N, C, L] tensor: sums[k] = sum over (n, l) of what f.accumulate adds at
// offset (n * C + c) * L + l (in double), then fin.finalize(c, sums) on the device. `partial` holds
// channel_partial_bytes(p, F::kSums) bytes (caller-provided scratch). l.threads: a multiple of 32, at
// most 1024 (the block sums); the plan must come from plan_channel_reduce with the same Launch.
template <typename F, typename Fin>
Status channel_reduce(const Launch& l, const ChannelReducePlan& p, const F& f, const Fin& fin, double* partial) {
  if (p.C == 0) return Status{};
  const dim3 grid(static_cast<unsigned>(p.C), p.G);
  channel_partial_kernel<F><<<grid, l.threads, 0, l.stream>>>(f, p, partial);
  GCC_KERNELS_TRY(launched("channel_partial_kernel"));
  channel_finalize_kernel<F::kSums, Fin><<<l.grid_for(p.C), l.threads, 0, l.stream>>>(fin, p.C, p.G, partial);
  return launched("channel_finalize_kernel");
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
// plan = plan_channel_reduce(l, N, C, L); partial: channel_partial_bytes(plan, 1) bytes of scratch.
inline Status channel_sum(const Launch& l, const ChannelReducePlan& plan, const float* x, float* out, double* partial) {
  if (plan.C == 0) return Status{};
  return channel_reduce(l, plan, SumAccumulate{x}, StoreSumFinalize{out}, partial);
}

}  // namespace kernels
}  // namespace gcc
