// Batch-norm kernels on raw device pointers (the CUDA side of gcc/ops/batchnorm.hpp's
// cpu::batchnorm2d_forward_train / forward_eval / backward) over contiguous [N, C, L] tensors
// (L = H * W): per-channel statistics in double with the CPU's formulas, running-stat update included.
// Needs only the CUDA runtime. Driver: kernels/dev/batchnorm.cu.
//
// Custom kernels rather than cuDNN's batch norm, to keep the CPU reference's exact semantics: optional
// weight / bias / running statistics (null pointers), any eps >= 0, statistics accumulated in double
// (two passes: mean, then the sum of squared deviations), the same float roundings of the saved mean /
// inverse std and of y = (x - mean) * (w * invstd) + b (no FMA contraction), the running variance
// updated with the unbiased variance n / (n - 1) and factor `momentum`. Reductions are deterministic
// (a fixed split, channel.cuh). Scratch: each launcher carves what it needs out of one caller-provided
// `workspace` of batchnorm_*_workspace_bytes(...) bytes (16-byte aligned pieces).
#pragma once
#include <cstddef>
#include <cstdint>

#include "channel.cuh"
#include "common.cuh"

namespace gcc {
namespace kernels {

// Sum of (x - mean[c])^2 in double.
struct SquaredDeviationAccumulate {
  static constexpr int kSums = 1;
  const float* x;
  const double* mean;
  __device__ __forceinline__ void accumulate(int64_t off, int64_t c, double* acc) const {
    const double d = static_cast<double>(x[off]) - mean[c];
    acc[0] += d * d;
  }
};

// mean[c] = sum / n
struct MeanFinalize {
  double n;
  double* mean;
  __device__ __forceinline__ void finalize(int64_t c, const double* s) const { mean[c] = s[0] / n; }
};

// Training statistics of channel c from the sum of squared deviations: saved mean / inverse std, the
// affine coefficients of y, and the running statistics (as cpu::batchnorm2d_forward_train).
struct TrainStatsFinalize {
  double n, eps, momentum;
  const double* mean;
  const float* weight;  // or null
  const float* bias;    // or null
  float* running_mean;  // or null
  float* running_var;   // or null
  float* save_mean;
  float* save_invstd;
  float* scale;  // [C] w * invstd
  float* shift;  // [C] b
  __device__ __forceinline__ void finalize(int64_t c, const double* s) const {
    const double m = mean[c];
    const double var = s[0] / n;
    const double invstd = 1.0 / sqrt(var + eps);
    save_mean[c] = static_cast<float>(m);
    save_invstd[c] = static_cast<float>(invstd);
    scale[c] = static_cast<float>((weight ? static_cast<double>(weight[c]) : 1.0) * invstd);
    shift[c] = bias ? bias[c] : 0.f;
    // (1 - m) * running + m * batch, with separate roundings (no FMA), as on the CPU
    if (running_mean)
      running_mean[c] = static_cast<float>(
          __dadd_rn(__dmul_rn(1.0 - momentum, static_cast<double>(running_mean[c])), __dmul_rn(momentum, m)));
    if (running_var) {
      const double unbiased = n > 1 ? var * n / (n - 1) : var;
      running_var[c] = static_cast<float>(
          __dadd_rn(__dmul_rn(1.0 - momentum, static_cast<double>(running_var[c])), __dmul_rn(momentum, unbiased)));
    }
  }
};

// Eval coefficients from the running statistics: scale = w / sqrt(running_var + eps), shift = b.
GCC_HEADER_KERNEL void bn_eval_coefficients_kernel(const float* weight /* [C] or null */,
                                                   const float* bias /* [C] or null */,
                                                   const float* running_var /* [C] */, double eps,
                                                   float* scale /* [C] */, float* shift /* [C] */, int64_t C) {
  GCC_CUDA_GRID_STRIDE_LOOP(int64_t, c, C) {
    scale[c] = static_cast<float>((weight ? static_cast<double>(weight[c]) : 1.0) /
                                  sqrt(static_cast<double>(running_var[c]) + eps));
    shift[c] = bias ? bias[c] : 0.f;
  }
}

// y = (x - mean[c]) * scale[c] + shift[c], rounded after every operation like the CPU loop.
template <typename I, typename Chan>
__global__ void bn_apply_kernel(const float* x /* [N, C, L] */, const float* mean /* [C] */,
                                const float* scale /* [C] */, const float* shift /* [C] */, float* y /* [N, C, L] */,
                                I n, Chan chan) {
  GCC_CUDA_GRID_STRIDE_LOOP(I, i, n) {
    const auto c = chan(i);
    y[i] = __fadd_rn(__fmul_rn(__fsub_rn(x[i], mean[c]), scale[c]), shift[c]);
  }
}

inline Status bn_apply(const Launch& l, const float* x, const float* mean, const float* scale, const float* shift,
                       float* y, int64_t N, int64_t C, int64_t L) {
  const int64_t n = N * C * L;
  if (n == 0) return Status{};
  with_channel_of(n, C, L, [&](auto chan, auto count) {
    bn_apply_kernel<<<l.grid_for(n), l.threads, 0, l.stream>>>(x, mean, scale, shift, y, count, chan);
  });
  return launched("bn_apply_kernel");
}

// Backward sums per channel: sum(gy) and sum(gy * (x - mean)), mean the saved (training) or running
// (eval) float mean, in double.
struct BnBackwardAccumulate {
  static constexpr int kSums = 2;
  const float* gy;
  const float* x;
  const float* mean;
  __device__ __forceinline__ void accumulate(int64_t off, int64_t c, double* acc) const {
    const double g = gy[off];
    acc[0] += g;
    acc[1] += g * (static_cast<double>(x[off]) - static_cast<double>(mean[c]));
  }
};

// Per-channel results and coefficients of the input gradient (as cpu::batchnorm2d_backward):
// gx = (gy - gmean - (x - mean) * proj) * a.
struct BnBackwardFinalize {
  double n, eps;
  bool training;
  const float* weight;       // or null
  const float* mean;         // saved (training) or running (eval) mean
  const float* save_invstd;  // training
  const float* running_var;  // eval
  float* gweight;            // or null
  float* gbias;              // or null
  float* a;                  // [C]
  float* fmean;              // [C]
  float* gmean;              // [C]
  float* proj;               // [C]
  __device__ __forceinline__ void finalize(int64_t c, const double* s) const {
    const double m = mean[c];
    const double invstd = training ? static_cast<double>(save_invstd[c])
                                   : 1.0 / sqrt(static_cast<double>(running_var[c]) + eps);
    if (gbias) gbias[c] = static_cast<float>(s[0]);
    if (gweight) gweight[c] = static_cast<float>(s[1] * invstd);
    a[c] = static_cast<float>((weight ? static_cast<double>(weight[c]) : 1.0) * invstd);
    fmean[c] = static_cast<float>(m);
    gmean[c] = training ? static_cast<float>(s[0] / n) : 0.f;
    proj[c] = training ? static_cast<float>(s[1] * invstd * invstd / n) : 0.f;
  }
};

template <typename I, typename Chan>
__global__ void bn_backward_apply_kernel(const float* gy /* [N, C, L] */, const float* x /* [N, C, L] */,
                                         const float* a /* [C] */, const float* fmean /* [C] */,
                                         const float* gmean /* [C] */, const float* proj /* [C] */,
                                         float* gx /* [N, C, L] */, I n, Chan chan) {
  GCC_CUDA_GRID_STRIDE_LOOP(I, i, n) {
    const auto c = chan(i);
    const float centred = __fmul_rn(__fsub_rn(x[i], fmean[c]), proj[c]);
    gx[i] = __fmul_rn(__fsub_rn(__fsub_rn(gy[i], gmean[c]), centred), a[c]);
  }
}

// Carves consecutive, 16-byte aligned pieces out of one workspace block.
class WorkspaceCarver {
 public:
  explicit WorkspaceCarver(std::size_t base = 0) : bytes_(base) {}
  template <typename T>
  std::size_t add(int64_t count) {
    const std::size_t at = bytes_;
    bytes_ += (static_cast<std::size_t>(count) * sizeof(T) + 15) / 16 * 16;
    return at;
  }
  std::size_t bytes() const { return bytes_; }

