// l2_normalize (F.normalize semantics) and column_normalize: values along both dims, zero slices
// (no NaN, gradient gy / eps as in PyTorch), the eps clamp, and gradient checks.
#include "gradcheck.hpp"
#include "gcc/ops/normalize.hpp"

#include <cmath>

using gcc::Shape;
using gcc::Tensor;
using namespace gcc_test;

TEST_CASE("l2_normalize values along dim 1 and dim 0") {
  const Tensor x = Tensor::from_vector({3, 4, 0, 0, 1, 0}, Shape{3, 2});
  check_values(gcc::l2_normalize(x, 1), {0.6f, 0.8f, 0, 0, 1, 0}, 1e-7, 1e-6, "rows");
  // Columns: norms sqrt(10) and 4 (torch F.normalize(x, dim=0)).
  check_values(gcc::l2_normalize(x, 0), {0.94868326f, 1, 0, 0, 0.31622776f, 0}, 1e-7, 1e-6, "columns");
  check_values(gcc::l2_normalize(x, -2), gcc::l2_normalize(x, 0).to_vector(), 0, 0, "dim -2");
  check_values(gcc::column_normalize(x), gcc::l2_normalize(x, 0).to_vector(), 0, 0, "column_normalize");
  // Every column of a random matrix has unit norm afterwards.
  const Tensor r = gcc::column_normalize(rand_tensor(Shape{6, 4}, 3));
  for (int64_t j = 0; j < 4; ++j) {
    double ss = 0;
    for (int64_t i = 0; i < 6; ++i) ss += static_cast<double>(r.at({i, j})) * r.at({i, j});
    CHECK(std::sqrt(ss) == doctest::Approx(1.0).epsilon(1e-6));
  }
}

TEST_CASE("l2_normalize of zero slices stays zero with a finite gradient g / eps") {
  Tensor x = Tensor::from_vector({0, 0, 0, 3, 3, 3}, Shape{2, 3});
  x.set_requires_grad(true);
  Tensor y = gcc::l2_normalize(x, 1);
  check_values(y, {0, 0, 0, 0.57735027f, 0.57735027f, 0.57735027f}, 1e-7, 1e-6, "zero row");
  y.backward(Tensor::from_vector({1, 2, 3, 1, 2, 3}, Shape{2, 3}));
  // torch: [[1e12, 2e12, 3e12], [-0.19245, ~0, 0.19245]]
  check_values(x.grad(), {1e12f, 2e12f, 3e12f, -0.19245009f, 0, 0.19245009f}, 1e-6, 1e-6, "zero row gradient");
  for (float v : x.grad().to_vector()) CHECK(std::isfinite(v));
  // A zero column along dim 0.
  Tensor c = Tensor::from_vector({0, 1, 0, 2}, Shape{2, 2});
  c.set_requires_grad(true);
  Tensor yc = gcc::column_normalize(c);
  check_values(yc, {0, 0.4472136f, 0, 0.8944272f}, 1e-7, 1e-6, "zero column");
  gcc::sum_all(yc).backward();
  check_values(c.grad(), {1e12f, 0.17888544f, 1e12f, -0.08944272f}, 1e-6, 1e-5, "zero column gradient");
}

TEST_CASE("l2_normalize clamps the norm at eps as torch.clamp_min does") {
  // ||[3, 4]|| = 5. eps = 5: not clamped (clamp_min passes the gradient at equality); eps = 6: clamped.
  Tensor a = Tensor::from_vector({3, 4}, Shape{1, 2});
  a.set_requires_grad(true);
  Tensor ya = gcc::l2_normalize(a, 1, 5.f);
  check_values(ya, {0.6f, 0.8f}, 1e-7, 1e-6, "eps = norm");
  ya.backward(Tensor::from_vector({1, 2}, Shape{1, 2}));
  check_values(a.grad(), {-0.064f, 0.048f}, 1e-7, 1e-5, "eps = norm gradient");
  Tensor b = Tensor::from_vector({3, 4}, Shape{1, 2});
  b.set_requires_grad(true);
  Tensor yb = gcc::l2_normalize(b, 1, 6.f);
  check_values(yb, {0.5f, 4.f / 6}, 1e-7, 1e-6, "eps > norm");
  yb.backward(Tensor::from_vector({1, 2}, Shape{1, 2}));
  check_values(b.grad(), {1.f / 6, 2.f / 6}, 1e-7, 1e-6, "eps > norm gradient");
}

TEST_CASE("l2_normalize gradients") {
  const Tensor a = rand_tensor(Shape{4, 5}, 21, -2.f, 2.f);
  gradcheck("l2_normalize dim 1", [](const std::vector<Tensor>& in) { return gcc::l2_normalize(in[0], 1); },
            {a.clone()});
  gradcheck("l2_normalize dim 0", [](const std::vector<Tensor>& in) { return gcc::l2_normalize(in[0], 0); },
            {a.clone()});
  gradcheck("column_normalize", [](const std::vector<Tensor>& in) { return gcc::column_normalize(in[0]); },
            {a.clone()});
  gradcheck("l2_normalize [2, 3, 4] dim 1",
            [](const std::vector<Tensor>& in) { return gcc::l2_normalize(in[0], 1); },
            {rand_tensor(Shape{2, 3, 4}, 22, -2.f, 2.f)});
}

TEST_CASE("l2_normalize misuse") {
  CHECK_THROWS_WITH_AS(gcc::column_normalize(Tensor::zeros(Shape{2, 3, 4})),
                       doctest::Contains("column_normalize: expected a 2-D tensor [rows, cols], got shape [2, 3, 4]"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::l2_normalize(Tensor::zeros(Shape{2, 3}), -3),
                       doctest::Contains("l2_normalize: dim -3 out of range for shape [2, 3]"), gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::l2_normalize(Tensor::zeros(Shape{2, 3}), 1, 0.f),
                       doctest::Contains("l2_normalize: eps must be positive"), gcc::Error);
}
