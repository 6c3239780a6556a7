// The CUDA versions of gcc/ops/elementwise.hpp's cpu::binary_forward, reduce_to_shape, unary_forward,
// unary_backward (same signatures, registered by <gcc/cuda.cuh>), the gradient accumulation y += x of
// the autograd tape (gcc::detail::cuda_add_inplace_hook()) and the strided copy / fill that
// core/tensor.hpp needs for device tensors: argument checks, the tensors' sizes and strides as raw
// arrays, then the raw-pointer launchers of gcc/kernels/elementwise.cuh on the device's context stream.
#pragma once
#include <cstdint>

#include "../ops/elementwise.hpp"
#include "context.cuh"
#include "gcc/kernels/elementwise.cuh"  // kernels/
#include "tensor_checks.cuh"

namespace gcc {
namespace cuda {
namespace impl {

// gcc::BinaryOp / UnaryOp and the kernels' BinaryKind / UnaryKind: the same members, the same values.
#define GCC_EW_SAME_VALUE(A, B) static_assert(static_cast<int>(A) == static_cast<int>(B), #A " != " #B)
GCC_EW_SAME_VALUE(BinaryOp::Add, kernels::BinaryKind::Add);
GCC_EW_SAME_VALUE(BinaryOp::Sub, kernels::BinaryKind::Sub);
GCC_EW_SAME_VALUE(BinaryOp::Mul, kernels::BinaryKind::Mul);
GCC_EW_SAME_VALUE(BinaryOp::Div, kernels::BinaryKind::Div);
GCC_EW_SAME_VALUE(UnaryOp::Exp, kernels::UnaryKind::Exp);
GCC_EW_SAME_VALUE(UnaryOp::Log, kernels::UnaryKind::Log);
GCC_EW_SAME_VALUE(UnaryOp::AddScalar, kernels::UnaryKind::AddScalar);
GCC_EW_SAME_VALUE(UnaryOp::MulScalar, kernels::UnaryKind::MulScalar);
GCC_EW_SAME_VALUE(UnaryOp::PowScalar, kernels::UnaryKind::PowScalar);
#undef GCC_EW_SAME_VALUE
inline kernels::BinaryKind binary_kind(BinaryOp op) { return static_cast<kernels::BinaryKind>(op); }
inline kernels::UnaryKind unary_kind(UnaryOp op) { return static_cast<kernels::UnaryKind>(op); }

// A tensor's sizes and strides as the launchers take them (dims <= kMaxDims).
struct Layout {
  int dims = 0;
  int64_t size[kMaxDims] = {0, 0, 0, 0};
  int64_t stride[kMaxDims] = {0, 0, 0, 0};
};
inline Layout layout_of(const Tensor& t) {
  Layout s;
  s.dims = t.dims();
  for (int d = 0; d < s.dims; ++d) {
    s.size[d] = t.size(d);
    s.stride[d] = t.stride(d);
  }
  return s;
}

inline void check_contiguous(const char* op, const Tensor& t, const char* what) {
  GCC_CHECK(t.is_contiguous(), op, ": ", what, " of shape ", t.shape().str(), " must be contiguous");
}

}  // namespace impl

// y = a (op) b. a and b may be broadcast views (stride 0) of y's shape; y is contiguous.
inline void binary_forward(BinaryOp op, const Tensor& a /* [y] */, const Tensor& b /* [y] */,
                           const Tensor& y /* [y] */) {
  const int dev = impl::cuda_device_of("binary_forward", y);
  GCC_CHECK(a.shape() == y.shape() && b.shape() == y.shape(), "binary_forward: operands ",
            a.shape().str(), " and ", b.shape().str(), " must be views of the output shape ",
            y.shape().str());
  check_same_device("binary_forward", a, y);
  check_same_device("binary_forward", b, y);
  impl::check_contiguous("binary_forward", y, "output");
  if (y.numel() == 0) return;
  const impl::Layout la = impl::layout_of(a), lb = impl::layout_of(b);
  DeviceGuard guard(dev);
  GCC_KERNEL_CHECK(kernels::binary_forward(context(dev).launch(), impl::binary_kind(op), la.dims, la.size, a.data(),
                                           la.stride, b.data(), lb.stride, y.data()));
}

// r += g summed over the dims that were broadcast to reach g's shape; `r_expanded` is a zero-filled
// contiguous r viewed with broadcast strides (stride 0 on the reduced dims). Deterministic: the same
// inputs give the same bits on every run.
inline void reduce_to_shape(const Tensor& g /* [out] */, const Tensor& r_expanded /* [out] */) {
  const int dev = impl::cuda_device_of("reduce_to_shape", r_expanded);
  check_same_device("reduce_to_shape", g, r_expanded);
  check_same_shape("reduce_to_shape", g, r_expanded);
  if (g.numel() == 0) return;
  const impl::Layout lg = impl::layout_of(g), lr = impl::layout_of(r_expanded);
  DeviceGuard guard(dev);
  GCC_KERNEL_CHECK(kernels::reduce_to_shape(context(dev).launch(), lg.dims, lg.size, g.data(), lg.stride,
                                            r_expanded.data(), lr.stride));
}

inline void unary_forward(UnaryOp op, float s, const Tensor& x /* [*] */, const Tensor& y /* [*] */) {
  const int dev = impl::cuda_device_of("unary_forward", y);
  check_same_device("unary_forward", x, y);
  GCC_CHECK(x.numel() == y.numel(), "unary_forward: input ", x.shape().str(), " and output ",
            y.shape().str(), " differ in size");
  impl::check_contiguous("unary_forward", x, "input");
  impl::check_contiguous("unary_forward", y, "output");
  const int64_t n = y.numel();
  if (n == 0) return;
  DeviceGuard guard(dev);
  GCC_KERNEL_CHECK(kernels::unary_forward(context(dev).launch(), impl::unary_kind(op), s, x.data(), y.data(), n));
}

// gx = gy * dy/dx, using whichever of x and y the derivative needs.
inline void unary_backward(UnaryOp op, float s, const Tensor& x /* [*] */, const Tensor& y /* [*] */,
                           const Tensor& gy /* [*] */, const Tensor& gx /* [*] */) {
  const int dev = impl::cuda_device_of("unary_backward", gx);
  for (const Tensor* t : {&x, &y, &gy}) {
    check_same_device("unary_backward", *t, gx);
    GCC_CHECK(t->numel() == gx.numel(), "unary_backward: tensor of shape ", t->shape().str(),
              " for a gradient of shape ", gx.shape().str());
    impl::check_contiguous("unary_backward", *t, "input");
  }
  impl::check_contiguous("unary_backward", gx, "gradient");
  const int64_t n = gx.numel();
  if (n == 0) return;
  DeviceGuard guard(dev);
  GCC_KERNEL_CHECK(kernels::unary_backward(context(dev).launch(), impl::unary_kind(op), s, x.data(), y.data(),
                                           gy.data(), gx.data(), n));
}

// y += x elementwise (gradient accumulation, gcc::detail::cuda_add_inplace_hook()). y is
// contiguous; x has y's number of elements and any strides, read in its own row-major order.
inline void add_inplace(const Tensor& y /* [*] */, const Tensor& x /* [*] */) {
  const int dev = impl::cuda_device_of("add_inplace", y);
  check_same_device("add_inplace", x, y);
  GCC_CHECK(x.numel() == y.numel(), "add_inplace: tensor of shape ", x.shape().str(),
            " added to one of shape ", y.shape().str());
  impl::check_contiguous("add_inplace", y, "destination");
  if (y.numel() == 0) return;
  const impl::Layout lx = impl::layout_of(x);
  DeviceGuard guard(dev);
  GCC_KERNEL_CHECK(kernels::add_inplace(context(dev).launch(), lx.dims, lx.size, y.data(), x.data(), lx.stride));
}

// dst = src, element by element in row-major order: src may be any strided view on dst's device
// (a transpose, a narrowed or expanded view), dst is contiguous with as many elements. This is the
// gather that Tensor::contiguous()/to() need for strided device tensors.
inline void copy_strided(const Tensor& dst /* [*] */, const Tensor& src /* [*], any strides */) {
  const int dev = impl::cuda_device_of("copy_strided", dst);
  check_same_device("copy_strided", src, dst);
  GCC_CHECK(src.numel() == dst.numel(), "copy_strided: source of shape ", src.shape().str(),
            " copied into a tensor of shape ", dst.shape().str());
  impl::check_contiguous("copy_strided", dst, "destination");
  if (dst.numel() == 0) return;
  const impl::Layout ls = impl::layout_of(src);
  DeviceGuard guard(dev);
  GCC_KERNEL_CHECK(kernels::copy_strided(context(dev).launch(), ls.dims, ls.size, dst.data(), src.data(), ls.stride));
}

// Every element of t (any strides) set to v, on the device: the fill that
// Tensor::fill/zeros/ones need instead of a host buffer and a copy.
inline void fill(const Tensor& t /* [*] */, float v) {
  const int dev = impl::cuda_device_of("fill", t);
  if (t.numel() == 0) return;
  const impl::Layout lt = impl::layout_of(t);
  DeviceGuard guard(dev);
  GCC_KERNEL_CHECK(kernels::fill(context(dev).launch(), lt.dims, lt.size, t.data(), lt.stride, v));
}

}  // namespace cuda
}  // namespace gcc
