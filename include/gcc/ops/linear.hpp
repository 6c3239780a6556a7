// Fully connected layer y = x · wᵀ + b (PyTorch's F.linear, weight stored [out, in]) through
// cpu::sgemm; the bias is optional. Gradients for input, weight and bias.
#pragma once
#include <algorithm>

#include "dispatch.hpp"
#include "../core/blas.hpp"

namespace gcc {
namespace cpu {

// y = x · wᵀ (+ bias on every row).
inline void linear_forward(const Tensor& x /* [N, in] */, const Tensor& w /* [out, in] */,
                           const Tensor& bias /* [out], or undefined */, const Tensor& y /* [N, out] */) {
  const int64_t N = x.size(0), in = x.size(1), out = w.size(0);
  float* yp = y.data();
  float beta = 0.f;
  if (bias.defined() && N * out > 0) {
    const float* bp = bias.data();
    parallel_for(N, [&](int64_t i) { std::copy(bp, bp + out, yp + i * out); }, 64);
    beta = 1.f;
  }
  sgemm(false, true, N, out, in, 1.f, x.data(), w.data(), beta, yp);
}

// Gradients of y = x · wᵀ + b given gy; each output is skipped when undefined.
inline void linear_backward(const Tensor& x /* [N, in] */, const Tensor& w /* [out, in] */,
                            const Tensor& gy /* [N, out] */, const Tensor& gx /* [N, in], or undefined */,
                            const Tensor& gw /* [out, in], or undefined */,
                            const Tensor& gb /* [out], or undefined */) {
  const int64_t N = x.size(0), in = x.size(1), out = w.size(0);
  if (gx.defined()) sgemm(false, false, N, in, out, 1.f, gy.data(), w.data(), 0.f, gx.data());
  if (gw.defined()) sgemm(true, false, out, in, N, 1.f, gy.data(), x.data(), 0.f, gw.data());
  if (gb.defined()) {
    float* bp = gb.data();
    const float* gp = gy.data();
    std::fill(bp, bp + out, 0.f);
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < out; ++j) bp[j] += gp[i * out + j];
  }
}

}  // namespace cpu

GCC_CUDA_SLOT(linear_forward, const Tensor&, const Tensor&, const Tensor&, const Tensor&)
GCC_CUDA_SLOT(linear_backward, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
              const Tensor&)

// y [N, out] = x [N, in] · w [out, in]ᵀ + bias [out]; pass an undefined bias (Tensor()) for none.
inline Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias = Tensor()) {
  check_dims("linear (input)", x, 2, "[N, in_features]");
  check_dims("linear (weight)", w, 2, "[out_features, in_features]");
  check_same_device("linear", x, w);
  GCC_CHECK(w.size(1) == x.size(1), "linear: weight ", w.shape().str(), " expects ", w.size(1),
            " input features, input is ", x.shape().str());
  if (bias.defined()) {
    check_same_device("linear", x, bias);
    GCC_CHECK(bias.dims() == 1 && bias.size(0) == w.size(0), "linear: bias ", bias.shape().str(),
              " does not match weight ", w.shape().str(), " (expected [", w.size(0), "])");
  }
  const Tensor xc = x.contiguous().detach(), wc = w.contiguous().detach();
  const Tensor bc = bias.defined() ? bias.contiguous().detach() : Tensor();
  Tensor y = Tensor::empty(Shape{x.size(0), w.size(0)}, x.device());
  GCC_DISPATCH(linear_forward, x.device(), xc, wc, bc, y);
  if (any_requires_grad(x, w, bias)) {
    Tape::record(y, "linear", [x, w, bias, xc, wc](const Tensor& gy) {
      const Device dev = x.device();
      const Tensor gx = x.requires_grad() ? Tensor::empty(x.shape(), dev) : Tensor();
      const Tensor gw = w.requires_grad() ? Tensor::empty(w.shape(), dev) : Tensor();
      const Tensor gb = bias.defined() && bias.requires_grad() ? Tensor::empty(bias.shape(), dev) : Tensor();
      GCC_DISPATCH(linear_backward, dev, xc, wc, gy.contiguous(), gx, gw, gb);
      if (gx.defined()) accumulate_grad_fresh(x, gx);
      if (gw.defined()) accumulate_grad_fresh(w, gw);
      if (gb.defined()) accumulate_grad_fresh(bias, gb);
    });
  }
  return y;
}

}  // namespace gcc
