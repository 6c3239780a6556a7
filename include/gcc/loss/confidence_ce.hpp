// Confidence-based cross-entropy for self-labelling (SPEC §5, as SCAN): pseudo-labels from the weak
// view where max probability > threshold, optional class balancing, loss on the strong view.
#pragma once
#include <vector>

#include "../ops/cross_entropy.hpp"
#include "../ops/softmax.hpp"

namespace gcc {

struct ConfidenceCeLoss {
  Tensor loss;                  // 0-d; zero with no gradient when no sample passes the threshold
  int64_t masked = 0;           // samples above the threshold
  std::vector<int> targets;     // argmax of the weak view, per sample
  std::vector<uint8_t> mask;    // 1 where the sample passed the threshold
};

// logits_weak are treated as constants (the release computes them without gradient).
inline ConfidenceCeLoss confidence_ce_loss(const Tensor& logits_weak /* [N, K] */,
                                           const Tensor& logits_strong /* [N, K] */,
                                           float threshold = 0.98f, bool class_balance = true) {
  check_dims("confidence_ce_loss", logits_weak, 2, "[N, K]");
  check_same_shape("confidence_ce_loss (weak vs strong logits)", logits_weak, logits_strong);
  GCC_CHECK(threshold >= 0.f && threshold < 1.f, "confidence_ce_loss: threshold must be in [0, 1), got ", threshold);
  const int64_t N = logits_weak.size(0), K = logits_weak.size(1);
  Tensor prob;
  {
    NoGrad ng;
    prob = softmax(logits_weak.detach(), 1).to(Device::cpu()).contiguous();
  }
  ConfidenceCeLoss out;
  out.targets.resize(static_cast<std::size_t>(N));
  out.mask.resize(static_cast<std::size_t>(N));
  std::vector<int64_t> count(static_cast<std::size_t>(K), 0);
  const float* pp = prob.data();
  for (int64_t i = 0; i < N; ++i) {
    int best = 0;
    for (int64_t k = 1; k < K; ++k)
      if (pp[i * K + k] > pp[i * K + best]) best = static_cast<int>(k);
    out.targets[static_cast<std::size_t>(i)] = best;
    const bool pass = pp[i * K + best] > threshold;
    out.mask[static_cast<std::size_t>(i)] = pass ? 1 : 0;
    if (pass) {
      ++out.masked;
      ++count[static_cast<std::size_t>(best)];
    }
  }
  Tensor weights;
  if (class_balance) {  // w_c = n / n_c for classes present among masked targets, 1 otherwise
    weights = Tensor::ones(Shape{K});
    for (int64_t k = 0; k < K; ++k)
      if (count[static_cast<std::size_t>(k)] > 0)
        weights.data()[k] = static_cast<float>(out.masked) / static_cast<float>(count[static_cast<std::size_t>(k)]);
    weights = weights.to(logits_strong.device());
  }
  out.loss = cross_entropy(logits_strong, out.targets, weights, out.mask);
  return out;
}

}  // namespace gcc
