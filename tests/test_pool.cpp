// Pooling: max_pool2d (padding, ties, the resnet18-stl stem), avg_pool2d (count_include_pad) and
// global average pooling: hand-computed values (confirmed with PyTorch), gradients and misuse errors.
#include <algorithm>
#include <limits>

#include "gradcheck.hpp"
#include "gcc/ops/pool.hpp"

using gcc::Shape;
using gcc::Tensor;
using namespace gcc_test;

namespace {

// 5x5 plane:
//   3 1 4 1 5
//   9 2 6 5 3
//   5 8 9 7 9
//   3 2 3 8 4
//   6 2 6 4 3
Tensor plane5() {
  return Tensor::from_vector({3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4, 6, 2, 6, 4, 3},
                             Shape{1, 1, 5, 5});
}

// Values 0.1 apart in shuffled order: no ties, and a finite-difference step never changes an argmax.
Tensor distinct_tensor(const Shape& s, uint64_t seed) {
  std::vector<float> v(static_cast<std::size_t>(s.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = 0.1f * static_cast<float>(i) - 2.f;
  gcc::Rng rng(seed);
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
  return Tensor::from_vector(v, s);
}

}  // namespace

TEST_CASE("max_pool2d: kernel 2 stride 2 padding 1 (the resnet18-stl stem) by hand") {
  Tensor x = plane5();
  x.set_requires_grad(true);
  Tensor y = gcc::max_pool2d(x, 2, 2, 1);
  REQUIRE(y.shape() == Shape{1, 1, 3, 3});
  // windows: rows {-1,0}, {1,2}, {3,4} x the same columns; the padding never wins
  check_values(y, {3, 4, 5, 9, 9, 9, 6, 6, 8}, 0, 0, "k2 s2 p1");
  y.backward(Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8, 9}, Shape{1, 1, 3, 3}));
  check_values(x.grad(), {1, 0, 2, 0, 3, 4, 0, 0, 0, 0, 0, 0, 5, 0, 6, 0, 0, 0, 9, 0, 7, 0, 8, 0, 0}, 0, 0,
               "k2 s2 p1 grad");
  // The stem's shape: 32x32 -> 17x17, 96x96 -> 49x49.
  CHECK(gcc::max_pool2d(Tensor::zeros(Shape{2, 3, 32, 32}), 2, 2, 1).shape() == Shape{2, 3, 17, 17});
  CHECK(gcc::max_pool2d(Tensor::zeros(Shape{1, 1, 96, 96}), 2, 2, 1).shape() == Shape{1, 1, 49, 49});
}

TEST_CASE("max_pool2d: ties send the gradient to the first maximum") {
  Tensor x = plane5();
  x.set_requires_grad(true);
  Tensor y = gcc::max_pool2d(x, 3, 2);
  REQUIRE(y.shape() == Shape{1, 1, 2, 2});
  check_values(y, {9, 9, 9, 9}, 0, 0, "k3 s2");
  y.backward(Tensor::ones(y.shape()));
  // window (0,0) has 9 at (1,0) and (2,2): (1,0) comes first; the other three windows pick (2,2) over (2,4)
  std::vector<float> expect(25, 0.f);
  expect[5] = 1;
  expect[12] = 3;
  check_values(x.grad(), expect, 0, 0, "ties");
  // Equal values in one window of a stride-1 pool (PyTorch: [[0,2,0],[1,0,0],[0,1,0]]).
  Tensor t = Tensor::from_vector({1, 3, 3, 3, 2, 1, 0, 3, 1}, Shape{1, 1, 3, 3});
  t.set_requires_grad(true);
  Tensor yt = gcc::max_pool2d(t, 2, 1);
  check_values(yt, {3, 3, 3, 3}, 0, 0, "ties s1");
  yt.backward(Tensor::ones(yt.shape()));
  check_values(t.grad(), {0, 2, 0, 1, 0, 0, 0, 1, 0}, 0, 0, "ties s1 grad");
}

TEST_CASE("max_pool2d: -inf inputs, NaN, several planes") {
  const float inf = std::numeric_limits<float>::infinity();
  Tensor x = Tensor::from_vector({-inf, -inf, -inf, -inf, 1, 2, 3, 4}, Shape{1, 2, 2, 2});
  const std::vector<float> y = gcc::max_pool2d(x, 2, 2).to_vector();
  CHECK(y[0] == -inf);  // an all -inf window gives -inf (its first element)
  CHECK(y[1] == 4.f);
  Tensor n = Tensor::from_vector({1, std::nanf(""), 3, 2}, Shape{1, 1, 2, 2});
  CHECK(std::isnan(gcc::max_pool2d(n, 2, 2).item()));  // PyTorch propagates NaN
}

