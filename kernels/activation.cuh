// CUDA versions of the activation kernels of gcc/ops/activation.hpp (cpu::relu_forward, relu_backward):
// elementwise, with the CPU's comparisons (a NaN input passes through; gradient 0 where y <= 0).
#pragma once
#include <cstdint>

#include "common.cuh"
#include "gcc/ops/activation.hpp"

namespace gcc {
namespace cuda {
namespace impl {

template <int Unused>
__global__ void relu_forward_kernel(const float* x /* [n] */, float* y /* [n] */, int64_t n) {
  GCC_CUDA_GRID_STRIDE_LOOP(int64_t, i, n) {
    const float v = x[i];
    y[i] = v < 0.f ? 0.f : v;
  }
}

template <int Unused>
__global__ void relu_backward_kernel(const float* y /* [n] */, const float* gy /* [n] */, float* gx /* [n] */,
                                     int64_t n) {
  GCC_CUDA_GRID_STRIDE_LOOP(int64_t, i, n) { gx[i] = y[i] <= 0.f ? 0.f : gy[i]; }
}

inline void act_check(const char* op, const Tensor& t, const char* what, const Tensor& ref) {
  GCC_CHECK(t.defined(), op, ": ", what, " is undefined");
  check_same_device(op, t, ref);
  GCC_CHECK(t.is_contiguous(), op, ": ", what, " of shape ", t.shape().str(), " must be contiguous");
  GCC_CHECK(t.numel() == ref.numel(), op, ": ", what, " of shape ", t.shape().str(), " does not match ",
            ref.shape().str());
}

}  // namespace impl

// y = max(x, 0); a NaN input stays NaN as in torch.relu.
inline void relu_forward(const Tensor& x /* [*] */, const Tensor& y /* [*] */) {
  const int dev = impl::cuda_device_of("relu_forward", y);
  impl::act_check("relu_forward", x, "input", y);
  impl::act_check("relu_forward", y, "output", y);
  const int64_t n = y.numel();
  if (n == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  impl::relu_forward_kernel<0><<<ctx.grid_for(n), kThreadsPerBlock, 0, ctx.stream()>>>(x.data(), y.data(), n);
  GCC_CUDA_LAUNCH_CHECK();
}

// gx = 0 where y <= 0, else gy (PyTorch's threshold_backward on the output; NaN passes gy).
inline void relu_backward(const Tensor& y /* [*] */, const Tensor& gy /* [*] */, const Tensor& gx /* [*] */) {
  const int dev = impl::cuda_device_of("relu_backward", gx);
  impl::act_check("relu_backward", y, "output", gx);
  impl::act_check("relu_backward", gy, "output gradient", gx);
  impl::act_check("relu_backward", gx, "input gradient", gx);
  const int64_t n = gx.numel();
  if (n == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  impl::relu_backward_kernel<0><<<ctx.grid_for(n), kThreadsPerBlock, 0, ctx.stream()>>>(y.data(), gy.data(),
                                                                                       gx.data(), n);
  GCC_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda
}  // namespace gcc
