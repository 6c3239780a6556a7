// The CUDA versions of gcc/ops/pool.hpp's cpu::max_pool2d_*, avg_pool2d_*, global_avg_pool2d_* (same
// signatures, registered by <gcc/cuda.cuh>): argument checks, the kernels' PoolGeom built from
// Pool2dParams, then the raw-pointer launchers of gcc/kernels/pool.cuh on the device's context stream
// (bit-exact with the CPU: same window, tie and summation-order rules; see the kernel header).
#pragma once
#include <cstdint>

#include "../ops/pool.hpp"
#include "context.cuh"
#include "gcc/kernels/pool.cuh"  // kernels/
#include "tensor_checks.cuh"

namespace gcc {
namespace cuda {
namespace impl {

inline kernels::PoolGeom pool_geom(const Tensor& x, const Tensor& y, const Pool2dParams& p) {
  return kernels::PoolGeom{static_cast<int>(x.size(2)), static_cast<int>(x.size(3)), static_cast<int>(y.size(2)),
                           static_cast<int>(y.size(3)), p.kernel_h, p.kernel_w, p.stride_h, p.stride_w, p.pad_h,
                           p.pad_w};
}

inline void pool_check(const char* op, const Tensor& t, const char* what, int dev, int dims) {
  check_on_device_contiguous(op, t, what, dev);
  GCC_CHECK(t.dims() == dims, op, ": ", what, " must be ", dims, "-D, got shape ", t.shape().str());
}

inline void pool_check_pair(const char* op, const Tensor& x, const Tensor& y, const Pool2dParams& p) {
  GCC_CHECK(x.size(0) == y.size(0) && x.size(1) == y.size(1) &&
                y.size(2) == (x.size(2) + 2 * p.pad_h - p.kernel_h) / p.stride_h + 1 &&
                y.size(3) == (x.size(3) + 2 * p.pad_w - p.kernel_w) / p.stride_w + 1,
            op, ": output ", y.shape().str(), " does not follow from input ", x.shape().str(), " with kernel (",
            p.kernel_h, ", ", p.kernel_w, ") stride (", p.stride_h, ", ", p.stride_w, ") padding (", p.pad_h, ", ",
            p.pad_w, ")");
  GCC_CHECK(x.size(2) * x.size(3) < (int64_t{1} << 31) && y.size(2) * y.size(3) < (int64_t{1} << 31), op,
            ": planes of ", x.shape().str(), " are too large");
}

}  // namespace impl

inline void max_pool2d_forward(const Tensor& x /* [N, C, H, W] */, const Tensor& y /* [N, C, Ho, Wo] */,
                               Pool2dParams p) {
  const char* op = "max_pool2d_forward";
  const int dev = impl::cuda_device_of(op, y);
  impl::pool_check(op, x, "input", dev, 4);
  impl::pool_check(op, y, "output", dev, 4);
  impl::pool_check_pair(op, x, y, p);
  if (y.numel() == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  GCC_KERNEL_CHECK(kernels::max_pool2d_forward(ctx.launch(), x.data(), y.data(), y.size(0) * y.size(1),
                                               impl::pool_geom(x, y, p)));
}

// gx = gy routed to each window's first maximum (recomputed from x; y is not needed).
inline void max_pool2d_backward(const Tensor& x /* [N, C, H, W] */, const Tensor& y /* [N, C, Ho, Wo] */,
                                const Tensor& gy /* [N, C, Ho, Wo] */, const Tensor& gx /* [N, C, H, W], overwritten */,
                                Pool2dParams p) {
  (void)y;
  const char* op = "max_pool2d_backward";
  const int dev = impl::cuda_device_of(op, gx);
  impl::pool_check(op, x, "input", dev, 4);
  impl::pool_check(op, gy, "output gradient", dev, 4);
  impl::pool_check(op, gx, "input gradient", dev, 4);
  impl::pool_check_pair(op, x, gy, p);
  check_same_shape(op, x, gx);
  if (gx.numel() == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  const kernels::PoolGeom g = impl::pool_geom(x, gy, p);
  const int64_t planes = gx.size(0) * gx.size(1);
  int* argmax = static_cast<int*>(ctx.workspace(kernels::max_pool2d_backward_workspace_bytes(planes, g)));
  GCC_KERNEL_CHECK(kernels::max_pool2d_backward(ctx.launch(), x.data(), gy.data(), gx.data(), planes, g, argmax));
}

// y = window sum / (kernel_h * kernel_w) (count_include_pad, floor mode).
inline void avg_pool2d_forward(const Tensor& x /* [N, C, H, W] */, const Tensor& y /* [N, C, Ho, Wo] */,
                               Pool2dParams p) {
  const char* op = "avg_pool2d_forward";
  const int dev = impl::cuda_device_of(op, y);
  impl::pool_check(op, x, "input", dev, 4);
  impl::pool_check(op, y, "output", dev, 4);
  impl::pool_check_pair(op, x, y, p);
  if (y.numel() == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  GCC_KERNEL_CHECK(kernels::avg_pool2d_forward(ctx.launch(), x.data(), y.data(), y.size(0) * y.size(1),
                                               impl::pool_geom(x, y, p)));
}

inline void avg_pool2d_backward(const Tensor& gy /* [N, C, Ho, Wo] */, const Tensor& gx /* [N, C, H, W], overwritten */,
                                Pool2dParams p) {
  const char* op = "avg_pool2d_backward";
  const int dev = impl::cuda_device_of(op, gx);
  impl::pool_check(op, gy, "output gradient", dev, 4);
  impl::pool_check(op, gx, "input gradient", dev, 4);
  impl::pool_check_pair(op, gx, gy, p);
  if (gx.numel() == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  GCC_KERNEL_CHECK(kernels::avg_pool2d_backward(ctx.launch(), gy.data(), gx.data(), gx.size(0) * gx.size(1),
                                                impl::pool_geom(gx, gy, p)));
}

// y[n, c] = mean of the plane x[n, c].
inline void global_avg_pool2d_forward(const Tensor& x /* [N, C, H, W] */, const Tensor& y /* [N, C] */) {
  const char* op = "global_avg_pool2d_forward";
  const int dev = impl::cuda_device_of(op, y);
  impl::pool_check(op, x, "input", dev, 4);
  impl::pool_check(op, y, "output", dev, 2);
  GCC_CHECK(y.size(0) == x.size(0) && y.size(1) == x.size(1), op, ": output ", y.shape().str(), " for input ",
            x.shape().str());
  const int64_t planes = y.numel(), hw = x.size(2) * x.size(3);
  if (planes == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  GCC_KERNEL_CHECK(kernels::global_avg_pool2d_forward(ctx.launch(), x.data(), y.data(), planes, hw));
}

inline void global_avg_pool2d_backward(const Tensor& gy /* [N, C] */,
                                       const Tensor& gx /* [N, C, H, W], overwritten */) {
  const char* op = "global_avg_pool2d_backward";
  const int dev = impl::cuda_device_of(op, gx);
  impl::pool_check(op, gy, "output gradient", dev, 2);
  impl::pool_check(op, gx, "input gradient", dev, 4);
  GCC_CHECK(gy.size(0) == gx.size(0) && gy.size(1) == gx.size(1), op, ": output gradient ", gy.shape().str(),
            " for input ", gx.shape().str());
  const int64_t n = gx.numel(), hw = gx.size(2) * gx.size(3);
  if (n == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  GCC_KERNEL_CHECK(kernels::global_avg_pool2d_backward(ctx.launch(), gy.data(), gx.data(), gy.numel(), hw));
}

}  // namespace cuda
}  // namespace gcc
