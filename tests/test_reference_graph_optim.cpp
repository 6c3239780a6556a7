// kNN graph, degree weights, optimisers and the cosine schedule against the PyTorch reference
// fixtures (knn.bin, optim.bin, written by data_scripts/make_reference.py).
#include "fixture.hpp"
#include "gradcheck.hpp"
#include "gcc/graph/knn.hpp"
#include "gcc/ops/linear.hpp"
#include "gcc/ops/reduce.hpp"
#include "gcc/optim/optimizers.hpp"
#include "gcc/optim/schedule.hpp"

using gcc::Shape;
using gcc::Tensor;
using namespace gcc_test;

TEST_CASE("reference: kNN top-6 by inner product and degree weights match PyTorch exactly (ties included)") {
  // The features are multiples of 2^-8, so every inner product is exact in float32 whatever the
  // summation order: indices, scores and weights must match bit for bit. The fixture holds groups of
  // identical rows (5 and 7 copies), so the rule "equal scores: smaller index first" decides lists.
  const Fixture fx = Fixture::load("knn.bin");
  const Tensor f = fx.get("features");
  const std::vector<int64_t> index = fx.ints("index");
  const Tensor score = fx.get("score"), weight = fx.get("weight");
  const int64_t n = f.size(0), k = fx.get("index").size(1);
  for (int64_t block : {int64_t(2048), int64_t(64), int64_t(7)}) {
    INFO("block ", block);
    const gcc::KnnGraph g = gcc::knn_topk_inner_product(f, k, block);
    REQUIRE(g.n == n);
    REQUIRE(g.k == k);
    int64_t wrong = 0, first = -1;
    for (int64_t i = 0; i < n * k; ++i)
      if (g.index[static_cast<std::size_t>(i)] != index[static_cast<std::size_t>(i)]) {
        if (first < 0) first = i;
        ++wrong;
      }
    MESSAGE("knn (block " << block << "): " << wrong << " of " << n * k << " neighbour indices differ");
    CHECK_MESSAGE(wrong == 0, "first difference: row " << first / k << " rank " << first % k << ": got "
                                                      << g.index[static_cast<std::size_t>(first)] << ", expected "
                                                      << index[static_cast<std::size_t>(first)]);
    check_close("knn scores (block " + std::to_string(block) + ")", Tensor::from_vector(g.score, Shape{n, k}),
                score, 0.0);
    const std::vector<float> w = gcc::degree_weights(g);
    check_close("degree weights (block " + std::to_string(block) + ")", Tensor::from_vector(w, Shape{n}), weight,
                0.0);
  }
  // the tie rule in the fixture itself: row 120 (a copy of row 37) lists 37 first; row 460, the
  // largest of 7 copies, is in no list of its group, not even its own
  CHECK(index[static_cast<std::size_t>(120 * k)] == 37);
  for (int64_t j = 0; j < k; ++j) CHECK(index[static_cast<std::size_t>(460 * k + j)] != 460);
}

