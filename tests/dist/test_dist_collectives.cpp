// gcc::dist collectives on the test world (any number of ranks; check_dist.sh runs 2 under mpirun, and
// 1 process runs them on SelfCommunicator): gathered values and gradients, gradient sums, module
// broadcast, and a model whose 2-rank gradient must equal the 1-process gradient of the whole batch.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dist_test_world.hpp"
#include "gcc/dist/collectives.hpp"
#include "gcc/dist/guard.hpp"
#include "gcc/nn/layers.hpp"
#include "gcc/ops/elementwise.hpp"
#include "gcc/ops/matmul.hpp"
#include "gcc/ops/normalize.hpp"
#include "gcc/ops/reduce.hpp"
#include "gcc/ops/softmax.hpp"

using gcc::Shape;
using gcc::Tensor;
namespace dist = gcc::dist;

namespace {

// A known shard: rank r's rows of `cols` values, value(r, i, j) = 100 r + 10 i + j.
Tensor known_shard(int r, int64_t rows, int64_t cols) {
  Tensor t = Tensor::empty(Shape{rows, cols});
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) t.at({i, j}) = static_cast<float>(100 * r + 10 * i + j);
  return t;
}

// |a - e| <= atol + rtol |e| for every element; one report per tensor.
void check_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  REQUIRE_MESSAGE(got.defined(), what << ": undefined");
  REQUIRE_MESSAGE(got.shape() == want.shape(), what << ": shape " << got.shape().str() << ", expected "
                                                    << want.shape().str());
  const std::vector<float> g = got.to_vector(), w = want.to_vector();
  for (std::size_t i = 0; i < g.size(); ++i) {
    const bool ok = std::fabs(static_cast<double>(g[i]) - w[i]) <= tol + tol * std::fabs(static_cast<double>(w[i]));
    CHECK_MESSAGE(ok, what << " element " << i << ": got " << g[i] << ", expected " << w[i] << " (rank "
                           << dist_test_world().rank() << ")");
    if (!ok) return;
  }
}

// Forwards to another communicator and counts the data operations (to check "one flattened call").
class CountingCommunicator final : public dist::Communicator {
 public:
  explicit CountingCommunicator(dist::Communicator& inner) : in_(inner) {}
  int rank() const override { return in_.rank(); }
  int size() const override { return in_.size(); }
  gcc::Device device() const override { return in_.device(); }
  const char* backend() const override { return in_.backend(); }
  void all_reduce_sum(float* d, int64_t n) override { ++data_calls; in_.all_reduce_sum(d, n); }
  void all_reduce_sum(double* d, int64_t n) override { ++data_calls; in_.all_reduce_sum(d, n); }
  void all_gather_rows(const float* s, float* r, const std::vector<int64_t>& rows, int64_t row) override {
    ++data_calls;
    in_.all_gather_rows(s, r, rows, row);
  }
  void broadcast(float* d, int64_t n, int root) override { ++data_calls; in_.broadcast(d, n, root); }
  void broadcast(int64_t* d, int64_t n, int root) override { ++data_calls; in_.broadcast(d, n, root); }
  void broadcast_bytes(void* d, int64_t n, int root) override { ++data_calls; in_.broadcast_bytes(d, n, root); }
  void all_gather_host(const int64_t* s, int64_t n, int64_t* r) override { in_.all_gather_host(s, n, r); }
  void barrier() override { in_.barrier(); }
  int data_calls = 0;

 protected:
  void abort_job() override { in_.abort("CountingCommunicator: abort"); }

 private:
  dist::Communicator& in_;
};

Tensor param_with_grad(const Shape& s, float value, const Tensor& grad) {
  Tensor p = Tensor::full(s, value);
  p.set_requires_grad(true);
  if (grad.defined()) gcc::accumulate_grad(p, grad);
  return p;
}

}  // namespace

