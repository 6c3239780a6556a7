// One GCC phase-2 training step (SPEC §4) on whatever device its inputs live on, shared by the full-step
// comparison (test_full_step.cu) and the op table's perf mode (test_op_perf.cu).
#pragma once
#include <array>

#include "gcc/nn/end2end.hpp"
#include "gcc/optim/optimizers.hpp"
#include "gcc/train/step_losses.hpp"

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

using StepLosses = gcc::train::StepLosses;

// SPEC §4, phase 2 (train/step_losses.hpp, the trainer's maths): passes [x; x'] (2b), v_0, v_1, v_2, u (b each),
// each with its own BatchNorm statistics -- five forward calls, or one batch when `batched` (gcc_train's
// default); loss = 2·L_RGC(with neighbours) + L_AGC; backward (the caller takes the SGD step).
inline StepLosses phase2_step(gcc::nn::End2EndModel& model, gcc::SGD& opt, const StepInputs& in, float tau,
                              float lambda, bool batched = false) {
  opt.zero_grad();
  gcc::train::StepLossSettings o;
  o.temperature = tau;
  o.entropy_weight = lambda;
  o.batched_passes = batched;
  StepLosses s = gcc::train::phase2_losses(model, {in.x, in.x2, in.v[0], in.v[1], in.v[2], in.u}, in.w, o);
  s.loss.backward();
  return s;
}

}  // namespace gcc_cuda_test
