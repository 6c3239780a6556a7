// One complete phase-2 training step (SPEC §4) on the GPU against the same step on the CPU: the same
// End2EndModel (resnet18-cifar, base width 16, K = 5) built twice from one seed, five forward passes
// with BatchNorm in train mode per pass, 2·RGC(phase 2) + AGC, backward, SGD(0.4, 0.9, 1e-4).
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "gcc/cuda.cuh"
#include "gcc/cuda/math_mode.cuh"
#include "gcc/graph/knn.hpp"
#include "gcc/loss/agc.hpp"
#include "gcc/loss/rgc.hpp"
#include "gcc/nn/end2end.hpp"
#include "gcc/ops/shape.hpp"
#include "gcc/optim/optimizers.hpp"
#include "gradcheck.hpp"
#include "phase2_step.hpp"

using gcc::Device;
using gcc::Shape;
using gcc::Tensor;
using gcc_cuda_test::phase2_step;
using gcc_cuda_test::StepInputs;
using gcc_cuda_test::StepLosses;

namespace {

constexpr int64_t kBatch = 8;     // b: anchors per step
constexpr int64_t kImage = 32;    // 32x32 RGB, as CIFAR
constexpr int64_t kClusters = 5;  // K
constexpr int64_t kPool = 64;     // samples in the toy kNN graph the neighbour weights come from
constexpr float kTau = 0.1f, kLambda = 2.0f;

// Tolerances. Both devices compute in float32 and differ only in summation order (cuDNN's convolution
// algorithms, cuBLAS's blocking, the reductions of the custom kernels; strict FP32, TF32 is off by
// default: gcc/cuda/math_mode.cuh), i.e. by ~1e-6 relative per value. Calibrated on the CPU by running
// this very comparison with the "GPU" inputs x, v1, u scaled by 1 + ε (ReLU inputs kept away from 0 by
// set_bn_margins / set_head_margins; without them ε = 1e-6 already moved gradients by 0.4%):
//   ε = 1e-6, 1e-5:  losses 1e-7, gradients 9e-5 (norm-wise, worst tensor), weights after the step 1e-6,
//                    running statistics 3e-6 (relative, the metrics below);
//   ε = 1e-4:        losses 3e-7, gradients 2e-4, weights 6e-6, running statistics 3e-5;
//   ε = 1e-3 (the size of TF32's rounding): gradients 1.9e-2 -- fails, as it should.
// - losses: rtol 1e-4, atol 1e-5 (O(1) log-sum-exps of the embeddings).
// - gradients: ||g_gpu - g_cpu||_2 <= 1e-3 ||g_cpu||_2 per tensor. Norm-wise, because some gradients
//   nearly cancel (contrastive_head.2.bias, BatchNorm weights in front of another BatchNorm) and their
//   single elements carry little information; any real bug (a wrong index, a missing term) is O(1).
// - state after the SGD step: |gpu - cpu| <= 1e-4 + 1e-3·|cpu| per element (the brief's float32
//   tolerance). new = w - 0.4·(g + 1e-4·w) with weights O(0.01..1): a gradient error of 1e-4 relative
//   moves them by ~1e-6 (measured above), three orders below the bound. Running statistics
//   (0.9·old + 0.1·batch statistic, five passes) are forward values: same bound. num_batches_tracked
//   must match exactly.
constexpr double kLossRtol = 1e-4, kLossAtol = 1e-5;
constexpr double kGradNormRtol = 1e-3;
constexpr double kStateRtol = 1e-3, kStateAtol = 1e-4;

// Float32 data rounded to multiples of 2^-8 in [-1, 1]: inner products of 16 of them are exact in
// float32 whatever the summation order, so the kNN graph must come out identical on both devices.
Tensor dyadic_features(int64_t n, int64_t d, uint64_t seed) {
  Tensor f = gcc_test::rand_tensor(Shape{n, d}, seed, -1.f, 1.f);
  float* p = f.data();
  for (int64_t i = 0; i < f.numel(); ++i) p[i] = std::round(p[i] * 256.f) / 256.f;
  return f;
}

// Worst element-wise error of a group of tensors, reported once (relative error with a floor of
// atol/rtol: |a - e| / (|e| + atol/rtol), which is <= rtol exactly when |a - e| <= atol + rtol·|e|).
struct Worst {
  Worst(std::string w, double r, double a) : what(std::move(w)), rtol(r), atol(a) {}
  std::string what;
  double rtol, atol;
  double worst_rel = 0;
  std::string worst_at = "(no difference)";
  int64_t tensors = 0, elements = 0, bad = 0;
  std::vector<std::string> bad_names;

