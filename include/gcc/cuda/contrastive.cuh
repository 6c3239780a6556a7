// The CUDA versions of gcc/loss/agc.hpp's cpu::xlogx_forward / xlogx_backward and gcc/loss/rgc.hpp's
// cpu::rgc_forward / rgc_backward (same signatures, registered by <gcc/cuda.cuh>): argument checks, then
// the raw-pointer launchers of gcc/kernels/contrastive.cuh on the device's context stream (cuBLAS handle
// bound to it, the RGC row losses in the context workspace).
#pragma once
#include <cstdint>

#include "../loss/agc.hpp"
#include "../loss/rgc.hpp"
#include "context.cuh"
#include "gcc/kernels/contrastive.cuh"  // kernels/
#include "tensor_checks.cuh"

namespace gcc {
namespace cuda {

// y = x log x, 0 for x <= 0.
inline void xlogx_forward(const Tensor& x /* [*] */, const Tensor& y /* [*] */) {
  const int dev = impl::cuda_device_of("xlogx_forward", y);
  impl::check_on_device_contiguous("xlogx_forward", x, "input", dev);
  impl::check_on_device_contiguous("xlogx_forward", y, "output", dev);
  GCC_CHECK(x.numel() == y.numel(), "xlogx_forward: input ", x.shape().str(), " and output ", y.shape().str(),
            " differ in size");
  const int64_t n = x.numel();
  if (n == 0) return;
  DeviceGuard guard(dev);
  GCC_KERNEL_CHECK(kernels::xlogx_forward(context(dev).launch(), x.data(), y.data(), n));
}

// gx = gy (log max(x, FLT_MIN) + 1).
inline void xlogx_backward(const Tensor& x /* [*] */, const Tensor& gy /* [*] */, const Tensor& gx /* [*] */) {
  const int dev = impl::cuda_device_of("xlogx_backward", gx);
  impl::check_on_device_contiguous("xlogx_backward", x, "input", dev);
  impl::check_on_device_contiguous("xlogx_backward", gy, "output gradient", dev);
  impl::check_on_device_contiguous("xlogx_backward", gx, "input gradient", dev);
  GCC_CHECK(x.numel() == gy.numel() && x.numel() == gx.numel(), "xlogx_backward: input ", x.shape().str(),
            ", gradient ", gy.shape().str(), " and input gradient ", gx.shape().str(), " differ in size");
  const int64_t n = x.numel();
  if (n == 0) return;
  DeviceGuard guard(dev);
  GCC_KERNEL_CHECK(kernels::xlogx_backward(context(dev).launch(), x.data(), gy.data(), gx.data(), n));
}

// The fused RGC loss (cpu::rgc_forward): saved = s = a C^T / tau by cuBLAS (FP32), then one block per
// row turns its row of s into the gradient weights in place and writes the row loss; a one-block
// kernel averages the b row losses in double (deterministic). loss is a 0-d (one-element) tensor.
inline void rgc_forward(const Tensor& contrast /* [B*b, D] */, const Tensor& diag_w /* [B, b] */, float tau,
                        bool denom_all, const Tensor& loss /* [1] */, const Tensor& saved /* [b, B*b] */) {
  const int dev = impl::cuda_device_of("rgc_forward", saved);
  impl::check_on_device_contiguous("rgc_forward", contrast, "contrast set", dev);
  impl::check_on_device_contiguous("rgc_forward", diag_w, "diagonal weights", dev);
  impl::check_on_device_contiguous("rgc_forward", loss, "loss", dev);
  impl::check_on_device_contiguous("rgc_forward", saved, "saved logits", dev);
  check_dims("rgc_forward", contrast, 2, "[B*b, D]");
  check_dims("rgc_forward", diag_w, 2, "[B, b]");
  const int64_t B = diag_w.size(0), b = diag_w.size(1), M = B * b, D = contrast.size(1);
  GCC_CHECK(contrast.size(0) == M && saved.dims() == 2 && saved.size(0) == b && saved.size(1) == M &&
                loss.numel() == 1,
            "rgc_forward: contrast ", contrast.shape().str(), ", diagonal weights ", diag_w.shape().str(),
            ", saved ", saved.shape().str(), ", loss ", loss.shape().str(), " do not fit [B*b, D], [B, b], [b, B*b], [1]");
  GCC_CHECK(b >= 1 && B >= 2, "rgc_forward: needs at least 2 blocks of at least 1 row, diagonal weights are ",
            diag_w.shape().str());
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  double* parts = static_cast<double*>(ctx.workspace(kernels::rgc_parts_bytes(b)));
  GCC_KERNEL_CHECK(kernels::rgc_forward(ctx.cublas(), ctx.launch(), contrast.data(), diag_w.data(), B, b, D, tau,
                                        denom_all, loss.data(), saved.data(), parts));
}

// gcontrast = dL/dC from the gradient weights: two cuBLAS sgemms, as cpu::rgc_backward
// (R^T a into every row, then + R C into the anchor rows), scale = grad_loss / (tau b).
inline void rgc_backward(const Tensor& contrast /* [B*b, D] */, const Tensor& saved /* [b, B*b] */, float tau,
                         float grad_loss, const Tensor& gcontrast /* [B*b, D] */) {
  const int dev = impl::cuda_device_of("rgc_backward", gcontrast);
  impl::check_on_device_contiguous("rgc_backward", contrast, "contrast set", dev);
  impl::check_on_device_contiguous("rgc_backward", saved, "saved gradient weights", dev);
  impl::check_on_device_contiguous("rgc_backward", gcontrast, "contrast gradient", dev);
  check_dims("rgc_backward", contrast, 2, "[B*b, D]");
  check_dims("rgc_backward", saved, 2, "[b, B*b]");
  check_same_shape("rgc_backward", contrast, gcontrast);
  const int64_t b = saved.size(0), M = saved.size(1), D = contrast.size(1);
  GCC_CHECK(contrast.size(0) == M && b >= 1 && M >= b, "rgc_backward: saved ", saved.shape().str(),
            " does not fit the contrast set ", contrast.shape().str());
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  GCC_KERNEL_CHECK(kernels::rgc_backward(ctx.cublas(), ctx.launch(), contrast.data(), saved.data(), b, M, D, tau,
                                         grad_loss, gcontrast.data()));
}

}  // namespace cuda
}  // namespace gcc
