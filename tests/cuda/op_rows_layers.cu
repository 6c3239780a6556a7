// Op table rows for the layer families (see op_table.hpp): conv2d, batch norm, relu, pooling, linear,
// matmul, concat0 / slice0; plus checks the table cannot express (running statistics, optimiser steps,
// repeatable convolutions, the TF32 switch, NaN / -inf pooling, misuse messages).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "gcc/cuda.cuh"
#include "gcc/ops/activation.hpp"
#include "gcc/ops/batchnorm.hpp"
#include "gcc/ops/conv.hpp"
#include "gcc/ops/linear.hpp"
#include "gcc/ops/matmul.hpp"
#include "gcc/ops/pool.hpp"
#include "gcc/ops/shape.hpp"
#include "gcc/optim/optimizers.hpp"
#include "op_table.hpp"

namespace gcc_op_table {
namespace {

// Tolerance of a result that is a sum of `terms` float products. Both devices compute in strict FP32
// (TF32 is off), but in different orders: cuBLAS / cuDNN block and split their sums (and cuDNN may
// pick Winograd or FFT algorithms, which transform the operands first), OpenBLAS and im2col block
// differently. With inputs and weights uniform in [-1, 1) a sum of n products has magnitude ~sqrt(n)/3
// and each reordering moves it by a few float ulps per partial sum, so the difference grows like
// sqrt(n) * 1e-6 at worst; 2e-5 * sqrt(n) leaves a wide margin, floored at 1e-5 and capped at 3e-3
// (a wrong index or a missing term moves results by O(0.1..1) and still fails). `terms` is the
// longest reduction among the forward and both gradients of the row.
double sum_atol(int64_t terms) {
  return std::min(3e-3, std::max(1e-5, 2e-5 * std::sqrt(static_cast<double>(terms))));
}
constexpr double kSumRtol = 1e-4;

// Per-channel constants made the same way on both devices (eval-mode running statistics).
Tensor channel_const(int64_t C, Range r, uint64_t seed, Device dev) {
  return make_input(Shape{C}, r, false, seed).to(dev);
}

// conv2d with stride (2, 1) and padding (1, 0).
Tensor conv_rect(const Inputs& x) {
  gcc::Conv2dParams q;
  q.stride_h = 2;
  q.pad_h = 1;
  return gcc::conv2d(x[0], x[1], x[2], q);
}

struct ConvCase {
  const char* name;
  Shape x, w;
  int stride, pad;
  bool bias;
};

std::vector<OpRow> layer_rows() {
  std::vector<OpRow> rows;

  // ---- conv2d (cuDNN) ------------------------------------------------------------------------------
  const std::vector<ConvCase> convs = {
      {"3x3 s1 p1, bias", {2, 3, 9, 9}, {4, 3, 3, 3}, 1, 1, true},
      {"3x3 s1 p1, no bias", {2, 3, 9, 9}, {4, 3, 3, 3}, 1, 1, false},
      {"3x3 s2 p1, odd sizes, bias", {3, 5, 11, 13}, {6, 5, 3, 3}, 2, 1, true},
      {"3x3 s2 p1, odd sizes, no bias", {3, 5, 11, 13}, {6, 5, 3, 3}, 2, 1, false},
      {"1x1 s2 (downsample), no bias", {4, 8, 9, 9}, {16, 8, 1, 1}, 2, 0, false},
      {"1x1 s2 (downsample), bias", {4, 8, 9, 9}, {16, 8, 1, 1}, 2, 0, true},
      {"1x1 s1, bias", {2, 16, 8, 8}, {8, 16, 1, 1}, 1, 0, true},
      {"3x3 s1 p0 (valid)", {2, 4, 7, 6}, {5, 4, 3, 3}, 1, 0, true},
      {"7x7 s2 p3 (stem)", {2, 3, 23, 23}, {8, 3, 7, 7}, 2, 3, false},
      {"ResNet [8,64,32,32] 3x3 s1 p1", {8, 64, 32, 32}, {64, 64, 3, 3}, 1, 1, false},
      {"ResNet [8,64,32,32] -> 128 3x3 s2 p1", {8, 64, 32, 32}, {128, 64, 3, 3}, 2, 1, false},
  };
  for (const ConvCase& c : convs) {
    const int64_t Ho = (c.x[2] + 2 * c.pad - c.w[2]) / c.stride + 1, Wo = (c.x[3] + 2 * c.pad - c.w[3]) / c.stride + 1;
    const int64_t terms = std::max({c.w[1] * c.w[2] * c.w[3],   // forward
                                    c.w[0] * c.w[2] * c.w[3],   // backward data
                                    c.x[0] * Ho * Wo});         // backward weight / bias
    std::vector<Shape> shapes = {c.x, c.w};
    BuildFn f;
    if (c.bias) {
      shapes.push_back(Shape{c.w[0]});
      f = OP(gcc::conv2d(x[0], x[1], x[2], static_cast<int>(p[0]), static_cast<int>(p[1])));
    } else {
      f = OP(gcc::conv2d(x[0], x[1], Tensor(), static_cast<int>(p[0]), static_cast<int>(p[1])));
    }
    rows.push_back({std::string("conv2d ") + c.name, shapes, {static_cast<float>(c.stride), static_cast<float>(c.pad)},
                    sum_atol(terms), kSumRtol, f});
  }
  // Rectangular stride / padding through Conv2dParams.
  rows.push_back({"conv2d 3x1 kernel, stride (2, 1), padding (1, 0)", {{2, 3, 9, 8}, {4, 3, 3, 1}, {4}}, {},
                  sum_atol(2 * 5 * 8), kSumRtol, OP(conv_rect(x))});

  // ---- batch norm (custom kernels; statistics in double on both devices, so the results agree to
  // float rounding: 1e-5 absolute on O(1) values, 1e-4 relative for the O(sqrt(n)) weight gradients) ----
  const std::vector<Range> affine = {{-2, 3}, {0.5f, 1.5f}, {-0.5f, 0.5f}};
  rows.push_back({"batchnorm2d train, affine", {{4, 3, 5, 7}, {3}, {3}}, {}, 1e-5, 1e-4,
                  OP(gcc::batchnorm2d(x[0], x[1], x[2], Tensor(), Tensor(), true)), affine});
  rows.push_back({"batchnorm2d train, no affine", {{8, 16, 6, 6}}, {}, 1e-5, 1e-4,
                  OP(gcc::batchnorm2d(x[0], Tensor(), Tensor(), Tensor(), Tensor(), true))});
  rows.push_back({"batchnorm2d train, running stats tracked", {{4, 3, 5, 7}, {3}, {3}}, {0.1f}, 1e-5, 1e-4,
                  OP(gcc::batchnorm2d(x[0], x[1], x[2], Tensor::zeros(Shape{3}, x[0].device()),
                                      Tensor::ones(Shape{3}, x[0].device()), true, p[0])),
                  affine});
  rows.push_back({"batchnorm2d train, ResNet [8,64,16,16]", {{8, 64, 16, 16}, {64}, {64}}, {}, 1e-5, 1e-4,
                  OP(gcc::batchnorm2d(x[0], x[1], x[2], Tensor(), Tensor(), true)), affine});
  rows.push_back({"batchnorm2d_grouped train, groups 6+3+3+3+3 (phase 2)", {{18, 8, 5, 5}, {8}, {8}}, {}, 1e-5, 1e-4,
                  OP(gcc::batchnorm2d_grouped(x[0], {6, 3, 3, 3, 3}, x[1], x[2], Tensor(), Tensor(), true)), affine});
  rows.push_back({"batchnorm2d train, eps 0.1", {{2, 4, 3, 3}, {4}, {4}}, {}, 1e-5, 1e-4,
                  OP(gcc::batchnorm2d(x[0], x[1], x[2], Tensor(), Tensor(), true, 0.1f, 0.1f)), affine});
  rows.push_back({"batchnorm2d eval, affine", {{4, 3, 5, 7}, {3}, {3}}, {}, 1e-5, 1e-4,
                  OP(gcc::batchnorm2d(x[0], x[1], x[2], channel_const(3, {-0.5f, 0.5f}, 91, x[0].device()),
                                      channel_const(3, {0.5f, 2.f}, 92, x[0].device()), false)),
                  affine});
  rows.push_back({"batchnorm2d eval, no affine", {{2, 5, 4, 4}}, {}, 1e-5, 1e-4,
                  OP(gcc::batchnorm2d(x[0], Tensor(), Tensor(), channel_const(5, {-0.5f, 0.5f}, 93, x[0].device()),
                                      channel_const(5, {0.5f, 2.f}, 94, x[0].device()), false))});
  rows.push_back({"batchnorm1d train [64, 32] (L = 1)", {{64, 32}, {32}, {32}}, {}, 1e-5, 1e-4,
                  OP(gcc::batchnorm1d(x[0], x[1], x[2], Tensor(), Tensor(), true)), affine});
  rows.push_back({"batchnorm1d train [6, 4, 5]", {{6, 4, 5}, {4}, {4}}, {}, 1e-5, 1e-4,
                  OP(gcc::batchnorm1d(x[0], x[1], x[2], Tensor(), Tensor(), true)), affine});
  rows.push_back({"batchnorm1d eval [16, 8]", {{16, 8}, {8}, {8}}, {}, 1e-5, 1e-4,
                  OP(gcc::batchnorm1d(x[0], x[1], x[2], channel_const(8, {-0.5f, 0.5f}, 95, x[0].device()),
                                      channel_const(8, {0.5f, 2.f}, 96, x[0].device()), false)),
                  affine});

  // ---- relu: comparisons and copies only, so exact (zeros included in the integer row) ------------
  rows.push_back({"relu", {{37, 53}}, {}, 0, 0, OP(gcc::relu(x[0]))});
  rows.push_back({"relu [8,64,32,32]", {{8, 64, 32, 32}}, {}, 0, 0, OP(gcc::relu(x[0]))});
  rows.push_back({"relu (integers, zeros)", {{37, 53}}, {}, 0, 0, OP(gcc::relu(x[0])), {{-3, 3}}, true});

  // ---- pooling: custom kernels with the CPU's window order, tie rule and summation order, so the
  // float rows agree to the last bit too (1e-6 is there only as a guard, not needed); the integer rows
  // have many equal maxima per window and are compared bit for bit ------------------------------------
  struct PoolCase {
    const char* name;
    Shape x;
    int k, s, pad;
  };
  const std::vector<PoolCase> pools = {
      {"k2 s2 p1 (stem)", {2, 3, 9, 9}, 2, 2, 1},  {"k2 s2 p1 even", {2, 3, 10, 10}, 2, 2, 1},
      {"k3 s2 p1", {2, 3, 10, 11}, 3, 2, 1},       {"k3 s2 p1 odd", {2, 3, 9, 9}, 3, 2, 1},
      {"k2 s2 p0", {2, 3, 8, 8}, 2, 2, 0},         {"k3 s1 p1 [4,16,16,16]", {4, 16, 16, 16}, 3, 1, 1},
  };
  for (const PoolCase& c : pools) {
    const Params pp = {static_cast<float>(c.k), static_cast<float>(c.s), static_cast<float>(c.pad)};
    const BuildFn maxf = OP(gcc::max_pool2d(x[0], static_cast<int>(p[0]), static_cast<int>(p[1]), static_cast<int>(p[2])));
    const BuildFn avgf = OP(gcc::avg_pool2d(x[0], static_cast<int>(p[0]), static_cast<int>(p[1]), static_cast<int>(p[2])));
    rows.push_back({std::string("max_pool2d ") + c.name, {c.x}, pp, 1e-6, 1e-6, maxf});
    rows.push_back({std::string("max_pool2d ") + c.name + " (integers, ties)", {c.x}, pp, 0, 0, maxf, {{-2, 2}}, true});
    rows.push_back({std::string("avg_pool2d ") + c.name, {c.x}, pp, 1e-6, 1e-6, avgf});
    rows.push_back({std::string("avg_pool2d ") + c.name + " (integers)", {c.x}, pp, 0, 0, avgf, {{-4, 4}}, true});
  }
  rows.push_back({"global_avg_pool2d [4,8,5,7]", {{4, 8, 5, 7}}, {}, 1e-6, 1e-6, OP(gcc::global_avg_pool2d(x[0]))});
  rows.push_back({"global_avg_pool2d [8,64,4,4]", {{8, 64, 4, 4}}, {}, 1e-6, 1e-6, OP(gcc::global_avg_pool2d(x[0]))});
  rows.push_back({"global_avg_pool2d [2,3,1,1]", {{2, 3, 1, 1}}, {}, 0, 0, OP(gcc::global_avg_pool2d(x[0]))});
  rows.push_back({"global_avg_pool2d (integers)", {{4, 8, 4, 4}}, {}, 0, 0, OP(gcc::global_avg_pool2d(x[0])),
                  {{-4, 4}}, true});

  // ---- linear / matmul (cuBLAS sgemm): float sums of `terms` products as for conv2d; small-integer
  // rows are exact in any summation order (|values| < 2^24) and compared bit for bit -----------------
  rows.push_back({"linear [16,40] x [24,40]^T + b", {{16, 40}, {24, 40}, {24}}, {}, sum_atol(40), kSumRtol,
                  OP(gcc::linear(x[0], x[1], x[2]))});
  rows.push_back({"linear, no bias", {{16, 40}, {24, 40}}, {}, sum_atol(40), kSumRtol,
                  OP(gcc::linear(x[0], x[1]))});
  rows.push_back({"linear [128,512] x [256,512]^T + b", {{128, 512}, {256, 512}, {256}}, {}, sum_atol(512), kSumRtol,
                  OP(gcc::linear(x[0], x[1], x[2]))});
  rows.push_back({"linear, one row", {{1, 33}, {7, 33}, {7}}, {}, sum_atol(33), kSumRtol,
                  OP(gcc::linear(x[0], x[1], x[2]))});
  rows.push_back({"linear (integers)", {{16, 40}, {24, 40}, {24}}, {}, 0, 0, OP(gcc::linear(x[0], x[1], x[2])),
                  {{-3, 3}, {-3, 3}, {-3, 3}}, true});

  const int64_t M = 37, K = 53, N = 29;
  struct MatmulCase {
    bool ta, tb;
  };
  for (const MatmulCase mc : {MatmulCase{false, false}, MatmulCase{false, true}, MatmulCase{true, false},
                              MatmulCase{true, true}}) {
    const Shape a = mc.ta ? Shape{K, M} : Shape{M, K};
    const Shape b = mc.tb ? Shape{N, K} : Shape{K, N};
    const std::string name = std::string("matmul trans_a=") + (mc.ta ? "1" : "0") + " trans_b=" + (mc.tb ? "1" : "0");
    const Params pp = {mc.ta ? 1.f : 0.f, mc.tb ? 1.f : 0.f};
    const BuildFn f = OP(gcc::matmul(x[0], x[1], p[0] != 0.f, p[1] != 0.f));
    rows.push_back({name, {a, b}, pp, sum_atol(K), kSumRtol, f});
    rows.push_back({name + " (integers)", {a, b}, pp, 0, 0, f, {{-3, 3}, {-3, 3}}, true});
  }
  rows.push_back({"matmul [256,384] x [384,192]", {{256, 384}, {384, 192}}, {}, sum_atol(384), kSumRtol,
                  OP(gcc::matmul(x[0], x[1]))});
  rows.push_back({"matmul a a^T (same tensor twice)", {{33, 20}}, {}, sum_atol(33), kSumRtol,
                  OP(gcc::matmul(x[0], x[0], false, true))});

  // ---- concat0 / slice0: device-to-device copies, exact -----------------------------------------
  rows.push_back({"concat0 [3,4,5] + [2,4,5] + [1,4,5]", {{3, 4, 5}, {2, 4, 5}, {1, 4, 5}}, {}, 0, 0,
                  OP(gcc::concat0({x[0], x[1], x[2]}))});
  rows.push_back({"concat0 1-D", {{7}, {5}}, {}, 0, 0, OP(gcc::concat0({x[0], x[1]}))});
  rows.push_back({"slice0 rows [1, 4) of [6, 7]", {{6, 7}}, {}, 0, 0, OP(gcc::slice0(x[0], 1, 4))});
  rows.push_back({"slice0 of [5,2,3,4]", {{5, 2, 3, 4}}, {}, 0, 0, OP(gcc::slice0(x[0], 2, 5))});
  rows.push_back({"slice0 + concat0 (gradient accumulation)", {{6, 7}}, {}, 0, 0,
                  OP(gcc::concat0({gcc::slice0(x[0], 0, 2), gcc::slice0(x[0], 1, 6)}))});
  return rows;
}

const OpFamily layer_family("layers", &layer_rows);

// ---- helpers for the extra test cases ------------------------------------------------------------
bool same_bits(const Tensor& a, const Tensor& b) {
  const std::vector<float> x = a.to_vector(), y = b.to_vector();
  return x.size() == y.size() && (x.empty() || std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0);
}

}  // namespace
}  // namespace gcc_op_table

