// Demo of the main job on synthetic data, for machines without any dataset: a small End2EndModel
// learns to cluster 4 kinds of noisy striped images with 2·RGC + AGC, then prints clustering accuracy.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <vector>

#include "cli.hpp"
#include "gcc/core.hpp"

namespace {

constexpr int kClasses = 4;

// Image of class c: stripes of one orientation (0: horizontal, 1: vertical, 2: diagonal, 3: checker),
// random phase, plus Gaussian noise. [1, S, S]
void draw(int c, int s, gcc::Rng& rng, float* out) {
  const int phase = static_cast<int>(rng.below(4));
  for (int y = 0; y < s; ++y)
    for (int x = 0; x < s; ++x) {
      int v;
      switch (c) {
        case 0: v = ((y + phase) / 2) % 2; break;
        case 1: v = ((x + phase) / 2) % 2; break;
        case 2: v = ((x + y + phase) / 3) % 2; break;
        default: v = (((x + phase) / 3) + ((y + phase) / 3)) % 2; break;
      }
      out[y * s + x] = static_cast<float>(v) * 2.f - 1.f + static_cast<float>(rng.normal(0, 0.6));
    }
}

// Accuracy under the best one-to-one cluster->class mapping (exhaustive over 4! permutations).
double best_map_accuracy(const std::vector<int>& pred, const std::vector<int>& label) {
  std::vector<int> perm(kClasses);
  std::iota(perm.begin(), perm.end(), 0);
  double best = 0;
  do {
    size_t hit = 0;
    for (size_t i = 0; i < pred.size(); ++i) hit += perm[static_cast<size_t>(pred[i])] == label[i];
    best = std::max(best, static_cast<double>(hit) / static_cast<double>(pred.size()));
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  gcc_examples::Cli cli("gcc_demo",
                        "Trains a small GCC model (2*RGC + AGC) on synthetic striped images and prints the\n"
                        "clustering accuracy. Runs in about a minute on 2 CPU cores; needs no dataset.");
  cli.opt("images", "512", "synthetic images (4 classes)").opt("epochs", "6", "epochs")
      .opt("batch", "64", "batch size").opt("lr", "0.05", "SGD learning rate").opt("seed", "1", "random seed");
  int code = 0;
  if (!cli.parse(argc, argv, code)) return code;
  try {
    const int n = static_cast<int>(cli.integer("images")), s = 16, b = static_cast<int>(cli.integer("batch"));
    const int epochs = static_cast<int>(cli.integer("epochs"));
    gcc::Rng rng(static_cast<uint64_t>(cli.integer("seed")));
    std::vector<int> label(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) label[static_cast<size_t>(i)] = i % kClasses;

    gcc::nn::End2EndConfig cfg;
    cfg.backbone = gcc::nn::ResNetConfig::preset("resnet18-cifar");
    cfg.backbone.base_width = 8;
    cfg.backbone.in_channels = 1;
    cfg.num_clusters = kClasses;
    gcc::nn::End2EndModel model(cfg, rng);
    gcc::SGD opt(model.named_parameters(), static_cast<float>(cli.real("lr")), 0.9f, 1e-4f);
    std::printf("gcc_demo: %d images of %dx%d, model with %lld parameters, %d threads\n", n, s, s,
                static_cast<long long>(model.parameter_count()), gcc::num_threads());

    auto batch_views = [&](const std::vector<int>& ids) {  // a fresh noisy view of each image
      gcc::Tensor x = gcc::Tensor::empty(gcc::Shape{static_cast<int64_t>(ids.size()), 1, s, s});
      for (size_t r = 0; r < ids.size(); ++r) draw(label[static_cast<size_t>(ids[r])], s, rng, x.data() + r * s * s);
      return x;
    };
    std::vector<int> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    const float lr0 = static_cast<float>(cli.real("lr"));
    auto t0 = std::chrono::steady_clock::now();
    for (int e = 0; e < epochs; ++e) {
      opt.set_lr(gcc::cosine_lr(lr0, e, epochs));
      for (int i = n - 1; i > 0; --i) std::swap(order[static_cast<size_t>(i)], order[rng.below(static_cast<uint64_t>(i) + 1)]);
      double sum_rgc = 0, sum_agc = 0;
      int steps = 0;
      for (int start = 0; start < n; start += b) {
        std::vector<int> ids(order.begin() + start, order.begin() + std::min(n, start + b));
        const int64_t m = static_cast<int64_t>(ids.size());
        gcc::Tensor x = gcc::concat0({batch_views(ids), batch_views(ids)});
        gcc::nn::End2EndOutput out = model.forward(x);  // one pass over both views
        gcc::Tensor z = gcc::slice0(out.embedding, 0, m), z2 = gcc::slice0(out.embedding, m, 2 * m);
        gcc::Tensor rgc = gcc::rgc_loss(z, z2, 0.1f);
        gcc::AgcLoss agc = gcc::agc_loss(gcc::slice0(out.logits[0], 0, m), gcc::slice0(out.logits[0], m, 2 * m), 2.f);
        gcc::Tensor loss = gcc::add(gcc::mul_scalar(rgc, 2.f), agc.total);
        opt.zero_grad();
        loss.backward();
        opt.step();
        sum_rgc += rgc.item();
        sum_agc += agc.total.item();
        ++steps;
      }
      std::printf("epoch %d/%d  lr %.4f  rgc %.4f  agc %.4f  (%.1f s)\n", e + 1, epochs, opt.lr(), sum_rgc / steps,
                  sum_agc / steps, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    model.eval();
    gcc::NoGrad ng;
    std::vector<int> all(static_cast<size_t>(n)), pred(static_cast<size_t>(n));
    std::iota(all.begin(), all.end(), 0);
    for (int start = 0; start < n; start += b) {
      std::vector<int> ids(all.begin() + start, all.begin() + std::min(n, start + b));
      gcc::Tensor logits = model.forward(batch_views(ids)).logits[0];
      for (size_t r = 0; r < ids.size(); ++r) {
        const float* row = logits.data() + r * kClasses;
        pred[static_cast<size_t>(ids[r])] = static_cast<int>(std::max_element(row, row + kClasses) - row);
      }
    }
    std::printf("clustering accuracy (best cluster-to-class mapping): %.3f  (chance: %.3f)\n",
                best_map_accuracy(pred, label), 1.0 / kClasses);
  } catch (const gcc::Error& e) {
    std::fprintf(stderr, "gcc_demo: %s\n", e.what());
    return 1;
  }
  return 0;
}
