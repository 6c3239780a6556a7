// The CUDA versions of gcc/ops/activation.hpp's cpu::relu_forward and relu_backward (same signatures,
// registered by <gcc/cuda.cuh>): argument checks, then the raw-pointer launchers of
// gcc/kernels/activation.cuh on the device's context stream (the CPU's comparisons: a NaN input passes
// through; gradient 0 where y <= 0).
#pragma once
#include <cstdint>

#include "../ops/activation.hpp"
#include "context.cuh"
#include "gcc/kernels/activation.cuh"  // kernels/
#include "tensor_checks.cuh"

namespace gcc {
namespace cuda {

// y = max(x, 0); a NaN input stays NaN as in torch.relu.
inline void relu_forward(const Tensor& x /* [*] */, const Tensor& y /* [*] */) {
  const int dev = impl::cuda_device_of("relu_forward", y);
  impl::check_like("relu_forward", x, "input", y, "");
  impl::check_like("relu_forward", y, "output", y, "");
  const int64_t n = y.numel();
  if (n == 0) return;
  DeviceGuard guard(dev);
  GCC_KERNEL_CHECK(kernels::relu_forward(context(dev).launch(), x.data(), y.data(), n));
}

// gx = 0 where y <= 0, else gy (PyTorch's threshold_backward on the output; NaN passes gy).
inline void relu_backward(const Tensor& y /* [*] */, const Tensor& gy /* [*] */, const Tensor& gx /* [*] */) {
  const int dev = impl::cuda_device_of("relu_backward", gx);
  impl::check_like("relu_backward", y, "output", gx, "");
  impl::check_like("relu_backward", gy, "output gradient", gx, "");
  impl::check_like("relu_backward", gx, "input gradient", gx, "");
  const int64_t n = gx.numel();
  if (n == 0) return;
  DeviceGuard guard(dev);
  GCC_KERNEL_CHECK(kernels::relu_backward(context(dev).launch(), y.data(), gy.data(), gx.data(), n));
}

}  // namespace cuda
}  // namespace gcc