  void check(const std::string& name, const Tensor& cpu, const Tensor& gpu) {
    REQUIRE_MESSAGE(gpu.defined(), what << ": " << name << " is undefined on the GPU");
    REQUIRE_MESSAGE(cpu.shape() == gpu.shape(), what << ": " << name << " has shape " << gpu.shape().str()
                                                     << " on the GPU, " << cpu.shape().str() << " on the CPU");
    CHECK_MESSAGE(gpu.device().is_cuda(), what << ": " << name << " is on " << gpu.device().str());
    const std::vector<float> e = cpu.to_vector(), a = gpu.to_vector();
    int64_t bad_here = 0;
    for (std::size_t i = 0; i < e.size(); ++i) {
      const double diff = std::fabs(static_cast<double>(a[i]) - e[i]);
      double rel = diff / (std::fabs(static_cast<double>(e[i])) + atol / rtol);
      if (std::isnan(rel) || !std::isfinite(a[i]) || !std::isfinite(e[i])) rel = HUGE_VAL;
      if (rel > worst_rel) {
        worst_rel = rel;
        std::ostringstream s;
        s << name << "[" << i << "] (cpu " << e[i] << ", gpu " << a[i] << ")";
        worst_at = s.str();
      }
      if (!(diff <= atol + rtol * std::fabs(static_cast<double>(e[i])))) ++bad_here;
    }
    ++tensors;
    elements += static_cast<int64_t>(e.size());
    if (bad_here > 0) {
      bad += bad_here;
      if (bad_names.size() < 8) bad_names.push_back(name + " (" + std::to_string(bad_here) + " elements)");
    }
  }
  void report() const {
    MESSAGE(what, ": ", tensors, " tensors, ", elements, " elements; worst relative error ", worst_rel,
            " (rtol ", rtol, ", atol ", atol, ") at ", worst_at);
    std::string names;
    for (const std::string& n : bad_names) names += "\n  " + n;
    CHECK_MESSAGE(bad == 0, what << ": " << bad << " elements outside |gpu - cpu| <= " << atol << " + " << rtol
                                 << "·|cpu|, in" << names);
  }
};

// Norm-wise comparison of gradients, the worst tensor reported once.
struct WorstNorm {
  WorstNorm(std::string w, double r) : what(std::move(w)), rtol(r) {}
  std::string what;
  double rtol;
  double worst = 0;
  std::string worst_at = "(no difference)";
  int64_t tensors = 0;
  std::vector<std::string> bad;

