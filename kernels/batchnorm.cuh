// CUDA versions of the batch-norm kernels of gcc/ops/batchnorm.hpp (same names and signatures as
// gcc::cpu::): per-channel statistics in double with the CPU's formulas, running-stat update included.
#pragma once
#include <cstdint>

#include "channel.cuh"
#include "common.cuh"
#include "gcc/ops/batchnorm.hpp"

namespace gcc {
namespace cuda {
namespace impl {

// Custom kernels rather than cuDNN's batch norm, to keep the CPU reference's exact semantics: optional
// weight / bias / running statistics, any eps >= 0, statistics accumulated in double (two passes:
// mean, then the sum of squared deviations), the same float roundings of the saved mean / inverse std
// and of y = (x - mean) * (w * invstd) + b (no FMA contraction), the running variance updated with the
// unbiased variance n / (n - 1) and factor `momentum`. Reductions are deterministic (fixed split).

inline const float* opt_data(const Tensor& t) { return t.defined() ? t.data() : nullptr; }
inline float* opt_mutable(const Tensor& t) { return t.defined() ? t.data() : nullptr; }

inline void bn_check(const char* op, const Tensor& t, const char* what, int dev, int64_t numel) {
  if (!t.defined()) return;
  GCC_CHECK(t.device().is_cuda() && t.device().index == dev, op, ": ", what, " is on ", t.device().str(),
            ", expected cuda:", dev);
  GCC_CHECK(t.is_contiguous(), op, ": ", what, " of shape ", t.shape().str(), " must be contiguous");
  GCC_CHECK(t.numel() == numel, op, ": ", what, " of shape ", t.shape().str(), " should have ", numel,
            " elements");
}

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
template <int Unused>
__global__ void bn_eval_coefficients_kernel(const float* weight /* [C] or null */, const float* bias /* [C] or null */,
                                            const float* running_var /* [C] */, double eps, float* scale /* [C] */,
                                            float* shift /* [C] */, int64_t C) {
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

inline void bn_apply(Context& ctx, const float* x, const float* mean, const float* scale, const float* shift, float* y,
                     int64_t N, int64_t C, int64_t L) {
  const int64_t n = N * C * L;
  if (n == 0) return;
  with_channel_of(n, C, L, [&](auto chan, auto count) {
    bn_apply_kernel<<<ctx.grid_for(n), kThreadsPerBlock, 0, ctx.stream()>>>(x, mean, scale, shift, y, count, chan);
  });
  GCC_CUDA_LAUNCH_CHECK();
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

}  // namespace impl

// Training forward: batch mean and biased variance per channel over (N, H, W), y normalised with
// them, save_mean / save_invstd written, running statistics (when defined) updated in place with the
// unbiased variance. An undefined weight / bias means 1 / 0.
inline void batchnorm2d_forward_train(const Tensor& x /* [N, C, H, W] */,
                                      const Tensor& weight /* [C], or undefined */,
                                      const Tensor& bias /* [C], or undefined */,
                                      const Tensor& running_mean /* [C] updated in place, or undefined */,
                                      const Tensor& running_var /* [C] updated in place, or undefined */,
                                      float momentum, float eps, const Tensor& y /* [N, C, H, W] */,
                                      const Tensor& save_mean /* [C] */, const Tensor& save_invstd /* [C] */) {
  const char* op = "batchnorm2d_forward_train";
  const int dev = impl::cuda_device_of(op, y);
  GCC_CHECK(x.dims() == 4, op, ": expected x [N, C, H, W], got ", x.shape().str());
  const int64_t N = x.size(0), C = x.size(1), L = x.size(2) * x.size(3);
  impl::bn_check(op, x, "input", dev, N * C * L);
  impl::bn_check(op, y, "output", dev, N * C * L);
  impl::bn_check(op, weight, "weight", dev, C);
  impl::bn_check(op, bias, "bias", dev, C);
  impl::bn_check(op, running_mean, "running_mean", dev, C);
  impl::bn_check(op, running_var, "running_var", dev, C);
  GCC_CHECK(save_mean.defined() && save_invstd.defined(), op, ": save_mean and save_invstd are required");
  impl::bn_check(op, save_mean, "save_mean", dev, C);
  impl::bn_check(op, save_invstd, "save_invstd", dev, C);
  if (C == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  const impl::ChannelReducePlan plan = impl::plan_channel_reduce(ctx, N, C, L);
  impl::WorkspaceCarver carve;
  const std::size_t o_partial = carve.add<char>(static_cast<int64_t>(impl::channel_partial_bytes(plan, 1)));
  const std::size_t o_mean = carve.add<double>(C);
  const std::size_t o_scale = carve.add<float>(C);
  const std::size_t o_shift = carve.add<float>(C);
  void* ws = ctx.workspace(carve.bytes());
  double* partial = impl::at_offset<double>(ws, o_partial);
  double* mean = impl::at_offset<double>(ws, o_mean);
  float* scale = impl::at_offset<float>(ws, o_scale);
  float* shift = impl::at_offset<float>(ws, o_shift);
  const double n = static_cast<double>(N * L);

  impl::channel_reduce(ctx, plan, impl::SumAccumulate{x.data()}, impl::MeanFinalize{n, mean}, partial);
  impl::TrainStatsFinalize fin{n,
                               static_cast<double>(eps),
                               static_cast<double>(momentum),
                               mean,
                               impl::opt_data(weight),
                               impl::opt_data(bias),
                               impl::opt_mutable(running_mean),
                               impl::opt_mutable(running_var),
                               save_mean.data(),
                               save_invstd.data(),
                               scale,
                               shift};
  impl::channel_reduce(ctx, plan, impl::SquaredDeviationAccumulate{x.data(), mean}, fin, partial);
  impl::bn_apply(ctx, x.data(), save_mean.data(), scale, shift, y.data(), N, C, L);
}

// Eval forward: y = (x - running_mean) / sqrt(running_var + eps) * weight + bias.
inline void batchnorm2d_forward_eval(const Tensor& x /* [N, C, H, W] */, const Tensor& weight /* [C], or undefined */,
                                     const Tensor& bias /* [C], or undefined */, const Tensor& running_mean /* [C] */,
                                     const Tensor& running_var /* [C] */, float eps, const Tensor& y /* [N, C, H, W] */) {
  const char* op = "batchnorm2d_forward_eval";
  const int dev = impl::cuda_device_of(op, y);
  GCC_CHECK(x.dims() == 4, op, ": expected x [N, C, H, W], got ", x.shape().str());
  const int64_t N = x.size(0), C = x.size(1), L = x.size(2) * x.size(3);
  impl::bn_check(op, x, "input", dev, N * C * L);
  impl::bn_check(op, y, "output", dev, N * C * L);
  impl::bn_check(op, weight, "weight", dev, C);
  impl::bn_check(op, bias, "bias", dev, C);
  GCC_CHECK(running_mean.defined() && running_var.defined(), op, ": needs running_mean and running_var");
  impl::bn_check(op, running_mean, "running_mean", dev, C);
  impl::bn_check(op, running_var, "running_var", dev, C);
  if (C == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  impl::WorkspaceCarver carve;
  const std::size_t o_scale = carve.add<float>(C);
  const std::size_t o_shift = carve.add<float>(C);
  void* ws = ctx.workspace(carve.bytes());
  float* scale = impl::at_offset<float>(ws, o_scale);
  float* shift = impl::at_offset<float>(ws, o_shift);
  impl::bn_eval_coefficients_kernel<0><<<ctx.grid_for(C), kThreadsPerBlock, 0, ctx.stream()>>>(
      impl::opt_data(weight), impl::opt_data(bias), running_var.data(), static_cast<double>(eps), scale, shift, C);
  GCC_CUDA_LAUNCH_CHECK();
  impl::bn_apply(ctx, x.data(), running_mean.data(), scale, shift, y.data(), N, C, L);
}

// Backward. Training: gx = w * invstd * (gy - mean(gy) - xhat * mean(gy * xhat)) with the saved mean /
// inverse std. Eval: gx = w * gy / sqrt(running_var + eps). Both: gweight = sum(gy * xhat), gbias =
// sum(gy) over (N, H, W). Outputs that are undefined are skipped.
inline void batchnorm2d_backward(const Tensor& gy /* [N, C, H, W] */, const Tensor& x /* [N, C, H, W] */,
                                 const Tensor& weight /* [C], or undefined */,
                                 const Tensor& running_mean /* [C] (eval), or undefined */,
                                 const Tensor& running_var /* [C] (eval), or undefined */,
                                 const Tensor& save_mean /* [C] (training), or undefined */,
                                 const Tensor& save_invstd /* [C] (training), or undefined */, bool training,
                                 float eps, const Tensor& gx /* [N, C, H, W], or undefined */,
                                 const Tensor& gweight /* [C], or undefined */,
                                 const Tensor& gbias /* [C], or undefined */) {
  const char* op = "batchnorm2d_backward";
  const int dev = impl::cuda_device_of(op, gy);
  GCC_CHECK(x.dims() == 4, op, ": expected x [N, C, H, W], got ", x.shape().str());
  const int64_t N = x.size(0), C = x.size(1), L = x.size(2) * x.size(3);
  impl::bn_check(op, gy, "output gradient", dev, N * C * L);
  impl::bn_check(op, x, "input", dev, N * C * L);
  impl::bn_check(op, gx, "input gradient", dev, N * C * L);
  impl::bn_check(op, weight, "weight", dev, C);
  impl::bn_check(op, gweight, "weight gradient", dev, C);
  impl::bn_check(op, gbias, "bias gradient", dev, C);
  if (training) {
    GCC_CHECK(save_mean.defined() && save_invstd.defined(), op, ": training mode needs save_mean and save_invstd");
    impl::bn_check(op, save_mean, "save_mean", dev, C);
    impl::bn_check(op, save_invstd, "save_invstd", dev, C);
  } else {
    GCC_CHECK(running_mean.defined() && running_var.defined(), op, ": eval mode needs running_mean and running_var");
    impl::bn_check(op, running_mean, "running_mean", dev, C);
    impl::bn_check(op, running_var, "running_var", dev, C);
  }
  if (C == 0 || (!gx.defined() && !gweight.defined() && !gbias.defined())) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  const impl::ChannelReducePlan plan = impl::plan_channel_reduce(ctx, N, C, L);
  impl::WorkspaceCarver carve;
  const std::size_t o_partial = carve.add<char>(static_cast<int64_t>(impl::channel_partial_bytes(plan, 2)));
  const std::size_t o_a = carve.add<float>(C);
  const std::size_t o_fmean = carve.add<float>(C);
  const std::size_t o_gmean = carve.add<float>(C);
  const std::size_t o_proj = carve.add<float>(C);
  void* ws = ctx.workspace(carve.bytes());
  float* a = impl::at_offset<float>(ws, o_a);
  float* fmean = impl::at_offset<float>(ws, o_fmean);
  float* gmean = impl::at_offset<float>(ws, o_gmean);
  float* proj = impl::at_offset<float>(ws, o_proj);
  const float* mean = training ? save_mean.data() : running_mean.data();
  impl::BnBackwardFinalize fin{static_cast<double>(N * L),
                               static_cast<double>(eps),
                               training,
                               impl::opt_data(weight),
                               mean,
                               training ? save_invstd.data() : nullptr,
                               training ? nullptr : running_var.data(),
                               impl::opt_mutable(gweight),
                               impl::opt_mutable(gbias),
                               a,
                               fmean,
                               gmean,
                               proj};
  impl::channel_reduce(ctx, plan, impl::BnBackwardAccumulate{gy.data(), x.data(), mean}, fin,
                       impl::at_offset<double>(ws, o_partial));
  if (!gx.defined()) return;
  const int64_t n = N * C * L;
  if (n == 0) return;
  impl::with_channel_of(n, C, L, [&](auto chan, auto count) {
    impl::bn_backward_apply_kernel<<<ctx.grid_for(n), kThreadsPerBlock, 0, ctx.stream()>>>(
        gy.data(), x.data(), a, fmean, gmean, proj, gx.data(), count, chan);
  });
  GCC_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda
}  // namespace gcc