using gcc::Device;
using gcc::Shape;
using gcc::Tensor;
using gcc_op_table::DebugFillGuard;
using gcc_op_table::expect_close;
using gcc_op_table::make_input;
using gcc_op_table::Range;
using gcc_op_table::same_bits;

TEST_SUITE("cuda") {
  TEST_CASE("batchnorm: running statistics, saved statistics and eval outputs match the CPU") {
    DebugFillGuard fill;
    const Device gpu = Device::cuda();
    for (const Shape& s : {Shape{4, 3, 5, 7}, Shape{8, 16, 6, 6}}) {
      INFO("input ", s.str());
      const int64_t C = s[1];
      const Tensor x = make_input(s, Range{-2, 3}, false, 11);
      const Tensor w = make_input(Shape{C}, Range{0.5f, 1.5f}, false, 12);
      const Tensor b = make_input(Shape{C}, Range{-0.5f, 0.5f}, false, 13);
      Tensor rm_c = make_input(Shape{C}, Range{-0.2f, 0.2f}, false, 14);
      Tensor rv_c = make_input(Shape{C}, Range{0.5f, 1.5f}, false, 15);
      Tensor rm_g = rm_c.to(gpu), rv_g = rv_c.to(gpu);
      const Tensor xg = x.to(gpu), wg = w.to(gpu), bg = b.to(gpu);
      // Two training steps with different momenta: the running statistics after each (the variance
      // updated with the unbiased batch variance n / (n - 1)) must agree to float rounding.
      for (float momentum : {0.1f, 0.3f}) {
        const Tensor yc = gcc::batchnorm2d(x, w, b, rm_c, rv_c, true, momentum);
        const Tensor yg = gcc::batchnorm2d(xg, wg, bg, rm_g, rv_g, true, momentum);
        expect_close("train output", yc, yg, 1e-5, 1e-4, false);
        expect_close("running_mean", rm_c, rm_g, 1e-6, 1e-5, false);
        expect_close("running_var", rv_c, rv_g, 1e-6, 1e-5, false);
      }
      // The saved statistics, through the raw kernels.
      const gcc::Shape s4{s[0], C, s[2] * s[3], 1};
      Tensor sm_c = Tensor::empty(Shape{C}), si_c = Tensor::empty(Shape{C}), y_c = Tensor::empty(s4);
      Tensor sm_g = Tensor::empty(Shape{C}, gpu), si_g = Tensor::empty(Shape{C}, gpu), y_g = Tensor::empty(s4, gpu);
      gcc::cpu::batchnorm2d_forward_train(x.view(s4), w, b, Tensor(), Tensor(), 0.1f, 1e-5f, y_c, sm_c, si_c);
      gcc::cuda::batchnorm2d_forward_train(xg.view(s4), wg, bg, Tensor(), Tensor(), 0.1f, 1e-5f, y_g, sm_g, si_g);
      expect_close("save_mean", sm_c, sm_g, 1e-6, 1e-6, false);
      expect_close("save_invstd", si_c, si_g, 1e-6, 1e-6, false);
      // Eval mode with the updated running statistics.
      expect_close("eval output", gcc::batchnorm2d(x, w, b, rm_c, rv_c, false),
                   gcc::batchnorm2d(xg, wg, bg, rm_g, rv_g, false), 1e-5, 1e-4, false);
    }
  }

  TEST_CASE("optimiser steps: SGD (momentum, weight decay), Adam and EMA on CUDA match the CPU") {
    DebugFillGuard fill;
    const Device gpu = Device::cuda();
    const Shape ps{13, 29};
    auto make_params = [&](Device dev) {
      std::vector<gcc::NamedTensor> v;
      v.push_back(gcc::NamedTensor{"w", make_input(ps, Range{-1, 1}, false, 21).to(dev)});
      v.push_back(gcc::NamedTensor{"b", make_input(Shape{29}, Range{-1, 1}, false, 22).to(dev)});
      for (auto& p : v) p.tensor.set_requires_grad(true);
      return v;
    };
    // Gradients g = r * c with fixed r, c (the same on both devices, exact products).
    auto set_grads = [&](std::vector<gcc::NamedTensor>& params, Device dev, uint64_t seed) {
      for (std::size_t i = 0; i < params.size(); ++i) {
        Tensor& p = params[i].tensor;
        p.zero_grad();
        const Tensor c = make_input(p.shape(), Range{-1, 1}, false, seed + 10 * i).to(dev);
        const Tensor r = make_input(p.shape(), Range{-1, 1}, false, seed + 10 * i + 1).to(dev);
        gcc::mul(p, c).backward(r);
      }
    };
    auto compare = [&](const char* what, const std::vector<gcc::NamedTensor>& c,
                       const std::vector<gcc::NamedTensor>& g) {
      for (std::size_t i = 0; i < c.size(); ++i)
        expect_close(std::string(what) + " " + c[i].name, c[i].tensor, g[i].tensor, 1e-6, 1e-6, false);
    };
    {
      auto pc = make_params(Device::cpu()), pg = make_params(gpu);
      gcc::SGD oc(pc, 0.1f, 0.9f, 1e-3f), og(pg, 0.1f, 0.9f, 1e-3f);
      for (int step = 0; step < 2; ++step) {  // the first step fills the momentum buffer, the second uses it
        set_grads(pc, Device::cpu(), 100 + step);
        set_grads(pg, gpu, 100 + step);
        oc.step();
        og.step();
        compare("SGD step", pc, pg);
      }
      for (std::size_t i = 0; i < pc.size(); ++i)
        expect_close("SGD momentum buffer", oc.momentum_buffers()[i], og.momentum_buffers()[i], 1e-6, 1e-6, false);
      gcc::Ema ec(pc, 0.9f), eg(pg, 0.9f);
      set_grads(pc, Device::cpu(), 300);
      set_grads(pg, gpu, 300);
      oc.step();
      og.step();
      ec.update();
      eg.update();
      for (std::size_t i = 0; i < pc.size(); ++i)
        expect_close("EMA shadow", ec.shadow()[i].tensor, eg.shadow()[i].tensor, 1e-6, 1e-6, false);
    }
    {
      auto pc = make_params(Device::cpu()), pg = make_params(gpu);
      gcc::Adam oc(pc, 1e-2f, 0.9f, 0.999f, 1e-8f, 1e-4f), og(pg, 1e-2f, 0.9f, 0.999f, 1e-8f, 1e-4f);
      for (int step = 0; step < 3; ++step) {
        set_grads(pc, Device::cpu(), 200 + step);
        set_grads(pg, gpu, 200 + step);
        oc.step();
        og.step();
        compare("Adam step", pc, pg);
      }
    }
  }

  TEST_CASE("conv2d: cached algorithms give the same bits every call; TF32 only when allowed") {
    DebugFillGuard fill;
    const Device gpu = Device::cuda();
    const Tensor x = make_input(Shape{4, 16, 12, 12}, Range{-1, 1}, false, 31);
    const Tensor w = make_input(Shape{32, 16, 3, 3}, Range{-1, 1}, false, 32);
    const Tensor b = make_input(Shape{32}, Range{-1, 1}, false, 33);
    const Tensor r = make_input(Shape{4, 32, 6, 6}, Range{-1, 1}, false, 34);
    auto run = [&](Device dev, std::vector<Tensor>& grads) {
      Tensor xi = x.to(dev, true).set_requires_grad(true), wi = w.to(dev, true).set_requires_grad(true);
      Tensor bi = b.to(dev, true).set_requires_grad(true);
      Tensor y = gcc::conv2d(xi, wi, bi, 2, 1);
      y.backward(r.to(dev));
      grads = {xi.grad(), wi.grad(), bi.grad()};
      return y;
    };
    CHECK_FALSE(gcc::cuda::allow_tf32());  // strict FP32 is the default
    std::vector<Tensor> g_cpu, g1, g2;
    const Tensor y_cpu = run(Device::cpu(), g_cpu);
    const Tensor y1 = run(gpu, g1);
    const Tensor y2 = run(gpu, g2);
    CHECK_MESSAGE(same_bits(y1, y2), "conv2d forward differs between two identical calls");
    for (std::size_t i = 0; i < g1.size(); ++i)
      CHECK_MESSAGE(same_bits(g1[i], g2[i]), "conv2d gradient " << i << " differs between two identical calls");

    // TF32 on: matrix products and convolutions may round their inputs to 10 mantissa bits, ~1e-3
    // relative per product; results must stay near the CPU's (loose bound), and the switch goes back.
    struct Tf32Guard {
      Tf32Guard() { gcc::cuda::set_allow_tf32(true); }
      ~Tf32Guard() { gcc::cuda::set_allow_tf32(false); }
    };
    {
      Tf32Guard tf32;
      CHECK(gcc::cuda::allow_tf32());
      std::vector<Tensor> g3;
      const Tensor y3 = run(gpu, g3);
      expect_close("conv2d forward with TF32", y_cpu, y3, 3e-2, 1e-2, false);
      for (std::size_t i = 0; i < g3.size(); ++i)
        expect_close("conv2d gradient with TF32 " + std::to_string(i), g_cpu[i], g3[i], 5e-2, 1e-2, false);
      const Tensor a = make_input(Shape{64, 96}, Range{-1, 1}, false, 35);
      const Tensor m = make_input(Shape{96, 48}, Range{-1, 1}, false, 36);
      expect_close("matmul with TF32", gcc::matmul(a, m), gcc::matmul(a.to(gpu), m.to(gpu)), 3e-2, 1e-2, false);
    }
    CHECK_FALSE(gcc::cuda::allow_tf32());
    std::vector<Tensor> g4;
    const Tensor y4 = run(gpu, g4);
    CHECK_MESSAGE(same_bits(y1, y4), "conv2d forward changed after TF32 was switched off again");
  }

  TEST_CASE("max_pool2d: NaN and -inf windows route like the CPU") {
    DebugFillGuard fill;
    const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
    // 4x4 plane: a NaN in the first window, all -inf in the last, ties elsewhere.
    const std::vector<float> v = {1, nan, 2, 2, 3, 1, 2, 2, -inf, -inf, 5, 5, -inf, -inf, 5, 5};
    for (int pad : {0, 1}) {
      INFO("padding ", pad);
      const Tensor xc = Tensor::from_vector(v, Shape{1, 1, 4, 4});
      Tensor a = xc.clone().set_requires_grad(true), g = xc.to(Device::cuda()).set_requires_grad(true);
      Tensor ya = gcc::max_pool2d(a, 2, 2, pad), yg = gcc::max_pool2d(g, 2, 2, pad);
      CHECK_MESSAGE(same_bits(ya, yg), "max_pool2d values (NaN / -inf) differ from the CPU");
      const Tensor r = make_input(ya.shape(), Range{-1, 1}, false, 41);
      ya.backward(r);
      yg.backward(r.to(Device::cuda()));
      CHECK_MESSAGE(same_bits(a.grad(), g.grad()), "max_pool2d gradient routing differs from the CPU");
    }
  }

  TEST_CASE("layer kernels: misuse is reported with the op's name") {
    const Tensor xc = Tensor::zeros(Shape{2, 3, 4, 4});
    const Tensor xg = xc.to(Device::cuda());
    const Tensor yg = Tensor::empty(Shape{2, 3, 4, 4}, Device::cuda());
    CHECK_THROWS_WITH_AS(gcc::cuda::relu_forward(xc, yg), doctest::Contains("relu_forward: inputs on different devices"),
                         gcc::Error);
    CHECK_THROWS_WITH_AS(gcc::cuda::relu_forward(xg, Tensor::empty(Shape{2, 3, 4, 4})),
                         doctest::Contains("relu_forward: CUDA kernel called with a tensor on cpu"), gcc::Error);
    CHECK_THROWS_WITH_AS(gcc::cuda::conv2d_forward(xg, Tensor::zeros(Shape{5, 4, 3, 3}, Device::cuda()), Tensor(),
                                                   Tensor::empty(Shape{2, 5, 4, 4}, Device::cuda()), gcc::Conv2dParams{}),
                         doctest::Contains("conv2d_forward: weight [5, 4, 3, 3] expects 4 input channels"), gcc::Error);
    CHECK_THROWS_WITH_AS(gcc::cuda::gemm_forward(false, false, 1.f, Tensor::zeros(Shape{3, 4}, Device::cuda()),
                                                 Tensor::zeros(Shape{5, 6}, Device::cuda()), 0.f,
                                                 Tensor::empty(Shape{3, 6}, Device::cuda())),
                         doctest::Contains("gemm_forward: a [3, 4]"), gcc::Error);
    CHECK_THROWS_WITH_AS(gcc::cuda::copy_rows(xg, 1, yg, 0, 3), doctest::Contains("copy_rows: rows [1, 4)"), gcc::Error);
  }
}
