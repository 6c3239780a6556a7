// relu: forward values (zero, -0, NaN as PyTorch), gradient 0 at x <= 0, gradient check away from 0.
#include <cmath>

#include "gradcheck.hpp"
#include "gcc/ops/activation.hpp"

using gcc::Shape;
using gcc::Tensor;
using namespace gcc_test;

TEST_CASE("relu forward") {
  Tensor x = Tensor::from_vector({-2, -0.5f, 0, 0.5f, 3}, Shape{5});
  check_values(gcc::relu(x), {0, 0, 0, 0.5f, 3}, 0, 0, "relu");
  Tensor y = gcc::relu(Tensor::from_vector({std::nanf(""), -1, 1, 2}, Shape{2, 2}));
  CHECK(y.shape() == Shape{2, 2});
  CHECK(std::isnan(y.to_vector()[0]));  // torch.relu(nan) is nan
  // Strided input (a transposed view) is read in logical order.
  Tensor t = Tensor::from_vector({1, -2, -3, 4}, Shape{2, 2}).transpose(0, 1);
  check_values(gcc::relu(t), {1, 0, 0, 4}, 0, 0, "transposed");
  CHECK_THROWS_WITH_AS(gcc::relu(Tensor()), doctest::Contains("relu: input is undefined"), gcc::Error);
}

TEST_CASE("relu backward: gradient 0 at x <= 0") {
  Tensor x = Tensor::from_vector({-2, -0.f, 0, 1e-6f, 3, std::nanf("")}, Shape{2, 3});
  x.set_requires_grad(true);
  Tensor y = gcc::relu(x);
  y.backward(Tensor::from_vector({10, 20, 30, 40, 50, 60}, Shape{2, 3}));
  std::vector<float> g = x.grad().to_vector();
  CHECK(g[0] == 0.f);
  CHECK(g[1] == 0.f);
  CHECK(g[2] == 0.f);
  CHECK(g[3] == 40.f);
  CHECK(g[4] == 50.f);
  CHECK(g[5] == 60.f);  // PyTorch's threshold_backward lets the gradient through at NaN
}

TEST_CASE("relu gradient check") {
  // Values at least 0.05 away from the kink, every other one negative.
  auto away_from_kink = [](const Shape& s, uint64_t seed) {
    Tensor x = rand_tensor(s, seed, 0.05f, 1.f);
    float* p = x.data();
    for (int64_t i = 0; i < x.numel(); i += 2) p[i] = -p[i];
    return x;
  };
  gradcheck("relu", [](const std::vector<Tensor>& in) { return gcc::relu(in[0]); }, {away_from_kink(Shape{3, 4, 5}, 7)});
  gradcheck("relu 4-D", [](const std::vector<Tensor>& in) { return gcc::relu(in[0]); },
            {away_from_kink(Shape{2, 2, 3, 3}, 8)});
}
