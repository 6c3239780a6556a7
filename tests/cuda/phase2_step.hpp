// One GCC phase-2 training step (SPEC §4) on whatever device its inputs live on, shared by the full-step
// comparison (test_full_step.cu) and the op table's perf mode (test_op_perf.cu).
#pragma once
#include <array>

#include "gcc/loss/agc.hpp"
#include "gcc/loss/rgc.hpp"
#include "gcc/nn/end2end.hpp"
#include "gcc/ops/shape.hpp"
#include "gcc/optim/optimizers.hpp"

namespace gcc_cuda_test {

using gcc::Device;
using gcc::Tensor;

// The inputs of one step, on one device.
struct StepInputs {
  Tensor x, x2, u;                  // [b, 3, 32, 32]
  std::array<Tensor, 3> v;          // 3 x [b, 3, 32, 32]: views of the neighbours n_0, n_1, n_2
  std::array<Tensor, 3> w;          // 3 x [b]: node weights w_{n_k(i)}
  StepInputs to(Device dev) const {
    StepInputs o;
    o.x = x.to(dev);
    o.x2 = x2.to(dev);
    o.u = u.to(dev);
    for (std::size_t k = 0; k < 3; ++k) {
      o.v[k] = v[k].to(dev);
      o.w[k] = w[k].to(dev);
    }
    return o;
  }
};

struct StepLosses {
  Tensor loss, rgc, agc, agc_consistency, agc_entropy;
};

// SPEC §4, phase 2: forward passes [x; x'] (2b), v_0, v_1, v_2, u (b each), each its own BatchNorm
// batch; loss = 2·L_RGC(with neighbours) + L_AGC; backward (the caller takes the SGD step).
inline StepLosses phase2_step(gcc::nn::End2EndModel& model, gcc::SGD& opt, const StepInputs& in, float tau,
                              float lambda) {
  const int64_t b = in.x.size(0);
  opt.zero_grad();
  const gcc::nn::End2EndOutput xx = model.forward(gcc::concat0({in.x, in.x2}));
  std::array<Tensor, 3> ev;
  for (std::size_t k = 0; k < 3; ++k) ev[k] = model.forward(in.v[k]).embedding;
  const gcc::nn::End2EndOutput ou = model.forward(in.u);
  StepLosses out;
  out.rgc = gcc::rgc_loss(gcc::slice0(xx.embedding, 0, b), gcc::slice0(xx.embedding, b, 2 * b), ev, in.w, tau);
  const gcc::AgcLoss agc = gcc::agc_loss(gcc::slice0(xx.logits[0], 0, b), ou.logits[0], lambda);
  out.agc = agc.total;
  out.agc_consistency = agc.consistency;
  out.agc_entropy = agc.entropy;
  out.loss = gcc::add(gcc::mul_scalar(out.rgc, 2.f), agc.total);
  out.loss.backward();
  return out;
}

}  // namespace gcc_cuda_test
