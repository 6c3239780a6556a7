// AGC loss (assignment graph contrastive, SPEC §4): cross-entropy of the K×K cosine similarities of
// cluster columns plus λ times the cluster-balance term log K + Σ o log o, with 0·log 0 := 0.
#pragma once
#include <cmath>
#include <numeric>
#include <vector>

#include "../ops/cross_entropy.hpp"
#include "../ops/dispatch.hpp"
#include "../ops/elementwise.hpp"
#include "../ops/matmul.hpp"
#include "../ops/normalize.hpp"
#include "../ops/reduce.hpp"
#include "../ops/softmax.hpp"

namespace gcc {
namespace cpu {

// y_i = x_i log x_i with 0 log 0 = 0 (and x log x = 0 for x <= 0).
inline void xlogx_forward(const Tensor& x /* [*] */, const Tensor& y /* [*] */) {
  const float* xp = x.data();
  float* yp = y.data();
  for (int64_t i = 0; i < x.numel(); ++i) yp[i] = xp[i] > 0.f ? xp[i] * std::log(xp[i]) : 0.f;
}
// gx = gy (log max(x, tiny) + 1): finite everywhere, exact wherever x >= tiny (FLT_MIN).
inline void xlogx_backward(const Tensor& x /* [*] */, const Tensor& gy /* [*] */, const Tensor& gx /* [*] */) {
  const float* xp = x.data();
  const float* gp = gy.data();
  float* op = gx.data();
  const float tiny = std::numeric_limits<float>::min();
  for (int64_t i = 0; i < x.numel(); ++i) op[i] = gp[i] * (std::log(xp[i] > tiny ? xp[i] : tiny) + 1.f);
}

}  // namespace cpu

GCC_CUDA_SLOT(xlogx_forward, const Tensor&, const Tensor&)
GCC_CUDA_SLOT(xlogx_backward, const Tensor&, const Tensor&, const Tensor&)

// x·log(x) elementwise with the guards above; differentiable.
inline Tensor xlogx(const Tensor& x) {
  GCC_CHECK(x.defined(), "xlogx: input is undefined");
  const Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.device());
  GCC_DISPATCH(xlogx_forward, x.device(), xc, y);
  if (any_requires_grad(x)) {
    Tape::record(y, "xlogx", [x, xc](const Tensor& gy) {
      Tensor gx = Tensor::empty(x.shape(), x.device());
      GCC_DISPATCH(xlogx_backward, x.device(), xc.detach(), gy.contiguous(), gx);
      accumulate_grad_fresh(x, gx);
    });
  }
  return y;
}

struct AgcLoss {
  Tensor total;         // L_ce + λ·L_ne
  Tensor consistency;   // L_ce: cross-entropy of the cluster-column similarities
  Tensor entropy;       // L_ne = log K + Σ_k o_k log o_k (0 when clusters are balanced)
};

// logits_x: cluster logits of the anchors' first view; logits_u: of a view of a random neighbour.
inline AgcLoss agc_loss(const Tensor& logits_x /* [b, K] */, const Tensor& logits_u /* [b, K] */,
                        float entropy_weight = 2.0f) {
  check_dims("agc_loss", logits_x, 2, "[b, K]");
  check_same_shape("agc_loss (anchor vs neighbour logits)", logits_x, logits_u);
  const int64_t K = logits_x.size(1);
  GCC_CHECK(K >= 2, "agc_loss: needs at least 2 clusters, logits are ", logits_x.shape().str());
  const Tensor p = softmax(logits_x, 1), q = softmax(logits_u, 1);
  const Tensor sim = matmul(column_normalize(p), column_normalize(q), /*trans_a=*/true, false);  // [K, K]
  std::vector<int> diag(static_cast<std::size_t>(K));
  std::iota(diag.begin(), diag.end(), 0);
  AgcLoss out;
  out.consistency = cross_entropy(sim, diag);
  const Tensor col = sum(p, 0);                          // [K]
  const Tensor o = div(col, sum_all(col));               // cluster masses, summing to 1
  out.entropy = add_scalar(sum_all(xlogx(o)), static_cast<float>(std::log(static_cast<double>(K))));
  out.total = add(out.consistency, mul_scalar(out.entropy, entropy_weight));
  return out;
}

}  // namespace gcc
