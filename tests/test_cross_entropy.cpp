// cross_entropy: hand-computed and PyTorch reference values (class weights, mask as ignore_index),
// the all-masked and empty cases (0, not NaN), saturated logits, gradient checks, target range errors.
#include "gradcheck.hpp"
#include "gcc/ops/cross_entropy.hpp"

#include <cmath>

using gcc::Shape;
using gcc::Tensor;
using namespace gcc_test;

namespace {
Tensor ce_logits() {
  return Tensor::from_vector({2, 1, 0.1f, 0.5f, 2.5f, 0.3f, 1.2f, 0.2f, 3.0f, 0, 0, 0}, Shape{4, 3});
}
}  // namespace

TEST_CASE("cross_entropy of one sample by hand") {
  // log(e + e^2 + e^3) - 3
  const double expect = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3.0;
  Tensor l = gcc::cross_entropy(Tensor::from_vector({1, 2, 3}, Shape{1, 3}), {2});
  CHECK(l.dims() == 0);
  CHECK(l.item() == doctest::Approx(expect).epsilon(1e-6));
  CHECK(l.item() == doctest::Approx(0.40760595).epsilon(1e-6));
}

TEST_CASE("cross_entropy matches F.cross_entropy with and without class weights") {
  const std::vector<int> t = {0, 1, 1, 2};
  const Tensor w = Tensor::from_vector({1, 2, 0.5f}, Shape{3});
  Tensor x = ce_logits();
  x.set_requires_grad(true);
  Tensor l = gcc::cross_entropy(x, t);
  CHECK(l.item() == doctest::Approx(1.18488443).epsilon(1e-6));
  l.backward();
  check_values(x.grad(),
               {-0.08524971f, 0.06060825f, 0.02464147f, 0.02715093f, -0.04938024f, 0.02222930f, 0.03370396f,
                -0.23760101f, 0.20389703f, 0.08333333f, 0.08333333f, -0.16666667f},
               1e-6, 1e-5, "unweighted gradient");
  x.zero_grad();
  // torch: F.cross_entropy(x, t, weight=w) = sum w[t_i] nll_i / sum w[t_i]
  Tensor lw = gcc::cross_entropy(x, t, w);
  CHECK(lw.item() == doctest::Approx(1.34802306).epsilon(1e-6));
  lw.backward();
  check_values(x.grad(),
               {-0.06199979f, 0.04407873f, 0.01792107f, 0.03949226f, -0.07182581f, 0.03233353f, 0.04902394f,
                -0.34560147f, 0.29657751f, 0.03030303f, 0.03030303f, -0.06060606f},
               1e-6, 1e-5, "weighted gradient");
}

TEST_CASE("cross_entropy with a mask counts the masked-in samples only") {
  const Tensor w = Tensor::from_vector({1, 2, 0.5f}, Shape{3});
  Tensor x = ce_logits();
  x.set_requires_grad(true);
  // Same as torch with targets [0, -100, 1, -100] (ignore_index): masked-out targets are not read.
  Tensor l = gcc::cross_entropy(x, {0, -1, 1, 99}, w, {1, 0, 1, 0});
  CHECK(l.item() == doctest::Approx(2.14157367).epsilon(1e-6));
  l.backward();
  check_values(x.grad(),
               {-0.11366628f, 0.08081099f, 0.03285530f, 0, 0, 0, 0.08987722f, -0.63360268f, 0.54372543f, 0, 0, 0},
               1e-6, 1e-5, "masked weighted gradient");
  // Without weights: the mean over the two masked-in samples.
  const Tensor x2 = ce_logits();
  const float a = gcc::cross_entropy(x2.narrow0(0, 1), {0}).item();
  const float b = gcc::cross_entropy(x2.narrow0(2, 3), {1}).item();
  CHECK(gcc::cross_entropy(x2, {0, 1, 1, 2}, {}, {1, 0, 1, 0}).item() == doctest::Approx((a + b) / 2).epsilon(1e-6));
}

TEST_CASE("cross_entropy with nothing masked in is 0 with a zero gradient (PyTorch gives NaN)") {
  Tensor x = ce_logits();
  x.set_requires_grad(true);
  Tensor l = gcc::cross_entropy(x, {0, 1, 2, 0}, Tensor::from_vector({1, 2, 3}, Shape{3}), {0, 0, 0, 0});
  CHECK(l.item() == 0.f);
  l.backward();
  check_values(x.grad(), std::vector<float>(12, 0.f), 0, 0, "all-masked gradient");
  // N == 0.
  Tensor e = Tensor::zeros(Shape{0, 3});
  e.set_requires_grad(true);
  Tensor le = gcc::cross_entropy(e, {});
  CHECK(le.item() == 0.f);
  le.backward();
  CHECK(e.grad().shape() == Shape{0, 3});
}

TEST_CASE("cross_entropy of saturated logits is finite") {
  Tensor x = Tensor::from_vector({1000, 0, 0, 1000}, Shape{2, 2});
  x.set_requires_grad(true);
  Tensor l = gcc::cross_entropy(x, {1, 1});
  CHECK(l.item() == 500.f);  // torch: 500
  l.backward();
  check_values(x.grad(), {0.5f, -0.5f, 0, 0}, 0, 0, "saturated gradient");
  CHECK(gcc::cross_entropy(Tensor::from_vector({-1000, 1000, 0}, Shape{1, 3}), {0}).item() == 2000.f);
}

TEST_CASE("cross_entropy gradients") {
  const Tensor x = rand_tensor(Shape{5, 4}, 41, -2.f, 2.f);
  const std::vector<int> t = {3, 0, 1, 1, 2};
  const Tensor w = Tensor::from_vector({0.5f, 2.f, 1.f, 3.f}, Shape{4});
  const std::vector<uint8_t> mask = {1, 1, 0, 1, 0};
  gradcheck("cross_entropy", [&](const std::vector<Tensor>& in) { return gcc::cross_entropy(in[0], t); },
            {x.clone()});
  gradcheck("cross_entropy weighted", [&](const std::vector<Tensor>& in) { return gcc::cross_entropy(in[0], t, w); },
            {x.clone()});
  gradcheck("cross_entropy masked",
            [&](const std::vector<Tensor>& in) { return gcc::cross_entropy(in[0], t, {}, mask); }, {x.clone()});
  gradcheck("cross_entropy weighted and masked",
            [&](const std::vector<Tensor>& in) { return gcc::cross_entropy(in[0], t, w, mask); }, {x.clone()});
}

TEST_CASE("cross_entropy misuse") {
  const Tensor x = Tensor::zeros(Shape{2, 3});
  CHECK_THROWS_WITH_AS(gcc::cross_entropy(x, {0, 3}), doctest::Contains("target 3 of sample 1 is out of range [0, 3)"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::cross_entropy(x, {-1, 0}),
                       doctest::Contains("target -1 of sample 0 is out of range [0, 3)"), gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::cross_entropy(x, {0}), doctest::Contains("1 targets for logits of shape [2, 3]"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::cross_entropy(x, {0, 1}, Tensor::ones(Shape{2})),
                       doctest::Contains("class_weights of shape [2] for logits of shape [2, 3] (expected [3])"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::cross_entropy(x, {0, 1}, {}, {1}), doctest::Contains("mask has 1 entries"), gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::cross_entropy(Tensor::zeros(Shape{2, 3, 1}), {0, 1}),
                       doctest::Contains("cross_entropy: expected a 2-D tensor of logits [N, C], got shape [2, 3, 1]"),
                       gcc::Error);
}
