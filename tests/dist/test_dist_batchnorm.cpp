// Synchronised BatchNorm (ops/batchnorm.hpp's BatchNormSync over dist::BatchNormCommSync) on the test
// world: every rank holds its shard of each group of a batch; outputs, input and weight gradients and the
// running statistics must equal one process's on the whole batch. Then a tiny End2EndModel forward over
// phase 2's five passes with synchronised BatchNorm against the same model in one process.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dist_test_world.hpp"
#include "gcc/dist/batchnorm_sync.hpp"
#include "gcc/dist/collectives.hpp"
#include "gcc/nn/end2end.hpp"
#include "gcc/ops/batchnorm.hpp"
#include "gcc/ops/elementwise.hpp"
#include "gcc/ops/reduce.hpp"
#include "gcc/ops/shape.hpp"

using gcc::Shape;
using gcc::Tensor;
namespace dist = gcc::dist;

namespace {

// |a - e| <= tol (1 + |e|) for every element; one report per tensor.
void check_near(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  REQUIRE_MESSAGE(got.defined(), what << ": undefined");
  REQUIRE_MESSAGE(got.numel() == want.numel(), what << ": " << got.numel() << " values, expected " << want.numel());
  const std::vector<float> g = got.contiguous().to_vector(), w = want.contiguous().to_vector();
  for (std::size_t i = 0; i < g.size(); ++i) {
    const bool ok = std::fabs(static_cast<double>(g[i]) - w[i]) <= tol * (1 + std::fabs(static_cast<double>(w[i])));
    CHECK_MESSAGE(ok, what << " element " << i << ": got " << g[i] << ", expected " << w[i] << " (rank "
                           << dist_test_world().rank() << " of " << dist_test_world().size() << ")");
    if (!ok) return;
  }
}

// This rank's rows of every group: groups `sizes` of t's rows, each sharded with dist::shard_rows.
Tensor shard_groups(const Tensor& t, const std::vector<int64_t>& sizes, std::vector<int64_t>* local_sizes) {
  const dist::Communicator& w = dist_test_world();
  std::vector<Tensor> parts;
  int64_t at = 0;
  for (int64_t n : sizes) {
    const dist::RowRange r = dist::shard_rows(n, w.rank(), w.size());
    parts.push_back(t.narrow0(at + r.begin, at + r.end));
    if (local_sizes) local_sizes->push_back(r.rows());
    at += n;
  }
  return gcc::concat0(parts).contiguous();
}

Tensor random_tensor(const Shape& s, uint64_t seed) {
  Tensor t = Tensor::empty(s);
  gcc::Rng rng(seed);
  rng.fill_uniform(t, -1.0, 2.0);
  return t;
}

}  // namespace

TEST_CASE("dist: synchronised batchnorm2d_grouped over the ranks' shards equals one process on the whole batch") {
  dist::Communicator& w = dist_test_world();
  const std::vector<int64_t> sizes = {6, 3, 5};  // rows per group: unequal shards on 2 ranks
  const int64_t N = 14, C = 3;
  const Tensor x_all = random_tensor(Shape{N, C, 2, 3}, 11), r_all = random_tensor(Shape{N, C, 2, 3}, 12);
  auto params = [&](Tensor& wt, Tensor& b, Tensor& rm, Tensor& rv) {
    wt = random_tensor(Shape{C}, 13);
    wt.set_requires_grad(true);
    b = random_tensor(Shape{C}, 14);
    b.set_requires_grad(true);
    rm = Tensor::zeros(Shape{C});
    rv = Tensor::ones(Shape{C});
  };
  // one process: the whole batch
  Tensor w1, b1, rm1, rv1;
  params(w1, b1, rm1, rv1);
  Tensor x1 = x_all.clone();
  x1.set_requires_grad(true);
  const Tensor y1 = gcc::batchnorm2d_grouped(x1, sizes, w1, b1, rm1, rv1, true, 0.1f, 1e-5f);
  gcc::sum_all(gcc::mul(y1, r_all)).backward();
  // this rank's shard of every group, statistics synchronised
  Tensor w2, b2, rm2, rv2;
  params(w2, b2, rm2, rv2);
  std::vector<int64_t> local;
  Tensor x2 = shard_groups(x_all, sizes, &local);
  x2.set_requires_grad(true);
  dist::BatchNormCommSync sync(w);
  const Tensor y2 = gcc::batchnorm2d_grouped(x2, local, w2, b2, rm2, rv2, true, 0.1f, 1e-5f, &sync);
  gcc::sum_all(gcc::mul(y2, shard_groups(r_all, sizes, nullptr))).backward();
  dist::all_reduce_gradients(w, {{"weight", w2}, {"bias", b2}});

  check_near(y2, shard_groups(y1.detach(), sizes, nullptr), 1e-5, "output");
  check_near(x2.grad(), shard_groups(x1.grad(), sizes, nullptr), 1e-5, "input gradient");
  check_near(w2.grad(), w1.grad(), 1e-5, "weight gradient");
  check_near(b2.grad(), b1.grad(), 1e-5, "bias gradient");
  check_near(rm2, rm1, 1e-6, "running_mean");
  check_near(rv2, rv1, 1e-6, "running_var");
  // eval mode ignores the synchronisation
  const Tensor e = gcc::batchnorm2d_grouped(x2.detach(), local, w2, b2, rm2, rv2, false, 0.1f, 1e-5f, &sync);
  check_near(e, gcc::batchnorm2d(x2.detach(), w2, b2, rm2, rv2, false), 0, "eval output");
}

