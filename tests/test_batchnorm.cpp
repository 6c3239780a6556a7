// Batch norm: training forward by hand, running-statistics update (values confirmed with PyTorch),
// eval mode with a batch of 1, 1-D batch norm, accuracy with a large mean, gradient checks, errors.
#include <cmath>
#include <string>
#include <vector>

#include "gradcheck.hpp"
#include "gcc/ops/batchnorm.hpp"

using gcc::Shape;
using gcc::Tensor;
using namespace gcc_test;

namespace {
// x [2, 2, 1, 2]: channel 0 holds 1, 2 | 3, 4 (mean 2.5, biased var 1.25, unbiased 5/3);
// channel 1 holds 0, 0 | 2, -2 (mean 0, biased var 2, unbiased 8/3).
Tensor tiny_x() { return Tensor::from_vector({1, 2, 0, 0, 3, 4, 2, -2}, Shape{2, 2, 1, 2}); }
}  // namespace

TEST_CASE("batchnorm2d training forward and running statistics") {
  Tensor w = Tensor::from_vector({2, 0.5f}, Shape{2}), b = Tensor::from_vector({0.1f, -1}, Shape{2});
  Tensor rm = Tensor::from_vector({0.5f, -0.5f}, Shape{2}), rv = Tensor::from_vector({1, 2}, Shape{2});
  Tensor y = gcc::batchnorm2d(tiny_x(), w, b, rm, rv, /*training=*/true, 0.1f, 1e-5f);
  const float s0 = 1.f / std::sqrt(1.25f + 1e-5f), s1 = 1.f / std::sqrt(2.f + 1e-5f);
  CHECK(y.shape() == Shape{2, 2, 1, 2});
  check_values(y,
               {2 * -1.5f * s0 + 0.1f, 2 * -0.5f * s0 + 0.1f, -1, -1,  //
                2 * 0.5f * s0 + 0.1f, 2 * 1.5f * s0 + 0.1f, 0.5f * 2 * s1 - 1, 0.5f * -2 * s1 - 1},
               1e-5, 1e-5, "train y");
  // PyTorch: running_mean [0.7, -0.45], running_var [1.0666666, 2.0666666] (unbiased batch variance)
  check_values(rm, {0.7f, -0.45f}, 1e-6, 1e-6, "running_mean");
  check_values(rv, {1.0666666f, 2.0666666f}, 1e-6, 1e-6, "running_var");
  check_values(rv, {0.9f * 1 + 0.1f * 5.f / 3, 0.9f * 2 + 0.1f * 8.f / 3}, 1e-6, 1e-6, "running_var by hand");
  // weight and bias untouched; PyTorch's y for the record
  check_values(y, {-2.5832708f, -0.7944236f, -1, -1, 0.9944236f, 2.7832708f, -0.2928950f, -1.7071050f}, 1e-5,
               1e-5, "train y (PyTorch)");
}

TEST_CASE("batchnorm2d without affine parameters or running statistics") {
  Tensor y = gcc::batchnorm2d(tiny_x(), Tensor(), Tensor(), Tensor(), Tensor(), true);
  check_values(y, {-1.3416353f, -0.4472117f, 0, 0, 0.4472119f, 1.3416355f, 1.4142101f, -1.4142101f}, 1e-5, 1e-5,
               "plain");
  CHECK_THROWS_WITH_AS(gcc::batchnorm2d(tiny_x(), Tensor(), Tensor(), Tensor(), Tensor(), false),
                       doctest::Contains("eval mode (training=false) needs running_mean"), gcc::Error);
}

TEST_CASE("batchnorm2d eval mode with a batch of 1") {
  Tensor w = Tensor::from_vector({2, 0.5f}, Shape{2}), b = Tensor::from_vector({0.1f, -1}, Shape{2});
  Tensor rm = Tensor::from_vector({0.7f, -0.45f}, Shape{2});
  Tensor rv = Tensor::from_vector({1.0666666f, 2.0666666f}, Shape{2});
  Tensor x = Tensor::from_vector({1, -1, 2, 0.5f}, Shape{1, 2, 2, 1});
  Tensor y = gcc::batchnorm2d(x, w, b, rm, rv, /*training=*/false);
  const float s0 = 1.f / std::sqrt(1.0666666f + 1e-5f), s1 = 1.f / std::sqrt(2.0666666f + 1e-5f);
  check_values(y, {2 * (1 - 0.7f) * s0 + 0.1f, 2 * (-1 - 0.7f) * s0 + 0.1f, 0.5f * (2 + 0.45f) * s1 - 1,
                   0.5f * (0.5f + 0.45f) * s1 - 1},
               1e-5, 1e-5, "eval y");
  check_values(y, {0.6809449f, -3.1920207f, -0.1478819f, -0.6695868f}, 1e-5, 1e-5, "eval y (PyTorch)");
  check_values(rm, {0.7f, -0.45f}, 0, 0, "running_mean unchanged");
  check_values(rv, {1.0666666f, 2.0666666f}, 0, 0, "running_var unchanged");
}

