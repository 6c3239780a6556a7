// softmax and log_softmax along one dimension, numerically stable (the maximum is subtracted first),
// with PyTorch's formulas and gradients. CPU reference + dispatch to the CUDA slots.
#pragma once
#include <cmath>
#include <limits>

#include "dispatch.hpp"
#include "reduce.hpp"

namespace gcc {
namespace cpu {

// y = softmax(x) along dim, or log_softmax(x) = x - max - log(sum exp(x - max)) when `log_output`.
inline void softmax_forward(const Tensor& x /* [*] */, int dim, bool log_output, const Tensor& y /* [*] */) {
  const detail::AxisSplit a = detail::axis_split(x.shape(), dim);
  const float* xp = x.data();
  float* yp = y.data();
  if (a.inner == 1) {  // the last dimension: contiguous rows
    detail::for_each_axis_row(a, [&](int64_t o) {
      const float* xr = xp + o * a.len;
      float* yr = yp + o * a.len;
      const float m = detail::row_max(xr, a.len);
      for (int64_t c = 0; c < a.len; ++c) yr[c] = std::exp(xr[c] - m);
      const double s = detail::row_sum(yr, a.len);
      if (log_output) {
        const float shift = m + static_cast<float>(std::log(s));
        for (int64_t c = 0; c < a.len; ++c) yr[c] = xr[c] - shift;
      } else {
        const float inv = static_cast<float>(1.0 / s);
        for (int64_t c = 0; c < a.len; ++c) yr[c] *= inv;
      }
    });
    return;
  }
  detail::for_each_axis_tile(a, [&](int64_t base, int64_t, int64_t w) {
    float m[detail::kAxisTile];
    double s[detail::kAxisTile];
    for (int64_t j = 0; j < w; ++j) m[j] = -std::numeric_limits<float>::infinity(), s[j] = 0.0;
    for (int64_t c = 0; c < a.len; ++c) {
      const float* row = xp + base + c * a.inner;
      for (int64_t j = 0; j < w; ++j) m[j] = row[j] > m[j] ? row[j] : m[j];
    }
    for (int64_t c = 0; c < a.len; ++c) {
      const float* row = xp + base + c * a.inner;
      float* out = yp + base + c * a.inner;
      for (int64_t j = 0; j < w; ++j) {
        const float e = std::exp(row[j] - m[j]);
        s[j] += e;
        if (!log_output) out[j] = e;
      }
    }
    if (log_output) {
      float shift[detail::kAxisTile];
      for (int64_t j = 0; j < w; ++j) shift[j] = m[j] + static_cast<float>(std::log(s[j]));
      for (int64_t c = 0; c < a.len; ++c) {
        const float* row = xp + base + c * a.inner;
        float* out = yp + base + c * a.inner;
        for (int64_t j = 0; j < w; ++j) out[j] = row[j] - shift[j];
      }
    } else {
      float inv[detail::kAxisTile];
      for (int64_t j = 0; j < w; ++j) inv[j] = static_cast<float>(1.0 / s[j]);
      for (int64_t c = 0; c < a.len; ++c) {
        float* out = yp + base + c * a.inner;
        for (int64_t j = 0; j < w; ++j) out[j] *= inv[j];
      }
    }
  });
}

// softmax:     gx = y * (gy - sum(gy * y))
// log_softmax: gx = gy - exp(y) * sum(gy)        (y is the forward output)
inline void softmax_backward(const Tensor& y /* [*] */, const Tensor& gy /* [*] */, int dim, bool log_output,
                             const Tensor& gx /* [*] */) {
  const detail::AxisSplit a = detail::axis_split(y.shape(), dim);
  const float* yp = y.data();
  const float* gp = gy.data();
  float* op = gx.data();
  if (a.inner == 1) {
    detail::for_each_axis_row(a, [&](int64_t o) {
      const float* yr = yp + o * a.len;
      const float* gr = gp + o * a.len;
      float* xr = op + o * a.len;
      const float s = static_cast<float>(log_output ? detail::row_sum(gr, a.len) : detail::row_dot(gr, yr, a.len));
      if (log_output) {
        for (int64_t c = 0; c < a.len; ++c) xr[c] = gr[c] - std::exp(yr[c]) * s;
      } else {
        for (int64_t c = 0; c < a.len; ++c) xr[c] = yr[c] * (gr[c] - s);
      }
    });
    return;
  }
  detail::for_each_axis_tile(a, [&](int64_t base, int64_t, int64_t w) {
    double acc[detail::kAxisTile];
    for (int64_t j = 0; j < w; ++j) acc[j] = 0.0;
    for (int64_t c = 0; c < a.len; ++c) {
      const int64_t off = base + c * a.inner;
      for (int64_t j = 0; j < w; ++j) acc[j] += log_output ? gp[off + j] : gp[off + j] * yp[off + j];
    }
    float t[detail::kAxisTile];
    for (int64_t j = 0; j < w; ++j) t[j] = static_cast<float>(acc[j]);
    for (int64_t c = 0; c < a.len; ++c) {
      const int64_t off = base + c * a.inner;
      for (int64_t j = 0; j < w; ++j) {
        const float yv = yp[off + j], g = gp[off + j];
        op[off + j] = log_output ? g - std::exp(yv) * t[j] : yv * (g - t[j]);
      }
    }
  });
}

}  // namespace cpu

GCC_CUDA_SLOT(softmax_forward, const Tensor&, int, bool, const Tensor&)
GCC_CUDA_SLOT(softmax_backward, const Tensor&, const Tensor&, int, bool, const Tensor&)

namespace detail {
inline Tensor softmax_impl(const char* op, const Tensor& x, int dim, bool log_output) {
  dim = axis_resolve(op, x, dim);
  const Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.device());
  GCC_DISPATCH(softmax_forward, x.device(), xc, dim, log_output, y);
  if (any_requires_grad(x)) {
    const Tensor yd = y.detach();
    Tape::record(y, op, [x, yd, dim, log_output](const Tensor& gy) {
      Tensor gx = Tensor::empty(x.shape(), x.device());
      GCC_DISPATCH(softmax_backward, x.device(), yd, gy.contiguous(), dim, log_output, gx);
      accumulate_grad_fresh(x, gx);
    });
  }
  return y;
}
}  // namespace detail

// exp(x) / sum(exp(x)) along dim (negative dims count from the end). Differentiable.
inline Tensor softmax(const Tensor& x, int dim) { return detail::softmax_impl("softmax", x, dim, false); }

// x - log(sum(exp(x))) along dim, exact for saturated inputs (e.g. log_softmax([1000, 0]) = [0, -1000]).
inline Tensor log_softmax(const Tensor& x, int dim) {
  return detail::softmax_impl("log_softmax", x, dim, true);
}

}  // namespace gcc
