// matmul: hand values for all four transpose combinations, a strided input, gradient checks
// (including a Gram matrix a·aᵀ, where both operands are the same tensor) and shape errors.
#include "gradcheck.hpp"
#include "gcc/ops/matmul.hpp"

using gcc::Shape;
using gcc::Tensor;
using namespace gcc_test;

TEST_CASE("matmul values with all transpose combinations") {
  const Tensor a = Tensor::from_vector({1, 2, 3, 4, 5, 6}, Shape{2, 3});      // [2, 3]
  const Tensor at = Tensor::from_vector({1, 4, 2, 5, 3, 6}, Shape{3, 2});     // aᵀ stored [3, 2]
  const Tensor b = Tensor::from_vector({7, 8, 9, 10, 11, 12}, Shape{3, 2});   // [3, 2]
  const Tensor bt = Tensor::from_vector({7, 9, 11, 8, 10, 12}, Shape{2, 3});  // bᵀ stored [2, 3]
  const std::vector<float> ab = {58, 64, 139, 154};
  check_values(gcc::matmul(a, b), ab, 0, 0, "a b");
  check_values(gcc::matmul(at, b, true, false), ab, 0, 0, "(aᵀ)ᵀ b");
  check_values(gcc::matmul(a, bt, false, true), ab, 0, 0, "a (bᵀ)ᵀ");
  check_values(gcc::matmul(at, bt, true, true), ab, 0, 0, "(aᵀ)ᵀ (bᵀ)ᵀ");
  CHECK(gcc::matmul(a, b).shape() == Shape{2, 2});
  // b·a is [3, 3]
  check_values(gcc::matmul(b, a), {39, 54, 69, 49, 68, 87, 59, 82, 105}, 0, 0, "b a");
  // a strided (transposed view) input is made contiguous first
  check_values(gcc::matmul(at.transpose(0, 1), b), ab, 0, 0, "strided a");
  // empty inner dimension gives zeros
  check_values(gcc::matmul(Tensor::zeros(Shape{2, 0}), Tensor::zeros(Shape{0, 3})), {0, 0, 0, 0, 0, 0}, 0, 0, "K=0");
}

TEST_CASE("matmul gradients") {
  const Tensor a = rand_tensor(Shape{3, 4}, 21), b = rand_tensor(Shape{4, 5}, 22);
  const Tensor at = rand_tensor(Shape{4, 3}, 23), bt = rand_tensor(Shape{5, 4}, 24);
  auto mm = [](bool ta, bool tb) {
    return [ta, tb](const std::vector<Tensor>& in) { return gcc::matmul(in[0], in[1], ta, tb); };
  };
  gradcheck("matmul nn", mm(false, false), {a.clone(), b.clone()});
  gradcheck("matmul tn", mm(true, false), {at.clone(), b.clone()});
  gradcheck("matmul nt", mm(false, true), {a.clone(), bt.clone()});
  gradcheck("matmul tt", mm(true, true), {at.clone(), bt.clone()});
  gradcheck("matmul gram a aᵀ", [](const std::vector<Tensor>& in) { return gcc::matmul(in[0], in[0], false, true); },
            {a.clone()});
  gradcheck("matmul gram aᵀ a", [](const std::vector<Tensor>& in) { return gcc::matmul(in[0], in[0], true, false); },
            {a.clone()});
}

TEST_CASE("matmul gradient flows only to operands that require it") {
  Tensor a = Tensor::from_vector({1, 2, 3, 4}, Shape{2, 2}).set_requires_grad(true);
  Tensor b = Tensor::from_vector({5, 6, 7, 8}, Shape{2, 2});
  Tensor c = gcc::matmul(a, b, false, true);  // a bᵀ
  c.backward(Tensor::ones(Shape{2, 2}));
  // c = a bᵀ, so ga = gc · b = ones · b: every row is [5 + 7, 6 + 8]
  check_values(a.grad(), {12, 14, 12, 14}, 0, 0, "ga");
  CHECK_FALSE(b.grad().defined());
}

TEST_CASE("matmul shape errors name both shapes") {
  const Tensor a = Tensor::zeros(Shape{2, 3}), b = Tensor::zeros(Shape{4, 5});
  CHECK_THROWS_WITH_AS(gcc::matmul(a, b),
                       doctest::Contains("matmul: cannot multiply a [2, 3] by b [4, 5] (trans_a=false, "
                                         "trans_b=false): inner dimensions 3 and 4 differ"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::matmul(a, Tensor::zeros(Shape{2, 3}), false, false),
                       doctest::Contains("a [2, 3] by b [2, 3]"), gcc::Error);
  CHECK_NOTHROW(gcc::matmul(a, Tensor::zeros(Shape{2, 3}), false, true));
  CHECK_THROWS_WITH_AS(gcc::matmul(a, b, true, true),
                       doctest::Contains("(trans_a=true, trans_b=true): inner dimensions 2 and 5 differ"), gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::matmul(Tensor::zeros(Shape{2, 2, 2}), b),
                       doctest::Contains("matmul (a): expected a 2-D tensor [M, K], got shape [2, 2, 2]"), gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::matmul(a, Tensor::zeros(Shape{3})),
                       doctest::Contains("matmul (b): expected a 2-D tensor [K, N], got shape [3]"), gcc::Error);
}
