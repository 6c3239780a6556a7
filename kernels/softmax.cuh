// CUDA versions of the row-normalising kernels: softmax / log_softmax (gcc/ops/softmax.hpp), L2
// normalisation (gcc/ops/normalize.hpp) and cross-entropy (gcc/ops/cross_entropy.hpp), same signatures.
#pragma once
#include <cmath>
#include <cstdint>

#include "common.cuh"
#include "gcc/ops/cross_entropy.hpp"
#include "gcc/ops/normalize.hpp"
#include "gcc/ops/softmax.hpp"
#include "reduce.cuh"

namespace gcc {
namespace cuda {
namespace impl {

// The CPU's formulas (ops/softmax.hpp): the maximum skips NaNs, the sum of exp runs in double, the
// softmax multiplies by the float of 1/sum, log_softmax subtracts m + log(sum).
struct SoftmaxBody {
  const float* x;  // [outer, len, inner]
  float* y;        // [outer, len, inner]
  bool log_output;
  template <typename G>
  __device__ void operator()(const G& g, const Slice& s) const {
    const int64_t n = s.count();
    float m = -INFINITY;
    for (int64_t c = g.first; c < n; c += g.step) m = MaxOp{}(m, x[s.base + c * s.stride]);
    m = g.max(m);
    double sum = 0.0;
    for (int64_t c = g.first; c < n; c += g.step) {
      const int64_t e = s.base + c * s.stride;
      const float v = ::expf(x[e] - m);
      if (!log_output) y[e] = v;
      sum += v;
    }
    sum = g.sum(sum);
    if (log_output) {
      const float shift = m + static_cast<float>(::log(sum));
      for (int64_t c = g.first; c < n; c += g.step) {
        const int64_t e = s.base + c * s.stride;
        y[e] = x[e] - shift;
      }
    } else {
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t c = g.first; c < n; c += g.step) {
        const int64_t e = s.base + c * s.stride;
        y[e] = y[e] * inv;
      }
    }
  }
};

// softmax: gx = y (gy - sum(gy y)); log_softmax: gx = gy - exp(y) sum(gy). As on the CPU, the dot
// multiplies in double along the last dimension and in float along the others.
struct SoftmaxBackwardBody {
  const float* y;   // [outer, len, inner]
  const float* gy;  // [outer, len, inner]
  float* gx;        // [outer, len, inner]
  bool log_output;
  template <typename G>
  __device__ void operator()(const G& g, const Slice& s) const {
    const int64_t n = s.count();
    double acc = 0.0;
    for (int64_t c = g.first; c < n; c += g.step) {
      const int64_t e = s.base + c * s.stride;
      if (log_output) acc += gy[e];
      else if (s.stride == 1) acc += static_cast<double>(gy[e]) * y[e];
      else acc += __fmul_rn(gy[e], y[e]);
    }
    const float t = static_cast<float>(g.sum(acc));
    for (int64_t c = g.first; c < n; c += g.step) {
      const int64_t e = s.base + c * s.stride;
      const float yv = y[e], gv = gy[e];
      gx[e] = log_output ? gv - __fmul_rn(::expf(yv), t) : yv * (gv - t);
    }
  }
};

// norm = ||x|| (double sum of squares), y = x / max(norm, eps).
struct L2NormalizeBody {
  const float* x;  // [outer, len, inner]
  float eps;
  float* y;     // [outer, len, inner]
  float* norm;  // [outer, inner]
  template <typename G>
  __device__ void operator()(const G& g, const Slice& s) const {
    const int64_t n = s.count();
    double ss = 0.0;
    for (int64_t c = g.first; c < n; c += g.step) {
      const double v = x[s.base + c * s.stride];
      ss += v * v;
    }
    const float nrm = static_cast<float>(::sqrt(g.sum(ss)));
    if (s.valid && g.leader()) norm[s.out] = nrm;
    const float d = nrm > eps ? nrm : eps;
    for (int64_t c = g.first; c < n; c += g.step) {
      const int64_t e = s.base + c * s.stride;
      y[e] = x[e] / d;
    }
  }
};

// norm >= eps: gx = (gy - y sum(gy y)) / norm; otherwise (clamped) gx = gy / eps.
struct L2NormalizeBackwardBody {
  const float* y;     // [outer, len, inner]
  const float* norm;  // [outer, inner]
  const float* gy;    // [outer, len, inner]
  float eps;
  float* gx;  // [outer, len, inner]
  template <typename G>
  __device__ void operator()(const G& g, const Slice& s) const {
    const int64_t n = s.count();
    double acc = 0.0;
    for (int64_t c = g.first; c < n; c += g.step) {
      const int64_t e = s.base + c * s.stride;
      acc += static_cast<double>(gy[e]) * y[e];
    }
    acc = g.sum(acc);
    const float nrm = s.valid ? norm[s.out] : 1.f;
    const bool clamped = !(nrm >= eps);
    const float dot = clamped ? 0.f : static_cast<float>(acc);
    const float d = clamped ? eps : nrm;
    for (int64_t c = g.first; c < n; c += g.step) {
      const int64_t e = s.base + c * s.stride;
      gx[e] = (gy[e] - __fmul_rn(y[e], dot)) / d;
    }
  }
};

// One row of logits: probs = softmax, parts[row] = sw * nll (0 when sw == 0; the target is then
// not read), nll = -((x[t] - m) - log(sum)).
struct CrossEntropyBody {
  const float* x;       // [N, C]
  const float* target;  // [N]
  const float* sw;      // [N]
  float* probs;         // [N, C]
  double* parts;        // [N]
  template <typename G>
  __device__ void operator()(const G& g, const Slice& s) const {
    const int64_t n = s.count();
    float m = -INFINITY;
    for (int64_t c = g.first; c < n; c += g.step) m = MaxOp{}(m, x[s.base + c]);
    m = g.max(m);
    double sum = 0.0;
    for (int64_t c = g.first; c < n; c += g.step) {
      const float v = ::expf(x[s.base + c] - m);
      probs[s.base + c] = v;
      sum += v;
    }
    sum = g.sum(sum);
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t c = g.first; c < n; c += g.step) probs[s.base + c] = probs[s.base + c] * inv;
    if (s.valid && g.leader()) {
      const float w = sw[s.out];
      double part = 0.0;
      if (w != 0.f) {
        const int64_t t = static_cast<int64_t>(target[s.out]);
        const float nll = -((x[s.base + t] - m) - static_cast<float>(::log(sum)));
        part = static_cast<double>(w) * nll;
      }
      parts[s.out] = part;
    }
  }
};

template <typename I>
__global__ void cross_entropy_backward_kernel(const float* probs /* [N, C] */, const float* target /* [N] */,
                                              const float* sw /* [N] */, float total_weight,
                                              const float* gloss /* [1] */, float* glogits /* [N, C] */,
                                              I c, I n) {
  const float g = gloss[0];
  GCC_CUDA_GRID_STRIDE_LOOP(I, e, n) {
    const I i = e / c, j = e % c;
    const float w = sw[i];
    if (w == 0.f || total_weight == 0.f) {
      glogits[e] = 0.f;
      continue;
    }
    const float scale = g * w / total_weight;
    const float v = __fmul_rn(scale, probs[e]);
    glogits[e] = static_cast<I>(target[i]) == j ? v - scale : v;
  }
}

}  // namespace impl

