// End2EndModel: backbone + contrastive head (RGC, 128-d L2-normalised embedding) + cluster heads
// (AGC, K logits each), named as the release names them (backbone.*, contrastive_head.*, cluster_head.*).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "../ops/normalize.hpp"
#include "resnet.hpp"

namespace gcc {
namespace nn {

struct End2EndConfig {
  ResNetConfig backbone;
  int64_t num_clusters = 10;   // K
  int nheads = 1;              // cluster heads (the release's nheads)
  int64_t embedding_dim = 128;
};

struct End2EndOutput {
  Tensor embedding;             // [N, 128], rows of unit L2 norm
  std::vector<Tensor> logits;   // nheads x [N, K]
};

class End2EndModel : public Module {
 public:
  End2EndModel(const End2EndConfig& cfg, Rng& rng) : cfg_(cfg) {
    GCC_CHECK(cfg.num_clusters >= 2, "End2EndModel: num_clusters must be at least 2, got ", cfg.num_clusters);
    GCC_CHECK(cfg.nheads >= 1, "End2EndModel: nheads must be at least 1, got ", cfg.nheads);
    backbone_ = &register_module("backbone", std::make_shared<ResNet>(cfg.backbone, rng));
    const int64_t f = backbone_->feature_dim();
    contrastive_ = &register_module("contrastive_head", std::make_shared<Sequential>());
    contrastive_->add(std::make_shared<Linear>(f, f, rng));
    contrastive_->add(std::make_shared<ReLU>());
    contrastive_->add(std::make_shared<Linear>(f, cfg.embedding_dim, rng));
    clusters_ = &register_module("cluster_head", std::make_shared<Sequential>());
    for (int h = 0; h < cfg.nheads; ++h)
      heads_.push_back(&clusters_->add(std::make_shared<Linear>(f, cfg.num_clusters, rng)));
  }

  // One forward pass: BatchNorm (in train mode) uses the statistics of exactly this batch.
  End2EndOutput forward(const Tensor& x /* [N, C, H, W] */) {
    Tensor h = backbone_->forward(x);
    End2EndOutput out;
    out.embedding = l2_normalize(contrastive_->forward(h), 1);
    for (int i = 0; i < cfg_.nheads; ++i) out.logits.push_back(head(i).forward(h));
    return out;
  }
  // Several forward passes in one: x holds the passes' images one after another (pass_sizes rows each);
  // BatchNorm uses each pass's own statistics, so the outputs equal one forward(...) per pass (up to
  // summation order), while every convolution runs once over all of them.
  End2EndOutput forward(const Tensor& x /* [sum(pass_sizes), C, H, W] */, const std::vector<int64_t>& pass_sizes) {
    ScopedBatchGroups groups(*this, pass_sizes);
    return forward(x);
  }
  // Backbone features only ([N, 512]).
  Tensor features(const Tensor& x) { return backbone_->forward(x); }
  Linear& head(int i) {
    GCC_CHECK(i >= 0 && i < cfg_.nheads, "End2EndModel::head: head ", i, " of ", cfg_.nheads);
    return *heads_[static_cast<std::size_t>(i)];
  }
  ResNet& backbone() { return *backbone_; }
  const End2EndConfig& config() const { return cfg_; }

 private:
  End2EndConfig cfg_;
  ResNet* backbone_;
  Sequential* contrastive_;
  Sequential* clusters_;
  std::vector<Linear*> heads_;
};

}  // namespace nn
}  // namespace gcc