  void check(const std::string& name, const Tensor& cpu, const Tensor& gpu) {
    REQUIRE_MESSAGE(cpu.defined(), what << ": no CPU gradient reached " << name);
    REQUIRE_MESSAGE(gpu.defined(), what << ": no GPU gradient reached " << name);
    REQUIRE(cpu.shape() == gpu.shape());
    const std::vector<float> e = cpu.to_vector(), a = gpu.to_vector();
    double num = 0, den = 0;
    for (std::size_t i = 0; i < e.size(); ++i) {
      const double d = static_cast<double>(a[i]) - e[i];
      num += d * d;
      den += static_cast<double>(e[i]) * e[i];
    }
    double rel = std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
    if (std::isnan(rel)) rel = HUGE_VAL;
    if (rel > worst) {
      worst = rel;
      worst_at = name;
    }
    ++tensors;
    if (!(rel <= rtol) && bad.size() < 8) bad.push_back(name + " (" + std::to_string(rel) + ")");
  }
  void report() const {
    MESSAGE(what, ": ", tensors, " tensors; worst ||gpu - cpu|| / ||cpu|| = ", worst, " (limit ", rtol, ") at ",
            worst_at);
    std::string names;
    for (const std::string& n : bad) names += "\n  " + n;
    CHECK_MESSAGE(bad.empty(), what << ": tensors above the limit:" << names);
  }
};

// BatchNorm affine parameters that keep every ReLU input away from 0, as data_scripts/make_reference.py
// does for its fixtures: γ = 0.5 + U(0, 1), β = sign·γ·(3 + U(0, 1)), so a channel's BN output γ·x̂ + β
// is almost always on (or off) and almost never within rounding distance of the kink. Without this,
// the ~1e-6 relative differences between the devices move a few ReLU inputs across 0 (measured on the
// CPU: inputs scaled by 1 + 1e-6 changed gradients by 0.4% and updated weights by 1.3%), and the
// comparison would measure those flips, not the kernels. The sign is shared per stage (per channel) by
// every BN that feeds the residual stream (stem bn1, each block's bn2 and shortcut BN), so relu(bn2 +
// shortcut) never adds an on channel to an off one; each block's bn1 draws its own signs.
void set_bn_margins(gcc::nn::End2EndModel& model, uint64_t seed) {
  gcc::Rng rng(seed);
  std::vector<std::vector<float>> stage_sign(4);
  for (std::size_t s = 0; s < 4; ++s)
    for (int64_t c = 0; c < (model.config().backbone.base_width << s); ++c)
      stage_sign[s].push_back(rng.uniform() < 0.5 ? -1.f : 1.f);
  const std::vector<gcc::NamedTensor> params = model.named_parameters();
  for (std::size_t i = 0; i + 1 < params.size(); ++i) {
    const std::string& name = params[i].name;
    const bool is_bn = name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0 &&
                       params[i].tensor.dims() == 1 &&
                       (name.find(".bn") != std::string::npos || name.find("shortcut.1.") != std::string::npos);
    if (!is_bn || name.rfind("backbone.", 0) != 0) continue;
    const Tensor& gamma = params[i].tensor;
    const Tensor& beta = params[i + 1].tensor;
    REQUIRE_MESSAGE(params[i + 1].name == name.substr(0, name.size() - 7) + ".bias", name << " has no bias next to it");
    const int64_t c = gamma.numel();
    const bool residual = name == "backbone.bn1.weight" || name.find(".bn2.") != std::string::npos ||
                          name.find("shortcut.1.") != std::string::npos;
    std::size_t stage = 0;
    const std::size_t at = name.find("layer");
    if (at != std::string::npos) stage = static_cast<std::size_t>(name[at + 5] - '1');
    REQUIRE(stage < 4);
    float* g = gamma.data();
    float* b = beta.data();
    for (int64_t k = 0; k < c; ++k) {
      const float sign = residual ? stage_sign[stage][static_cast<std::size_t>(k)] : (rng.uniform() < 0.5 ? -1.f : 1.f);
      g[k] = static_cast<float>(0.5 + rng.uniform());
      b[k] = sign * g[k] * static_cast<float>(3.0 + rng.uniform());
    }
  }
}

// The contrastive head's ReLU (Linear → ReLU → Linear, no BatchNorm in front) likewise: with the step's
// own inputs run through a probe copy of the model (train-mode BN uses batch statistics only, so the
// features equal those of the real step), the first Linear's bias is shifted per channel so that the
// channel is on (or off) for every row with a margin of at least 1 (pre-activations are O(1..10)).
void set_head_margins(gcc::nn::End2EndModel& model, gcc::nn::End2EndModel& probe, const std::vector<Tensor>& passes,
                      uint64_t seed) {
  const std::vector<gcc::NamedTensor> params = model.named_parameters();
  Tensor w, bias;
  for (const gcc::NamedTensor& p : params) {
    if (p.name == "contrastive_head.0.weight") w = p.tensor;
    if (p.name == "contrastive_head.0.bias") bias = p.tensor;
  }
  REQUIRE_MESSAGE((w.defined() && bias.defined()), "no contrastive_head.0 Linear in the model");
  const int64_t out = w.size(0), in = w.size(1);
  std::vector<double> lo(static_cast<std::size_t>(out), HUGE_VAL), hi(static_cast<std::size_t>(out), -HUGE_VAL);
  {
    gcc::NoGrad no_grad;
    for (const Tensor& x : passes) {
      const std::vector<float> h = probe.features(x).to_vector();  // [N, in]
      const int64_t n = x.size(0);
      REQUIRE(static_cast<int64_t>(h.size()) == n * in);
      const float* wp = w.data();
      for (int64_t r = 0; r < n; ++r)
        for (int64_t j = 0; j < out; ++j) {
          double a = 0;  // without the bias
          for (int64_t c = 0; c < in; ++c) a += static_cast<double>(wp[j * in + c]) * h[static_cast<std::size_t>(r * in + c)];
          lo[static_cast<std::size_t>(j)] = std::min(lo[static_cast<std::size_t>(j)], a);
          hi[static_cast<std::size_t>(j)] = std::max(hi[static_cast<std::size_t>(j)], a);
        }
    }
  }
  gcc::Rng rng(seed);
  float* b = bias.data();
  for (int64_t j = 0; j < out; ++j) {  // on: a + b >= 1 for every row; off: a + b <= -1
    const bool on = rng.uniform() < 0.5;
    b[j] = static_cast<float>(on ? 1.5 - lo[static_cast<std::size_t>(j)] : -1.5 - hi[static_cast<std::size_t>(j)]);
  }
}

// Strict FP32 in cuBLAS/cuDNN while alive (the default; restored afterwards).
struct NoTf32 {
  bool before = gcc::cuda::allow_tf32();
  NoTf32() { gcc::cuda::set_allow_tf32(false); }
  ~NoTf32() { gcc::cuda::set_allow_tf32(before); }
};

// NaN-filled device memory while alive: an op that leaves part of its output unwritten fails.
struct NanFill {
  bool before = gcc::cuda::caching_allocator().debug_fill();
  NanFill() { gcc::cuda::caching_allocator().set_debug_fill(true); }
  ~NanFill() { gcc::cuda::caching_allocator().set_debug_fill(before); }
};

}  // namespace

