// The row-normalising kernels on raw device pointers: softmax / log_softmax (the CUDA side of
// gcc/ops/softmax.hpp), L2 normalisation (gcc/ops/normalize.hpp) and cross-entropy
// (gcc/ops/cross_entropy.hpp), each a body run over the [outer, len, inner] slices by reduce.cuh's
// launch_axis (a warp or a block per contiguous row, 32x8 column tiles otherwise), with the CPU's
// formulas: maxima skip NaNs, sums run in double. Needs only the CUDA runtime. Driver: kernels/dev/softmax.cu.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "common.cuh"
#include "reduce.cuh"

namespace gcc {
namespace kernels {

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

// ---- launchers --------------------------------------------------------------------------------------
// y = softmax(x) along the axis, or log_softmax when log_output.
inline Status softmax_forward(const Launch& l, const float* x /* [outer, len, inner] */, const AxisGeom& a,
                              bool log_output, float* y /* [outer, len, inner] */) {
  return launch_axis(l, a, SoftmaxBody{x, y, log_output});
}

// gx from the forward output y and its gradient gy (see SoftmaxBackwardBody).
inline Status softmax_backward(const Launch& l, const float* y /* [outer, len, inner] */,
                               const float* gy /* [outer, len, inner] */, const AxisGeom& a, bool log_output,
                               float* gx /* [outer, len, inner] */) {
  return launch_axis(l, a, SoftmaxBackwardBody{y, gy, gx, log_output});
}

// norm = ||x|| along the axis, y = x / max(norm, eps).
inline Status l2_normalize_forward(const Launch& l, const float* x /* [outer, len, inner] */, const AxisGeom& a,
                                   float eps, float* y /* [outer, len, inner] */, float* norm /* [outer, inner] */) {
  return launch_axis(l, a, L2NormalizeBody{x, eps, y, norm});
}

// gx from y, the forward norms and gy (see L2NormalizeBackwardBody).
inline Status l2_normalize_backward(const Launch& l, const float* y /* [outer, len, inner] */,
                                    const float* norm /* [outer, inner] */, const float* gy /* [outer, len, inner] */,
                                    const AxisGeom& a, float eps, float* gx /* [outer, len, inner] */) {
  return launch_axis(l, a, L2NormalizeBackwardBody{y, norm, gy, eps, gx});
}

// Bytes of the `parts` scratch cross_entropy_forward needs: one double per row (at least one).
inline std::size_t cross_entropy_parts_bytes(int64_t n) {
  return static_cast<std::size_t>(n > 0 ? n : 1) * sizeof(double);
}

// probs = softmax rows of logits [n, c]; loss[0] = sum_i sw_i nll_i / total_weight (0 when
// total_weight == 0). The per-row terms go to parts (cross_entropy_parts_bytes(n)) and are summed in
// double by a second one-block kernel (deterministic, no atomics). n == 0 writes loss[0] = 0.
inline Status cross_entropy_forward(const Launch& l, const float* logits /* [N, C] */,
                                    const float* target /* [N] class ids */,
                                    const float* sample_weight /* [N] w[t_i] * mask_i */, int64_t n, int64_t c,
                                    float total_weight, float* probs /* [N, C] */, float* loss /* [1] */,
                                    double* parts /* [N] scratch */) {
  if (n > 0) {
    GCC_KERNELS_TRY(launch_axis(l, AxisGeom{n, c, 1}, CrossEntropyBody{logits, target, sample_weight, probs, parts}));
  }
  return mean_of_parts(l, parts, n, static_cast<double>(total_weight), loss);
}

// glogits_ij = gloss * sw_i / total_weight * (probs_ij - [j == t_i]); 0 for rows with sw_i == 0 (every
// row when total_weight == 0).
inline Status cross_entropy_backward(const Launch& l, const float* probs /* [N, C] */, const float* target /* [N] */,
                                     const float* sample_weight /* [N] */, int64_t n, int64_t c, float total_weight,
                                     const float* gloss /* [1] */, float* glogits /* [N, C] */) {
  const int64_t total = n * c;
  if (total == 0) return Status{};
  if (fits_32bit(total)) {
    cross_entropy_backward_kernel<uint32_t><<<l.grid_for(total), l.threads, 0, l.stream>>>(
        probs, target, sample_weight, total_weight, gloss, glogits, static_cast<uint32_t>(c),
        static_cast<uint32_t>(total));
  } else {
    cross_entropy_backward_kernel<int64_t><<<l.grid_for(total), l.threads, 0, l.stream>>>(
        probs, target, sample_weight, total_weight, gloss, glogits, c, total);
  }
  return launched("cross_entropy_backward_kernel");
}

}  // namespace kernels
}  // namespace gcc
