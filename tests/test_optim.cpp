// SGD and Adam against hand-computed torch.optim updates; the cosine schedule; EMA.
#include "gcc/optim/optimizers.hpp"
#include "gcc/optim/schedule.hpp"
#include "gradcheck.hpp"

using gcc::Shape;
using gcc::Tensor;
using namespace gcc_test;

TEST_CASE("SGD with momentum and weight decay follows torch.optim.SGD") {
  Tensor p = Tensor::from_vector({1.f}, Shape{1});
  p.set_requires_grad(true);
  gcc::SGD opt({{"p", p}}, 0.1f, 0.9f, 0.01f);
  auto step = [&](float g) {
    opt.zero_grad();
    gcc::mul_scalar(p, g).backward();  // dL/dp = g
    opt.step();
  };
  step(2.f);  // d = 2 + 0.01 = 2.01; buf = d (first step); p = 1 - 0.201 = 0.799
  check_values(p, {0.799f}, 1e-6, 0, "step 1");
  step(1.f);  // d = 1 + 0.00799 = 1.00799; buf = 0.9*2.01 + 1.00799 = 2.81699; p = 0.799 - 0.281699
  check_values(p, {0.517301f}, 1e-6, 0, "step 2");
}

TEST_CASE("Adam follows torch.optim.Adam (L2 weight decay added to the gradient)") {
  Tensor p = Tensor::from_vector({1.f}, Shape{1});
  p.set_requires_grad(true);
  gcc::Adam opt({{"p", p}}, 0.1f, 0.9f, 0.999f, 1e-8f, 0.f);
  gcc::mul_scalar(p, 0.5f).backward();
  opt.step();
  // m = 0.05, v = 0.00025, bias-corrected: m/(1-0.9) = 0.5, sqrt(v/(1-0.999)) = 0.5 -> step 0.1
  check_values(p, {0.9f}, 1e-6, 0, "adam step 1");
  Tensor q = Tensor::from_vector({2.f}, Shape{1});
  q.set_requires_grad(true);
  gcc::Adam opt2({{"q", q}}, 0.1f, 0.9f, 0.999f, 1e-8f, 0.5f);
  gcc::mul_scalar(q, 0.f).backward();  // gradient 0, decay adds 0.5*2 = 1 -> same normalised step
  opt2.step();
  check_values(q, {1.9f}, 1e-6, 0, "adam weight decay");
}

TEST_CASE("cosine schedule of SPEC §4") {
  CHECK(gcc::cosine_lr(0.4f, 0, 1000) == doctest::Approx(0.4));
  CHECK(gcc::cosine_lr(0.4f, 1000, 1000) == doctest::Approx(0.0004));
  CHECK(gcc::cosine_lr(0.4f, 500, 1000) == doctest::Approx((0.4 + 0.0004) / 2));
  CHECK(gcc::constant_lr(5e-5f, 7, 100) == 5e-5f);
}

TEST_CASE("EMA of weights") {
  Tensor p = Tensor::from_vector({1.f, 2.f}, Shape{2});
  gcc::Ema ema({{"p", p}}, 0.5f);
  p.data()[0] = 3.f;
  ema.update();
  check_values(ema.shadow()[0].tensor, {2.f, 2.f}, 0, 0, "ema");
}
