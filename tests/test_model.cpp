// Networks of SPEC §2: parameter names as the release names them, counts, output shapes, train/eval.
#include "gcc/nn/end2end.hpp"
#include "gradcheck.hpp"

using gcc::Shape;
using gcc::Tensor;
using namespace gcc_test;

TEST_CASE("End2EndModel names its state like the release") {
  gcc::Rng rng(0);
  gcc::nn::End2EndConfig cfg;
  gcc::nn::End2EndModel model(cfg, rng);
  auto sd = model.state_dict();
  REQUIRE(sd.size() > 10);
  CHECK(sd[0].name == "backbone.conv1.weight");
  CHECK(sd[1].name == "backbone.bn1.weight");
  CHECK(sd[3].name == "backbone.bn1.running_mean");
  CHECK(sd[5].name == "backbone.bn1.num_batches_tracked");
  CHECK(sd[6].name == "backbone.layer1.0.conv1.weight");
  auto reg = model.registry();
  CHECK(reg.contains("backbone.layer2.0.shortcut.0.weight"));
  CHECK(reg.contains("backbone.layer2.0.shortcut.1.running_var"));
  CHECK_FALSE(reg.contains("backbone.layer1.0.shortcut.0.weight"));
  CHECK(reg.contains("contrastive_head.0.weight"));
  CHECK(reg.contains("contrastive_head.2.bias"));
  CHECK(reg.contains("cluster_head.0.weight"));
  // ResNet-18 (CIFAR stem) 11,168,832 + heads 512*512+512 + 512*128+128 + 512*10+10
  CHECK(model.parameter_count() == 11168832 + 262656 + 65664 + 5130);
  // Initialisation: conv std sqrt(2 / (64*3*3)), BN weight 1, Linear within 1/sqrt(512).
  std::vector<float> w = reg.get("backbone.layer1.0.conv1.weight").to_vector();
  double ss = 0;
  for (float v : w) ss += static_cast<double>(v) * v;
  CHECK(std::sqrt(ss / static_cast<double>(w.size())) == doctest::Approx(std::sqrt(2.0 / 576)).epsilon(0.02));
  for (float v : reg.get("contrastive_head.0.weight").to_vector()) REQUIRE(std::fabs(v) <= 1.f / std::sqrt(512.f));
}

TEST_CASE("backbone variants: output shapes, -stl pooling check, train and eval") {
  gcc::Rng rng(1);
  gcc::nn::End2EndConfig cfg;
  cfg.backbone = gcc::nn::ResNetConfig::preset("resnet18-stl");
  cfg.backbone.base_width = 4;
  cfg.num_clusters = 7;
  gcc::nn::End2EndModel model(cfg, rng);
  Tensor x = rand_tensor(Shape{2, 3, 96, 96}, 2);
  gcc::nn::End2EndOutput out = model.forward(x);
  CHECK(out.embedding.shape() == Shape{2, 128});
  CHECK(out.logits[0].shape() == Shape{2, 7});
  for (int64_t i = 0; i < 2; ++i) {
    double n = 0;
    for (int64_t j = 0; j < 128; ++j) n += out.embedding.at({i, j}) * out.embedding.at({i, j});
    CHECK(n == doctest::Approx(1.0).epsilon(1e-5));
  }
  gcc::Tape::clear();
  CHECK_THROWS_WITH_AS(model.forward(rand_tensor(Shape{2, 3, 32, 32}, 3)), doctest::Contains("AvgPool 7 needs a 7x7 map but this input leaves 3x3"),
                       gcc::Error);
  gcc::Tape::clear();
  model.eval();
  gcc::NoGrad ng;
  Tensor one = model.forward(rand_tensor(Shape{1, 3, 96, 96}, 4)).logits[0];  // batch of 1 in eval mode
  CHECK(one.shape() == Shape{1, 7});
  CHECK_THROWS_WITH_AS(gcc::nn::ResNetConfig::preset("resnet19"), doctest::Contains("unknown backbone 'resnet19'"),
                       gcc::Error);
}
