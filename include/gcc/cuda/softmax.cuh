// The CUDA versions of the row-normalising ops: cpu::softmax_forward / backward (gcc/ops/softmax.hpp),
// l2_normalize_forward / backward (gcc/ops/normalize.hpp) and cross_entropy_forward / backward
// (gcc/ops/cross_entropy.hpp), same signatures, registered by <gcc/cuda.cuh>: argument checks, the
// [outer, len, inner] view around dim (reduce.cuh's axis_geom), then the raw-pointer launchers of
// gcc/kernels/softmax.cuh on the device's context stream (cross-entropy's per-row parts in the
// context workspace).
#pragma once
#include <cstdint>

#include "../ops/cross_entropy.hpp"
#include "../ops/normalize.hpp"
#include "../ops/softmax.hpp"
#include "context.cuh"
#include "gcc/kernels/softmax.cuh"  // kernels/
#include "reduce.cuh"
#include "tensor_checks.cuh"

namespace gcc {
namespace cuda {

inline void softmax_forward(const Tensor& x /* [*] */, int dim, bool log_output, const Tensor& y /* [*] */) {
  const int dev = impl::cuda_device_of("softmax_forward", y);
  impl::check_on_device_contiguous("softmax_forward", x, "input", dev);
  impl::check_on_device_contiguous("softmax_forward", y, "output", dev);
  impl::check_axis("softmax_forward", x, dim);
  check_same_shape("softmax_forward", x, y);
  DeviceGuard guard(dev);
  GCC_KERNEL_CHECK(kernels::softmax_forward(context(dev).launch(), x.data(), impl::axis_geom(x.shape(), dim),
                                            log_output, y.data()));
}

inline void softmax_backward(const Tensor& y /* [*] */, const Tensor& gy /* [*] */, int dim, bool log_output,
                             const Tensor& gx /* [*] */) {
  const int dev = impl::cuda_device_of("softmax_backward", gx);
  impl::check_on_device_contiguous("softmax_backward", y, "output", dev);
  impl::check_on_device_contiguous("softmax_backward", gy, "output gradient", dev);
  impl::check_on_device_contiguous("softmax_backward", gx, "input gradient", dev);
  impl::check_axis("softmax_backward", y, dim);
  check_same_shape("softmax_backward", y, gy);
  check_same_shape("softmax_backward", y, gx);
  DeviceGuard guard(dev);
  GCC_KERNEL_CHECK(kernels::softmax_backward(context(dev).launch(), y.data(), gy.data(),
                                             impl::axis_geom(y.shape(), dim), log_output, gx.data()));
}

inline void l2_normalize_forward(const Tensor& x /* [*] */, int dim, float eps, const Tensor& y /* [*] */,
                                 const Tensor& norm /* [x with size(dim) = 1] */) {
  const int dev = impl::cuda_device_of("l2_normalize_forward", y);
  impl::check_on_device_contiguous("l2_normalize_forward", x, "input", dev);
  impl::check_on_device_contiguous("l2_normalize_forward", y, "output", dev);
  impl::check_on_device_contiguous("l2_normalize_forward", norm, "norm", dev);
  impl::check_axis("l2_normalize_forward", x, dim);
  check_same_shape("l2_normalize_forward", x, y);
  const kernels::AxisGeom a = impl::axis_geom(x.shape(), dim);
  GCC_CHECK(norm.numel() == a.outer * a.inner, "l2_normalize_forward: norm ", norm.shape().str(),
            " for input ", x.shape().str(), " along dim ", dim);
  DeviceGuard guard(dev);
  GCC_KERNEL_CHECK(kernels::l2_normalize_forward(context(dev).launch(), x.data(), a, eps, y.data(), norm.data()));
}

inline void l2_normalize_backward(const Tensor& y /* [*] */, const Tensor& norm /* [x with size(dim) = 1] */,
                                  const Tensor& gy /* [*] */, int dim, float eps, const Tensor& gx /* [*] */) {
  const int dev = impl::cuda_device_of("l2_normalize_backward", gx);
  impl::check_on_device_contiguous("l2_normalize_backward", y, "output", dev);
  impl::check_on_device_contiguous("l2_normalize_backward", norm, "norm", dev);
  impl::check_on_device_contiguous("l2_normalize_backward", gy, "output gradient", dev);
  impl::check_on_device_contiguous("l2_normalize_backward", gx, "input gradient", dev);
  impl::check_axis("l2_normalize_backward", y, dim);
  check_same_shape("l2_normalize_backward", y, gy);
  check_same_shape("l2_normalize_backward", y, gx);
  const kernels::AxisGeom a = impl::axis_geom(y.shape(), dim);
  GCC_CHECK(norm.numel() == a.outer * a.inner, "l2_normalize_backward: norm ", norm.shape().str(),
            " for input ", y.shape().str(), " along dim ", dim);
  DeviceGuard guard(dev);
  GCC_KERNEL_CHECK(kernels::l2_normalize_backward(context(dev).launch(), y.data(), norm.data(), gy.data(), a, eps,
                                                  gx.data()));
}

// probs = softmax rows; loss = sum_i sw_i nll_i / total_weight (0 when total_weight == 0). The per-row
// terms (in the context workspace) are summed in double by a second one-block kernel (deterministic,
// no atomics).
inline void cross_entropy_forward(const Tensor& logits /* [N, C] */, const Tensor& target /* [N] class ids */,
                                  const Tensor& sample_weight /* [N] w[t_i] * mask_i */, float total_weight,
                                  const Tensor& probs /* [N, C] */, const Tensor& loss /* [] */) {
  const int dev = impl::cuda_device_of("cross_entropy_forward", probs);
  impl::check_on_device_contiguous("cross_entropy_forward", logits, "logits", dev);
  impl::check_on_device_contiguous("cross_entropy_forward", target, "target", dev);
  impl::check_on_device_contiguous("cross_entropy_forward", sample_weight, "sample weights", dev);
  impl::check_on_device_contiguous("cross_entropy_forward", probs, "probs", dev);
  impl::check_on_device_contiguous("cross_entropy_forward", loss, "loss", dev);
  check_dims("cross_entropy_forward", logits, 2, "of logits [N, C]");
  check_same_shape("cross_entropy_forward", logits, probs);
  const int64_t n = logits.size(0), c = logits.size(1);
  GCC_CHECK(target.numel() == n && sample_weight.numel() == n && loss.numel() == 1,
            "cross_entropy_forward: target ", target.shape().str(), ", sample weights ",
            sample_weight.shape().str(), ", loss ", loss.shape().str(), " for logits ", logits.shape().str());
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  double* parts = static_cast<double*>(ctx.workspace(kernels::cross_entropy_parts_bytes(n)));
  GCC_KERNEL_CHECK(kernels::cross_entropy_forward(ctx.launch(), logits.data(), target.data(), sample_weight.data(), n,
                                                  c, total_weight, probs.data(), loss.data(), parts));
}

inline void cross_entropy_backward(const Tensor& probs /* [N, C] */, const Tensor& target /* [N] */,
                                   const Tensor& sample_weight /* [N] */, float total_weight,
                                   const Tensor& gloss /* [] */, const Tensor& glogits /* [N, C] */) {
  const int dev = impl::cuda_device_of("cross_entropy_backward", glogits);
  impl::check_on_device_contiguous("cross_entropy_backward", probs, "probs", dev);
  impl::check_on_device_contiguous("cross_entropy_backward", target, "target", dev);
  impl::check_on_device_contiguous("cross_entropy_backward", sample_weight, "sample weights", dev);
  impl::check_on_device_contiguous("cross_entropy_backward", gloss, "loss gradient", dev);
  impl::check_on_device_contiguous("cross_entropy_backward", glogits, "logits gradient", dev);
  check_dims("cross_entropy_backward", probs, 2, "of probs [N, C]");
  check_same_shape("cross_entropy_backward", probs, glogits);
  const int64_t n = probs.size(0), c = probs.size(1);
  GCC_CHECK(target.numel() == n && sample_weight.numel() == n && gloss.numel() == 1,
            "cross_entropy_backward: target ", target.shape().str(), ", sample weights ",
            sample_weight.shape().str(), ", loss gradient ", gloss.shape().str(), " for probs ", probs.shape().str());
  if (n * c == 0) return;
  DeviceGuard guard(dev);
  GCC_KERNEL_CHECK(kernels::cross_entropy_backward(context(dev).launch(), probs.data(), target.data(),
                                                   sample_weight.data(), n, c, total_weight, gloss.data(),
                                                   glogits.data()));
}

}  // namespace cuda
}  // namespace gcc