TEST_CASE("batchnorm1d over [N, C]") {
  Tensor w = Tensor::from_vector({2, 0.5f}, Shape{2}), b = Tensor::from_vector({0.1f, -1}, Shape{2});
  Tensor rm = Tensor::zeros(Shape{2}), rv = Tensor::ones(Shape{2});
  Tensor x = Tensor::from_vector({1, 2, 3, -1, 0.5f, 0}, Shape{3, 2});
  Tensor y = gcc::batchnorm1d(x, w, b, rm, rv, true, 0.2f, 1e-3f);
  CHECK(y.shape() == Shape{3, 2});
  // PyTorch values
  check_values(y, {-0.8254236f, -0.3320616f, 2.8762708f, -1.5343508f, -1.7508471f, -1.1335877f}, 1e-5, 1e-5, "y");
  check_values(rm, {0.3f, 0.0666667f}, 1e-6, 1e-5, "running_mean");
  check_values(rv, {1.15f, 1.2666667f}, 1e-6, 1e-5, "running_var");
  CHECK_THROWS_WITH_AS(gcc::batchnorm1d(Tensor::zeros(Shape{2, 2, 2, 2}), w, b, rm, rv, true),
                       doctest::Contains("batchnorm1d: expected a 2-D tensor [N, C] or 3-D [N, C, L], got shape "
                                         "[2, 2, 2, 2]"),
                       gcc::Error);
}

TEST_CASE("batchnorm2d statistics stay accurate for a large mean and many values") {
  // 40000 values per channel alternating 1000.5 / 999.5: mean 1000, biased variance 0.25.
  const int64_t N = 4, H = 100, W = 100;
  Tensor x = Tensor::empty(Shape{N, 1, H, W});
  for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = (i % 2) ? 1000.5f : 999.5f;
  Tensor rm = Tensor::zeros(Shape{1}), rv = Tensor::ones(Shape{1});
  Tensor y = gcc::batchnorm2d(x, Tensor(), Tensor(), rm, rv, true);
  const double n = static_cast<double>(N * H * W);
  const float s = static_cast<float>(0.5 / std::sqrt(0.25 + 1e-5));
  CHECK(y.data()[0] == doctest::Approx(-s).epsilon(1e-6));
  CHECK(y.data()[1] == doctest::Approx(s).epsilon(1e-6));
  CHECK(y.data()[x.numel() - 1] == doctest::Approx(s).epsilon(1e-6));
  check_values(rm, {100.f}, 1e-5, 1e-6, "running_mean");
  check_values(rv, {static_cast<float>(0.9 + 0.1 * 0.25 * n / (n - 1))}, 1e-6, 1e-6, "running_var");
}

TEST_CASE("batchnorm2d gradients") {
  const Tensor x = rand_tensor(Shape{3, 2, 2, 3}, 11);
  const Tensor w = rand_tensor(Shape{2}, 12, 0.5f, 1.5f), b = rand_tensor(Shape{2}, 13);
  Tensor rm = Tensor::zeros(Shape{2}), rv = Tensor::ones(Shape{2});
  // Training mode: the output depends only on the batch statistics; the running ones are updated on
  // every call but never read.
  gradcheck("batchnorm2d train (x, weight, bias)",
            [&](const std::vector<Tensor>& in) { return gcc::batchnorm2d(in[0], in[1], in[2], rm, rv, true); },
            {x.clone(), w.clone(), b.clone()});
  gradcheck("batchnorm2d train (x only, no affine)",
            [&](const std::vector<Tensor>& in) { return gcc::batchnorm2d(in[0], Tensor(), Tensor(), rm, rv, true); },
            {x.clone()});
  Tensor erm = Tensor::from_vector({0.2f, -0.3f}, Shape{2}), erv = Tensor::from_vector({0.5f, 2.f}, Shape{2});
  gradcheck("batchnorm2d eval (x, weight, bias)",
            [&](const std::vector<Tensor>& in) { return gcc::batchnorm2d(in[0], in[1], in[2], erm, erv, false); },
            {x.clone(), w.clone(), b.clone()});
  gradcheck("batchnorm1d train",
            [&](const std::vector<Tensor>& in) { return gcc::batchnorm1d(in[0], in[1], in[2], rm, rv, true); },
            {rand_tensor(Shape{5, 2}, 14), w.clone(), b.clone()});
  CHECK_FALSE(rm.requires_grad());
  CHECK_FALSE(rm.grad().defined());
}

