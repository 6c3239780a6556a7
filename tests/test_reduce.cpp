// Reductions: sum / mean / max along a dim (keepdim, negative dims, 3-D), max ties (gradient to the
// first maximum, as PyTorch), sum_all / mean_all as 0-d tensors, empty inputs, gradient checks.
#include "gradcheck.hpp"
#include "gcc/ops/reduce.hpp"

#include <cmath>

using gcc::Shape;
using gcc::Tensor;
using namespace gcc_test;

TEST_CASE("sum, mean and max along dim 0 and dim 1") {
  const Tensor x = Tensor::from_vector({1, 5, -2, 4, 0, 3}, Shape{2, 3});
  Tensor s1 = gcc::sum(x, 1);
  CHECK(s1.shape() == Shape{2});
  check_values(s1, {4, 7}, 0, 0, "sum dim 1");
  Tensor s0 = gcc::sum(x, 0, true);
  CHECK(s0.shape() == Shape{1, 3});
  check_values(s0, {5, 5, 1}, 0, 0, "sum dim 0 keepdim");
  check_values(gcc::mean(x, 1), {4.f / 3, 7.f / 3}, 1e-7, 1e-6, "mean dim 1");
  Tensor m0 = gcc::mean(x, -2, true);
  CHECK(m0.shape() == Shape{1, 3});
  check_values(m0, {2.5f, 2.5f, 0.5f}, 0, 0, "mean dim -2 keepdim");
  check_values(gcc::max(x, 1), {5, 4}, 0, 0, "max dim 1");
  Tensor mx = gcc::max(x, 0, true);
  CHECK(mx.shape() == Shape{1, 3});
  check_values(mx, {4, 5, 3}, 0, 0, "max dim 0 keepdim");
  // A 1-D input reduces to a 0-d tensor.
  Tensor v = gcc::sum(Tensor::from_vector({1, 2, 3}, Shape{3}), 0);
  CHECK(v.dims() == 0);
  CHECK(v.item() == 6.f);
}

TEST_CASE("reductions of a 3-D tensor along the middle dim, and over more than one tile") {
  const Tensor x = Tensor::from_vector({1, 2, 3, -1, 0, 0.5f, 2, 2, 1, 1, -3, 4}, Shape{2, 3, 2});
  check_values(gcc::sum(x, 1), {4, 1.5f, 0, 7}, 0, 0, "sum [2, 3, 2] dim 1");
  check_values(gcc::mean(x, 1), {4.f / 3, 0.5f, 0, 7.f / 3}, 1e-7, 1e-6, "mean [2, 3, 2] dim 1");
  check_values(gcc::max(x, 1), {3, 2, 2, 4}, 0, 0, "max [2, 3, 2] dim 1");
  const Tensor w = rand_tensor(Shape{3, 70}, 7);
  const Tensor s = gcc::sum(w, 0);
  const Tensor m = gcc::max(w, 0);
  for (int64_t j = 0; j < 70; ++j) {
    const float a = w.at({0, j}), b = w.at({1, j}), c = w.at({2, j});
    CHECK(s.at({j}) == doctest::Approx(static_cast<double>(a) + b + c).epsilon(1e-6));
    CHECK(m.at({j}) == std::max(a, std::max(b, c)));
  }
  check_values(gcc::sum(w.transpose(0, 1), 1), s.to_vector(), 0, 0, "sum of a transposed view");
}

TEST_CASE("max sends the gradient to the first maximal element") {
  Tensor x = Tensor::from_vector({1, 3, 3, 0, 2, 2, 2, 2}, Shape{2, 4});
  x.set_requires_grad(true);
  Tensor m = gcc::max(x, 1);
  check_values(m, {3, 2}, 0, 0, "max with ties");
  m.backward(Tensor::from_vector({1, 1}, Shape{2}));
  check_values(x.grad(), {0, 1, 0, 0, 1, 0, 0, 0}, 0, 0, "max tie gradient (torch: indices [1, 0])");
  Tensor y = Tensor::from_vector({1, 3, 3, 1, 3, 3}, Shape{3, 2});
  y.set_requires_grad(true);
  gcc::max(y, 0).backward(Tensor::from_vector({2, 5}, Shape{2}));
  check_values(y.grad(), {0, 5, 2, 0, 0, 0}, 0, 0, "max dim 0 tie gradient (torch: indices [1, 0])");
  // A NaN wins, as in PyTorch.
  Tensor n = gcc::max(Tensor::from_vector({1, NAN, 3}, Shape{1, 3}), 1);
  CHECK(std::isnan(n.item()));
}