TEST_CASE("dist: all_gather0 concatenates every rank's rows in rank order, unequal shards too") {
  dist::Communicator& w = dist_test_world();
  const int ranks = w.size(), me = w.rank();
  // Rank r holds r + 1 rows of 3 values (shards of different sizes).
  const Tensor y = dist::all_gather0(w, known_shard(me, me + 1, 3));
  std::vector<Tensor> parts;
  for (int r = 0; r < ranks; ++r) parts.push_back(known_shard(r, r + 1, 3));
  const Tensor want = gcc::concat0(parts);
  REQUIRE(y.shape() == want.shape());
  CHECK(y.to_vector() == want.to_vector());

  // 3-D rows, and ranks with no rows at all (odd ranks hold none).
  const int64_t mine = me % 2 == 0 ? 2 : 0;
  Tensor x3 = known_shard(me, mine, 4).view(Shape{mine, 2, 2});
  const Tensor y3 = dist::all_gather0(w, x3);
  std::vector<float> want3;
  for (int r = 0; r < ranks; ++r)
    for (float v : known_shard(r, r % 2 == 0 ? 2 : 0, 4).to_vector()) want3.push_back(v);
  CHECK(y3.shape() == Shape{static_cast<int64_t>(want3.size()) / 4, 2, 2});
  CHECK(y3.to_vector() == want3);

  // Rows of different widths on different ranks: every rank throws (nobody is left waiting).
  if (ranks > 1) {
    CHECK_THROWS_AS(dist::all_gather0(w, known_shard(me, 2, me == 1 ? 4 : 3)), gcc::Error);
    // and the communicator still works afterwards
    CHECK(dist::all_gather0(w, known_shard(me, 1, 2)).size(0) == ranks);
  }
}

TEST_CASE("dist: the backward of all_gather0 sums the gathered gradient over the ranks (rank's slice)") {
  dist::Communicator& w = dist_test_world();
  const int ranks = w.size(), me = w.rank();
  const int64_t cols = 3;
  auto rows_of = [](int r) { return static_cast<int64_t>(2 + r % 2); };  // 2, 3, 2, 3, ...
  int64_t total = 0, offset = 0;
  for (int r = 0; r < ranks; ++r) {
    if (r < me) offset += rows_of(r);
    total += rows_of(r);
  }
  // c_r: a rank-dependent weight for every gathered element; L_r = sum(c_r ⊙ gather(x)).
  auto c_of = [&](int r) {
    Tensor c = Tensor::empty(Shape{total, cols});
    for (int64_t i = 0; i < total; ++i)
      for (int64_t j = 0; j < cols; ++j) c.at({i, j}) = 0.5f + static_cast<float>(r + 1) * (0.25f * static_cast<float>(i) - 0.125f * static_cast<float>(j));
    return c;
  };
  Tensor x = known_shard(me, rows_of(me), cols);
  x.set_requires_grad(true);
  const Tensor loss = gcc::sum_all(gcc::mul(c_of(me), dist::all_gather0(w, x)));
  loss.backward();
  // d(sum_r L_r)/dx = sum over ranks of c_r's rows [offset, offset + rows) of this rank.
  Tensor want = Tensor::zeros(Shape{rows_of(me), cols});
  for (int r = 0; r < ranks; ++r) {
    const Tensor c = c_of(r);
    for (int64_t i = 0; i < rows_of(me); ++i)
      for (int64_t j = 0; j < cols; ++j) want.at({i, j}) += c.at({offset + i, j});
  }
  check_close(x.grad(), want, 1e-6, "grad of x");
}

TEST_CASE("dist: all_reduce_sum_, broadcasts and host gathers") {
  dist::Communicator& w = dist_test_world();
  const int ranks = w.size(), me = w.rank();
  const Tensor t = Tensor::full(Shape{2, 3}, static_cast<float>(me + 1));
  dist::all_reduce_sum_(w, t);
  CHECK(t.to_vector() == std::vector<float>(6, static_cast<float>(ranks * (ranks + 1) / 2)));
  CHECK_THROWS_AS(dist::all_reduce_sum_(w, t.transpose(0, 1)), gcc::Error);  // not contiguous: local check

  std::vector<double> d = {1e-9 * (me + 1), 1.0 + me};
  w.all_reduce_sum(d.data(), 2);
  CHECK(d[0] == doctest::Approx(1e-9 * ranks * (ranks + 1) / 2).epsilon(1e-12));
  CHECK(d[1] == static_cast<double>(ranks + ranks * (ranks - 1) / 2));

  const std::vector<int64_t> counts = w.all_gather_value(10 * me + 1);
  REQUIRE(counts.size() == static_cast<std::size_t>(ranks));
  for (int r = 0; r < ranks; ++r) CHECK(counts[static_cast<std::size_t>(r)] == 10 * r + 1);

  const int root = ranks - 1;
  std::vector<float> f = {static_cast<float>(me), -1.f};
  std::vector<int64_t> ids = {int64_t{1} << 40 | me, me};
  std::string text = me == root ? "from the root" : "not from root";  // same length everywhere
  w.broadcast(f.data(), 2, root);
  w.broadcast(ids.data(), 2, root);
  w.broadcast_bytes(&text[0], static_cast<int64_t>(text.size()), root);
  CHECK(f == std::vector<float>{static_cast<float>(root), -1.f});
  CHECK(ids == std::vector<int64_t>{int64_t{1} << 40 | root, root});
  CHECK(text == "from the root");
  CHECK_THROWS_AS(w.broadcast(f.data(), 2, ranks), gcc::Error);  // no such rank: every rank throws
  w.barrier();
}