TEST_SUITE("cuda") {
  TEST_CASE("full phase-2 training step: GPU matches CPU (resnet18-cifar width 16, b=8, six views)") {
    const Device gpu = Device::cuda();
    NoTf32 strict_fp32;

    // ---- the neighbour graph: kNN top-6 over a toy feature memory, identical on both devices ----
    const Tensor feats = dyadic_features(kPool, 16, 11);
    const gcc::KnnGraph g_cpu = gcc::knn_topk_inner_product(feats, 6);
    const gcc::KnnGraph g_gpu = gcc::knn_topk_inner_product(feats.to(gpu), 6);
    CHECK_MESSAGE(g_cpu.index == g_gpu.index, "kNN graph: neighbour lists differ between CPU and GPU features");
    CHECK_MESSAGE(g_cpu.score == g_gpu.score, "kNN graph: scores differ (inner products here are exact)");
    const std::vector<float> node_w = gcc::degree_weights(g_cpu);
    CHECK(gcc::degree_weights(g_gpu) == node_w);

    // ---- inputs: anchors 0..b-1 of the pool, their neighbours n_0..n_2, one random neighbour for u ----
    StepInputs host;
    host.x = gcc_test::rand_tensor(Shape{kBatch, 3, kImage, kImage}, 21, -2.f, 2.f);
    host.x2 = gcc_test::rand_tensor(Shape{kBatch, 3, kImage, kImage}, 22, -2.f, 2.f);
    host.u = gcc_test::rand_tensor(Shape{kBatch, 3, kImage, kImage}, 23, -2.f, 2.f);
    for (std::size_t k = 0; k < 3; ++k) {
      host.v[k] = gcc_test::rand_tensor(Shape{kBatch, 3, kImage, kImage}, 24 + k, -2.f, 2.f);
      std::vector<float> wk(static_cast<std::size_t>(kBatch));
      for (int64_t i = 0; i < kBatch; ++i)
        wk[static_cast<std::size_t>(i)] = node_w[static_cast<std::size_t>(g_cpu.at(i, static_cast<int64_t>(k)))];
      host.w[k] = Tensor::from_vector(wk, Shape{kBatch});
    }
    const StepInputs in_gpu = host.to(gpu);

    // ---- the same model twice: one Rng seed, so the initial weights are bit-identical; BatchNorm
    //      affine parameters and the head's first bias chosen to keep ReLU inputs away from 0 ----
    gcc::nn::End2EndConfig cfg;
    cfg.backbone = gcc::nn::ResNetConfig::preset("resnet18-cifar");
    cfg.backbone.base_width = 16;
    cfg.num_clusters = kClusters;
    gcc::Rng rng_cpu(2024), rng_gpu(2024), rng_probe(2024);
    gcc::nn::End2EndModel model_cpu(cfg, rng_cpu), model_gpu(cfg, rng_gpu), probe(cfg, rng_probe);
    for (gcc::nn::End2EndModel* m : {&model_cpu, &model_gpu, &probe}) set_bn_margins(*m, 77);
    const std::vector<Tensor> passes = {gcc::concat0({host.x, host.x2}), host.v[0], host.v[1], host.v[2], host.u};
    for (gcc::nn::End2EndModel* m : {&model_cpu, &model_gpu}) set_head_margins(*m, probe, passes, 78);
    model_gpu.to(gpu);
    model_cpu.train();
    model_gpu.train();
    const std::vector<gcc::NamedTensor> state_cpu = model_cpu.state_dict(), state_gpu = model_gpu.state_dict();
    REQUIRE(state_cpu.size() == state_gpu.size());
    for (std::size_t i = 0; i < state_cpu.size(); ++i) {
      REQUIRE(state_cpu[i].name == state_gpu[i].name);
      REQUIRE_MESSAGE(state_gpu[i].tensor.device() == gpu, state_gpu[i].name << " was not moved to the GPU");
      const std::vector<float> a = state_cpu[i].tensor.to_vector(), b = state_gpu[i].tensor.to_vector();
      REQUIRE_MESSAGE(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0,
                      state_cpu[i].name << ": initial values differ between the two copies");
    }
    gcc::SGD opt_cpu(model_cpu.named_parameters(), 0.4f, 0.9f, 1e-4f);
    gcc::SGD opt_gpu(model_gpu.named_parameters(), 0.4f, 0.9f, 1e-4f);

    // ---- one step on each device ----
    // the CPU in five passes (the reference), the GPU in one batched pass with BatchNorm per pass
    const StepLosses l_cpu = phase2_step(model_cpu, opt_cpu, host, kTau, kLambda);
    StepLosses l_gpu;
    {
      NanFill nan_fill;
      l_gpu = phase2_step(model_gpu, opt_gpu, in_gpu, kTau, kLambda, /*batched=*/true);  // gcc_train's way
      gcc::cuda::synchronize();
    }

    // ---- loss terms ----
    Worst losses{"loss terms (2·RGC + AGC, RGC, AGC, AGC consistency, AGC entropy)", kLossRtol, kLossAtol};
    losses.check("loss", l_cpu.loss, l_gpu.loss);
    losses.check("rgc", l_cpu.rgc, l_gpu.rgc);
    losses.check("agc", l_cpu.agc, l_gpu.agc);
    losses.check("agc.consistency", l_cpu.agc_consistency, l_gpu.agc_consistency);
    losses.check("agc.entropy", l_cpu.agc_entropy, l_gpu.agc_entropy);
    MESSAGE("losses: cpu ", l_cpu.loss.item(), " = 2·", l_cpu.rgc.item(), " + ", l_cpu.agc.item(), "; gpu ",
            l_gpu.loss.item(), " = 2·", l_gpu.rgc.item(), " + ", l_gpu.agc.item());
    losses.report();

    // ---- gradients, then the SGD step on both ----
    const std::vector<gcc::NamedTensor> p_cpu = model_cpu.named_parameters(), p_gpu = model_gpu.named_parameters();
    REQUIRE(p_cpu.size() == p_gpu.size());
    WorstNorm grads{"parameter gradients", kGradNormRtol};
    for (std::size_t i = 0; i < p_cpu.size(); ++i) grads.check(p_cpu[i].name, p_cpu[i].tensor.grad(), p_gpu[i].tensor.grad());
    grads.report();

    opt_cpu.step();
    {
      NanFill nan_fill;
      opt_gpu.step();
      gcc::cuda::synchronize();
    }

    // ---- every parameter and buffer after the step ----
    Worst params{"parameters after the SGD step", kStateRtol, kStateAtol};
    for (std::size_t i = 0; i < p_cpu.size(); ++i) params.check(p_cpu[i].name, p_cpu[i].tensor, p_gpu[i].tensor);
    params.report();

    const std::vector<gcc::NamedTensor> b_cpu = model_cpu.named_buffers(), b_gpu = model_gpu.named_buffers();
    REQUIRE(b_cpu.size() == b_gpu.size());
    Worst stats{"BatchNorm running statistics after five train-mode passes", kStateRtol, kStateAtol};
    Worst counters{"BatchNorm num_batches_tracked (exact)", 1e-30, 0.0};
    for (std::size_t i = 0; i < b_cpu.size(); ++i) {
      REQUIRE(b_cpu[i].name == b_gpu[i].name);
      const bool counter = b_cpu[i].name.find("num_batches_tracked") != std::string::npos;
      (counter ? counters : stats).check(b_cpu[i].name, b_cpu[i].tensor, b_gpu[i].tensor);
    }
    stats.report();
    counters.report();
    CHECK(stats.tensors > 0);
    CHECK(counters.tensors == stats.tensors / 2);
  }
}
