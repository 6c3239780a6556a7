// Cross-entropy of [N, C] logits against integer targets, with optional class weights and a sample mask:
// PyTorch's F.cross_entropy(weight=..., reduction='mean') over the masked-in samples. CPU + CUDA slots.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "dispatch.hpp"
#include "reduce.hpp"

namespace gcc {
namespace cpu {

// probs = softmax(logits) per row; loss = sum_i sw_i * nll_i / total_weight, nll_i = -log_softmax(x_i)[t_i],
// or 0 when total_weight == 0. Rows with sw_i == 0 are skipped (their targets are not read).
inline void cross_entropy_forward(const Tensor& logits /* [N, C] */, const Tensor& target /* [N] class ids */,
                                  const Tensor& sample_weight /* [N] w[t_i] * mask_i */, float total_weight,
                                  const Tensor& probs /* [N, C] */, const Tensor& loss /* [] */) {
  const int64_t n = logits.size(0), c = logits.size(1);
  const float* xp = logits.data();
  const float* tp = target.data();
  const float* wp = sample_weight.data();
  float* pp = probs.data();
  std::vector<double> row_loss(static_cast<std::size_t>(n), 0.0);
  parallel_for(n, [&](int64_t i) {
    const float* x = xp + i * c;
    float* p = pp + i * c;
    const float m = detail::row_max(x, c);
    for (int64_t j = 0; j < c; ++j) p[j] = std::exp(x[j] - m);
    const double s = detail::row_sum(p, c);
    const float inv = static_cast<float>(1.0 / s);
    for (int64_t j = 0; j < c; ++j) p[j] *= inv;
    if (wp[i] != 0.f) {
      const int64_t t = static_cast<int64_t>(tp[i]);
      const float nll = -((x[t] - m) - static_cast<float>(std::log(s)));
      row_loss[static_cast<std::size_t>(i)] = static_cast<double>(wp[i]) * nll;
    }
  }, 1024 / (c > 0 ? c : 1) + 1);
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) total += row_loss[static_cast<std::size_t>(i)];
  loss.data()[0] = total_weight != 0.f ? static_cast<float>(total / total_weight) : 0.f;
}

// glogits_ij = gloss * sw_i / total_weight * (probs_ij - [j == t_i]); rows with sw_i == 0 (and every row
// when total_weight == 0) get exactly 0.
inline void cross_entropy_backward(const Tensor& probs /* [N, C] */, const Tensor& target /* [N] */,
                                   const Tensor& sample_weight /* [N] */, float total_weight,
                                   const Tensor& gloss /* [] */, const Tensor& glogits /* [N, C] */) {
  const int64_t n = probs.size(0), c = probs.size(1);
  const float* pp = probs.data();
  const float* tp = target.data();
  const float* wp = sample_weight.data();
  const float g = gloss.data()[0];
  float* op = glogits.data();
  parallel_for(n, [&](int64_t i) {
    const float* p = pp + i * c;
    float* o = op + i * c;
    if (wp[i] == 0.f || total_weight == 0.f) {
      for (int64_t j = 0; j < c; ++j) o[j] = 0.f;
      return;
    }
    const float scale = g * wp[i] / total_weight;
    for (int64_t j = 0; j < c; ++j) o[j] = scale * p[j];
    o[static_cast<int64_t>(tp[i])] -= scale;
  }, 1024 / (c > 0 ? c : 1) + 1);
}

}  // namespace cpu

GCC_CUDA_SLOT(cross_entropy_forward, const Tensor&, const Tensor&, const Tensor&, float, const Tensor&,
              const Tensor&)
GCC_CUDA_SLOT(cross_entropy_backward, const Tensor&, const Tensor&, const Tensor&, float, const Tensor&,
              const Tensor&)

// Mean cross-entropy of logits [N, C] against targets (N class ids in [0, C)), as PyTorch's
// F.cross_entropy(logits, targets, weight=class_weights, reduction='mean'):
//   loss = sum_i w[t_i] * nll_i / sum_i w[t_i],   nll_i = logsumexp(logits_i) - logits_i[t_i],
// summed over the samples with mask[i] != 0 only (all samples when mask is empty; w = 1 when
// class_weights is undefined). Masked-out samples are ignored like PyTorch's ignore_index: their targets
// are not checked or read. Returns a 0-d tensor, differentiable in logits (not in class_weights).
// Differs from PyTorch: when no sample is masked in (or N == 0, or the weights of the masked-in targets
// sum to 0) the loss is 0 with a zero gradient, where PyTorch returns NaN.
inline Tensor cross_entropy(const Tensor& logits, const std::vector<int>& targets,
                            const Tensor& class_weights = {}, const std::vector<uint8_t>& mask = {}) {
  GCC_CHECK(logits.defined(), "cross_entropy: logits are undefined");
  check_dims("cross_entropy", logits, 2, "of logits [N, C]");
  const int64_t n = logits.size(0), c = logits.size(1);
  GCC_CHECK(static_cast<int64_t>(targets.size()) == n, "cross_entropy: ", targets.size(),
            " targets for logits of shape ", logits.shape().str(), " (expected ", n, ")");
  GCC_CHECK(mask.empty() || static_cast<int64_t>(mask.size()) == n, "cross_entropy: mask has ",
            mask.size(), " entries for logits of shape ", logits.shape().str(), " (expected ", n,
            " or an empty mask)");
  std::vector<float> w;
  if (class_weights.defined()) {
    GCC_CHECK(class_weights.dims() == 1 && class_weights.size(0) == c, "cross_entropy: class_weights of shape ",
              class_weights.shape().str(), " for logits of shape ", logits.shape().str(), " (expected [", c, "])");
    w = class_weights.to_vector();
  }
  std::vector<float> tv(static_cast<std::size_t>(n), 0.f), sw(static_cast<std::size_t>(n), 0.f);
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const std::size_t k = static_cast<std::size_t>(i);
    if (!mask.empty() && !mask[k]) continue;
    const int t = targets[k];
    GCC_CHECK(t >= 0 && t < c, "cross_entropy: target ", t, " of sample ", i, " is out of range [0, ", c,
              ") for logits of shape ", logits.shape().str());
    tv[k] = static_cast<float>(t);
    sw[k] = w.empty() ? 1.f : w[static_cast<std::size_t>(t)];
    total += sw[k];
  }
  const float total_weight = static_cast<float>(total);
  const Device dev = logits.device();
  const Tensor xc = logits.contiguous();
  const Tensor target = Tensor::from_vector(tv, Shape{n}).to(dev);
  const Tensor sample_weight = Tensor::from_vector(sw, Shape{n}).to(dev);
  Tensor probs = Tensor::empty(logits.shape(), dev);
  Tensor loss = Tensor::empty(Shape{}, dev);
  GCC_DISPATCH(cross_entropy_forward, dev, xc, target, sample_weight, total_weight, probs, loss);
  if (any_requires_grad(logits)) {
    Tape::record(loss, "cross_entropy", [logits, probs, target, sample_weight, total_weight](const Tensor& gl) {
      Tensor gx = Tensor::empty(logits.shape(), logits.device());
      GCC_DISPATCH(cross_entropy_backward, logits.device(), probs, target, sample_weight, total_weight,
                   gl.contiguous(), gx);
      accumulate_grad_fresh(logits, gx);
    });
  }
  return loss;
}

}  // namespace gcc
