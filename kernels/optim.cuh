// CUDA versions of the optimiser kernels of gcc/optim/optimizers.hpp (cpu::sgd_update, adam_update,
// ema_update): one elementwise pass per parameter tensor, the CPU's float formulas in the same order.
#pragma once
#include <cmath>
#include <cstdint>

#include "common.cuh"
#include "gcc/optim/optimizers.hpp"

namespace gcc {
namespace cuda {
namespace impl {

// Every product and sum is rounded on its own (__fmul_rn / __fadd_rn: no FMA contraction), as the
// CPU reference computes them, so a step agrees with the CPU to the last bit on a non-FMA host build.
template <int Unused>
__global__ void sgd_update_kernel(float* p /* [n] */, const float* g /* [n] */, float* buf /* [n] */, float lr,
                                  float momentum, float weight_decay, bool first_step, int64_t n) {
  GCC_CUDA_GRID_STRIDE_LOOP(int64_t, i, n) {
    float d = __fadd_rn(g[i], __fmul_rn(weight_decay, p[i]));
    if (momentum != 0.f) {
      d = first_step ? d : __fadd_rn(__fmul_rn(momentum, buf[i]), d);
      buf[i] = d;
    }
    p[i] = __fsub_rn(p[i], __fmul_rn(lr, d));
  }
}

template <int Unused>
__global__ void adam_update_kernel(float* p /* [n] */, const float* g /* [n] */, float* m1 /* [n] */,
                                   float* m2 /* [n] */, float beta1, float beta2, float eps, float weight_decay,
                                   float step_size, float bc2_sqrt, int64_t n) {
  GCC_CUDA_GRID_STRIDE_LOOP(int64_t, i, n) {
    const float d = __fadd_rn(g[i], __fmul_rn(weight_decay, p[i]));
    const float m = __fadd_rn(__fmul_rn(beta1, m1[i]), __fmul_rn(1.f - beta1, d));
    const float v = __fadd_rn(__fmul_rn(beta2, m2[i]), __fmul_rn(__fmul_rn(1.f - beta2, d), d));
    m1[i] = m;
    m2[i] = v;
    const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(v), bc2_sqrt), eps);
    p[i] = __fsub_rn(p[i], __fmul_rn(step_size, __fdiv_rn(m, denom)));
  }
}

template <int Unused>
__global__ void ema_update_kernel(float* s /* [n] */, const float* p /* [n] */, float decay, int64_t n) {
  GCC_CUDA_GRID_STRIDE_LOOP(int64_t, i, n) { s[i] = __fadd_rn(__fmul_rn(decay, s[i]), __fmul_rn(1.f - decay, p[i])); }
}

inline void check_optim_tensor(const char* op, const Tensor& t, const char* what, const Tensor& param) {
  GCC_CHECK(t.defined(), op, ": ", what, " is undefined");
  check_same_device(op, t, param);
  GCC_CHECK(t.is_contiguous(), op, ": ", what, " of shape ", t.shape().str(), " must be contiguous");
  GCC_CHECK(t.numel() == param.numel(), op, ": ", what, " of shape ", t.shape().str(),
            " does not match the parameter of shape ", param.shape().str());
}

}  // namespace impl

// torch.optim.SGD (dampening 0, no Nesterov): g += wd·p; buf = g on the first step, else
// buf = momentum·buf + g; p -= lr·buf.
inline void sgd_update(const Tensor& param /* [*] */, const Tensor& grad /* [*] */, const Tensor& buf /* [*] */,
                       float lr, float momentum, float weight_decay, bool first_step) {
  const int dev = impl::cuda_device_of("sgd_update", param);
  impl::check_optim_tensor("sgd_update", param, "parameter", param);
  impl::check_optim_tensor("sgd_update", grad, "gradient", param);
  if (momentum != 0.f) impl::check_optim_tensor("sgd_update", buf, "momentum buffer", param);
  const int64_t n = param.numel();
  if (n == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  impl::sgd_update_kernel<0><<<ctx.grid_for(n), kThreadsPerBlock, 0, ctx.stream()>>>(
      param.data(), grad.data(), momentum != 0.f ? buf.data() : nullptr, lr, momentum, weight_decay, first_step, n);
  GCC_CUDA_LAUNCH_CHECK();
}

// torch.optim.Adam (amsgrad off): g += wd·p; m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²;
// p -= (lr / (1-β1^t)) · m / (sqrt(v) / sqrt(1-β2^t) + eps). Bias corrections computed on the host
// exactly as the CPU path does.
inline void adam_update(const Tensor& param /* [*] */, const Tensor& grad /* [*] */, const Tensor& m1 /* [*] */,
                        const Tensor& m2 /* [*] */, float lr, float beta1, float beta2, float eps, float weight_decay,
                        int64_t step) {
  const int dev = impl::cuda_device_of("adam_update", param);
  impl::check_optim_tensor("adam_update", param, "parameter", param);
  impl::check_optim_tensor("adam_update", grad, "gradient", param);
  impl::check_optim_tensor("adam_update", m1, "first moment", param);
  impl::check_optim_tensor("adam_update", m2, "second moment", param);
  const int64_t n = param.numel();
  if (n == 0) return;
  const float bc1 = static_cast<float>(1.0 - std::pow(static_cast<double>(beta1), static_cast<double>(step)));
  const float bc2 = static_cast<float>(1.0 - std::pow(static_cast<double>(beta2), static_cast<double>(step)));
  const float step_size = lr / bc1, bc2_sqrt = std::sqrt(bc2);
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  impl::adam_update_kernel<0><<<ctx.grid_for(n), kThreadsPerBlock, 0, ctx.stream()>>>(
      param.data(), grad.data(), m1.data(), m2.data(), beta1, beta2, eps, weight_decay, step_size, bc2_sqrt, n);
  GCC_CUDA_LAUNCH_CHECK();
}

// shadow = decay·shadow + (1-decay)·param
inline void ema_update(const Tensor& shadow /* [*] */, const Tensor& param /* [*] */, float decay) {
  const int dev = impl::cuda_device_of("ema_update", shadow);
  impl::check_optim_tensor("ema_update", shadow, "shadow", param);
  impl::check_optim_tensor("ema_update", param, "parameter", param);
  const int64_t n = param.numel();
  if (n == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  impl::ema_update_kernel<0><<<ctx.grid_for(n), kThreadsPerBlock, 0, ctx.stream()>>>(shadow.data(), param.data(),
                                                                                      decay, n);
  GCC_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda
}  // namespace gcc
