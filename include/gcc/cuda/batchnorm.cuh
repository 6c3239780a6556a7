// The CUDA versions of gcc/ops/batchnorm.hpp's cpu::batchnorm2d_forward_train / forward_eval /
// backward (same signatures, registered by <gcc/cuda.cuh>): argument checks, then the raw-pointer
// launchers of gcc/kernels/batchnorm.cuh on the device's context stream, their scratch carved from the
// context workspace. Statistics in double with the CPU's formulas, deterministic (see the kernel header).
#pragma once
#include <cstdint>

#include "../ops/batchnorm.hpp"
#include "context.cuh"
#include "gcc/kernels/batchnorm.cuh"  // kernels/
#include "tensor_checks.cuh"

namespace gcc {
namespace cuda {

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
  impl::check_optional(op, x, "input", dev, N * C * L);
  impl::check_optional(op, y, "output", dev, N * C * L);
  impl::check_optional(op, weight, "weight", dev, C);
  impl::check_optional(op, bias, "bias", dev, C);
  impl::check_optional(op, running_mean, "running_mean", dev, C);
  impl::check_optional(op, running_var, "running_var", dev, C);
  GCC_CHECK(save_mean.defined() && save_invstd.defined(), op, ": save_mean and save_invstd are required");
  impl::check_numel(op, save_mean, "save_mean", dev, C);
  impl::check_numel(op, save_invstd, "save_invstd", dev, C);
  if (C == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  const kernels::Launch l = ctx.launch();
  void* ws = ctx.workspace(kernels::batchnorm_forward_train_workspace_bytes(l, N, C, L));
  GCC_KERNEL_CHECK(kernels::batchnorm_forward_train(
      l, x.data(), impl::opt_data(weight), impl::opt_data(bias), impl::opt_mutable(running_mean),
      impl::opt_mutable(running_var), momentum, eps, y.data(), save_mean.data(), save_invstd.data(), N, C, L, ws));
}

// Eval forward: y = (x - running_mean) / sqrt(running_var + eps) * weight + bias.
inline void batchnorm2d_forward_eval(const Tensor& x /* [N, C, H, W] */,
                                     const Tensor& weight /* [C], or undefined */,
                                     const Tensor& bias /* [C], or undefined */, const Tensor& running_mean /* [C] */,
                                     const Tensor& running_var /* [C] */, float eps,
                                     const Tensor& y /* [N, C, H, W] */) {
  const char* op = "batchnorm2d_forward_eval";
  const int dev = impl::cuda_device_of(op, y);
  GCC_CHECK(x.dims() == 4, op, ": expected x [N, C, H, W], got ", x.shape().str());
  const int64_t N = x.size(0), C = x.size(1), L = x.size(2) * x.size(3);
  impl::check_optional(op, x, "input", dev, N * C * L);
  impl::check_optional(op, y, "output", dev, N * C * L);
  impl::check_optional(op, weight, "weight", dev, C);
  impl::check_optional(op, bias, "bias", dev, C);
  GCC_CHECK(running_mean.defined() && running_var.defined(), op, ": needs running_mean and running_var");
  impl::check_numel(op, running_mean, "running_mean", dev, C);
  impl::check_numel(op, running_var, "running_var", dev, C);
  if (C == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  void* ws = ctx.workspace(kernels::batchnorm_forward_eval_workspace_bytes(C));
  GCC_KERNEL_CHECK(kernels::batchnorm_forward_eval(ctx.launch(), x.data(), impl::opt_data(weight),
                                                   impl::opt_data(bias), running_mean.data(), running_var.data(), eps,
                                                   y.data(), N, C, L, ws));
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
  impl::check_optional(op, gy, "output gradient", dev, N * C * L);
  impl::check_optional(op, x, "input", dev, N * C * L);
  impl::check_optional(op, gx, "input gradient", dev, N * C * L);
  impl::check_optional(op, weight, "weight", dev, C);
  impl::check_optional(op, gweight, "weight gradient", dev, C);
  impl::check_optional(op, gbias, "bias gradient", dev, C);
  if (training) {
    GCC_CHECK(save_mean.defined() && save_invstd.defined(), op, ": training mode needs save_mean and save_invstd");
    impl::check_numel(op, save_mean, "save_mean", dev, C);
    impl::check_numel(op, save_invstd, "save_invstd", dev, C);
  } else {
    GCC_CHECK(running_mean.defined() && running_var.defined(), op, ": eval mode needs running_mean and running_var");
    impl::check_numel(op, running_mean, "running_mean", dev, C);
    impl::check_numel(op, running_var, "running_var", dev, C);
  }
  if (C == 0 || (!gx.defined() && !gweight.defined() && !gbias.defined())) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  const kernels::Launch l = ctx.launch();
  void* ws = ctx.workspace(kernels::batchnorm_backward_workspace_bytes(l, N, C, L));
  GCC_KERNEL_CHECK(kernels::batchnorm_backward(
      l, gy.data(), x.data(), impl::opt_data(weight), training ? nullptr : running_mean.data(),
      training ? nullptr : running_var.data(), training ? save_mean.data() : nullptr,
      training ? save_invstd.data() : nullptr, training, eps, impl::opt_mutable(gx), impl::opt_mutable(gweight),
      impl::opt_mutable(gbias), N, C, L, ws));
}

}  // namespace cuda
}  // namespace gcc
