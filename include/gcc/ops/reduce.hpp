// Reductions along one dimension (sum, mean, max with PyTorch's first-maximum gradient) and over all
// elements (sum_all, mean_all -> 0-d tensors). CPU reference + dispatch to the CUDA slots.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "dispatch.hpp"

namespace gcc {
namespace detail {

// A contiguous tensor seen as [outer, len, inner] around dimension `dim` (len = size(dim)).
struct AxisSplit {
  int64_t outer = 1, len = 1, inner = 1;
};
inline AxisSplit axis_split(const Shape& s, int dim) {
  AxisSplit a;
  for (int i = 0; i < s.dims(); ++i) {
    if (i < dim) a.outer *= s[i];
    else if (i == dim) a.len = s[i];
    else a.inner *= s[i];
  }
  return a;
}

// Width of the tiles of `inner` positions that the axis kernels process together (stack arrays).
constexpr int64_t kAxisTile = 64;

// Calls f(base, obase, w) for tiles of up to kAxisTile neighbouring inner positions: the tile's
// elements are base + c * inner + j for c in [0, len), j in [0, w), and its reduced positions (in an
// [outer, inner] result) are obase + j. Tiles are independent and run in parallel.
template <typename F>
void for_each_axis_tile(const AxisSplit& a, F&& f) {
  const int64_t tiles_per_outer = (a.inner + kAxisTile - 1) / kAxisTile;
  const int64_t tiles = a.outer * tiles_per_outer;
  const int64_t w_max = a.inner < kAxisTile ? a.inner : kAxisTile;
  const int64_t work = a.len * w_max > 0 ? a.len * w_max : 1;
  const int64_t min_tiles = work >= 16384 ? 1 : 16384 / work;
  parallel_for(tiles, [&](int64_t t) {
    const int64_t o = t / tiles_per_outer, i0 = (t % tiles_per_outer) * kAxisTile;
    const int64_t w = a.inner - i0 < kAxisTile ? a.inner - i0 : kAxisTile;
    f(o * a.len * a.inner + i0, o * a.inner + i0, w);
  }, min_tiles);
}

// Row helpers for the inner == 1 case (the reduced dimension is the last one, rows are contiguous):
// four independent accumulators, so the additions do not wait on each other.
inline double row_sum(const float* p, int64_t n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) s0 += p[i], s1 += p[i + 1], s2 += p[i + 2], s3 += p[i + 3];
  for (; i < n; ++i) s0 += p[i];
  return (s0 + s1) + (s2 + s3);
}
inline double row_dot(const float* p, const float* q, int64_t n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += static_cast<double>(p[i]) * q[i];
    s1 += static_cast<double>(p[i + 1]) * q[i + 1];
    s2 += static_cast<double>(p[i + 2]) * q[i + 2];
    s3 += static_cast<double>(p[i + 3]) * q[i + 3];
  }
  for (; i < n; ++i) s0 += static_cast<double>(p[i]) * q[i];
  return (s0 + s1) + (s2 + s3);
}
// Sum of (p - mean)^2 and of g * (p - mean) over a row (batch norm's variance and backward projection).
inline double row_sq_dev(const float* p, int64_t n, double mean) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const double d0 = p[i] - mean, d1 = p[i + 1] - mean, d2 = p[i + 2] - mean, d3 = p[i + 3] - mean;
    s0 += d0 * d0, s1 += d1 * d1, s2 += d2 * d2, s3 += d3 * d3;
  }
  for (; i < n; ++i) s0 += (p[i] - mean) * (p[i] - mean);
  return (s0 + s1) + (s2 + s3);
}
inline double row_dot_dev(const float* g, const float* p, int64_t n, double mean) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += g[i] * (p[i] - mean);
    s1 += g[i + 1] * (p[i + 1] - mean);
    s2 += g[i + 2] * (p[i + 2] - mean);
    s3 += g[i + 3] * (p[i + 3] - mean);
  }
  for (; i < n; ++i) s0 += g[i] * (p[i] - mean);
  return (s0 + s1) + (s2 + s3);
}
// Largest value of a row, ignoring NaNs (-inf for an empty row); softmax lets NaNs propagate via exp.
inline float row_max(const float* p, int64_t n) {
  float m[4] = {-std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                -std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; ++k) m[k] = p[i + k] > m[k] ? p[i + k] : m[k];
  for (; i < n; ++i) m[0] = p[i] > m[0] ? p[i] : m[0];
  const float a = m[0] > m[1] ? m[0] : m[1], b = m[2] > m[3] ? m[2] : m[3];
  return a > b ? a : b;
}
// Calls f(row) for the `outer` contiguous rows of length `len` of an inner == 1 problem, in parallel.
template <typename F>
void for_each_axis_row(const AxisSplit& a, F&& f) {
  parallel_for(a.outer, f, a.len >= 16384 ? 1 : 16384 / (a.len > 0 ? a.len : 1));
}

