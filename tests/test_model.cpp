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

TEST_CASE("End2EndModel: one forward over stacked passes equals one forward per pass (BatchNorm per pass)") {
  gcc::nn::End2EndConfig cfg;
  cfg.backbone = gcc::nn::ResNetConfig::preset("resnet18-cifar");
  cfg.backbone.base_width = 4;
  cfg.backbone.in_channels = 1;
  cfg.backbone.stem_maxpool = false;
  cfg.nheads = 2;
  const std::vector<int64_t> sizes{4, 2, 2, 2, 2};  // phase 2 with m = 2: [x; x'], v_0, v_1, v_2, u
  const Tensor x = rand_tensor(Shape{12, 1, 12, 12}, 5);
  const Tensor rz = rand_tensor(Shape{12, 128}, 6), rl = rand_tensor(Shape{12, 10}, 7);
  auto run = [&](bool batched, std::vector<Tensor>& grads, std::vector<Tensor>& buffers) {
    gcc::Rng rng(8);
    gcc::nn::End2EndModel model(cfg, rng);
    gcc::nn::End2EndOutput o;
    if (batched) {
      o = model.forward(x, sizes);
    } else {
      std::vector<Tensor> z, l0, l1;
      int64_t at = 0;
      for (int64_t n : sizes) {
        gcc::nn::End2EndOutput p = model.forward(gcc::slice0(x, at, at + n));
        z.push_back(p.embedding);
        l0.push_back(p.logits[0]);
        l1.push_back(p.logits[1]);
        at += n;
      }
      o.embedding = gcc::concat0(z);
      o.logits = {gcc::concat0(l0), gcc::concat0(l1)};
    }
    Tensor loss = gcc::add(gcc::sum_all(gcc::mul(o.embedding, rz)),
                           gcc::add(gcc::sum_all(gcc::mul(o.logits[0], rl)), gcc::sum_all(gcc::mul(o.logits[1], rl))));
    loss.backward();
    for (const gcc::NamedTensor& p : model.named_parameters()) grads.push_back(p.tensor.grad());
    for (const gcc::NamedTensor& b : model.named_buffers()) buffers.push_back(b.tensor);
    return std::vector<Tensor>{o.embedding, o.logits[0], o.logits[1]};
  };
  std::vector<Tensor> g1, b1, g2, b2;
  const std::vector<Tensor> one = run(true, g1, b1), five = run(false, g2, b2);
  for (std::size_t i = 0; i < one.size(); ++i) check_values(one[i], five[i].to_vector(), 1e-5, 1e-4, "outputs");
  REQUIRE(g1.size() == g2.size());
  for (std::size_t i = 0; i < g1.size(); ++i) check_values(g1[i], g2[i].to_vector(), 1e-5, 1e-4, "gradients");
  REQUIRE(b1.size() == b2.size());
  for (std::size_t i = 0; i < b1.size(); ++i)  // running stats and num_batches_tracked (= 5 passes)
    check_values(b1[i], b2[i].to_vector(), 1e-6, 1e-5, "buffers");
  CHECK(b1[2].item() == 5.f);
}