 private:
  std::size_t bytes_;
};
template <typename T>
inline T* at_offset(void* base, std::size_t off) {
  return reinterpret_cast<T*>(static_cast<char*>(base) + off);
}

// ---- the workspace layouts (one function each, used by the size helper and the launcher) ----------
struct BnTrainScratch {
  std::size_t partial, mean, scale, shift, bytes;  // offsets: [C, G] doubles, [C] doubles, [C], [C] floats
};
inline BnTrainScratch bn_train_scratch(const ChannelReducePlan& plan) {
  WorkspaceCarver carve;
  BnTrainScratch s;
  s.partial = carve.add<char>(static_cast<int64_t>(channel_partial_bytes(plan, 1)));
  s.mean = carve.add<double>(plan.C);
  s.scale = carve.add<float>(plan.C);
  s.shift = carve.add<float>(plan.C);
  s.bytes = carve.bytes();
  return s;
}
struct BnEvalScratch {
  std::size_t scale, shift, bytes;  // offsets: [C], [C] floats
};
inline BnEvalScratch bn_eval_scratch(int64_t C) {
  WorkspaceCarver carve;
  BnEvalScratch s;
  s.scale = carve.add<float>(C);
  s.shift = carve.add<float>(C);
  s.bytes = carve.bytes();
  return s;
}
struct BnBackwardScratch {
  std::size_t partial, a, fmean, gmean, proj, bytes;  // offsets: [C, G, 2] doubles, four [C] floats
};
inline BnBackwardScratch bn_backward_scratch(const ChannelReducePlan& plan) {
  WorkspaceCarver carve;
  BnBackwardScratch s;
  s.partial = carve.add<char>(static_cast<int64_t>(channel_partial_bytes(plan, 2)));
  s.a = carve.add<float>(plan.C);
  s.fmean = carve.add<float>(plan.C);
  s.gmean = carve.add<float>(plan.C);
  s.proj = carve.add<float>(plan.C);
  s.bytes = carve.bytes();
  return s;
}

// Scratch bytes of the three launchers below (for the same Launch and shape).
inline std::size_t batchnorm_forward_train_workspace_bytes(const Launch& l, int64_t N, int64_t C, int64_t L) {
  return bn_train_scratch(plan_channel_reduce(l, N, C, L)).bytes;
}
inline std::size_t batchnorm_forward_eval_workspace_bytes(int64_t C) { return bn_eval_scratch(C).bytes; }
inline std::size_t batchnorm_backward_workspace_bytes(const Launch& l, int64_t N, int64_t C, int64_t L) {
  return bn_backward_scratch(plan_channel_reduce(l, N, C, L)).bytes;
}

// Training forward over x [N, C, L]: batch mean and biased variance per channel over (N, L), y
// normalised with them, save_mean / save_invstd [C] written, running_mean / running_var [C] (null: not
// tracked) updated in place with the unbiased variance. weight / bias [C] null means 1 / 0.
// workspace: batchnorm_forward_train_workspace_bytes(l, N, C, L) bytes, 16-byte aligned.
inline Status batchnorm_forward_train(const Launch& l, const float* x, const float* weight, const float* bias,
                                      float* running_mean, float* running_var, float momentum, float eps, float* y,
                                      float* save_mean, float* save_invstd, int64_t N, int64_t C, int64_t L,
                                      void* workspace) {
  if (C == 0) return Status{};
  const ChannelReducePlan plan = plan_channel_reduce(l, N, C, L);
  const BnTrainScratch o = bn_train_scratch(plan);
  double* partial = at_offset<double>(workspace, o.partial);
  double* mean = at_offset<double>(workspace, o.mean);
  float* scale = at_offset<float>(workspace, o.scale);
  float* shift = at_offset<float>(workspace, o.shift);
  const double n = static_cast<double>(N * L);

  GCC_KERNELS_TRY(channel_reduce(l, plan, SumAccumulate{x}, MeanFinalize{n, mean}, partial));
  TrainStatsFinalize fin{n,
                         static_cast<double>(eps),
                         static_cast<double>(momentum),
                         mean,
                         weight,
                         bias,
                         running_mean,
                         running_var,
                         save_mean,
                         save_invstd,
                         scale,
                         shift};
  GCC_KERNELS_TRY(channel_reduce(l, plan, SquaredDeviationAccumulate{x, mean}, fin, partial));
  return bn_apply(l, x, save_mean, scale, shift, y, N, C, L);
}

// Eval forward over x [N, C, L]: y = (x - running_mean) / sqrt(running_var + eps) * weight + bias.
// workspace: batchnorm_forward_eval_workspace_bytes(C) bytes, 16-byte aligned.
inline Status batchnorm_forward_eval(const Launch& l, const float* x, const float* weight, const float* bias,
                                     const float* running_mean, const float* running_var, float eps, float* y,
                                     int64_t N, int64_t C, int64_t L, void* workspace) {
  if (C == 0) return Status{};
  const BnEvalScratch o = bn_eval_scratch(C);
  float* scale = at_offset<float>(workspace, o.scale);
  float* shift = at_offset<float>(workspace, o.shift);
  bn_eval_coefficients_kernel<<<l.grid_for(C), l.threads, 0, l.stream>>>(weight, bias, running_var,
                                                                         static_cast<double>(eps), scale, shift, C);
  GCC_KERNELS_TRY(launched("bn_eval_coefficients_kernel"));
  return bn_apply(l, x, running_mean, scale, shift, y, N, C, L);
}

// Backward over [N, C, L]. Training (save_mean / save_invstd given): gx = w * invstd * (gy - mean(gy) -
// xhat * mean(gy * xhat)). Eval (running_mean / running_var given): gx = w * gy / sqrt(running_var +
// eps). Both: gweight = sum(gy * xhat), gbias = sum(gy) over (N, L). gx / gweight / gbias may be null
// (skipped). workspace: batchnorm_backward_workspace_bytes(l, N, C, L) bytes, 16-byte aligned.
inline Status batchnorm_backward(const Launch& l, const float* gy, const float* x, const float* weight,
                                 const float* running_mean, const float* running_var, const float* save_mean,
                                 const float* save_invstd, bool training, float eps, float* gx, float* gweight,
                                 float* gbias, int64_t N, int64_t C, int64_t L, void* workspace) {
  if (C == 0 || (!gx && !gweight && !gbias)) return Status{};
  const ChannelReducePlan plan = plan_channel_reduce(l, N, C, L);
  const BnBackwardScratch o = bn_backward_scratch(plan);
  float* a = at_offset<float>(workspace, o.a);
  float* fmean = at_offset<float>(workspace, o.fmean);
  float* gmean = at_offset<float>(workspace, o.gmean);
  float* proj = at_offset<float>(workspace, o.proj);
  const float* mean = training ? save_mean : running_mean;
  BnBackwardFinalize fin{static_cast<double>(N * L),
                         static_cast<double>(eps),
                         training,
                         weight,
                         mean,
                         training ? save_invstd : nullptr,
                         training ? nullptr : running_var,
                         gweight,
                         gbias,
                         a,
                         fmean,
                         gmean,
                         proj};
  GCC_KERNELS_TRY(
      channel_reduce(l, plan, BnBackwardAccumulate{gy, x, mean}, fin, at_offset<double>(workspace, o.partial)));
  if (!gx) return Status{};
  const int64_t n = N * C * L;
  if (n == 0) return Status{};
  with_channel_of(n, C, L, [&](auto chan, auto count) {
    bn_backward_apply_kernel<<<l.grid_for(n), l.threads, 0, l.stream>>>(gy, x, a, fmean, gmean, proj, gx, count,
                                                                         chan);
  });
  return launched("bn_backward_apply_kernel");
}

}  // namespace kernels
}  // namespace gcc
