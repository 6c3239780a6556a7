// ResNet backbones of SPEC §2: resnet18-cifar, resnet34-cifar, resnet18-stl, resnet34-stl, with a
// width multiplier (base width) and an input-channel count as toolkit extensions.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "../ops/elementwise.hpp"
#include "layers.hpp"

namespace gcc {
namespace nn {

// conv3x3(stride) → BN → ReLU → conv3x3 → BN, plus identity or conv1x1(stride) → BN; add; ReLU.
class BasicBlock : public Layer {
 public:
  static constexpr int64_t expansion = 1;
  BasicBlock(int64_t in, int64_t planes, int stride, Rng& rng) {
    conv1_ = &register_module("conv1", std::make_shared<Conv2d>(in, planes, 3, stride, 1, false, rng));
    bn1_ = &register_module("bn1", std::make_shared<BatchNorm2d>(planes));
    conv2_ = &register_module("conv2", std::make_shared<Conv2d>(planes, planes, 3, 1, 1, false, rng));
    bn2_ = &register_module("bn2", std::make_shared<BatchNorm2d>(planes));
    if (stride != 1 || in != planes) {
      shortcut_ = &register_module("shortcut", std::make_shared<Sequential>());
      shortcut_->add(std::make_shared<Conv2d>(in, planes, 1, stride, 0, false, rng));
      shortcut_->add(std::make_shared<BatchNorm2d>(planes));
    }
  }
  Tensor forward(const Tensor& x) override {
    Tensor out = relu(bn1_->forward(conv1_->forward(x)));
    out = bn2_->forward(conv2_->forward(out));
    return relu(gcc::add(out, shortcut_ ? shortcut_->forward(x) : x));
  }

 private:
  Conv2d *conv1_, *conv2_;
  BatchNorm2d *bn1_, *bn2_;
  Sequential* shortcut_ = nullptr;
};

// 1x1 → 3x3(stride) → 1x1 (x4 channels), each followed by BN (ReLU after the first two); shortcut
// as BasicBlock's. Included for completeness (ResNet-50-style backbones).
class Bottleneck : public Layer {
 public:
  static constexpr int64_t expansion = 4;
  Bottleneck(int64_t in, int64_t planes, int stride, Rng& rng) {
    conv1_ = &register_module("conv1", std::make_shared<Conv2d>(in, planes, 1, 1, 0, false, rng));
    bn1_ = &register_module("bn1", std::make_shared<BatchNorm2d>(planes));
    conv2_ = &register_module("conv2", std::make_shared<Conv2d>(planes, planes, 3, stride, 1, false, rng));
    bn2_ = &register_module("bn2", std::make_shared<BatchNorm2d>(planes));
    conv3_ = &register_module("conv3", std::make_shared<Conv2d>(planes, planes * 4, 1, 1, 0, false, rng));
    bn3_ = &register_module("bn3", std::make_shared<BatchNorm2d>(planes * 4));
    if (stride != 1 || in != planes * 4) {
      shortcut_ = &register_module("shortcut", std::make_shared<Sequential>());
      shortcut_->add(std::make_shared<Conv2d>(in, planes * 4, 1, stride, 0, false, rng));
      shortcut_->add(std::make_shared<BatchNorm2d>(planes * 4));
    }
  }
  Tensor forward(const Tensor& x) override {
    Tensor out = relu(bn1_->forward(conv1_->forward(x)));
    out = relu(bn2_->forward(conv2_->forward(out)));
    out = bn3_->forward(conv3_->forward(out));
    return relu(gcc::add(out, shortcut_ ? shortcut_->forward(x) : x));
  }

 private:
  Conv2d *conv1_, *conv2_, *conv3_;
  BatchNorm2d *bn1_, *bn2_, *bn3_;
  Sequential* shortcut_ = nullptr;
};

struct ResNetConfig {
  std::vector<int> blocks = {2, 2, 2, 2};  // blocks per stage
  bool bottleneck = false;
  bool stem_maxpool = false;               // MaxPool k2 s2 pad 1 after the stem (the -stl variants)
  int final_avgpool = 0;                   // AvgPool kernel at the end; 0 = global average
  int64_t base_width = 64;                 // stage widths base, 2x, 4x, 8x (64-128-256-512)
  int64_t in_channels = 3;

