// Activations: relu (PyTorch semantics: NaN passes through, gradient 0 where x <= 0).
// CPU kernels for forward and backward, each with a CUDA slot.
#pragma once
#include "dispatch.hpp"

namespace gcc {
namespace cpu {

// y = max(x, 0); a NaN input stays NaN as in torch.relu.
inline void relu_forward(const Tensor& x /* [*] */, const Tensor& y /* [*] */) {
  const float* xp = x.data();
  float* yp = y.data();
  parallel_for(x.numel(), [&](int64_t i) { yp[i] = xp[i] < 0.f ? 0.f : xp[i]; }, 1 << 15);
}

// gx = 0 where y <= 0 (x <= 0), else gy: PyTorch's threshold_backward on the output (NaN passes gy).
inline void relu_backward(const Tensor& y /* [*] */, const Tensor& gy /* [*] */, const Tensor& gx /* [*] */) {
  const float* yp = y.data();
  const float* gp = gy.data();
  float* gxp = gx.data();
  parallel_for(y.numel(), [&](int64_t i) {
    const float g = gp[i];  // loaded unconditionally, so the compiler turns the select into vector blends
    gxp[i] = yp[i] <= 0.f ? 0.f : g;
  }, 1 << 15);
}

}  // namespace cpu

GCC_CUDA_SLOT(relu_forward, const Tensor&, const Tensor&)
GCC_CUDA_SLOT(relu_backward, const Tensor&, const Tensor&, const Tensor&)

// y = max(x, 0), any shape; differentiable (gradient 0 at x <= 0).
inline Tensor relu(const Tensor& x) {
  GCC_CHECK(x.defined(), "relu: input is undefined");
  const Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.device());
  GCC_DISPATCH(relu_forward, x.device(), xc, y);
  if (any_requires_grad(x)) {
    Tape::record(y, "relu", [x, yd = y.detach()](const Tensor& gy) {
      Tensor gx = Tensor::empty(x.shape(), x.device());
      GCC_DISPATCH(relu_backward, x.device(), yd, gy.contiguous(), gx);
      accumulate_grad_fresh(x, gx);
    });
  }
  return y;
}

}  // namespace gcc
