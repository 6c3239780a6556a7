// softmax / log_softmax: values along both dims (PyTorch references), uniform rows, saturated rows,
// higher-rank inputs, and finite-difference gradient checks.
#include "gradcheck.hpp"
#include "gcc/ops/softmax.hpp"

#include <cmath>

using gcc::Shape;
using gcc::Tensor;
using namespace gcc_test;

TEST_CASE("softmax and log_softmax values along dim 1 and dim 0") {
  const Tensor x = Tensor::from_vector({1, 2, 3, 0.5f, -1, 2}, Shape{2, 3});
  // References from torch.nn.functional.softmax / log_softmax.
  check_values(gcc::softmax(x, 1), {0.09003057f, 0.24472848f, 0.66524094f, 0.17529039f, 0.03911257f, 0.78559703f},
               1e-6, 1e-5, "softmax dim 1");
  check_values(gcc::log_softmax(x, 1),
               {-2.40760589f, -1.40760589f, -0.40760595f, -1.74131131f, -3.24131131f, -0.24131133f}, 1e-6, 1e-5,
               "log_softmax dim 1");
  check_values(gcc::softmax(x, 0), {0.62245935f, 0.95257413f, 0.73105860f, 0.37754068f, 0.04742587f, 0.26894143f},
               1e-6, 1e-5, "softmax dim 0");
  check_values(gcc::log_softmax(x, 0),
               {-0.47407699f, -0.04858733f, -0.31326166f, -0.97407699f, -3.04858732f, -1.31326163f}, 1e-6, 1e-5,
               "log_softmax dim 0");
  // Negative dims count from the end; a strided (transposed) input gives the transposed result.
  check_values(gcc::softmax(x, -1), gcc::softmax(x, 1).to_vector(), 0, 0, "softmax dim -1");
  check_values(gcc::softmax(x.transpose(0, 1), 1), gcc::softmax(x, 0).transpose(0, 1).to_vector(), 1e-7, 0,
               "softmax of a transposed view");
  CHECK(gcc::softmax(x, 1).shape() == x.shape());
}

TEST_CASE("softmax of all-equal rows is uniform, log_softmax is -log(C)") {
  const Tensor x = Tensor::from_vector({5, 5, 5, 5, 5, 5, 5, -2, -2, -2, -2, -2, -2, -2}, Shape{2, 7});
  check_values(gcc::softmax(x, 1), std::vector<float>(14, 1.f / 7), 1e-7, 1e-6, "uniform softmax");
  check_values(gcc::log_softmax(x, 1), std::vector<float>(14, -std::log(7.f)), 1e-6, 1e-6, "uniform log_softmax");
  const Tensor xt = x.transpose(0, 1).contiguous();  // [7, 2], constant columns
  check_values(gcc::softmax(xt, 0), std::vector<float>(14, 1.f / 7), 1e-7, 1e-6, "uniform columns");
  check_values(gcc::log_softmax(xt, 0), std::vector<float>(14, -std::log(7.f)), 1e-6, 1e-6, "uniform log columns");
}

TEST_CASE("softmax of a saturated row is finite and exact") {
  const Tensor x = Tensor::from_vector({1000, 0, -1000}, Shape{1, 3});
  check_values(gcc::softmax(x, 1), {1, 0, 0}, 0, 0, "softmax [1000, 0, -1000]");
  check_values(gcc::log_softmax(x, 1), {0, -1000, -2000}, 0, 0, "log_softmax [1000, 0, -1000]");
  const Tensor xt = x.view(Shape{3, 1});  // the same values along dim 0
  check_values(gcc::softmax(xt, 0), {1, 0, 0}, 0, 0, "softmax along dim 0");
  check_values(gcc::log_softmax(xt, 0), {0, -1000, -2000}, 0, 0, "log_softmax along dim 0");
  // Gradients stay finite too.
  Tensor xg = x.clone();
  xg.set_requires_grad(true);
  gcc::log_softmax(xg, 1).backward(Tensor::from_vector({1, 2, 3}, Shape{1, 3}));
  check_values(xg.grad(), {1 - 6, 2, 3}, 0, 0, "log_softmax gradient of a saturated row");
}

TEST_CASE("softmax of a 3-D tensor along the middle dim, and over more than one tile") {
  const Tensor x = Tensor::from_vector({1, 2, 3, -1, 0, 0.5f, 2, 2, 1, 1, -3, 4}, Shape{2, 3, 2});
  check_values(gcc::softmax(x, 1),
               {0.11419520f, 0.78559703f, 0.84379470f, 0.03911257f, 0.04201007f, 0.17529039f, 0.72747517f,
                0.11419520f, 0.26762316f, 0.04201007f, 0.00490169f, 0.84379470f},
               1e-6, 1e-5, "softmax [2, 3, 2] dim 1");
  // 70 columns: two tiles of inner positions when reducing along dim 0.
  const Tensor w = rand_tensor(Shape{3, 70}, 7, -3.f, 3.f);
  const Tensor wt = w.transpose(0, 1).contiguous();
  check_values(gcc::log_softmax(w, 0), gcc::log_softmax(wt, 1).transpose(0, 1).to_vector(), 1e-6, 1e-6,
               "log_softmax dim 0 vs dim 1 of the transpose");
}

TEST_CASE("softmax of a larger tensor (parallel rows and tiles) agrees along both dims") {
  const Tensor x = rand_tensor(Shape{64, 512}, 13, -5.f, 5.f);
  const Tensor y = gcc::softmax(x, 1);
  const Tensor s = gcc::sum(y, 1);
  check_values(s, std::vector<float>(64, 1.f), 1e-5, 0, "rows sum to 1");
  const Tensor yt = gcc::softmax(x.transpose(0, 1).contiguous(), 0);
  check_values(yt.transpose(0, 1), y.to_vector(), 1e-7, 1e-5, "dim 0 of the transpose");
}

TEST_CASE("softmax gradients") {
  const Tensor a = rand_tensor(Shape{3, 5}, 11, -2.f, 2.f);
  for (int dim = 0; dim < 2; ++dim) {
    gradcheck("softmax dim " + std::to_string(dim),
              [dim](const std::vector<Tensor>& in) { return gcc::softmax(in[0], dim); }, {a.clone()});
    gradcheck("log_softmax dim " + std::to_string(dim),
              [dim](const std::vector<Tensor>& in) { return gcc::log_softmax(in[0], dim); }, {a.clone()});
  }
  const Tensor b = rand_tensor(Shape{2, 3, 4}, 12, -2.f, 2.f);
  gradcheck("softmax [2, 3, 4] dim 1", [](const std::vector<Tensor>& in) { return gcc::softmax(in[0], 1); },
            {b.clone()});
  gradcheck("log_softmax [2, 3, 4] dim -1",
            [](const std::vector<Tensor>& in) { return gcc::log_softmax(in[0], -1); }, {b.clone()});
}

TEST_CASE("softmax misuse") {
  const Tensor x = Tensor::zeros(Shape{2, 3});
  CHECK_THROWS_WITH_AS(gcc::softmax(x, 2), doctest::Contains("softmax: dim 2 out of range for shape [2, 3]"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::log_softmax(Tensor::scalar(1), 0), doctest::Contains("log_softmax: needs a tensor"),
                       gcc::Error);
}