// Resolves a possibly negative `dim` of x (PyTorch style) and checks it; `op` names the caller.
inline int axis_resolve(const char* op, const Tensor& x, int dim) {
  GCC_CHECK(x.defined(), op, ": input is undefined");
  GCC_CHECK(x.dims() >= 1, op, ": needs a tensor with at least one dimension, got a 0-d tensor");
  GCC_CHECK(dim >= -x.dims() && dim < x.dims(), op, ": dim ", dim, " out of range for shape ",
            x.shape().str());
  return dim < 0 ? dim + x.dims() : dim;
}

// x's shape with dimension `dim` removed (keepdim = false) or set to 1 (keepdim = true).
inline Shape reduced_shape(const Shape& s, int dim, bool keepdim) {
  std::vector<int64_t> d;
  for (int i = 0; i < s.dims(); ++i) {
    if (i != dim) d.push_back(s[i]);
    else if (keepdim) d.push_back(1);
  }
  return Shape(d);
}

}  // namespace detail

namespace cpu {

// y[o, i] = scale * sum_c x[o, c, i] around dimension dim (double accumulation).
inline void sum_dim_forward(const Tensor& x /* [*] */, int dim, float scale,
                            const Tensor& y /* [x with dim reduced] */) {
  const detail::AxisSplit a = detail::axis_split(x.shape(), dim);
  const float* xp = x.data();
  float* yp = y.data();
  if (a.inner == 1) {
    detail::for_each_axis_row(a, [&](int64_t o) {
      yp[o] = static_cast<float>(detail::row_sum(xp + o * a.len, a.len) * scale);
    });
    return;
  }
  detail::for_each_axis_tile(a, [&](int64_t base, int64_t obase, int64_t w) {
    double acc[detail::kAxisTile];
    for (int64_t j = 0; j < w; ++j) acc[j] = 0.0;
    for (int64_t c = 0; c < a.len; ++c) {
      const float* row = xp + base + c * a.inner;
      for (int64_t j = 0; j < w; ++j) acc[j] += row[j];
    }
    for (int64_t j = 0; j < w; ++j) yp[obase + j] = static_cast<float>(acc[j] * scale);
  });
}

// gx[o, c, i] = scale * gy[o, i] (the gradient of sum/mean broadcast back along dim).
inline void sum_dim_backward(const Tensor& gy /* [x with dim reduced] */, int dim, float scale,
                             const Tensor& gx /* [*] */) {
  const detail::AxisSplit a = detail::axis_split(gx.shape(), dim);
  const float* gp = gy.data();
  float* op = gx.data();
  if (a.inner == 1) {
    detail::for_each_axis_row(a, [&](int64_t o) {
      const float v = gp[o] * scale;
      for (int64_t c = 0; c < a.len; ++c) op[o * a.len + c] = v;
    });
    return;
  }
  detail::for_each_axis_tile(a, [&](int64_t base, int64_t obase, int64_t w) {
    for (int64_t c = 0; c < a.len; ++c) {
      float* row = op + base + c * a.inner;
      for (int64_t j = 0; j < w; ++j) row[j] = gp[obase + j] * scale;
    }
  });
}

// y[o, i] = max_c x[o, c, i]; index[o, i] = the first c reaching it (as a float; a NaN wins, as in
// PyTorch). Needs size(dim) >= 1.
inline void max_dim_forward(const Tensor& x /* [*] */, int dim, const Tensor& y /* [x with dim reduced] */,
                            const Tensor& index /* [x with dim reduced] */) {
  const detail::AxisSplit a = detail::axis_split(x.shape(), dim);
  const float* xp = x.data();
  float* yp = y.data();
  float* ip = index.data();
  detail::for_each_axis_tile(a, [&](int64_t base, int64_t obase, int64_t w) {
    float best[detail::kAxisTile];
    int64_t arg[detail::kAxisTile];
    for (int64_t j = 0; j < w; ++j) best[j] = xp[base + j], arg[j] = 0;
    for (int64_t c = 1; c < a.len; ++c) {
      const float* row = xp + base + c * a.inner;
      for (int64_t j = 0; j < w; ++j) {
        const float v = row[j];
        if (v > best[j] || (std::isnan(v) && !std::isnan(best[j]))) best[j] = v, arg[j] = c;
      }
    }
    for (int64_t j = 0; j < w; ++j) {
      yp[obase + j] = best[j];
      ip[obase + j] = static_cast<float>(arg[j]);
    }
  });
}

// gx = 0 except gx[o, index[o, i], i] = gy[o, i].
inline void max_dim_backward(const Tensor& gy /* [x with dim reduced] */,
                             const Tensor& index /* [x with dim reduced] */, int dim,
                             const Tensor& gx /* [*] */) {
  const detail::AxisSplit a = detail::axis_split(gx.shape(), dim);
  const float* gp = gy.data();
  const float* ip = index.data();
  float* op = gx.data();
  detail::for_each_axis_tile(a, [&](int64_t base, int64_t obase, int64_t w) {
    for (int64_t c = 0; c < a.len; ++c) {
      float* row = op + base + c * a.inner;
      for (int64_t j = 0; j < w; ++j) row[j] = 0.f;
    }
    for (int64_t j = 0; j < w; ++j) {
      const int64_t c = static_cast<int64_t>(ip[obase + j]);
      op[base + c * a.inner + j] = gp[obase + j];
    }
  });
}

}  // namespace cpu

