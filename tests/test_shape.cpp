// Shape ops: reshape/flatten (views and copies, gradients reshaped back), concat0 and slice0 values,
// gradient checks, gradients through overlapping slices, and errors.
#include "gradcheck.hpp"
#include "gcc/ops/shape.hpp"

using gcc::Shape;
using gcc::Tensor;
using namespace gcc_test;

TEST_CASE("reshape and flatten") {
  const Tensor x = Tensor::from_vector({0, 1, 2, 3, 4, 5}, Shape{2, 3});
  Tensor y = gcc::reshape(x, Shape{3, 2});
  CHECK(y.shape() == Shape{3, 2});
  CHECK(y.same_storage(x));  // a view of a contiguous tensor
  check_values(y, {0, 1, 2, 3, 4, 5}, 0, 0, "reshape");
  // a strided input is copied
  Tensor t = gcc::reshape(x.transpose(0, 1), Shape{6});
  CHECK_FALSE(t.same_storage(x));
  check_values(t, {0, 3, 1, 4, 2, 5}, 0, 0, "reshape of transpose");
  Tensor f = gcc::flatten(Tensor::zeros(Shape{2, 3, 2, 2}));
  CHECK(f.shape() == Shape{2, 12});
  CHECK(gcc::flatten(Tensor::zeros(Shape{0, 3, 2})).shape() == Shape{0, 6});
  CHECK_THROWS_WITH_AS(gcc::reshape(x, Shape{4}),
                       doctest::Contains("reshape: cannot reshape [2, 3] (6 elements) to [4] (4 elements)"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::flatten(Tensor::zeros(Shape{5})),
                       doctest::Contains("flatten: expected a tensor [N, ...] with at least 2 dimensions, got shape [5]"),
                       gcc::Error);
}

TEST_CASE("reshape and flatten gradients") {
  Tensor x = rand_tensor(Shape{2, 6}, 41).set_requires_grad(true);
  Tensor g = rand_tensor(Shape{3, 4}, 42);
  gcc::reshape(x, Shape{3, 4}).backward(g);
  CHECK(x.grad().shape() == Shape{2, 6});
  check_values(x.grad(), g.to_vector(), 0, 0, "reshaped gradient");
  gradcheck("reshape", [](const std::vector<Tensor>& in) { return gcc::reshape(in[0], Shape{4, 3}); },
            {rand_tensor(Shape{2, 3, 2}, 43)});
  gradcheck("flatten", [](const std::vector<Tensor>& in) { return gcc::flatten(in[0]); },
            {rand_tensor(Shape{2, 2, 2, 3}, 44)});
  gradcheck("reshape twice", [](const std::vector<Tensor>& in) {
    return gcc::reshape(gcc::reshape(in[0], Shape{3, 2}), Shape{6});
  }, {rand_tensor(Shape{2, 3}, 45)});
}

TEST_CASE("concat0 values") {
  const Tensor a = Tensor::from_vector({1, 2}, Shape{1, 2});
  const Tensor b = Tensor::from_vector({3, 4, 5, 6}, Shape{2, 2});
  const Tensor e = Tensor::zeros(Shape{0, 2});
  Tensor y = gcc::concat0({a, e, b});
  CHECK(y.shape() == Shape{3, 2});
  check_values(y, {1, 2, 3, 4, 5, 6}, 0, 0, "concat0");
  check_values(gcc::concat0({b}), {3, 4, 5, 6}, 0, 0, "one part");
  // 4-D parts and a strided part
  Tensor c = gcc::concat0({Tensor::ones(Shape{1, 2, 1, 1}), Tensor::zeros(Shape{2, 2, 1, 1})});
  CHECK(c.shape() == Shape{3, 2, 1, 1});
  check_values(c, {1, 1, 0, 0, 0, 0}, 0, 0, "4-D");
  const Tensor s = Tensor::from_vector({1, 2, 3, 4}, Shape{2, 2}).transpose(0, 1);
  check_values(gcc::concat0({s, a}), {1, 3, 2, 4, 1, 2}, 0, 0, "strided part");
}

TEST_CASE("slice0 values") {
  const Tensor x = Tensor::from_vector({0, 1, 2, 3, 4, 5, 6, 7}, Shape{4, 2});
  Tensor y = gcc::slice0(x, 1, 3);
  CHECK(y.shape() == Shape{2, 2});
  CHECK_FALSE(y.same_storage(x));
  check_values(y, {2, 3, 4, 5}, 0, 0, "slice0");
  CHECK(gcc::slice0(x, 2, 2).shape() == Shape{0, 2});
  check_values(gcc::slice0(x, 0, 4), x.to_vector(), 0, 0, "whole");
  check_values(gcc::slice0(Tensor::from_vector({9, 8, 7}, Shape{3}), 2, 3), {7}, 0, 0, "1-D");
}

TEST_CASE("concat0 and slice0 gradients") {
  gradcheck("concat0", [](const std::vector<Tensor>& in) { return gcc::concat0({in[0], in[1], in[2]}); },
            {rand_tensor(Shape{2, 3}, 51), rand_tensor(Shape{1, 3}, 52), rand_tensor(Shape{3, 3}, 53)});
  gradcheck("slice0", [](const std::vector<Tensor>& in) { return gcc::slice0(in[0], 1, 3); },
            {rand_tensor(Shape{4, 2, 3}, 54)});
  // overlapping slices of one tensor, concatenated: gradients add up where the slices overlap
  Tensor x = rand_tensor(Shape{4, 2}, 55).set_requires_grad(true);
  gcc::concat0({gcc::slice0(x, 0, 3), gcc::slice0(x, 1, 4)}).backward(Tensor::ones(Shape{6, 2}));
  check_values(x.grad(), {1, 1, 2, 2, 2, 2, 1, 1}, 0, 0, "overlap");
  // only the parts that require grad receive one
  Tensor p = Tensor::ones(Shape{1, 2}).set_requires_grad(true);
  const Tensor q = Tensor::ones(Shape{2, 2});
  gcc::concat0({q, p}).backward(Tensor::from_vector({1, 2, 3, 4, 5, 6}, Shape{3, 2}));
  check_values(p.grad(), {5, 6}, 0, 0, "part gradient");
  CHECK_FALSE(q.grad().defined());
}

TEST_CASE("concat0 and slice0 errors") {
  CHECK_THROWS_WITH_AS(gcc::concat0({Tensor::zeros(Shape{1, 2}), Tensor::zeros(Shape{2, 3})}),
                       doctest::Contains("concat0: part 1 has shape [2, 3], part 0 has shape [1, 2]; all "
                                         "dimensions but the first must match"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::concat0({Tensor::zeros(Shape{1, 2}), Tensor::zeros(Shape{2, 2, 1})}),
                       doctest::Contains("part 1 has shape [2, 2, 1], part 0 has shape [1, 2]"), gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::concat0({}), doctest::Contains("concat0: needs at least one tensor"), gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::concat0({Tensor::scalar(1), Tensor::scalar(2)}), doctest::Contains("part 0 is a scalar"),
                       gcc::Error);
  const Tensor x = Tensor::zeros(Shape{3, 2});
  CHECK_THROWS_WITH_AS(gcc::slice0(x, 1, 5),
                       doctest::Contains("slice0: rows [1, 5) out of range for shape [3, 2] (need 0 <= begin <= "
                                         "end <= 3)"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::slice0(x, -1, 2), doctest::Contains("slice0: rows [-1, 2) out of range"), gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::slice0(x, 2, 1), doctest::Contains("slice0: rows [2, 1) out of range"), gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::slice0(Tensor::scalar(1), 0, 1), doctest::Contains("slice0: input is a scalar"),
                       gcc::Error);
}
