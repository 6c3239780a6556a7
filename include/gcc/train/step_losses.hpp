// The forward pass and loss of one GCC training step (SPEC §4), without the update: phase 1 (one pass
// over [x; x'], 2·RGC, optionally AGC between the views) and phase 2 (passes [x; x'], v_0, v_1, v_2, u,
// each with its own BatchNorm statistics, 2·RGC with neighbours + AGC). Used by the benchmarks and the
// CUDA full-step test; backward() of .loss and an optimiser step complete a training step.
//
//   gcc::train::StepLosses s = gcc::train::phase2_losses(model, views, weights, settings);
//   s.loss.backward();  opt.step();
#pragma once
#include <array>
#include <vector>

#include "../autograd/tape.hpp"
#include "../loss/agc.hpp"
#include "../loss/rgc.hpp"
#include "../nn/end2end.hpp"
#include "../ops/elementwise.hpp"
#include "../ops/shape.hpp"

namespace gcc {
namespace train {

struct StepLossSettings {
  float temperature = 0.1f;     // τ
  float entropy_weight = 2.0f;  // λ
  float rgc_weight = 2.0f, agc_weight = 1.0f;
  bool phase1_agc = false;      // also AGC between the two views in phase 1 (extension)
  bool batched_passes = true;   // phase 2's five passes as one batch, BatchNorm per pass (same maths)
};

// 0-d tensors; the AGC terms are sums over the cluster heads (undefined when the step has no AGC).
struct StepLosses {
  Tensor loss, rgc, agc, agc_consistency, agc_entropy;
  Tensor z2;  // [m, D] embedding of the second view x' (pushed, detached, into the feature memory)
};

namespace detail {
inline void add_agc_heads(StepLosses& s, const std::vector<Tensor>& px, const std::vector<Tensor>& pu,
                          const StepLossSettings& o) {
  for (std::size_t h = 0; h < px.size(); ++h) {
    const AgcLoss a = agc_loss(px[h], pu[h], o.entropy_weight);
    s.agc = s.agc.defined() ? add(s.agc, a.total) : a.total;
    s.agc_consistency = s.agc_consistency.defined() ? add(s.agc_consistency, a.consistency) : a.consistency;
    s.agc_entropy = s.agc_entropy.defined() ? add(s.agc_entropy, a.entropy) : a.entropy;
  }
  if (s.agc.defined()) s.loss = add(s.loss, mul_scalar(s.agc, o.agc_weight));
}
}  // namespace detail

// Phase 1: x, x2 [m, C, H, W] are the two SimCLR views of m samples.
inline StepLosses phase1_losses(nn::End2EndModel& model, const Tensor& x, const Tensor& x2,
                                const StepLossSettings& o) {
  const int64_t m = x.size(0);
  Tensor both;
  {
    NoGrad ng;
    both = concat0({x, x2});
  }
  const nn::End2EndOutput out = model.forward(both);  // one pass: BatchNorm over the 2m images
  StepLosses s;
  s.z2 = slice0(out.embedding, m, 2 * m);
  s.rgc = rgc_loss(slice0(out.embedding, 0, m), s.z2, o.temperature);
  s.loss = mul_scalar(s.rgc, o.rgc_weight);
  if (o.phase1_agc) {
    std::vector<Tensor> px, pu;
    for (const Tensor& l : out.logits) {
      px.push_back(slice0(l, 0, m));
      pu.push_back(slice0(l, m, 2 * m));
    }
    detail::add_agc_heads(s, px, pu, o);
  }
  return s;
}

// The outputs of phase 2's forward passes that the loss reads.
struct Phase2Outputs {
  Tensor emb_xx;               // [2m, D] embeddings of [x; x']
  std::array<Tensor, 3> v;     // [m, D] embeddings of the neighbour views v_0, v_1, v_2
  std::vector<Tensor> px, pu;  // per cluster head: logits of x and of u, [m, K]
};

// Phase 2's passes: views = x, x', v_0, v_1, v_2, u (each [m, C, H, W]); one batch with BatchNorm per
// pass when `batched`, else five forward calls.
inline Phase2Outputs phase2_forward(nn::End2EndModel& model, const std::array<Tensor, 6>& views, bool batched) {
  const int64_t m = views[0].size(0);
  auto input = [&](std::size_t first, std::size_t end) {  // views [first, end) as one batch
    NoGrad ng;
    return concat0(std::vector<Tensor>(views.begin() + first, views.begin() + end));
  };
  Phase2Outputs o;
  if (batched) {
    const nn::End2EndOutput all = model.forward(input(0, 6), {2 * m, m, m, m, m});
    o.emb_xx = slice0(all.embedding, 0, 2 * m);
    for (std::size_t j = 0; j < 3; ++j) o.v[j] = slice0(all.embedding, (2 + j) * m, (3 + j) * m);
    for (const Tensor& l : all.logits) {
      o.px.push_back(slice0(l, 0, m));
      o.pu.push_back(slice0(l, 5 * m, 6 * m));
    }
    return o;
  }
  const nn::End2EndOutput xx = model.forward(input(0, 2));
  o.emb_xx = xx.embedding;
  for (std::size_t j = 0; j < 3; ++j) o.v[j] = model.forward(input(2 + j, 3 + j)).embedding;
  const nn::End2EndOutput ou = model.forward(input(5, 6));
  for (std::size_t h = 0; h < xx.logits.size(); ++h) {
    o.px.push_back(slice0(xx.logits[h], 0, m));
    o.pu.push_back(ou.logits[h]);
  }
  return o;
}

// Phase 2's loss from its passes; w = the node weights w_{n_k(i)} ([m] each).
inline StepLosses phase2_loss(const Phase2Outputs& f, const std::array<Tensor, 3>& w, const StepLossSettings& o) {
  const int64_t m = f.emb_xx.size(0) / 2;
  StepLosses s;
  s.z2 = slice0(f.emb_xx, m, 2 * m);
  s.rgc = rgc_loss(slice0(f.emb_xx, 0, m), s.z2, f.v, w, o.temperature);
  s.loss = mul_scalar(s.rgc, o.rgc_weight);
  detail::add_agc_heads(s, f.px, f.pu, o);
  return s;
}

// Phase 2, passes and loss.
inline StepLosses phase2_losses(nn::End2EndModel& model, const std::array<Tensor, 6>& views,
                                const std::array<Tensor, 3>& w, const StepLossSettings& o) {
  return phase2_loss(phase2_forward(model, views, o.batched_passes), w, o);
}

}  // namespace train
}  // namespace gcc
