// The CUDA versions of gcc/optim/optimizers.hpp's cpu::sgd_update, adam_update, ema_update (same
// signatures, registered by <gcc/cuda.cuh>): argument checks, then the raw-pointer launchers of
// gcc/kernels/optim.cuh on the device's context stream.
#pragma once
#include <cmath>
#include <cstdint>

#include "../optim/optimizers.hpp"
#include "context.cuh"
#include "gcc/kernels/optim.cuh"  // kernels/
#include "tensor_checks.cuh"

namespace gcc {
namespace cuda {

// torch.optim.SGD (dampening 0, no Nesterov): g += wd·p; buf = g on the first step, else
// buf = momentum·buf + g; p -= lr·buf.
inline void sgd_update(const Tensor& param /* [*] */, const Tensor& grad /* [*] */, const Tensor& buf /* [*] */,
                       float lr, float momentum, float weight_decay, bool first_step) {
  const int dev = impl::cuda_device_of("sgd_update", param);
  impl::check_like("sgd_update", param, "parameter", param, "the parameter of shape ");
  impl::check_like("sgd_update", grad, "gradient", param, "the parameter of shape ");
  if (momentum != 0.f) impl::check_like("sgd_update", buf, "momentum buffer", param, "the parameter of shape ");
  DeviceGuard guard(dev);
  GCC_KERNEL_CHECK(kernels::sgd_update(context(dev).launch(), param.data(), grad.data(),
                                       momentum != 0.f ? buf.data() : nullptr, lr, momentum, weight_decay,
                                       first_step, param.numel()));
}

// torch.optim.Adam (amsgrad off): g += wd·p; m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²;
// p -= (lr / (1-β1^t)) · m / (sqrt(v) / sqrt(1-β2^t) + eps). Bias corrections computed on the host
// exactly as the CPU path does.
inline void adam_update(const Tensor& param /* [*] */, const Tensor& grad /* [*] */, const Tensor& m1 /* [*] */,
                        const Tensor& m2 /* [*] */, float lr, float beta1, float beta2, float eps, float weight_decay,
                        int64_t step) {
  const int dev = impl::cuda_device_of("adam_update", param);
  impl::check_like("adam_update", param, "parameter", param, "the parameter of shape ");
  impl::check_like("adam_update", grad, "gradient", param, "the parameter of shape ");
  impl::check_like("adam_update", m1, "first moment", param, "the parameter of shape ");
  impl::check_like("adam_update", m2, "second moment", param, "the parameter of shape ");
  const float bc1 = static_cast<float>(1.0 - std::pow(static_cast<double>(beta1), static_cast<double>(step)));
  const float bc2 = static_cast<float>(1.0 - std::pow(static_cast<double>(beta2), static_cast<double>(step)));
  DeviceGuard guard(dev);
  GCC_KERNEL_CHECK(kernels::adam_update(context(dev).launch(), param.data(), grad.data(), m1.data(), m2.data(), beta1,
                                        beta2, eps, weight_decay, lr / bc1, std::sqrt(bc2), param.numel()));
}

// shadow = decay·shadow + (1-decay)·param
inline void ema_update(const Tensor& shadow /* [*] */, const Tensor& param /* [*] */, float decay) {
  const int dev = impl::cuda_device_of("ema_update", shadow);
  impl::check_like("ema_update", shadow, "shadow", param, "the parameter of shape ");
  impl::check_like("ema_update", param, "parameter", param, "the parameter of shape ");
  DeviceGuard guard(dev);
  GCC_KERNEL_CHECK(kernels::ema_update(context(dev).launch(), shadow.data(), param.data(), decay, param.numel()));
}

}  // namespace cuda
}  // namespace gcc