  // "resnet18-cifar", "resnet34-cifar", "resnet18-stl", "resnet34-stl", "resnet50-cifar".
  static ResNetConfig preset(const std::string& name) {
    ResNetConfig c;
    if (name == "resnet18-cifar") return c;
    if (name == "resnet34-cifar") {
      c.blocks = {3, 4, 6, 3};
      return c;
    }
    if (name == "resnet50-cifar") {
      c.blocks = {3, 4, 6, 3};
      c.bottleneck = true;
      return c;
    }
    if (name == "resnet18-stl") {
      c.stem_maxpool = true;
      c.final_avgpool = 7;
      return c;
    }
    if (name == "resnet34-stl") {
      c.blocks = {3, 4, 6, 3};
      c.stem_maxpool = true;
      c.final_avgpool = 5;
      return c;
    }
    GCC_FAIL("ResNetConfig::preset: unknown backbone '", name,
             "'; expected resnet18-cifar, resnet34-cifar, resnet50-cifar, resnet18-stl or resnet34-stl");
  }
};

// Output: [N, feature_dim()] features (512 for the published widths).
class ResNet : public Layer {
 public:
  ResNet(const ResNetConfig& cfg, Rng& rng) : cfg_(cfg) {
    GCC_CHECK(cfg.blocks.size() == 4, "ResNet: expected 4 stages, got ", cfg.blocks.size());
    GCC_CHECK(cfg.base_width > 0 && cfg.in_channels > 0, "ResNet: base_width and in_channels must be positive");
    const int64_t w = cfg.base_width;
    conv1_ = &register_module("conv1", std::make_shared<Conv2d>(cfg.in_channels, w, 3, 1, 1, false, rng));
    bn1_ = &register_module("bn1", std::make_shared<BatchNorm2d>(w));
    int64_t in = w;
    const int64_t exp = cfg.bottleneck ? Bottleneck::expansion : BasicBlock::expansion;
    for (int s = 0; s < 4; ++s) {
      auto stage = std::make_shared<Sequential>();
      const int64_t planes = w << s;
      for (int b = 0; b < cfg.blocks[static_cast<std::size_t>(s)]; ++b) {
        const int stride = (s > 0 && b == 0) ? 2 : 1;
        if (cfg.bottleneck) stage->add(std::make_shared<Bottleneck>(in, planes, stride, rng));
        else stage->add(std::make_shared<BasicBlock>(in, planes, stride, rng));
        in = planes * exp;
      }
      stages_[s] = &register_module("layer" + std::to_string(s + 1), stage);
    }
    feature_dim_ = in;
  }
  int64_t feature_dim() const { return feature_dim_; }
  Tensor forward(const Tensor& x) override {
    Tensor h = relu(bn1_->forward(conv1_->forward(x)));
    if (cfg_.stem_maxpool) h = max_pool2d(h, 2, 2, 1);
    for (Sequential* s : stages_) h = s->forward(h);
    if (cfg_.final_avgpool == 0) return global_avg_pool2d(h);
    GCC_CHECK(h.size(2) == cfg_.final_avgpool && h.size(3) == cfg_.final_avgpool, "ResNet: AvgPool ",
              cfg_.final_avgpool, " needs a ", cfg_.final_avgpool, "x", cfg_.final_avgpool, " map but this input "
              "leaves ", h.size(2), "x", h.size(3), "; the -stl variants expect 96x96 (AvgPool 7) or 64x64 "
              "(AvgPool 5) images; set final_avgpool = 0 for global pooling");
    h = avg_pool2d(h, cfg_.final_avgpool, cfg_.final_avgpool, 0);
    return flatten(h);
  }

 private:
  ResNetConfig cfg_;
  Conv2d* conv1_;
  BatchNorm2d* bn1_;
  Sequential* stages_[4] = {nullptr, nullptr, nullptr, nullptr};
  int64_t feature_dim_ = 0;
};

}  // namespace nn
}  // namespace gcc
