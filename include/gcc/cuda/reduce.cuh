// The CUDA versions of gcc/ops/reduce.hpp's cpu::sum_dim_forward / backward and max_dim_forward /
// backward (same signatures, registered by <gcc/cuda.cuh>): argument checks, the [outer, len, inner]
// view around dim (kernels::AxisGeom, from detail::axis_split), then the raw-pointer launchers of
// gcc/kernels/reduce.cuh on the device's context stream. softmax.cuh uses axis_geom / check_axis too.
#pragma once
#include <cstdint>

#include "../ops/reduce.hpp"
#include "context.cuh"
#include "gcc/kernels/reduce.cuh"  // kernels/
#include "tensor_checks.cuh"

namespace gcc {
namespace cuda {
namespace impl {

inline kernels::AxisGeom axis_geom(const Shape& s, int dim) {
  const detail::AxisSplit sp = detail::axis_split(s, dim);
  return kernels::AxisGeom{sp.outer, sp.len, sp.inner};
}

inline void check_axis(const char* op, const Tensor& t, int dim) {
  GCC_CHECK(t.dims() >= 1 && dim >= 0 && dim < t.dims(), op, ": dim ", dim, " out of range for shape ",
            t.shape().str());
}

}  // namespace impl

// y[o, i] = scale * sum_c x[o, c, i] (double accumulation, like the CPU; the order of the additions
// differs, so the result agrees to float rounding, and bit for bit when the sums are exact).
inline void sum_dim_forward(const Tensor& x /* [*] */, int dim, float scale, const Tensor& y /* [x with dim reduced] */) {
  const int dev = impl::cuda_device_of("sum_dim_forward", y);
  impl::check_on_device_contiguous("sum_dim_forward", x, "input", dev);
  impl::check_on_device_contiguous("sum_dim_forward", y, "output", dev);
  impl::check_axis("sum_dim_forward", x, dim);
  const kernels::AxisGeom a = impl::axis_geom(x.shape(), dim);
  GCC_CHECK(y.numel() == a.outer * a.inner, "sum_dim_forward: output ", y.shape().str(), " for input ",
            x.shape().str(), " reduced along dim ", dim);
  DeviceGuard guard(dev);
  GCC_KERNEL_CHECK(kernels::sum_dim_forward(context(dev).launch(), x.data(), a, scale, y.data()));
}

// gx[o, c, i] = gy[o, i] * scale (bit-exact with the CPU).
inline void sum_dim_backward(const Tensor& gy /* [x with dim reduced] */, int dim, float scale, const Tensor& gx /* [*] */) {
  const int dev = impl::cuda_device_of("sum_dim_backward", gx);
  impl::check_on_device_contiguous("sum_dim_backward", gy, "gradient", dev);
  impl::check_on_device_contiguous("sum_dim_backward", gx, "input gradient", dev);
  impl::check_axis("sum_dim_backward", gx, dim);
  const kernels::AxisGeom a = impl::axis_geom(gx.shape(), dim);
  GCC_CHECK(gy.numel() == a.outer * a.inner, "sum_dim_backward: gradient ", gy.shape().str(), " for input ",
            gx.shape().str(), " reduced along dim ", dim);
  if (gx.numel() == 0) return;
  DeviceGuard guard(dev);
  GCC_KERNEL_CHECK(kernels::sum_dim_backward(context(dev).launch(), gy.data(), a, scale, gx.data()));
}

// y = max along dim, index = the first position reaching it (as a float; a NaN wins). Bit-exact.
inline void max_dim_forward(const Tensor& x /* [*] */, int dim, const Tensor& y /* [x with dim reduced] */,
                            const Tensor& index /* [x with dim reduced] */) {
  const int dev = impl::cuda_device_of("max_dim_forward", y);
  impl::check_on_device_contiguous("max_dim_forward", x, "input", dev);
  impl::check_on_device_contiguous("max_dim_forward", y, "output", dev);
  impl::check_on_device_contiguous("max_dim_forward", index, "index", dev);
  impl::check_axis("max_dim_forward", x, dim);
  const kernels::AxisGeom a = impl::axis_geom(x.shape(), dim);
  GCC_CHECK(a.len >= 1 || a.outer * a.inner == 0, "max_dim_forward: dimension ", dim, " of shape ",
            x.shape().str(), " is empty");
  GCC_CHECK(y.numel() == a.outer * a.inner && index.numel() == y.numel(), "max_dim_forward: output ",
            y.shape().str(), " / index ", index.shape().str(), " for input ", x.shape().str(), " along dim ", dim);
  DeviceGuard guard(dev);
  GCC_KERNEL_CHECK(kernels::max_dim_forward(context(dev).launch(), x.data(), a, y.data(), index.data()));
}

// gx = 0 except gx[o, index[o, i], i] = gy[o, i]. Bit-exact.
inline void max_dim_backward(const Tensor& gy /* [x with dim reduced] */, const Tensor& index /* [x with dim reduced] */,
                             int dim, const Tensor& gx /* [*] */) {
  const int dev = impl::cuda_device_of("max_dim_backward", gx);
  impl::check_on_device_contiguous("max_dim_backward", gy, "gradient", dev);
  impl::check_on_device_contiguous("max_dim_backward", index, "index", dev);
  impl::check_on_device_contiguous("max_dim_backward", gx, "input gradient", dev);
  impl::check_axis("max_dim_backward", gx, dim);
  const kernels::AxisGeom a = impl::axis_geom(gx.shape(), dim);
  GCC_CHECK(gy.numel() == a.outer * a.inner && index.numel() == gy.numel(), "max_dim_backward: gradient ",
            gy.shape().str(), " / index ", index.shape().str(), " for input ", gx.shape().str(), " along dim ", dim);
  if (gx.numel() == 0) return;
  DeviceGuard guard(dev);
  GCC_KERNEL_CHECK(kernels::max_dim_backward(context(dev).launch(), gy.data(), index.data(), a, gx.data()));
}

}  // namespace cuda
}  // namespace gcc
