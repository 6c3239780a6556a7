// Elementwise ops: add, sub, mul, div with NumPy broadcasting (row/column vectors, scalars), and
// the unary ops exp, log, scalar add/mul/pow. CPU reference + dispatch to the CUDA slot.
#pragma once
#include <cmath>

#include "dispatch.hpp"

namespace gcc {

enum class BinaryOp : int { Add = 0, Sub = 1, Mul = 2, Div = 3 };
enum class UnaryOp : int { Exp = 0, Log = 1, AddScalar = 2, MulScalar = 3, PowScalar = 4 };

inline const char* binary_op_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "add";
    case BinaryOp::Sub: return "sub";
    case BinaryOp::Mul: return "mul";
    default: return "div";
  }
}

// Shape that a and b broadcast to (NumPy rules); throws naming `op` and both shapes.
inline Shape broadcast_shape(const char* op, const Shape& a, const Shape& b) {
  const int nd = a.dims() > b.dims() ? a.dims() : b.dims();
  std::vector<int64_t> out(static_cast<std::size_t>(nd));
  for (int i = 0; i < nd; ++i) {
    const int ia = i - (nd - a.dims()), ib = i - (nd - b.dims());
    const int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    GCC_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", a.str(), " and ", b.str(),
              " do not broadcast (dimension ", i, ": ", da, " vs ", db, ")");
    out[static_cast<std::size_t>(i)] = da == 1 ? db : da;
  }
  return Shape(out);
}

namespace cpu {

inline float apply_binary(BinaryOp op, float a, float b) {
  switch (op) {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    default: return a / b;
  }
}

// y = a (op) b. a and b may be broadcast views (Tensor::expand) of y's shape; y is contiguous.
inline void binary_forward(BinaryOp op, const Tensor& a /* [y] */, const Tensor& b /* [y] */,
                           const Tensor& y /* [y] */) {
  float* yp = y.data();
  const float* ap = a.data();
  const float* bp = b.data();
  if (a.is_contiguous() && b.is_contiguous()) {
    const int64_t n = y.numel();
    parallel_for(n, [&](int64_t i) { yp[i] = apply_binary(op, ap[i], bp[i]); }, 1 << 14);
    return;
  }
  std::vector<int64_t> boff(static_cast<std::size_t>(y.numel()));
  detail::for_each_offset(b, [&](int64_t k, int64_t off) { boff[static_cast<std::size_t>(k)] = off; });
  detail::for_each_offset(a, [&](int64_t k, int64_t off) {
    yp[k] = apply_binary(op, ap[off], bp[boff[static_cast<std::size_t>(k)]]);
  });
}

// r += g summed over the dimensions that were broadcast to reach g's shape. `r_expanded` is a
// zero-filled contiguous tensor r viewed with broadcast strides (stride 0 on reduced dimensions).
inline void reduce_to_shape(const Tensor& g /* [out] */, const Tensor& r_expanded /* [out] */) {
  float* rp = r_expanded.data();
  const Tensor gc = g.contiguous();
  const float* gp = gc.data();
  if (r_expanded.is_contiguous()) {
    std::copy(gp, gp + g.numel(), rp);
    return;
  }
  detail::for_each_offset(r_expanded, [&](int64_t k, int64_t off) { rp[off] += gp[k]; });
}

inline float apply_unary(UnaryOp op, float s, float x) {
  switch (op) {
    case UnaryOp::Exp: return std::exp(x);
    case UnaryOp::Log: return std::log(x);
    case UnaryOp::AddScalar: return x + s;
    case UnaryOp::MulScalar: return x * s;
    default: return std::pow(x, s);
  }
}

inline void unary_forward(UnaryOp op, float s, const Tensor& x /* [*] */, const Tensor& y /* [*] */) {
  const float* xp = x.data();
  float* yp = y.data();
  parallel_for(x.numel(), [&](int64_t i) { yp[i] = apply_unary(op, s, xp[i]); }, 1 << 14);
}

// gx = gy * dy/dx, using whichever of x and y the derivative needs.
inline void unary_backward(UnaryOp op, float s, const Tensor& x /* [*] */, const Tensor& y /* [*] */,
                           const Tensor& gy /* [*] */, const Tensor& gx /* [*] */) {
  const float* xp = x.data();
  const float* yp = y.data();
  const float* gp = gy.data();
  float* op_ = gx.data();
  parallel_for(x.numel(), [&](int64_t i) {
    float d;
    switch (op) {
      case UnaryOp::Exp: d = yp[i]; break;
      case UnaryOp::Log: d = 1.f / xp[i]; break;
      case UnaryOp::AddScalar: d = 1.f; break;
      case UnaryOp::MulScalar: d = s; break;
      default: d = s * std::pow(xp[i], s - 1.f); break;
    }
    op_[i] = gp[i] * d;
  }, 1 << 14);
}

}  // namespace cpu