namespace {

struct ToyModel {
  std::vector<gcc::NamedTensor> params;
  explicit ToyModel(const Fixture& fx) {
    for (const char* n : {"W1", "b1", "W2", "b2"}) {
      Tensor t = fx.get(std::string("init.") + n).clone();
      t.set_requires_grad(true);
      params.push_back(gcc::NamedTensor{n, t});
    }
  }
  // mean((x W1ᵀ + b1) W2ᵀ + b2 - Y)²
  Tensor loss(const Tensor& X, const Tensor& Y) const {
    const Tensor h = gcc::linear(X, params[0].tensor, params[1].tensor);
    const Tensor d = gcc::sub(gcc::linear(h, params[2].tensor, params[3].tensor), Y);
    return gcc::mean_all(gcc::mul(d, d));
  }
};

void run_optimizer(const Fixture& fx, const std::string& which) {
  ToyModel m(fx);
  const Tensor X = fx.get("X"), Y = fx.get("Y");
  std::unique_ptr<gcc::Optimizer> opt;
  if (which == "sgd") opt.reset(new gcc::SGD(m.params, 0.1f, 0.9f, 1e-4f));
  else opt.reset(new gcc::Adam(m.params, 1e-2f, 0.9f, 0.999f, 1e-8f, 1e-4f));
  const Tensor losses = fx.get(which + ".loss");
  std::vector<float> got_loss;
  // Floor 1e-2·max|e| (not 1e-3): a parameter that passes near 0 during the run carries the absolute
  // float32 error of the whole trajectory. PyTorch's own float32 run, against the same float64
  // reference, is off by 3.8e-5 at floor 1e-3 (sgd b1, an element of 4.7e-4 next to 0.46) and by
  // 3.8e-6 at floor 1e-2; Adam's m/sqrt(v) turns the relative error of a near-zero gradient element
  // into an update error of lr size, so its trajectory is as sensitive.
  Worst worst(which + " parameters after each of 10 steps", 1e-4, 1e-2);
  // Each step's update p_t - p_(t-1) (the C++ run's own p_(t-1)) against the reference's, with a
  // slack of 2^-22·(|p_t| + |p_(t-1)|) for the float32 rounding of the four stored/computed values.
  Worst update(which + " update of each step", 1e-4, 1e-2);
  std::vector<std::vector<float>> prev;
  for (const gcc::NamedTensor& p : m.params) prev.push_back(p.tensor.to_vector());
  for (int64_t step = 0; step < 10; ++step) {
    opt->zero_grad();
    Tensor loss = m.loss(X, Y);
    loss.backward();
    opt->step();
    got_loss.push_back(loss.item());
    for (std::size_t k = 0; k < m.params.size(); ++k) {
      const gcc::NamedTensor& p = m.params[k];
      const Tensor hist = fx.get(which + "." + p.name);  // [10, ...]
      const Tensor expect = hist.narrow0(step, step + 1).view(p.tensor.shape());
      const std::string what = which + " step " + std::to_string(step + 1) + " " + p.name;
      worst.check(what, p.tensor, expect);
      const std::vector<float> e1 = expect.to_vector(), a1 = p.tensor.to_vector();
      const std::vector<float> e0 = step == 0 ? fx.get("init." + p.name).to_vector()
                                              : hist.narrow0(step - 1, step).to_vector();
      std::vector<float> de(e1.size()), da(e1.size());
      std::vector<double> slack(e1.size());
      for (std::size_t i = 0; i < e1.size(); ++i) {
        de[i] = static_cast<float>(static_cast<double>(e1[i]) - e0[i]);
        da[i] = static_cast<float>(static_cast<double>(a1[i]) - prev[k][i]);
        slack[i] = std::ldexp(std::fabs(static_cast<double>(e1[i])) + std::fabs(static_cast<double>(e0[i])), -22);
      }
      update.check(what + " update", Tensor::from_vector(da, p.tensor.shape()), Tensor::from_vector(de, p.tensor.shape()),
                   slack);
      prev[k] = a1;
    }
  }
  worst.report();
  update.report();
  check_close(which + " loss before each step", Tensor::from_vector(got_loss, Shape{10}), losses);
}

}  // namespace

TEST_CASE("reference: ten SGD steps (momentum 0.9, wd 1e-4) match torch.optim.SGD") {
  run_optimizer(Fixture::load("optim.bin"), "sgd");
}

TEST_CASE("reference: ten Adam steps (wd 1e-4) match torch.optim.Adam") {
  run_optimizer(Fixture::load("optim.bin"), "adam");
}

TEST_CASE("reference: cosine_lr(0.4, e, 1000) at e = 0, 1, 500, 999") {
  const Fixture fx = Fixture::load("optim.bin");
  const std::vector<int64_t> epochs = fx.ints("cosine.epoch");
  std::vector<float> got;
  for (int64_t e : epochs) got.push_back(gcc::cosine_lr(0.4f, static_cast<int>(e), 1000));
  check_close("cosine_lr", Tensor::from_vector(got, Shape{static_cast<int64_t>(got.size())}), fx.get("cosine.lr"),
              1e-6);
}