TEST_CASE("batchnorm2d training gradients match PyTorch") {
  Tensor x = tiny_x().set_requires_grad(true);
  Tensor w = Tensor::from_vector({2, 0.5f}, Shape{2}).set_requires_grad(true);
  Tensor b = Tensor::from_vector({0.1f, -1}, Shape{2}).set_requires_grad(true);
  Tensor y = gcc::batchnorm2d(x, w, b, Tensor(), Tensor(), true);
  y.backward(Tensor::from_vector({1, -2, 0.5f, 3, -1, 0, 2, 1}, Shape{2, 2, 1, 2}));
  check_values(x.grad(), {2.1466210f, -2.8621540f, -0.3977466f, 0.4861347f, -0.7155403f, 1.4310734f, -0.0441932f,
                          -0.0441949f},
               2e-5, 1e-4, "gx");
  check_values(w.grad(), {-0.8944236f, 1.4142101f}, 1e-5, 1e-5, "gweight");
  check_values(b.grad(), {-2.f, 6.5f}, 1e-6, 1e-6, "gbias");
}

TEST_CASE("batchnorm2d errors") {
  Tensor w = Tensor::ones(Shape{2}), b = Tensor::zeros(Shape{2});
  Tensor rm = Tensor::zeros(Shape{2}), rv = Tensor::ones(Shape{2});
  CHECK_THROWS_WITH_AS(gcc::batchnorm2d(Tensor::ones(Shape{1, 2, 1, 1}), w, b, rm, rv, true),
                       doctest::Contains("batchnorm2d: expected more than 1 value per channel when training, got "
                                         "input [1, 2, 1, 1]"),
                       gcc::Error);
  // the same input is fine in eval mode
  check_values(gcc::batchnorm2d(Tensor::ones(Shape{1, 2, 1, 1}), w, b, rm, rv, false),
               {1.f / std::sqrt(1.f + 1e-5f), 1.f / std::sqrt(1.f + 1e-5f)}, 1e-6, 1e-6, "eval n=1");
  CHECK_THROWS_WITH_AS(gcc::batchnorm2d(Tensor::ones(Shape{2, 3, 2, 2}), w, b, rm, rv, true),
                       doctest::Contains("batchnorm2d: weight [2] does not match the 3 channels of input [2, 3, 2, 2]"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::batchnorm2d(Tensor::ones(Shape{2, 2, 2, 2}), w, b, Tensor::zeros(Shape{3}), rv, true),
                       doctest::Contains("batchnorm2d: running_mean [3] does not match the 2 channels"), gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::batchnorm2d(Tensor::ones(Shape{2, 2, 4}), w, b, rm, rv, true),
                       doctest::Contains("batchnorm2d: expected a 4-D tensor [N, C, H, W], got shape [2, 2, 4]"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::batchnorm2d(Tensor::ones(Shape{2, 2, 2, 2}), w, b, rm, Tensor(), true),
                       doctest::Contains("running_mean and running_var must both be given"), gcc::Error);
}

namespace {
// Values, gradients and running statistics of batchnorm2d_grouped over views stacked as [sum(sizes), C, H, W],
// against one batchnorm2d call per view (the definition it must equal).
void check_grouped_equals_separate(const std::vector<int64_t>& sizes, int64_t C, int64_t H, int64_t W,
                                   uint64_t seed) {
  int64_t N = 0;
  for (int64_t n : sizes) N += n;
  const Tensor x0 = rand_tensor(Shape{N, C, H, W}, seed, -2.f, 3.f);
  const Tensor w0 = rand_tensor(Shape{C}, seed + 1, 0.5f, 1.5f), b0 = rand_tensor(Shape{C}, seed + 2);
  const Tensor gy = rand_tensor(Shape{N, C, H, W}, seed + 3);
  const Tensor rm_init = rand_tensor(Shape{C}, seed + 4), rv_init = rand_tensor(Shape{C}, seed + 5, 0.5f, 2.f);

  Tensor xg = x0.clone().set_requires_grad(true), wg = w0.clone().set_requires_grad(true);
  Tensor bg = b0.clone().set_requires_grad(true), rmg = rm_init.clone(), rvg = rv_init.clone();
  Tensor yg = gcc::batchnorm2d_grouped(xg, sizes, wg, bg, rmg, rvg, true, 0.1f, 1e-5f);
  yg.backward(gy);

  Tensor xs = x0.clone().set_requires_grad(true), ws = w0.clone().set_requires_grad(true);
  Tensor bs = b0.clone().set_requires_grad(true), rms = rm_init.clone(), rvs = rv_init.clone();
  std::vector<Tensor> ys;
  int64_t at = 0;
  for (int64_t n : sizes) {
    ys.push_back(gcc::batchnorm2d(gcc::slice0(xs, at, at + n), ws, bs, rms, rvs, true, 0.1f, 1e-5f));
    at += n;
  }
  Tensor y = gcc::concat0(ys);
  y.backward(gy);

  const std::string what = "groups of " + std::to_string(sizes.size()) + ", C " + std::to_string(C);
  check_values(yg, y.to_vector(), 1e-6, 1e-6, what + ": y");
  check_values(xg.grad(), xs.grad().to_vector(), 1e-6, 1e-5, what + ": gx");
  check_values(wg.grad(), ws.grad().to_vector(), 1e-5, 1e-5, what + ": gweight");
  check_values(bg.grad(), bs.grad().to_vector(), 1e-5, 1e-5, what + ": gbias");
  check_values(rmg, rms.to_vector(), 1e-7, 1e-6, what + ": running_mean");
  check_values(rvg, rvs.to_vector(), 1e-7, 1e-6, what + ": running_var");
}
}  // namespace

TEST_CASE("batchnorm2d_grouped equals one batchnorm2d per group (values, gradients, running statistics)") {
  check_grouped_equals_separate({6, 3, 3, 3, 3}, 3, 2, 3, 21);  // phase 2's [x; x'], v_0, v_1, v_2, u
  check_grouped_equals_separate({1, 4, 2}, 5, 3, 1, 22);        // a group of one image (H*W = 3 values)
  check_grouped_equals_separate({7}, 2, 1, 1, 23);              // one group = plain batchnorm2d
  // groups change the statistics: [a; b] grouped differs from [a; b] as one batch when their means differ
  Tensor x = Tensor::from_vector({0, 2, 10, 14}, Shape{4, 1, 1, 1});
  Tensor rm = Tensor::zeros(Shape{1}), rv = Tensor::ones(Shape{1});
  Tensor y = gcc::batchnorm2d_grouped(x, {2, 2}, Tensor(), Tensor(), rm, rv, true, 0.5f, 0.f);
  check_values(y, {-1, 1, -1, 1}, 1e-6, 1e-6, "per-group normalisation");
  // running mean: 0 -> 0.5 * 1 = 0.5 -> 0.5 * 0.5 + 0.5 * 12 = 6.25 (group 0 first, then group 1)
  check_values(rm, {6.25f}, 1e-6, 1e-6, "running mean updated group by group");
}

TEST_CASE("batchnorm2d_grouped gradients and errors") {
  Tensor rm = Tensor::zeros(Shape{2}), rv = Tensor::ones(Shape{2});
  gradcheck("batchnorm2d_grouped train (x, weight, bias)",
            [&](const std::vector<Tensor>& in) { return gcc::batchnorm2d_grouped(in[0], {2, 1, 3}, in[1], in[2], rm, rv, true); },
            {rand_tensor(Shape{6, 2, 2, 2}, 31), rand_tensor(Shape{2}, 32, 0.5f, 1.5f), rand_tensor(Shape{2}, 33)});
  const Tensor w = Tensor::ones(Shape{2}), b = Tensor::zeros(Shape{2});
  CHECK_THROWS_WITH_AS(gcc::batchnorm2d_grouped(Tensor::ones(Shape{5, 2, 2, 2}), {2, 2}, w, b, rm, rv, true),
                       doctest::Contains("batchnorm2d_grouped: the group sizes add up to 4 rows but input [5, 2, 2, 2] "
                                         "has 5"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::batchnorm2d_grouped(Tensor::ones(Shape{3, 2, 1, 1}), {2, 1}, w, b, rm, rv, true),
                       doctest::Contains("expected more than 1 value per channel when training, got input [3, 2, 1, 1] "
                                         "in a group of 1 rows (N*H*W = 1)"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::batchnorm2d_grouped(Tensor::ones(Shape{3, 2, 1, 1}), {3, 0}, w, b, rm, rv, true),
                       doctest::Contains("group sizes must be positive, got 0"), gcc::Error);
  // eval mode normalises with the running statistics: the groups do not matter
  const Tensor xe = rand_tensor(Shape{3, 2, 1, 1}, 34);
  check_values(gcc::batchnorm2d_grouped(xe, {2, 1}, w, b, rm, rv, false),
               gcc::batchnorm2d(xe, w, b, rm, rv, false).to_vector(), 0, 0, "eval ignores the groups");
}