TEST_CASE("dist: all_reduce_gradients sums every gradient in one flattened call") {
  dist::Communicator& w = dist_test_world();
  const int ranks = w.size(), me = w.rank();
  const std::vector<float> pattern = {1.f, -2.f, 3.5f, 0.25f, 8.f, -0.5f};
  std::vector<float> mine(pattern.size());
  for (std::size_t i = 0; i < pattern.size(); ++i) mine[i] = pattern[i] * static_cast<float>(me + 1);
  const Tensor a = param_with_grad(Shape{2, 3}, 1.f, Tensor::from_vector(mine, Shape{2, 3}));
  // b has a gradient on rank 0 only; c on no rank; d one of 0 elements.
  const Tensor b = param_with_grad(Shape{4}, 2.f, me == 0 ? Tensor::from_vector({7.f, 8.f, 9.f, 10.f}, Shape{4}) : Tensor());
  const Tensor c = param_with_grad(Shape{2}, 3.f, Tensor());
  const Tensor d = param_with_grad(Shape{0}, 0.f, Tensor());
  const std::vector<gcc::NamedTensor> params = {{"a", a}, {"b", b}, {"c", c}, {"d", d}};

  CountingCommunicator counted(w);
  dist::all_reduce_gradients(counted, params);
  CHECK(counted.data_calls == 1);
  std::vector<float> want(pattern.size());
  for (std::size_t i = 0; i < pattern.size(); ++i) want[i] = pattern[i] * static_cast<float>(ranks * (ranks + 1) / 2);
  check_close(a.grad(), Tensor::from_vector(want, Shape{2, 3}), 1e-6, "sum of a's gradients");
  check_close(b.grad(), Tensor::from_vector({7.f, 8.f, 9.f, 10.f}, Shape{4}), 0.0, "b's gradient (rank 0's)");
  CHECK_FALSE(c.grad().defined());
  CHECK(a.to_vector() == std::vector<float>(6, 1.f));  // the values are untouched

  // A rank with another model: every rank throws before any gradient moves.
  if (ranks > 1) {
    std::vector<gcc::NamedTensor> other = params;
    if (me == 1) other.push_back({"extra", param_with_grad(Shape{1}, 0.f, Tensor())});
    CHECK_THROWS_AS(dist::all_reduce_gradients(w, other), gcc::Error);
    std::vector<gcc::NamedTensor> renamed = params;
    if (me == 1) renamed[0].name = "a2";
    CHECK_THROWS_AS(dist::all_reduce_gradients(w, renamed), gcc::Error);
  }
}

TEST_CASE("dist: broadcast_module makes every rank's parameters and buffers the root's") {
  dist::Communicator& w = dist_test_world();
  const int me = w.rank();
  auto build = [](int rank) {
    auto m = std::make_shared<gcc::nn::Sequential>();
    gcc::Rng rng(100 + static_cast<uint64_t>(rank));  // different weights on every rank
    m->add(std::make_shared<gcc::nn::Linear>(4, 3, rng));
    m->add(std::make_shared<gcc::nn::BatchNorm2d>(3));
    for (const gcc::NamedTensor& b : m->named_buffers()) b.tensor.fill(static_cast<float>(rank + 1));
    return m;
  };
  auto model = build(me);
  const auto reference = build(0);
  dist::broadcast_module(w, *model, 0);
  const std::vector<gcc::NamedTensor> got = model->state_dict(), want = reference->state_dict();
  REQUIRE(got.size() == want.size());
  REQUIRE(got.size() == 7);  // weight, bias; BN weight, bias, running_mean, running_var, num_batches_tracked
  for (std::size_t i = 0; i < got.size(); ++i) {
    CHECK_MESSAGE(got[i].tensor.to_vector() == want[i].tensor.to_vector(), got[i].name << " differs from rank 0's");
  }
  CHECK(model->named_parameters()[0].tensor.requires_grad());
}

