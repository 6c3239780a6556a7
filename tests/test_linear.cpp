// linear: y = x wᵀ + b by hand (with and without bias), agreement with matmul + add, gradient
// checks and shape errors.
#include "gradcheck.hpp"
#include "gcc/ops/linear.hpp"
#include "gcc/ops/matmul.hpp"

using gcc::Shape;
using gcc::Tensor;
using namespace gcc_test;

TEST_CASE("linear values") {
  const Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6}, Shape{2, 3});
  const Tensor w = Tensor::from_vector({1, 0, -1, 0.5f, 0.5f, 0.5f}, Shape{2, 3});
  const Tensor b = Tensor::from_vector({10, -10}, Shape{2});
  Tensor y = gcc::linear(x, w, b);
  CHECK(y.shape() == Shape{2, 2});
  check_values(y, {8, -7, 8, -2.5f}, 0, 0, "with bias");
  check_values(gcc::linear(x, w), {-2, 3, -2, 7.5f}, 0, 0, "no bias");
  check_values(gcc::linear(x, w, Tensor()), {-2, 3, -2, 7.5f}, 0, 0, "undefined bias");
  // one output feature, one sample
  check_values(gcc::linear(Tensor::from_vector({2, -1}, Shape{1, 2}), Tensor::from_vector({3, 4}, Shape{1, 2}),
                           Tensor::from_vector({0.5f}, Shape{1})),
               {2.5f}, 0, 0, "1x1");
  // an empty batch gives an empty output
  CHECK(gcc::linear(Tensor::zeros(Shape{0, 3}), w, b).shape() == Shape{0, 2});
}

TEST_CASE("linear agrees with matmul(x, w, false, true) + bias") {
  const Tensor x = rand_tensor(Shape{7, 5}, 31), w = rand_tensor(Shape{4, 5}, 32), b = rand_tensor(Shape{4}, 33);
  const std::vector<float> ref = gcc::add(gcc::matmul(x, w, false, true), b).to_vector();
  check_values(gcc::linear(x, w, b), ref, 1e-6, 1e-6, "linear vs matmul");
}

TEST_CASE("linear gradients") {
  const Tensor x = rand_tensor(Shape{4, 5}, 34), w = rand_tensor(Shape{3, 5}, 35), b = rand_tensor(Shape{3}, 36);
  gradcheck("linear (x, w, b)", [](const std::vector<Tensor>& in) { return gcc::linear(in[0], in[1], in[2]); },
            {x.clone(), w.clone(), b.clone()});
  gradcheck("linear (x, w) no bias", [](const std::vector<Tensor>& in) { return gcc::linear(in[0], in[1]); },
            {x.clone(), w.clone()});
  // weight and bias only (a frozen input), by hand: gw = gyᵀ x, gb = column sums of gy
  Tensor wg = Tensor::from_vector({1, 2}, Shape{1, 2}).set_requires_grad(true);
  Tensor bg = Tensor::from_vector({0}, Shape{1}).set_requires_grad(true);
  const Tensor xi = Tensor::from_vector({1, 2, 3, 4}, Shape{2, 2});
  gcc::linear(xi, wg, bg).backward(Tensor::from_vector({1, -1}, Shape{2, 1}));
  check_values(wg.grad(), {-2, -2}, 0, 0, "gw");
  check_values(bg.grad(), {0}, 0, 0, "gb");
  CHECK_FALSE(xi.grad().defined());
}

TEST_CASE("linear shape errors") {
  const Tensor x = Tensor::zeros(Shape{2, 3});
  CHECK_THROWS_WITH_AS(gcc::linear(x, Tensor::zeros(Shape{2, 4})),
                       doctest::Contains("linear: weight [2, 4] expects 4 input features, input is [2, 3]"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::linear(x, Tensor::zeros(Shape{2, 3}), Tensor::zeros(Shape{3})),
                       doctest::Contains("linear: bias [3] does not match weight [2, 3] (expected [2])"), gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::linear(Tensor::zeros(Shape{2, 3, 1}), Tensor::zeros(Shape{2, 3})),
                       doctest::Contains("linear (input): expected a 2-D tensor [N, in_features], got shape [2, 3, 1]"),
                       gcc::Error);
}