inline void softmax_forward(const Tensor& x /* [*] */, int dim, bool log_output, const Tensor& y /* [*] */) {
  const int dev = impl::cuda_device_of("softmax_forward", y);
  impl::check_on_device_contiguous("softmax_forward", x, "input", dev);
  impl::check_on_device_contiguous("softmax_forward", y, "output", dev);
  impl::check_axis("softmax_forward", x, dim);
  check_same_shape("softmax_forward", x, y);
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  impl::launch_axis(ctx, impl::axis_geom(x.shape(), dim), impl::SoftmaxBody{x.data(), y.data(), log_output});
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
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  impl::launch_axis(ctx, impl::axis_geom(y.shape(), dim),
                    impl::SoftmaxBackwardBody{y.data(), gy.data(), gx.data(), log_output});
}

inline void l2_normalize_forward(const Tensor& x /* [*] */, int dim, float eps, const Tensor& y /* [*] */,
                                 const Tensor& norm /* [x with size(dim) = 1] */) {
  const int dev = impl::cuda_device_of("l2_normalize_forward", y);
  impl::check_on_device_contiguous("l2_normalize_forward", x, "input", dev);
  impl::check_on_device_contiguous("l2_normalize_forward", y, "output", dev);
  impl::check_on_device_contiguous("l2_normalize_forward", norm, "norm", dev);
  impl::check_axis("l2_normalize_forward", x, dim);
  check_same_shape("l2_normalize_forward", x, y);
  const impl::AxisGeom a = impl::axis_geom(x.shape(), dim);
  GCC_CHECK(norm.numel() == a.outer * a.inner, "l2_normalize_forward: norm ", norm.shape().str(),
            " for input ", x.shape().str(), " along dim ", dim);
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  impl::launch_axis(ctx, a, impl::L2NormalizeBody{x.data(), eps, y.data(), norm.data()});
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
  const impl::AxisGeom a = impl::axis_geom(y.shape(), dim);
  GCC_CHECK(norm.numel() == a.outer * a.inner, "l2_normalize_backward: norm ", norm.shape().str(),
            " for input ", y.shape().str(), " along dim ", dim);
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  impl::launch_axis(ctx, a, impl::L2NormalizeBackwardBody{y.data(), norm.data(), gy.data(), eps, gx.data()});
}

// probs = softmax rows; loss = sum_i sw_i nll_i / total_weight (0 when total_weight == 0). The per-row
// terms are summed in double by a second one-block kernel (deterministic, no atomics).
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
  double* parts = static_cast<double*>(ctx.workspace(static_cast<std::size_t>(n > 0 ? n : 1) * sizeof(double)));
  if (n > 0) {
    impl::launch_axis(ctx, impl::AxisGeom{n, c, 1},
                      impl::CrossEntropyBody{logits.data(), target.data(), sample_weight.data(), probs.data(), parts});
  }
  impl::launch_mean_of_parts(ctx, parts, n, static_cast<double>(total_weight), loss.data());
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
  const int64_t n = probs.size(0), c = probs.size(1), total = n * c;
  GCC_CHECK(target.numel() == n && sample_weight.numel() == n && gloss.numel() == 1,
            "cross_entropy_backward: target ", target.shape().str(), ", sample weights ",
            sample_weight.shape().str(), ", loss gradient ", gloss.shape().str(), " for probs ", probs.shape().str());
  if (total == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  if (impl::fits_i32(total)) {
    impl::cross_entropy_backward_kernel<uint32_t><<<ctx.grid_for(total), kThreadsPerBlock, 0, ctx.stream()>>>(
        probs.data(), target.data(), sample_weight.data(), total_weight, gloss.data(), glogits.data(),
        static_cast<uint32_t>(c), static_cast<uint32_t>(total));
  } else {
    impl::cross_entropy_backward_kernel<int64_t><<<ctx.grid_for(total), kThreadsPerBlock, 0, ctx.stream()>>>(
        probs.data(), target.data(), sample_weight.data(), total_weight, gloss.data(), glogits.data(), c, total);
  }
  GCC_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda
}  // namespace gcc