TEST_CASE("sum_all and mean_all give 0-d tensors") {
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6}, Shape{2, 3});
  x.set_requires_grad(true);
  Tensor s = gcc::sum_all(x);
  CHECK(s.dims() == 0);
  CHECK(s.item() == 21.f);
  s.backward();
  check_values(x.grad(), std::vector<float>(6, 1.f), 0, 0, "sum_all gradient");
  x.zero_grad();
  Tensor m = gcc::mean_all(x);
  CHECK(m.dims() == 0);
  CHECK(m.item() == doctest::Approx(3.5));
  m.backward();
  check_values(x.grad(), std::vector<float>(6, 1.f / 6), 1e-8, 1e-6, "mean_all gradient");
  CHECK(gcc::mean_all(x.transpose(0, 1)).item() == doctest::Approx(3.5));
}

TEST_CASE("reductions of empty tensors") {
  const Tensor e = Tensor::zeros(Shape{0, 3});
  CHECK(gcc::sum_all(e).item() == 0.f);
  CHECK(std::isnan(gcc::mean_all(e).item()));
  check_values(gcc::sum(e, 0), {0, 0, 0}, 0, 0, "sum over an empty dim");
  CHECK(gcc::sum(e, 1).shape() == Shape{0});
  CHECK_THROWS_WITH_AS(gcc::max(e, 0), doctest::Contains("max: dimension 0 of shape [0, 3] is empty"), gcc::Error);
}

TEST_CASE("reduction gradients") {
  const Tensor a = rand_tensor(Shape{3, 5}, 31);
  // Distinct, well-separated values for max: a permutation of 0.1 * k.
  std::vector<float> perm(15);
  for (int k = 0; k < 15; ++k) perm[static_cast<std::size_t>(k)] = 0.1f * static_cast<float>((k * 7) % 15);
  const Tensor p = Tensor::from_vector(perm, Shape{3, 5});
  for (int dim = 0; dim < 2; ++dim) {
    for (bool keep : {false, true}) {
      const std::string tag = " dim " + std::to_string(dim) + (keep ? " keepdim" : "");
      gradcheck("sum" + tag, [=](const std::vector<Tensor>& in) { return gcc::sum(in[0], dim, keep); }, {a.clone()});
      gradcheck("mean" + tag, [=](const std::vector<Tensor>& in) { return gcc::mean(in[0], dim, keep); },
                {a.clone()});
      gradcheck("max" + tag, [=](const std::vector<Tensor>& in) { return gcc::max(in[0], dim, keep); }, {p.clone()});
    }
  }
  gradcheck("sum_all", [](const std::vector<Tensor>& in) { return gcc::sum_all(in[0]); }, {a.clone()});
  gradcheck("mean_all", [](const std::vector<Tensor>& in) { return gcc::mean_all(in[0]); }, {a.clone()});
  gradcheck("mean [2, 3, 4] dim 1", [](const std::vector<Tensor>& in) { return gcc::mean(in[0], 1); },
            {rand_tensor(Shape{2, 3, 4}, 32)});
}

TEST_CASE("reduction misuse") {
  CHECK_THROWS_WITH_AS(gcc::sum(Tensor::zeros(Shape{2, 3}), 2),
                       doctest::Contains("sum: dim 2 out of range for shape [2, 3]"), gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::mean(Tensor::scalar(1), 0), doctest::Contains("mean: needs a tensor with at least one"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::sum_all(Tensor()), doctest::Contains("sum_all: input is undefined"), gcc::Error);
}
