// Elementwise ops: forward values (incl. broadcasting of row/column vectors and scalars) and
// finite-difference gradient checks.
#include "gradcheck.hpp"

using gcc::Shape;
using gcc::Tensor;
using namespace gcc_test;

TEST_CASE("add/sub/mul/div same shape") {
  Tensor a = Tensor::from_vector({1, 2, 3, 4}, Shape{2, 2});
  Tensor b = Tensor::from_vector({5, 6, 7, 8}, Shape{2, 2});
  check_values(gcc::add(a, b), {6, 8, 10, 12}, 0, 0, "add");
  check_values(gcc::sub(a, b), {-4, -4, -4, -4}, 0, 0, "sub");
  check_values(gcc::mul(a, b), {5, 12, 21, 32}, 0, 0, "mul");
  check_values(gcc::div(a, b), {0.2f, 2.f / 6, 3.f / 7, 0.5f}, 1e-7, 1e-6, "div");
}

TEST_CASE("mul broadcasts a row vector, a column vector and a scalar") {
  Tensor a = Tensor::from_vector({1, 2, 3, 4, 5, 6}, Shape{2, 3});
  check_values(gcc::mul(a, Tensor::from_vector({1, 10, 100}, Shape{3})), {1, 20, 300, 4, 50, 600}, 0, 0, "row");
  check_values(gcc::mul(a, Tensor::from_vector({2, -1}, Shape{2, 1})), {2, 4, 6, -4, -5, -6}, 0, 0, "col");
  check_values(gcc::add(a, Tensor::scalar(1)), {2, 3, 4, 5, 6, 7}, 0, 0, "scalar");
  CHECK_THROWS_WITH_AS(gcc::add(a, Tensor::zeros(Shape{2})), doctest::Contains("add: shapes [2, 3] and [2]"),
                       gcc::Error);
}

TEST_CASE("unary ops") {
  Tensor x = Tensor::from_vector({0, 1, 2}, Shape{3});
  check_values(gcc::exp(x), {1, std::exp(1.f), std::exp(2.f)}, 1e-6, 1e-6, "exp");
  Tensor l = gcc::log(Tensor::from_vector({1, 0, 4}, Shape{3}));
  CHECK(l.to_vector()[0] == 0.f);
  CHECK(std::isinf(l.to_vector()[1]));
  check_values(gcc::mul_scalar(x, -2), {0, -2, -4}, 0, 0, "mul_scalar");
  check_values(gcc::add_scalar(x, 0.5f), {0.5f, 1.5f, 2.5f}, 0, 0, "add_scalar");
  check_values(gcc::pow_scalar(x, 2), {0, 1, 4}, 1e-6, 0, "pow_scalar");
}

TEST_CASE("elementwise gradients") {
  const Tensor a = rand_tensor(Shape{3, 4}, 1), b = rand_tensor(Shape{3, 4}, 2, 0.5f, 2.f);
  const Tensor row = rand_tensor(Shape{4}, 3, 0.5f, 2.f), col = rand_tensor(Shape{3, 1}, 4, 0.5f, 2.f);
  for (int op = 0; op < 4; ++op) {
    auto bop = static_cast<gcc::BinaryOp>(op);
    gradcheck(std::string(gcc::binary_op_name(bop)) + " same shape",
              [&](const std::vector<Tensor>& in) { return gcc::binary(bop, in[0], in[1]); },
              {a.clone(), b.clone()});
    gradcheck(std::string(gcc::binary_op_name(bop)) + " row vector",
              [&](const std::vector<Tensor>& in) { return gcc::binary(bop, in[0], in[1]); },
              {a.clone(), row.clone()});
    gradcheck(std::string(gcc::binary_op_name(bop)) + " column vector",
              [&](const std::vector<Tensor>& in) { return gcc::binary(bop, in[0], in[1]); },
              {a.clone(), col.clone()});
  }
  const Tensor pos = rand_tensor(Shape{2, 5}, 5, 0.5f, 2.f);
  gradcheck("exp", [](const std::vector<Tensor>& in) { return gcc::exp(in[0]); }, {a.clone()});
  gradcheck("log", [](const std::vector<Tensor>& in) { return gcc::log(in[0]); }, {pos.clone()});
  gradcheck("add_scalar", [](const std::vector<Tensor>& in) { return gcc::add_scalar(in[0], 3); }, {a.clone()});
  gradcheck("mul_scalar", [](const std::vector<Tensor>& in) { return gcc::mul_scalar(in[0], -3); }, {a.clone()});
  gradcheck("pow_scalar", [](const std::vector<Tensor>& in) { return gcc::pow_scalar(in[0], 1.5f); }, {pos.clone()});
}