TEST_CASE("dist: End2EndModel over phase 2's five passes, synchronised BatchNorm, equals one process") {
  dist::Communicator& w = dist_test_world();
  gcc::nn::End2EndConfig cfg;
  cfg.backbone = gcc::nn::ResNetConfig::preset("resnet18-cifar");
  cfg.backbone.base_width = 4;
  cfg.backbone.in_channels = 1;
  cfg.num_clusters = 4;
  const int64_t m = 5;  // anchors; views x, x', v0, v1, v2, u of m rows each
  const std::vector<int64_t> passes = {2 * m, m, m, m, m};
  const Tensor x_all = random_tensor(Shape{6 * m, 1, 12, 12}, 21);
  const Tensor r_emb = random_tensor(Shape{6 * m, cfg.embedding_dim}, 22);
  const Tensor r_log = random_tensor(Shape{6 * m, cfg.num_clusters}, 23);
  // the six views as groups of m rows: passes 0 holds views 0 and 1 (each sharded on its own)
  const std::vector<int64_t> views(6, m);

  gcc::Rng rng1(5);
  gcc::nn::End2EndModel one(cfg, rng1);
  const gcc::nn::End2EndOutput o1 = one.forward(x_all, passes);
  gcc::add(gcc::sum_all(gcc::mul(o1.embedding, r_emb)), gcc::sum_all(gcc::mul(o1.logits[0], r_log))).backward();

  gcc::Rng rng2(5);
  gcc::nn::End2EndModel model(cfg, rng2);
  dist::BatchNormCommSync sync(w);
  gcc::nn::set_batchnorm_sync(model, &sync);
  std::vector<int64_t> local;
  const Tensor x = shard_groups(x_all, views, &local);
  const int64_t mr = local[0];
  const gcc::nn::End2EndOutput o2 = model.forward(x, {2 * mr, mr, mr, mr, mr});
  gcc::add(gcc::sum_all(gcc::mul(o2.embedding, shard_groups(r_emb, views, nullptr))),
           gcc::sum_all(gcc::mul(o2.logits[0], shard_groups(r_log, views, nullptr))))
      .backward();
  dist::all_reduce_gradients(w, model.named_parameters());

  check_near(o2.embedding, shard_groups(o1.embedding.detach(), views, nullptr), 1e-5, "embeddings");
  const std::vector<gcc::NamedTensor> got = model.named_parameters(), want = one.named_parameters();
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) check_near(got[i].tensor.grad(), want[i].tensor.grad(), 1e-4, got[i].name);
  const std::vector<gcc::NamedTensor> gb = model.named_buffers(), wb = one.named_buffers();
  for (std::size_t i = 0; i < gb.size(); ++i) check_near(gb[i].tensor, wb[i].tensor, 1e-5, gb[i].name);
}