GCC_CUDA_SLOT(binary_forward, BinaryOp, const Tensor&, const Tensor&, const Tensor&)
GCC_CUDA_SLOT(reduce_to_shape, const Tensor&, const Tensor&)
GCC_CUDA_SLOT(unary_forward, UnaryOp, float, const Tensor&, const Tensor&)
GCC_CUDA_SLOT(unary_backward, UnaryOp, float, const Tensor&, const Tensor&, const Tensor&, const Tensor&)

namespace detail {
// Gradient g of a broadcast result, summed back to `shape` (a fresh tensor).
inline Tensor sum_to_shape(const Tensor& g, const Shape& shape) {
  Tensor r = Tensor::zeros(shape, g.device());
  Tensor rx = r.expand(g.shape());
  GCC_DISPATCH(reduce_to_shape, g.device(), g, rx);
  return r;
}
inline Tensor binary_raw(BinaryOp op, const Tensor& a, const Tensor& b) {
  const Shape s = broadcast_shape(binary_op_name(op), a.shape(), b.shape());
  Tensor y = Tensor::empty(s, a.device());
  GCC_DISPATCH(binary_forward, a.device(), op, a.expand(s), b.expand(s), y);
  return y;
}
}  // namespace detail

// y = a (op) b with broadcasting; differentiable in both arguments.
inline Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = binary_op_name(op);
  GCC_CHECK(a.defined() && b.defined(), name, ": an input is undefined");
  check_same_device(name, a, b);
  Tensor y = detail::binary_raw(op, a, b);
  if (any_requires_grad(a, b)) {
    Tape::record(y, name, [op, a, b](const Tensor& gy) {
      auto reduce = [&](const Tensor& g, const Tensor& to) {
        return g.shape() == to.shape() ? g : detail::sum_to_shape(g, to.shape());
      };
      const Tensor ad = a.detach(), bd = b.detach();
      switch (op) {
        case BinaryOp::Add:
          accumulate_grad(a, reduce(gy, a));
          accumulate_grad(b, reduce(gy, b));
          break;
        case BinaryOp::Sub:
          accumulate_grad(a, reduce(gy, a));
          if (b.requires_grad()) {
            Tensor neg = detail::binary_raw(BinaryOp::Mul, gy, Tensor::full(Shape{}, -1.f, gy.device()));
            accumulate_grad(b, reduce(neg, b));
          }
          break;
        case BinaryOp::Mul:
          if (a.requires_grad()) accumulate_grad(a, reduce(detail::binary_raw(BinaryOp::Mul, gy, bd), a));
          if (b.requires_grad()) accumulate_grad(b, reduce(detail::binary_raw(BinaryOp::Mul, gy, ad), b));
          break;
        case BinaryOp::Div: {
          if (a.requires_grad()) accumulate_grad(a, reduce(detail::binary_raw(BinaryOp::Div, gy, bd), a));
          if (b.requires_grad()) {  // d(a/b)/db = -a/b^2
            Tensor t = detail::binary_raw(BinaryOp::Div, detail::binary_raw(BinaryOp::Mul, gy, ad), bd);
            t = detail::binary_raw(BinaryOp::Div, t, bd);
            t = detail::binary_raw(BinaryOp::Mul, t, Tensor::full(Shape{}, -1.f, gy.device()));
            accumulate_grad(b, reduce(t, b));
          }
          break;
        }
      }
    });
  }
  return y;
}

inline Tensor add(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Add, a, b); }
inline Tensor sub(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Sub, a, b); }
inline Tensor mul(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Mul, a, b); }
inline Tensor div(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Div, a, b); }

// y = f(x) for the unary ops; `s` is the scalar of AddScalar/MulScalar/PowScalar.
inline Tensor unary(UnaryOp op, const Tensor& x, float s = 0.f) {
  static const char* names[] = {"exp", "log", "add_scalar", "mul_scalar", "pow_scalar"};
  const char* name = names[static_cast<int>(op)];
  GCC_CHECK(x.defined(), name, ": input is undefined");
  const Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.device());
  GCC_DISPATCH(unary_forward, x.device(), op, s, xc, y);
  if (any_requires_grad(x)) {
    const Tensor yd = y.detach();
    Tape::record(y, name, [op, s, x, xc, yd](const Tensor& gy) {
      Tensor gx = Tensor::empty(x.shape(), x.device());
      GCC_DISPATCH(unary_backward, x.device(), op, s, xc.detach(), yd, gy.contiguous(), gx);
      accumulate_grad_fresh(x, gx);
    });
  }
  return y;
}

inline Tensor exp(const Tensor& x) { return unary(UnaryOp::Exp, x); }
// Natural log, IEEE semantics (log 0 = -inf); the losses guard their own logs.
inline Tensor log(const Tensor& x) { return unary(UnaryOp::Log, x); }
inline Tensor add_scalar(const Tensor& x, float s) { return unary(UnaryOp::AddScalar, x, s); }
inline Tensor mul_scalar(const Tensor& x, float s) { return unary(UnaryOp::MulScalar, x, s); }
inline Tensor pow_scalar(const Tensor& x, float s) { return unary(UnaryOp::PowScalar, x, s); }

}  // namespace gcc