GCC_CUDA_SLOT(sum_dim_forward, const Tensor&, int, float, const Tensor&)
GCC_CUDA_SLOT(sum_dim_backward, const Tensor&, int, float, const Tensor&)
GCC_CUDA_SLOT(max_dim_forward, const Tensor&, int, const Tensor&, const Tensor&)
GCC_CUDA_SLOT(max_dim_backward, const Tensor&, const Tensor&, int, const Tensor&)

namespace detail {
// scale * sum of x along `dim` (already resolved); `kx` is x contiguous, possibly viewed with a
// different shape (sum_all flattens it). The gradient goes to x in x's shape.
inline Tensor scaled_sum(const char* op, const Tensor& x, const Tensor& kx, int dim, bool keepdim,
                         float scale) {
  Tensor y = Tensor::empty(reduced_shape(kx.shape(), dim, keepdim), x.device());
  GCC_DISPATCH(sum_dim_forward, x.device(), kx, dim, scale, y);
  if (any_requires_grad(x)) {
    const Shape ks = kx.shape();
    Tape::record(y, op, [x, ks, dim, scale](const Tensor& gy) {
      Tensor gx = Tensor::empty(x.shape(), x.device());
      GCC_DISPATCH(sum_dim_backward, x.device(), gy.contiguous(), dim, scale, gx.view(ks));
      accumulate_grad_fresh(x, gx);
    });
  }
  return y;
}
}  // namespace detail

// Sum along dim (negative dims count from the end); keepdim keeps it as size 1. Differentiable.
inline Tensor sum(const Tensor& x, int dim, bool keepdim = false) {
  dim = detail::axis_resolve("sum", x, dim);
  return detail::scaled_sum("sum", x, x.contiguous(), dim, keepdim, 1.f);
}

// Mean along dim; an empty dimension gives NaN (0/0), as in PyTorch. Differentiable.
inline Tensor mean(const Tensor& x, int dim, bool keepdim = false) {
  dim = detail::axis_resolve("mean", x, dim);
  const int64_t n = x.size(dim);
  const float scale = n > 0 ? 1.f / static_cast<float>(n) : std::numeric_limits<float>::quiet_NaN();
  return detail::scaled_sum("mean", x, x.contiguous(), dim, keepdim, scale);
}

// Maximum values along dim. The gradient goes to the first maximal element of each slice (PyTorch's
// max(dim) index). Throws on an empty dimension. Differentiable.
inline Tensor max(const Tensor& x, int dim, bool keepdim = false) {
  dim = detail::axis_resolve("max", x, dim);
  GCC_CHECK(x.size(dim) > 0, "max: dimension ", dim, " of shape ", x.shape().str(),
            " is empty; the maximum of no elements is undefined");
  const Tensor xc = x.contiguous();
  const Shape ys = detail::reduced_shape(x.shape(), dim, keepdim);
  Tensor y = Tensor::empty(ys, x.device());
  Tensor index = Tensor::empty(ys, x.device());
  GCC_DISPATCH(max_dim_forward, x.device(), xc, dim, y, index);
  if (any_requires_grad(x)) {
    Tape::record(y, "max", [x, index, dim](const Tensor& gy) {
      Tensor gx = Tensor::empty(x.shape(), x.device());
      GCC_DISPATCH(max_dim_backward, x.device(), gy.contiguous(), index, dim, gx);
      accumulate_grad_fresh(x, gx);
    });
  }
  return y;
}

// Sum of all elements as a 0-d tensor (0 for an empty tensor). Differentiable.
inline Tensor sum_all(const Tensor& x) {
  GCC_CHECK(x.defined(), "sum_all: input is undefined");
  return detail::scaled_sum("sum_all", x, x.contiguous().view(Shape{x.numel()}), 0, false, 1.f);
}

// Mean of all elements as a 0-d tensor (NaN for an empty tensor, as in PyTorch). Differentiable.
inline Tensor mean_all(const Tensor& x) {
  GCC_CHECK(x.defined(), "mean_all: input is undefined");
  const int64_t n = x.numel();
  const float scale = n > 0 ? 1.f / static_cast<float>(n) : std::numeric_limits<float>::quiet_NaN();
  return detail::scaled_sum("mean_all", x, x.contiguous().view(Shape{n}), 0, false, scale);
}

}  // namespace gcc