TEST_CASE("avg_pool2d: padding counts in the divisor (count_include_pad)") {
  Tensor x = plane5();
  x.set_requires_grad(true);
  Tensor y = gcc::avg_pool2d(x, 3, 2, 1);
  REQUIRE(y.shape() == Shape{1, 1, 3, 3});
  // corner window holds 3 + 1 + 9 + 2 = 15 over 9 cells (5 of them padding): 15 / 9
  check_values(y, {15.f / 9, 19.f / 9, 14.f / 9, 29.f / 9, 50.f / 9, 4, 13.f / 9, 25.f / 9, 19.f / 9}, 1e-6, 1e-6,
               "k3 s2 p1");
  y.backward(Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8, 9}, Shape{1, 1, 3, 3}));
  check_values(x.grad(),
               {1.f / 9, 3.f / 9, 2.f / 9, 5.f / 9, 3.f / 9, 5.f / 9, 12.f / 9, 7.f / 9, 16.f / 9, 1, 4.f / 9, 1,
                5.f / 9, 11.f / 9, 6.f / 9, 11.f / 9, 24.f / 9, 13.f / 9, 28.f / 9, 15.f / 9, 7.f / 9, 15.f / 9,
                8.f / 9, 17.f / 9, 1},
               1e-6, 1e-6, "k3 s2 p1 grad");
  // Floor mode: the last row and column of the 5x5 plane are dropped.
  check_values(gcc::avg_pool2d(plane5(), 2, 2), {3.75f, 4, 4.5f, 6.75f}, 1e-6, 0, "k2 s2");
}

TEST_CASE("global_avg_pool2d: [N, C, H, W] -> [N, C]") {
  std::vector<float> v(24);
  for (int i = 0; i < 24; ++i) v[static_cast<std::size_t>(i)] = static_cast<float>(i);
  Tensor x = Tensor::from_vector(v, Shape{2, 3, 2, 2});
  x.set_requires_grad(true);
  Tensor y = gcc::global_avg_pool2d(x);
  REQUIRE(y.shape() == Shape{2, 3});
  check_values(y, {1.5f, 5.5f, 9.5f, 13.5f, 17.5f, 21.5f}, 0, 0, "global");
  y.backward(Tensor::from_vector({4, 8, 12, 16, 20, 24}, Shape{2, 3}));
  std::vector<float> g(24);
  for (int i = 0; i < 24; ++i) g[static_cast<std::size_t>(i)] = static_cast<float>(i / 4 + 1);
  check_values(x.grad(), g, 0, 0, "global grad");
  // Same as avg_pool2d with the whole plane as kernel.
  Tensor r = rand_tensor(Shape{2, 4, 7, 7}, 3);
  check_values(gcc::global_avg_pool2d(r), gcc::avg_pool2d(r, 7, 7).to_vector(), 1e-6, 1e-5, "vs avg_pool2d");
}

TEST_CASE("pooling gradients") {
  gradcheck("max_pool2d k2 s2 p1", [](const std::vector<Tensor>& in) { return gcc::max_pool2d(in[0], 2, 2, 1); },
            {distinct_tensor(Shape{2, 2, 5, 5}, 1)});
  gradcheck("max_pool2d k3 s1 p1", [](const std::vector<Tensor>& in) { return gcc::max_pool2d(in[0], 3, 1, 1); },
            {distinct_tensor(Shape{1, 2, 6, 5}, 2)});
  gradcheck("avg_pool2d k3 s2 p1", [](const std::vector<Tensor>& in) { return gcc::avg_pool2d(in[0], 3, 2, 1); },
            {rand_tensor(Shape{2, 2, 5, 5}, 3)});
  gradcheck("avg_pool2d k2 s1", [](const std::vector<Tensor>& in) { return gcc::avg_pool2d(in[0], 2, 1); },
            {rand_tensor(Shape{1, 3, 4, 5}, 4)});
  gradcheck("global_avg_pool2d", [](const std::vector<Tensor>& in) { return gcc::global_avg_pool2d(in[0]); },
            {rand_tensor(Shape{2, 3, 3, 4}, 5)});
}

TEST_CASE("pooling misuse") {
  Tensor x = Tensor::zeros(Shape{1, 1, 5, 5});
  CHECK_THROWS_WITH_AS(gcc::max_pool2d(x, 3, 1, 2),
                       doctest::Contains("max_pool2d: padding (2, 2) must be at most half the kernel size (3, 3)"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::avg_pool2d(x, 2, 2, 2), doctest::Contains("avg_pool2d: padding (2, 2) must be at most half"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::max_pool2d(Tensor::zeros(Shape{1, 1, 2, 2}), 3, 1),
                       doctest::Contains("max_pool2d: kernel (3, 3) is larger than the padded input [1, 1, 2, 2]"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::max_pool2d(Tensor::zeros(Shape{5, 5}), 2, 2),
                       doctest::Contains("max_pool2d: expected a 4-D tensor [N, C, H, W], got shape [5, 5]"), gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::avg_pool2d(x, 2, 0), doctest::Contains("avg_pool2d: kernel and stride must be >= 1"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::global_avg_pool2d(Tensor::zeros(Shape{2, 3})),
                       doctest::Contains("global_avg_pool2d: expected a 4-D tensor"), gcc::Error);
  // PyTorch accepts a kernel that only fits thanks to the padding.
  CHECK(gcc::avg_pool2d(Tensor::zeros(Shape{1, 1, 2, 2}), 5, 1, 2).shape() == Shape{1, 1, 2, 2});
}
