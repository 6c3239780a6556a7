// RGC loss (representation graph contrastive, SPEC §4) in both forms: phase 1 (two views, the
// denominator runs over all 2b columns) and phase 2 (three weighted neighbour views, 5b columns).
#pragma once
#include <array>
#include <cmath>
#include <limits>
#include <vector>

#include "../core/blas.hpp"
#include "../ops/dispatch.hpp"
#include "../ops/elementwise.hpp"
#include "../ops/shape.hpp"

namespace gcc {
namespace cpu {

// The contrast set C = [block 0; ...; block B-1], each block b rows; anchors are block 0 (rows 0..b-1).
// s = a Cᵀ / τ; E_ij = exp(s_ij) · W_ij, with W_ij = diag_w[k, i] when j = k·b + i, else 1.
// Positives of row i: columns k·b + i for k >= 1. Denominator: every column when denom_all (phase 1),
// else every non-positive column (phase 2). loss = -mean_i log(Σ_pos E_i / Σ_den E_i).
// Both sums are log-sum-exps with their own maxima, so saturated rows stay finite.
// `saved` receives dL/ds · b (softmax weights within each set, signed) for the backward pass.
inline void rgc_forward(const Tensor& contrast /* [B*b, D] */, const Tensor& diag_w /* [B, b] */,
                        float tau, bool denom_all, const Tensor& loss /* [1] */,
                        const Tensor& saved /* [b, B*b] */) {
  const int64_t B = diag_w.size(0), b = diag_w.size(1), M = B * b, D = contrast.size(1);
  const float* c = contrast.data();
  const float* w = diag_w.data();
  float* s = saved.data();
  sgemm(false, true, b, M, D, 1.f / tau, c, c, 0.f, s);  // s = a Cᵀ / τ, a = C[0:b]
  std::vector<double> row_loss(static_cast<std::size_t>(b));
  parallel_for(b, [&](int64_t i) {
    float* si = s + i * M;
    // log W folded into the logits: l_ij = s_ij + log W_ij
    for (int64_t k = 0; k < B; ++k) {
      const float wk = w[k * b + i];
      si[k * b + i] += std::log(wk > 0.f ? wk : std::numeric_limits<float>::min());
    }
    auto is_pos = [&](int64_t j) { return j >= b && j % b == i; };
    double max_pos = -std::numeric_limits<double>::infinity(), max_den = max_pos;
    for (int64_t j = 0; j < M; ++j) {
      if (is_pos(j) && si[j] > max_pos) max_pos = si[j];
      if ((denom_all || !is_pos(j)) && si[j] > max_den) max_den = si[j];
    }
    double sum_pos = 0, sum_den = 0;
    for (int64_t j = 0; j < M; ++j) {
      if (is_pos(j)) sum_pos += std::exp(si[j] - max_pos);
      if (denom_all || !is_pos(j)) sum_den += std::exp(si[j] - max_den);
    }
    const double lse_pos = max_pos + std::log(sum_pos), lse_den = max_den + std::log(sum_den);
    row_loss[static_cast<std::size_t>(i)] = lse_den - lse_pos;
    // dL_i/dl_ij = softmax over the denominator set - softmax over the positive set
    for (int64_t j = 0; j < M; ++j) {
      double g = 0;
      if (denom_all || !is_pos(j)) g += std::exp(si[j] - lse_den);
      if (is_pos(j)) g -= std::exp(si[j] - lse_pos);
      si[j] = static_cast<float>(g);
    }
  }, 8);
  double total = 0;
  for (double v : row_loss) total += v;
  loss.data()[0] = static_cast<float>(total / static_cast<double>(b));
}

// gcontrast = dL/dC given saved = dL/ds · b: dL/ds = saved / b, s = a Cᵀ/τ with a = C[0:b], so
// dC = (dL/ds)ᵀ a / τ, and rows 0..b-1 also get (dL/ds) C / τ through the anchors.
inline void rgc_backward(const Tensor& contrast /* [B*b, D] */, const Tensor& saved /* [b, B*b] */,
                         float tau, float grad_loss, const Tensor& gcontrast /* [B*b, D] */) {
  const int64_t b = saved.size(0), M = saved.size(1), D = contrast.size(1);
  const float* c = contrast.data();
  const float* r = saved.data();
  float* g = gcontrast.data();
  const float scale = grad_loss / (tau * static_cast<float>(b));
  sgemm(true, false, M, D, b, scale, r, c, 0.f, g);  // Rᵀ a
  sgemm(false, false, b, D, M, scale, r, c, 1.f, g);  // + R C into the anchor rows
}

}  // namespace cpu

GCC_CUDA_SLOT(rgc_forward, const Tensor&, const Tensor&, float, bool, const Tensor&, const Tensor&)
GCC_CUDA_SLOT(rgc_backward, const Tensor&, const Tensor&, float, float, const Tensor&)

// The fused contrastive softmax on a prepared contrast set (see cpu::rgc_forward); differentiable in
// `contrast`. Most users call one of the two rgc_loss forms below.
inline Tensor rgc_loss_from_contrast(const Tensor& contrast /* [B*b, D] */, const Tensor& diag_w /* [B, b] */,
                                     float tau, bool denom_all) {
  check_dims("rgc_loss", contrast, 2, "[B*b, D]");
  check_dims("rgc_loss", diag_w, 2, "[B, b]");
  GCC_CHECK(diag_w.size(0) >= 2 && diag_w.size(1) >= 1 && diag_w.size(0) * diag_w.size(1) == contrast.size(0),
            "rgc_loss: contrast set ", contrast.shape().str(), " does not hold ", diag_w.size(0),
            " blocks of ", diag_w.size(1), " rows (diag weights ", diag_w.shape().str(), ")");
  GCC_CHECK(tau > 0.f, "rgc_loss: temperature must be positive, got ", tau);
  check_same_device("rgc_loss", contrast, diag_w);
  const Tensor c = contrast.contiguous(), w = diag_w.contiguous();
  const int64_t b = diag_w.size(1);
  Tensor loss = Tensor::empty(Shape{}, c.device());
  Tensor saved = Tensor::empty(Shape{b, c.size(0)}, c.device());
  GCC_DISPATCH(rgc_forward, c.device(), c.detach(), w.detach(), tau, denom_all, loss, saved);
  if (any_requires_grad(contrast)) {
    Tape::record(loss, "rgc_loss", [contrast, c, saved, tau](const Tensor& gl) {
      Tensor gc = Tensor::empty(c.shape(), c.device());
      GCC_DISPATCH(rgc_backward, c.device(), c.detach(), saved, tau, gl.item(), gc);
      accumulate_grad_fresh(contrast, gc);
    });
  }
  return loss;
}

// Phase 1 (no neighbours): anchors z, contrast set [z; z'], positive column b+i, denominator over all
// 2b columns (the anchor itself included). z, z2: [b, D] L2-normalised embeddings of the two views.
inline Tensor rgc_loss(const Tensor& z /* [b, D] */, const Tensor& z2 /* [b, D] */, float tau = 0.1f) {
  check_dims("rgc_loss", z, 2, "[b, D]");
  check_same_shape("rgc_loss (z vs z2)", z, z2);
  return rgc_loss_from_contrast(concat0({z, z2}), Tensor::ones(Shape{2, z.size(0)}, z.device()), tau, true);
}

// Phase 2: contrast set [z; z'; w_0·v_0; w_1·v_1; w_2·v_2] where v_k are the embeddings of a view of
// neighbour n_k(i) and w_k[i] = w_{n_k(i)} its node weight; the diagonal of each neighbour block is also
// weighted by w_k[i]. Positives: columns b+i, 2b+i, 3b+i, 4b+i; denominator: every other column.
inline Tensor rgc_loss(const Tensor& z /* [b, D] */, const Tensor& z2 /* [b, D] */,
                       const std::array<Tensor, 3>& neighbour_emb /* 3 x [b, D] */,
                       const std::array<Tensor, 3>& neighbour_w /* 3 x [b] */, float tau = 0.1f) {
  check_dims("rgc_loss", z, 2, "[b, D]");
  check_same_shape("rgc_loss (z vs z2)", z, z2);
  const int64_t b = z.size(0);
  std::vector<Tensor> parts = {z, z2};
  std::vector<Tensor> diag_rows = {Tensor::ones(Shape{2, b}, z.device())};  // built on z's device
  for (int k = 0; k < 3; ++k) {
    check_same_shape("rgc_loss (z vs neighbour embedding)", z, neighbour_emb[static_cast<std::size_t>(k)]);
    const Tensor& wk = neighbour_w[static_cast<std::size_t>(k)];
    GCC_CHECK(wk.numel() == b, "rgc_loss: neighbour weights ", k, " have shape ", wk.shape().str(),
              ", expected [", b, "]");
    check_same_device("rgc_loss (z vs neighbour weights)", z, wk);
    const Tensor wd = wk.detach().contiguous();
    parts.push_back(mul(neighbour_emb[static_cast<std::size_t>(k)], wd.view(Shape{b, 1})));
    diag_rows.push_back(wd.view(Shape{1, b}));
  }
  Tensor diag;
  {
    NoGrad ng;
    diag = concat0(diag_rows);
  }
  return rgc_loss_from_contrast(concat0(parts), diag, tau, false);
}

}  // namespace gcc