TEST_CASE("dist: a model's gradient over the ranks' shards equals the 1-process gradient of the whole batch") {
  // Contrastive-like loss over the gathered batch: each anchor's log-softmax over every row of the
  // global batch (negatives from all ranks), target the next row; plus an entropy of the global
  // "cluster masses" (mean softmax over all rows), a term every rank computes whole and so adds / size.
  dist::Communicator& w = dist_test_world();
  const int ranks = w.size(), me = w.rank();
  const int64_t n = 7, in = 5, out = 4;  // 7 rows: unequal shards on 2 ranks
  const float tau = 0.5f;
  gcc::Rng data_rng(42);
  const Tensor x_all = Tensor::empty(Shape{n, in});
  data_rng.fill_uniform(x_all, -1.0, 1.0);

  auto loss_of = [&](gcc::nn::Linear& model, const Tensor& x, int64_t first_row, dist::Communicator* comm) {
    const Tensor z = gcc::l2_normalize(model(x), 1);            // [rows, out]
    const Tensor z_all = comm ? dist::all_gather0(*comm, z) : z;  // [n, out]
    const Tensor logp = gcc::log_softmax(gcc::mul_scalar(gcc::matmul(z, z_all, false, true), 1.f / tau), 1);
    Tensor target = Tensor::zeros(Shape{x.size(0), n});  // [rows, n]: one-hot of the next global row
    for (int64_t i = 0; i < x.size(0); ++i) target.at({i, (first_row + i + 1) % n}) = 1.f;
    const Tensor nll = gcc::mul_scalar(gcc::sum_all(gcc::mul(target, logp)), -1.f / static_cast<float>(n));
    const Tensor mass = gcc::mean(gcc::softmax(z_all, 1), 0);  // [out]
    const Tensor neg_entropy = gcc::sum_all(gcc::mul(mass, gcc::log(mass)));
    const float share = comm ? 1.f / static_cast<float>(comm->size()) : 1.f;
    return gcc::add(nll, gcc::mul_scalar(neg_entropy, share));
  };

  // One process, the whole batch.
  gcc::Rng rng_ref(3);
  gcc::nn::Linear reference(in, out, rng_ref);
  loss_of(reference, x_all, 0, nullptr).backward();

  // This rank's shard; gradients summed over the ranks.
  gcc::Rng rng(3);
  gcc::nn::Linear model(in, out, rng);
  const dist::RowRange shard = dist::shard_rows(n, me, ranks);
  const Tensor local_loss = loss_of(model, x_all.narrow0(shard.begin, shard.end).contiguous(), shard.begin, &w);
  local_loss.backward();
  dist::all_reduce_gradients(w, model.named_parameters());

  const auto got = model.named_parameters(), want = reference.named_parameters();
  REQUIRE(got.size() == 2);
  for (std::size_t i = 0; i < got.size(); ++i) check_close(got[i].tensor.grad(), want[i].tensor.grad(), 1e-5, got[i].name);
  // and the ranks' losses add up to the single-process loss
  Tensor total = local_loss.detach().clone();
  dist::all_reduce_sum_(w, total);
  gcc::Rng rng_again(3);
  gcc::nn::Linear again(in, out, rng_again);
  gcc::NoGrad no_grad;
  CHECK(total.item() == doctest::Approx(loss_of(again, x_all, 0, nullptr).item()).epsilon(1e-5));
}

TEST_CASE("dist: run_rank_guarded returns fn's value") {
  dist::Communicator& w = dist_test_world();
  CHECK(dist::run_rank_guarded(w, [&] { return w.rank() + 40; }) == w.rank() + 40);
}
