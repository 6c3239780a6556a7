// Op table rows for the reductions, the row-normalising ops and the losses (see op_table.hpp):
// softmax / log_softmax, l2_normalize, sum / mean / max, cross-entropy, xlogx, RGC, AGC, confidence CE.
#include <array>
#include <vector>

#include "gcc/cuda.cuh"
#include "gcc/loss/agc.hpp"
#include "gcc/loss/confidence_ce.hpp"
#include "gcc/loss/rgc.hpp"
#include "op_table.hpp"

namespace gcc_op_table {
namespace {

// ---- constants the rows build on the input's device (the same values for the CPU and the GPU run) ----
Tensor on(const Tensor& like, const std::vector<float>& v, const Shape& s) {
  return Tensor::from_vector(v, s).to(like.device());
}
// [rows, 1] of ones with row `zero_row` set to 0: multiplying by it makes an exact zero row.
Tensor zero_row_mask(const Tensor& like, int64_t rows, int64_t zero_row) {
  std::vector<float> m(static_cast<std::size_t>(rows), 1.f);
  m[static_cast<std::size_t>(zero_row)] = 0.f;
  return on(like, m, Shape{rows, 1});
}
// [1, cols] of zeros with column `col` at `v`: added to logits it empties that cluster.
Tensor column_bias(const Tensor& like, int64_t cols, int64_t col, float v) {
  std::vector<float> m(static_cast<std::size_t>(cols), 0.f);
  m[static_cast<std::size_t>(col)] = v;
  return on(like, m, Shape{1, cols});
}
std::vector<int> ce_targets(int64_t n, int64_t c) {
  std::vector<int> t(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) t[static_cast<std::size_t>(i)] = static_cast<int>((i * 7 + 3) % c);
  return t;
}
Tensor ce_class_weights(const Tensor& like, int64_t c) {
  std::vector<float> w(static_cast<std::size_t>(c));
  for (int64_t j = 0; j < c; ++j) w[static_cast<std::size_t>(j)] = 0.25f + 0.5f * static_cast<float>(j % 4);
  return on(like, w, Shape{c});
}
// 1 for every third sample missing, or all zero (`none`).
std::vector<uint8_t> ce_mask(int64_t n, bool none) {
  std::vector<uint8_t> m(static_cast<std::size_t>(n), 0);
  if (!none)
    for (int64_t i = 0; i < n; ++i) m[static_cast<std::size_t>(i)] = i % 3 != 1;
  return m;
}
// Masked-out samples may carry any target (they are never read): give them out-of-range ones.
std::vector<int> ce_targets_with_junk(int64_t n, int64_t c) {
  std::vector<int> t = ce_targets(n, c);
  for (int64_t i = 1; i < n; i += 3) t[static_cast<std::size_t>(i)] = -5;
  return t;
}

Tensor unit_rows(const Tensor& x) { return gcc::l2_normalize(x, 1); }

// Phase-2 neighbour weights w_k[i] in [0.4, 1.6), fixed per (k, i).
std::array<Tensor, 3> neighbour_weights(const Tensor& like, int64_t b) {
  std::array<Tensor, 3> w;
  for (int k = 0; k < 3; ++k) {
    std::vector<float> v(static_cast<std::size_t>(b));
    for (int64_t i = 0; i < b; ++i)
      v[static_cast<std::size_t>(i)] = 0.4f + 0.1f * static_cast<float>((i * 5 + k * 3) % 13);
    w[static_cast<std::size_t>(k)] = on(like, v, Shape{b});
  }
  return w;
}
Tensor rgc_phase2(const Inputs& x, float tau) {
  const int64_t b = x[0].size(0);
  return gcc::rgc_loss(unit_rows(x[0]), unit_rows(x[1]), {unit_rows(x[2]), unit_rows(x[3]), unit_rows(x[4])},
                       neighbour_weights(x[0], b), tau);
}

std::vector<OpRow> losses_rows() {
  std::vector<OpRow> rows;
  // Tolerances. The GPU sums in double like the CPU (in another order) and its expf/logf are within
  // 2 ulp of glibc's, so single ops agree to ~1e-6 relative: atol 1e-6, rtol 1e-5. Rows marked
  // "(integers)" sum/compare small integers: exact in any order, hence bit for bit.

  // ---- softmax / log_softmax ----------------------------------------------------------------------
  // The log_softmax gradient gy - exp(y) sum(gy) scales exp(y)'s 2-ulp expf difference by |sum(gy)|
  // (up to ~10 here): atol 2e-6.
  for (int lg = 0; lg < 2; ++lg) {
    const std::string name = lg ? "log_softmax" : "softmax";
    const BuildFn f1 = lg ? BuildFn(OP(gcc::log_softmax(x[0], 1))) : BuildFn(OP(gcc::softmax(x[0], 1)));
    const BuildFn f0 = lg ? BuildFn(OP(gcc::log_softmax(x[0], 0))) : BuildFn(OP(gcc::softmax(x[0], 0)));
    const BuildFn fl = lg ? BuildFn(OP(gcc::log_softmax(x[0], -1))) : BuildFn(OP(gcc::softmax(x[0], -1)));
    rows.push_back({name + " dim 1 (warp per row)", {{37, 53}}, {}, 2e-6, 1e-5, f1, {{-3, 3}}});
    rows.push_back({name + " dim 0 (column tiles)", {{37, 53}}, {}, 2e-6, 1e-5, f0, {{-3, 3}}});
    rows.push_back({name + " dim 1 of [4, 7, 9] (middle dim)", {{4, 7, 9}}, {}, 2e-6, 1e-5, f1, {{-3, 3}}});
    rows.push_back({name + " dim -1 of [3, 5, 2000] (block per row)", {{3, 5, 2000}}, {}, 2e-6, 1e-5, fl, {{-3, 3}}});
    rows.push_back({name + " dim 0 of [3000, 6] (long columns)", {{3000, 6}}, {}, 2e-6, 1e-5, f0, {{-3, 3}}});
    // Saturated rows: exp(200) overflows a float, the max-shift keeps everything finite. Values of
    // magnitude ~200 carry float spacing 1.5e-5, which m + log(sum) inherits: atol 1e-4.
    rows.push_back({name + " dim 1 saturated rows ([-200, 200])", {{8, 8}}, {}, 1e-4, 1e-5, f1, {{-200, 200}}});
    rows.push_back({name + " dim 0 saturated columns ([-200, 200])", {{8, 8}}, {}, 1e-4, 1e-5, f0, {{-200, 200}}});
  }

  // ---- l2_normalize, column_normalize -------------------------------------------------------------
  rows.push_back({"l2_normalize dim 1", {{37, 53}}, {}, 1e-6, 1e-5, OP(gcc::l2_normalize(x[0], 1))});
  rows.push_back({"l2_normalize dim 0", {{37, 53}}, {}, 1e-6, 1e-5, OP(gcc::l2_normalize(x[0], 0))});
  rows.push_back({"l2_normalize dim 1 of [4, 7, 9]", {{4, 7, 9}}, {}, 1e-6, 1e-5, OP(gcc::l2_normalize(x[0], 1))});
  rows.push_back({"l2_normalize dim 1 of [3, 3000] (block per row)", {{3, 3000}}, {}, 1e-6, 1e-5,
                  OP(gcc::l2_normalize(x[0], 1))});
  rows.push_back({"l2_normalize dim 1 with a zero row", {{6, 5}}, {}, 1e-6, 1e-5,
                  OP(gcc::l2_normalize(gcc::mul(x[0], zero_row_mask(x[0], 6, 2)), 1))});
  rows.push_back({"l2_normalize dim 0 with a zero column", {{5, 6}}, {}, 1e-6, 1e-5,
                  OP(gcc::l2_normalize(gcc::mul(x[0], gcc::add_scalar(column_bias(x[0], 6, 4, -1.f), 1.f)), 0))});
  // All-zero input: y = 0 and the clamped gradient gy / eps (1e12 * gy): relative tolerance only.
  rows.push_back({"l2_normalize dim 1 all-zero input (gradient gy / eps)", {{4, 6}}, {}, 0, 1e-5,
                  OP(gcc::l2_normalize(x[0], 1)), {{0, 0}}});
  rows.push_back({"l2_normalize dim 0 all-zero input (gradient gy / eps)", {{4, 6}}, {}, 0, 1e-5,
                  OP(gcc::l2_normalize(x[0], 0)), {{0, 0}}});
  // eps = 0.5 sits among the row norms (~0.58): some rows take the clamped branch, some not.
  rows.push_back({"l2_normalize dim 1 eps among the norms", {{64, 4}}, {0.5f}, 1e-6, 1e-5,
                  OP(gcc::l2_normalize(x[0], 1, p[0])), {{-0.5f, 0.5f}}});
  rows.push_back({"l2_normalize dim 0 eps among the norms", {{4, 64}}, {0.5f}, 1e-6, 1e-5,
                  OP(gcc::l2_normalize(x[0], 0, p[0])), {{-0.5f, 0.5f}}});
  rows.push_back({"column_normalize [256, 10]", {{256, 10}}, {}, 1e-6, 1e-5, OP(gcc::column_normalize(x[0]))});

  // ---- sum / mean / max ---------------------------------------------------------------------------
  rows.push_back({"sum dim 1", {{37, 53}}, {}, 1e-6, 1e-5, OP(gcc::sum(x[0], 1))});
  rows.push_back({"sum dim 0", {{37, 53}}, {}, 1e-6, 1e-5, OP(gcc::sum(x[0], 0))});
  rows.push_back({"sum dim 1 keepdim of [4, 7, 9]", {{4, 7, 9}}, {}, 1e-6, 1e-5, OP(gcc::sum(x[0], 1, true))});
  rows.push_back({"sum dim 1 of [7, 3000] (block per row)", {{7, 3000}}, {}, 1e-5, 1e-5, OP(gcc::sum(x[0], 1))});
  rows.push_back({"sum dim 0 of [3000, 7] (long columns)", {{3000, 7}}, {}, 1e-5, 1e-5, OP(gcc::sum(x[0], 0))});
  rows.push_back({"mean dim 1", {{37, 53}}, {}, 1e-6, 1e-5, OP(gcc::mean(x[0], 1))});
  rows.push_back({"mean dim 0", {{37, 53}}, {}, 1e-6, 1e-5, OP(gcc::mean(x[0], 0))});
  rows.push_back({"mean dim -1 keepdim of [2, 3, 5, 7]", {{2, 3, 5, 7}}, {}, 1e-6, 1e-5,
                  OP(gcc::mean(x[0], -1, true))});
  rows.push_back({"mean dim 2 of [2, 3, 5, 7]", {{2, 3, 5, 7}}, {}, 1e-6, 1e-5, OP(gcc::mean(x[0], 2))});
  rows.push_back({"sum dim 1 (integers)", {{37, 53}}, {}, 0, 0, OP(gcc::sum(x[0], 1)), {{-9, 9}}, true});
  rows.push_back({"sum dim 0 (integers)", {{37, 53}}, {}, 0, 0, OP(gcc::sum(x[0], 0)), {{-9, 9}}, true});
  rows.push_back({"mean dim 0 of [4, 7, 9] (integers)", {{4, 7, 9}}, {}, 0, 0, OP(gcc::mean(x[0], 0)), {{-9, 9}}, true});
  rows.push_back({"max dim 1", {{37, 53}}, {}, 0, 0, OP(gcc::max(x[0], 1))});
  rows.push_back({"max dim 0", {{37, 53}}, {}, 0, 0, OP(gcc::max(x[0], 0))});
  // Ties everywhere: the gradient must go to the first maximum, as on the CPU (bit for bit).
  rows.push_back({"max dim 1 with ties (integers)", {{37, 53}}, {}, 0, 0, OP(gcc::max(x[0], 1)), {{-3, 3}}, true});
  rows.push_back({"max dim 0 with ties (integers)", {{37, 53}}, {}, 0, 0, OP(gcc::max(x[0], 0)), {{-3, 3}}, true});
  rows.push_back({"max dim 1 keepdim of [4, 7, 9] with ties (integers)", {{4, 7, 9}}, {}, 0, 0,
                  OP(gcc::max(x[0], 1, true)), {{-2, 2}}, true});
  rows.push_back({"max dim 1 of [5, 3000] with ties (integers, block per row)", {{5, 3000}}, {}, 0, 0,
                  OP(gcc::max(x[0], 1)), {{-9, 9}}, true});
  rows.push_back({"max dim 0 of [3000, 5] with ties (integers, long columns)", {{3000, 5}}, {}, 0, 0,
                  OP(gcc::max(x[0], 0)), {{-9, 9}}, true});
  rows.push_back({"sum_all", {{37, 53}}, {}, 1e-5, 1e-5, OP(gcc::sum_all(x[0]))});
  rows.push_back({"mean_all", {{2, 3, 5, 7}}, {}, 1e-6, 1e-5, OP(gcc::mean_all(x[0]))});
  rows.push_back({"sum_all 1M elements (one block)", {{1000, 1001}}, {}, 1e-3, 1e-5, OP(gcc::sum_all(x[0]))});
  rows.push_back({"mean_all 1M elements", {{1000, 1001}}, {}, 1e-6, 1e-5, OP(gcc::mean_all(x[0]))});
  rows.push_back({"sum_all (integers)", {{37, 53}}, {}, 0, 0, OP(gcc::sum_all(x[0])), {{-9, 9}}, true});

  // ---- cross-entropy ------------------------------------------------------------------------------
  rows.push_back({"cross_entropy [64, 10]", {{64, 10}}, {}, 1e-6, 1e-5,
                  OP(gcc::cross_entropy(x[0], ce_targets(64, 10))), {{-3, 3}}});
  rows.push_back({"cross_entropy class weights", {{64, 10}}, {}, 1e-6, 1e-5,
                  OP(gcc::cross_entropy(x[0], ce_targets(64, 10), ce_class_weights(x[0], 10))), {{-3, 3}}});
  rows.push_back({"cross_entropy mask (junk targets masked out)", {{64, 10}}, {}, 1e-6, 1e-5,
                  OP(gcc::cross_entropy(x[0], ce_targets_with_junk(64, 10), ce_class_weights(x[0], 10),
                                        ce_mask(64, false))),
                  {{-3, 3}}});
  rows.push_back({"cross_entropy empty mask (zero loss, zero gradient)", {{64, 10}}, {}, 0, 0,
                  OP(gcc::cross_entropy(x[0], ce_targets(64, 10), {}, ce_mask(64, true))), {{-3, 3}}});
  rows.push_back({"cross_entropy [300, 1000] (block per row)", {{300, 1000}}, {}, 1e-6, 1e-5,
                  OP(gcc::cross_entropy(x[0], ce_targets(300, 1000))), {{-5, 5}}});
  rows.push_back({"cross_entropy saturated logits", {{16, 8}}, {}, 1e-4, 1e-5,
                  OP(gcc::cross_entropy(x[0], ce_targets(16, 8))), {{-200, 200}}});

  // ---- xlogx --------------------------------------------------------------------------------------
  rows.push_back({"xlogx (0, 2)", {{37, 53}}, {}, 1e-6, 1e-5, OP(gcc::xlogx(x[0])), {{1e-4f, 2}}});
  rows.push_back({"xlogx with exact zeros", {{6, 5}}, {}, 1e-6, 1e-5,
                  OP(gcc::xlogx(gcc::mul(x[0], zero_row_mask(x[0], 6, 3)))), {{1e-3f, 1}}});
  // x <= 0: y = 0, gradient gy (log FLT_MIN + 1).
  rows.push_back({"xlogx all zeros (gradient at FLT_MIN)", {{4, 6}}, {}, 1e-6, 1e-5, OP(gcc::xlogx(x[0])), {{0, 0}}});
  rows.push_back({"xlogx negatives clamp", {{37, 53}}, {}, 1e-6, 1e-5, OP(gcc::xlogx(x[0]))});

  // ---- RGC: the fused kernel behind l2-normalised embeddings, as training calls it -----------------
  // s = a C^T / tau through cuBLAS FP32 vs OpenBLAS (|s| <= 10 here, ~1e-6 apart), then the same
  // double log-sum-exps: the loss agrees to ~1e-6 relative (tests/cuda/test_losses_cuda.cu holds it
  // to 1e-5 relative), the gradients to ~1e-6 of their scale: atol 2e-6, rtol 1e-5.
  rows.push_back({"rgc_loss phase 1 b=16 D=32", {{16, 32}, {16, 32}}, {0.1f}, 2e-6, 1e-5,
                  OP(gcc::rgc_loss(unit_rows(x[0]), unit_rows(x[1]), p[0]))});
  rows.push_back({"rgc_loss phase 1 b=256 D=128", {{256, 128}, {256, 128}}, {0.1f}, 2e-6, 1e-5,
                  OP(gcc::rgc_loss(unit_rows(x[0]), unit_rows(x[1]), p[0]))});
  rows.push_back({"rgc_loss phase 2 b=16 D=32", {{16, 32}, {16, 32}, {16, 32}, {16, 32}, {16, 32}}, {0.1f}, 2e-6,
                  1e-5, OP(rgc_phase2(x, p[0]))});
  rows.push_back({"rgc_loss phase 2 b=256 D=128", {{256, 128}, {256, 128}, {256, 128}, {256, 128}, {256, 128}},
                  {0.1f}, 2e-6, 1e-5, OP(rgc_phase2(x, p[0]))});
  rows.push_back({"rgc_loss phase 1 raw embeddings, tau 0.5", {{16, 8}, {16, 8}}, {0.5f}, 2e-6, 1e-5,
                  OP(gcc::rgc_loss(x[0], x[1], p[0]))});

  // ---- AGC (a composition: softmax, column_normalize, matmul, cross_entropy, sum, xlogx) ------------
  // About ten ops in a chain, each agreeing to ~1e-6: atol 1e-5, rtol 1e-4.
  rows.push_back({"agc_loss b=64 K=10", {{64, 10}, {64, 10}}, {2.f}, 1e-5, 1e-4,
                  OP(gcc::agc_loss(x[0], x[1], p[0]).total), {{-3, 3}, {-3, 3}}});
  // Cluster 3 is empty (its logits are -1000): an all-zero probability column, clamped by
  // column_normalize, and 0 log 0 = 0 in the entropy term.
  rows.push_back({"agc_loss b=64 K=10 with an empty cluster", {{64, 10}, {64, 10}}, {2.f}, 1e-5, 1e-4,
                  OP(gcc::agc_loss(gcc::add(x[0], column_bias(x[0], 10, 3, -1000.f)),
                                   gcc::add(x[1], column_bias(x[1], 10, 3, -1000.f)), p[0])
                         .total),
                  {{-3, 3}, {-3, 3}}});

  // ---- confidence cross-entropy (softmax on the device, the mask on the host, then cross_entropy) ---
  rows.push_back({"confidence_ce_loss threshold 0.5, class balance", {{64, 10}}, {0.5f}, 1e-6, 1e-5,
                  OP(gcc::confidence_ce_loss(x[0], x[0], p[0]).loss), {{-4, 4}}});
  rows.push_back({"confidence_ce_loss threshold 0.98, nothing passes (zero loss)", {{64, 10}}, {0.98f}, 0, 0,
                  OP(gcc::confidence_ce_loss(x[0], x[0], p[0]).loss)});
  return rows;
}

const OpFamily losses_family("losses", &losses_rows);

}  // namespace
}  // namespace gcc_op_table
