// Optimiser updates on raw device pointers (the CUDA side of gcc/optim/optimizers.hpp's
// cpu::sgd_update, adam_update, ema_update): one elementwise pass per parameter tensor with the CPU's
// float formulas in the CPU's order. Needs only the CUDA runtime. Driver: kernels/dev/optim.cu.
#pragma once
#include <cstdint>

#include "common.cuh"

namespace gcc {
namespace kernels {

// Every product and sum is rounded on its own (__fmul_rn / __fadd_rn: no FMA contraction), as the
// CPU reference computes them, so a step agrees with the CPU to the last bit on a non-FMA host build.
GCC_HEADER_KERNEL void sgd_update_kernel(float* p /* [n] */, const float* g /* [n] */, float* buf /* [n] or null */,
                                         float lr, float momentum, float weight_decay, bool first_step, int64_t n) {
  GCC_CUDA_GRID_STRIDE_LOOP(int64_t, i, n) {
    float d = __fadd_rn(g[i], __fmul_rn(weight_decay, p[i]));
    if (momentum != 0.f) {
      d = first_step ? d : __fadd_rn(__fmul_rn(momentum, buf[i]), d);
      buf[i] = d;
    }
    p[i] = __fsub_rn(p[i], __fmul_rn(lr, d));
  }
}

GCC_HEADER_KERNEL void adam_update_kernel(float* p /* [n] */, const float* g /* [n] */, float* m1 /* [n] */,
                                          float* m2 /* [n] */, float beta1, float beta2, float eps,
                                          float weight_decay, float step_size, float bc2_sqrt, int64_t n) {
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

GCC_HEADER_KERNEL void ema_update_kernel(float* s /* [n] */, const float* p /* [n] */, float decay, int64_t n) {
  GCC_CUDA_GRID_STRIDE_LOOP(int64_t, i, n) { s[i] = __fadd_rn(__fmul_rn(decay, s[i]), __fmul_rn(1.f - decay, p[i])); }
}

// torch.optim.SGD (dampening 0, no Nesterov) on n parameters: g += wd·p; buf = g on the first step,
// else buf = momentum·buf + g; p -= lr·buf. buf may be null when momentum == 0.
inline Status sgd_update(const Launch& l, float* param, const float* grad, float* buf, float lr, float momentum,
                         float weight_decay, bool first_step, int64_t n) {
  if (n == 0) return Status{};
  sgd_update_kernel<<<l.grid_for(n), l.threads, 0, l.stream>>>(param, grad, momentum != 0.f ? buf : nullptr, lr,
                                                               momentum, weight_decay, first_step, n);
  return launched("sgd_update_kernel");
}

// torch.optim.Adam (amsgrad off) at step `step` (1-based): g += wd·p; m = β1·m + (1-β1)·g;
// v = β2·v + (1-β2)·g²; p -= step_size · m / (sqrt(v) / bc2_sqrt + eps), where the caller computes
// step_size = lr / (1 - β1^step) and bc2_sqrt = sqrt(1 - β2^step) on the host (as the CPU path does).
inline Status adam_update(const Launch& l, float* param, const float* grad, float* m1, float* m2, float beta1,
                          float beta2, float eps, float weight_decay, float step_size, float bc2_sqrt, int64_t n) {
  if (n == 0) return Status{};
  adam_update_kernel<<<l.grid_for(n), l.threads, 0, l.stream>>>(param, grad, m1, m2, beta1, beta2, eps, weight_decay,
                                                                step_size, bc2_sqrt, n);
  return launched("adam_update_kernel");
}

// shadow = decay·shadow + (1-decay)·param over n elements.
inline Status ema_update(const Launch& l, float* shadow, const float* param, float decay, int64_t n) {
  if (n == 0) return Status{};
  ema_update_kernel<<<l.grid_for(n), l.threads, 0, l.stream>>>(shadow, param, decay, n);
  return launched("ema_update_kernel");
}

}  // namespace kernels
}  // namespace gcc
