// L2 normalisation along one dimension with PyTorch's F.normalize semantics, x / max(||x||_2, eps),
// and column_normalize (unit L2 norm of every column, used by the AGC loss). CPU reference + CUDA slots.
#pragma once
#include <cmath>

#include "dispatch.hpp"
#include "reduce.hpp"

namespace gcc {
namespace cpu {

// norm = ||x||_2 along dim; y = x / max(norm, eps).
inline void l2_normalize_forward(const Tensor& x /* [*] */, int dim, float eps, const Tensor& y /* [*] */,
                                 const Tensor& norm /* [x with size(dim) = 1] */) {
  const detail::AxisSplit a = detail::axis_split(x.shape(), dim);
  const float* xp = x.data();
  float* yp = y.data();
  float* np_ = norm.data();
  if (a.inner == 1) {  // the last dimension: contiguous rows
    detail::for_each_axis_row(a, [&](int64_t o) {
      const float* xr = xp + o * a.len;
      float* yr = yp + o * a.len;
      const float n = static_cast<float>(std::sqrt(detail::row_dot(xr, xr, a.len)));
      np_[o] = n;
      const float d = n > eps ? n : eps;
      for (int64_t c = 0; c < a.len; ++c) yr[c] = xr[c] / d;
    });
    return;
  }
  detail::for_each_axis_tile(a, [&](int64_t base, int64_t obase, int64_t w) {
    double ss[detail::kAxisTile];
    for (int64_t j = 0; j < w; ++j) ss[j] = 0.0;
    for (int64_t c = 0; c < a.len; ++c) {
      const float* row = xp + base + c * a.inner;
      for (int64_t j = 0; j < w; ++j) ss[j] += static_cast<double>(row[j]) * row[j];
    }
    float d[detail::kAxisTile];
    for (int64_t j = 0; j < w; ++j) {
      const float n = static_cast<float>(std::sqrt(ss[j]));
      np_[obase + j] = n;
      d[j] = n > eps ? n : eps;
    }
    for (int64_t c = 0; c < a.len; ++c) {
      const float* row = xp + base + c * a.inner;
      float* out = yp + base + c * a.inner;
      for (int64_t j = 0; j < w; ++j) out[j] = row[j] / d[j];
    }
  });
}

// norm >= eps: gx = (gy - y * sum(gy * y)) / norm;   norm < eps (clamped): gx = gy / eps.
// (PyTorch's clamp_min passes the gradient where norm >= eps, so a zero slice gets gy / eps.)
inline void l2_normalize_backward(const Tensor& y /* [*] */, const Tensor& norm /* [x with size(dim) = 1] */,
                                  const Tensor& gy /* [*] */, int dim, float eps, const Tensor& gx /* [*] */) {
  const detail::AxisSplit a = detail::axis_split(y.shape(), dim);
  const float* yp = y.data();
  const float* np_ = norm.data();
  const float* gp = gy.data();
  float* op = gx.data();
  if (a.inner == 1) {
    detail::for_each_axis_row(a, [&](int64_t o) {
      const float* yr = yp + o * a.len;
      const float* gr = gp + o * a.len;
      float* xr = op + o * a.len;
      const float n = np_[o];
      const bool clamped = !(n >= eps);
      const float dot = clamped ? 0.f : static_cast<float>(detail::row_dot(gr, yr, a.len));
      const float d = clamped ? eps : n;
      for (int64_t c = 0; c < a.len; ++c) xr[c] = (gr[c] - yr[c] * dot) / d;
    });
    return;
  }
  detail::for_each_axis_tile(a, [&](int64_t base, int64_t obase, int64_t w) {
    double acc[detail::kAxisTile];
    for (int64_t j = 0; j < w; ++j) acc[j] = 0.0;
    for (int64_t c = 0; c < a.len; ++c) {
      const int64_t off = base + c * a.inner;
      for (int64_t j = 0; j < w; ++j) acc[j] += static_cast<double>(gp[off + j]) * yp[off + j];
    }
    float dot[detail::kAxisTile], d[detail::kAxisTile];
    for (int64_t j = 0; j < w; ++j) {
      const float n = np_[obase + j];
      const bool clamped = !(n >= eps);
      dot[j] = clamped ? 0.f : static_cast<float>(acc[j]);
      d[j] = clamped ? eps : n;
    }
    for (int64_t c = 0; c < a.len; ++c) {
      const int64_t off = base + c * a.inner;
      for (int64_t j = 0; j < w; ++j) op[off + j] = (gp[off + j] - yp[off + j] * dot[j]) / d[j];
    }
  });
}

}  // namespace cpu

GCC_CUDA_SLOT(l2_normalize_forward, const Tensor&, int, float, const Tensor&, const Tensor&)
GCC_CUDA_SLOT(l2_normalize_backward, const Tensor&, const Tensor&, const Tensor&, int, float, const Tensor&)

// x / max(||x||_2, eps) along dim (F.normalize(x, p=2, dim, eps)): a zero slice stays zero and its
// gradient is gy / eps, as in PyTorch. Negative dims count from the end. Differentiable.
inline Tensor l2_normalize(const Tensor& x, int dim, float eps = 1e-12f) {
  dim = detail::axis_resolve("l2_normalize", x, dim);
  GCC_CHECK(eps > 0.f, "l2_normalize: eps must be positive, got ", eps, " (input shape ", x.shape().str(), ")");
  const Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.device());
  Tensor norm = Tensor::empty(detail::reduced_shape(x.shape(), dim, true), x.device());
  GCC_DISPATCH(l2_normalize_forward, x.device(), xc, dim, eps, y, norm);
  if (any_requires_grad(x)) {
    const Tensor yd = y.detach();
    Tape::record(y, "l2_normalize", [x, yd, norm, dim, eps](const Tensor& gy) {
      Tensor gx = Tensor::empty(x.shape(), x.device());
      GCC_DISPATCH(l2_normalize_backward, x.device(), yd, norm, gy.contiguous(), dim, eps, gx);
      accumulate_grad_fresh(x, gx);
    });
  }
  return y;
}

// Every column of a [rows, cols] matrix scaled to unit L2 norm over the rows: l2_normalize(x, 0).
inline Tensor column_normalize(const Tensor& x, float eps = 1e-12f) {
  GCC_CHECK(x.defined(), "column_normalize: input is undefined");
  check_dims("column_normalize", x, 2, "[rows, cols]");
  return l2_normalize(x, 0, eps);
}

}  // namespace gcc
