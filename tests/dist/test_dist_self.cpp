// SelfCommunicator (a job of one process, no MPI) and the helpers that need no communicator: every
// operation is the identity or a copy, collectives over it leave tensors and gradients as they are.
#include <doctest/doctest.h>

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "gcc/dist/collectives.hpp"
#include "gcc/dist/guard.hpp"
#include "gcc/ops/elementwise.hpp"
#include "gcc/ops/reduce.hpp"

using gcc::Shape;
using gcc::Tensor;
namespace dist = gcc::dist;

namespace {

// Sets (or, with nullptr, unsets) an environment variable for the scope, then restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    had_ = old != nullptr;
    if (had_) old_ = old;
    set(value);
  }
  ~ScopedEnv() { set(had_ ? old_.c_str() : nullptr); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  void set(const char* value) {
    if (value != nullptr)
      setenv(name_.c_str(), value, 1);
    else
      unsetenv(name_.c_str());
  }
  std::string name_, old_;
  bool had_ = false;
};

}  // namespace

TEST_CASE("dist self: rank 0 of 1; reductions and broadcasts keep the values, gathers copy") {
  dist::SelfCommunicator self;
  CHECK(self.rank() == 0);
  CHECK(self.size() == 1);
  CHECK(self.device() == gcc::Device::cpu());
  std::vector<float> f = {1.5f, -2.f};
  std::vector<double> d = {3.25};
  self.all_reduce_sum(f.data(), 2);
  self.all_reduce_sum(d.data(), 1);
  self.broadcast(f.data(), 2, 0);
  CHECK(f == std::vector<float>{1.5f, -2.f});
  CHECK(d[0] == 3.25);
  const std::vector<float> send = {1, 2, 3, 4, 5, 6};
  std::vector<float> recv(6, -1.f);
  self.all_gather_rows(send.data(), recv.data(), {3}, 2);
  CHECK(recv == send);
  CHECK(self.all_gather_value(17) == std::vector<int64_t>{17});
  CHECK_THROWS_AS(self.broadcast(f.data(), 2, 1), gcc::Error);  // rank 1 does not exist
  CHECK_THROWS_AS(self.all_gather_rows(send.data(), recv.data(), {3, 0}, 2), gcc::Error);  // 2 counts, 1 rank
  CHECK_THROWS_AS(self.all_reduce_sum(f.data(), -1), gcc::Error);
}

TEST_CASE("dist self: collectives over one rank are the identity, gradients included") {
  dist::SelfCommunicator self;
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6}, Shape{3, 2});
  x.set_requires_grad(true);
  const Tensor y = dist::all_gather0(self, x);
  CHECK(y.shape() == x.shape());
  CHECK(y.to_vector() == x.to_vector());
  const Tensor c = Tensor::from_vector({0.5f, -1, 2, 0, 3, 7}, Shape{3, 2});
  gcc::sum_all(gcc::mul(c, y)).backward();
  REQUIRE(x.grad().defined());
  CHECK(x.grad().to_vector() == c.to_vector());

  Tensor p = Tensor::full(Shape{2}, 1.f), q = Tensor::full(Shape{3}, 2.f);
  p.set_requires_grad(true);
  q.set_requires_grad(true);
  gcc::accumulate_grad(p, Tensor::from_vector({4, 5}, Shape{2}));
  dist::all_reduce_gradients(self, {{"p", p}, {"q", q}});
  CHECK(p.grad().to_vector() == std::vector<float>{4, 5});
  CHECK_FALSE(q.grad().defined());
  dist::broadcast_tensors(self, {{"p", p}, {"q", q}});
  CHECK(q.to_vector() == std::vector<float>{2, 2, 2});
}

TEST_CASE("dist self: run_rank_guarded rethrows with one rank (nobody can hang)") {
  dist::SelfCommunicator self;
  CHECK(dist::run_rank_guarded(self, [] { return 5; }) == 5);
  CHECK_THROWS_WITH_AS(dist::run_rank_guarded(self, []() -> int { throw std::runtime_error("step 3 failed"); }),
                       "step 3 failed", std::runtime_error);
}

TEST_CASE("dist: shard_rows splits a batch into contiguous shards differing by at most one row") {
  CHECK(dist::shard_rows(7, 0, 2).begin == 0);
  CHECK(dist::shard_rows(7, 0, 2).end == 4);
  CHECK(dist::shard_rows(7, 1, 2).begin == 4);
  CHECK(dist::shard_rows(7, 1, 2).end == 7);
  CHECK(dist::shard_rows(5, 2, 3).rows() == 1);
  CHECK(dist::shard_rows(2, 3, 4).rows() == 0);
  CHECK(dist::shard_rows(2, 3, 4).begin == 2);
  int64_t next = 0;
  for (int r = 0; r < 5; ++r) {
    const dist::RowRange s = dist::shard_rows(23, r, 5);
    CHECK(s.begin == next);
    CHECK((s.rows() == 4 || s.rows() == 5));
    next = s.end;
  }
  CHECK(next == 23);
  CHECK_THROWS_AS(dist::shard_rows(4, 2, 2), gcc::Error);
}

TEST_CASE("dist: launched_by_mpirun reads the launchers' environment") {
  {
    ScopedEnv ompi("OMPI_COMM_WORLD_SIZE", nullptr), pmi("PMI_SIZE", nullptr);
    CHECK_FALSE(dist::launched_by_mpirun());
    CHECK(dist::mpi_launcher_world_size() == 0);
  }
  {
    ScopedEnv ompi("OMPI_COMM_WORLD_SIZE", "3"), pmi("PMI_SIZE", nullptr);
    CHECK(dist::launched_by_mpirun());
    CHECK(dist::mpi_launcher_world_size() == 3);
  }
  {
    ScopedEnv ompi("OMPI_COMM_WORLD_SIZE", nullptr), pmi("PMI_SIZE", "2");
    CHECK(dist::mpi_launcher_world_size() == 2);
  }
  {
    ScopedEnv ompi("OMPI_COMM_WORLD_SIZE", "two"), pmi("PMI_SIZE", nullptr);
    CHECK_FALSE(dist::launched_by_mpirun());
  }
}
