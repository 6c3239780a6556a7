// Autograd-lite: accumulation, no-grad guard, freed-tape errors, named parameters.
#include <cstdint>

#include "gradcheck.hpp"

using gcc::Shape;
using gcc::Tensor;
using namespace gcc_test;

TEST_CASE("gradients accumulate across backward passes until zero_grad") {
  Tensor w = Tensor::from_vector({2, 3}, Shape{2});
  w.set_requires_grad(true);
  Tensor x = Tensor::from_vector({4, 5}, Shape{2});
  gcc::mul(w, x).backward(Tensor::ones(Shape{2}));
  check_values(w.grad(), {4, 5}, 0, 0, "first");
  gcc::mul(w, x).backward(Tensor::ones(Shape{2}));
  check_values(w.grad(), {8, 10}, 0, 0, "accumulated");
  w.zero_grad();
  CHECK_FALSE(w.grad().defined());
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("a tensor used twice gets both contributions") {
  Tensor w = Tensor::from_vector({3}, Shape{1});
  w.set_requires_grad(true);
  gcc::mul(w, w).backward(Tensor::ones(Shape{1}));  // d(w^2)/dw = 2w
  check_values(w.grad(), {6}, 0, 0, "w*w");
}

TEST_CASE("NoGrad records nothing") {
  Tensor w = Tensor::ones(Shape{3});
  w.set_requires_grad(true);
  const std::size_t before = gcc::Tape::size();
  {
    gcc::NoGrad ng;
    Tensor y = gcc::mul_scalar(w, 2);
    CHECK_FALSE(y.requires_grad());
  }
  CHECK(gcc::Tape::size() == before);
  CHECK(gcc::mul_scalar(w, 2).requires_grad());
  gcc::Tape::clear();
}

TEST_CASE("backward twice through a freed tape is an error") {
  Tensor w = Tensor::ones(Shape{1});
  w.set_requires_grad(true);
  Tensor y = gcc::mul_scalar(w, 2);
  y.backward();
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("tape that has been freed"), gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::mul_scalar(Tensor::ones(Shape{1}), 2).backward(),
                       doctest::Contains("does not require grad"), gcc::Error);
  Tensor v = Tensor::ones(Shape{3});
  v.set_requires_grad(true);
  CHECK_THROWS_WITH_AS(gcc::mul_scalar(v, 2).backward(), doctest::Contains("must hold one element"),
                       gcc::Error);
  gcc::Tape::clear();
}

TEST_CASE("parameter registry keeps names and rejects duplicates") {
  gcc::ParameterRegistry reg;
  Tensor w = reg.add_parameter("backbone.conv1.weight", Tensor::zeros(Shape{4, 3, 3, 3}));
  reg.add_buffer("backbone.bn1.running_mean", Tensor::zeros(Shape{4}));
  CHECK(w.requires_grad());
  CHECK(w.name() == "backbone.conv1.weight");
  CHECK(reg.parameter_count() == 108);
  CHECK(reg.get("backbone.bn1.running_mean").numel() == 4);
  CHECK_THROWS_WITH_AS(reg.add_parameter("backbone.conv1.weight", Tensor::zeros(Shape{1})),
                       doctest::Contains("already registered"), gcc::Error);
  CHECK_THROWS_WITH_AS(reg.get("nope"), doctest::Contains("no parameter or buffer named 'nope'"), gcc::Error);
}

TEST_CASE("independent graphs: the earlier one's backward leaves the later one intact") {
  Tensor a = Tensor::from_vector({2}, Shape{1}), b = Tensor::from_vector({3}, Shape{1});
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  Tensor ya = gcc::mul_scalar(a, 4), yb = gcc::mul(b, b);
  ya.backward();
  yb.backward();
  check_values(a.grad(), {4}, 0, 0, "a");
  check_values(b.grad(), {6}, 0, 0, "b");
  CHECK(gcc::Tape::size() == 0);  // the last backward freed everything
}

TEST_CASE("a later graph that reuses a freed part is an error, not a silent zero") {
  Tensor w = Tensor::from_vector({2}, Shape{1});
  w.set_requires_grad(true);
  Tensor h = gcc::mul_scalar(w, 3);
  Tensor y1 = gcc::mul_scalar(h, 1);
  Tensor y2 = gcc::mul_scalar(h, 5);  // recorded after y1, depends on h
  y1.backward();
  CHECK_THROWS_WITH_AS(y2.backward(), doctest::Contains("whose part of the graph was freed"), gcc::Error);
  gcc::Tape::clear();
}

TEST_CASE("CPU tensor memory: freed large blocks are reused, small ones and trims go back to the system") {
  if (!gcc::detail::CpuBlockCache::instance().enabled()) {
    MESSAGE("skipped: the CPU block cache is off in this build (sanitizers) or by GCC_CPU_CACHE_MB=0");
    return;
  }
  gcc::cpu_cache_trim();
  const float* first = nullptr;
  {
    Tensor big = Tensor::empty(Shape{1 << 20});  // 4 MiB
    first = big.data();
    big.data()[123] = 7.f;
  }
  CHECK(gcc::cpu_cache_bytes() >= (4u << 20));
  {
    Tensor again = Tensor::empty(Shape{1 << 20});  // the same size: the same block
    CHECK(again.data() == first);
    CHECK(reinterpret_cast<std::uintptr_t>(again.data()) % 64 == 0);
    Tensor other = Tensor::empty(Shape{(1 << 20) + (1 << 16)});  // another size: another block
    CHECK(other.data() != first);
  }
  CHECK(gcc::cpu_cache_trim() >= (8u << 20));
  CHECK(gcc::cpu_cache_bytes() == 0);
}
