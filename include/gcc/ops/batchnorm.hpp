// Batch normalisation as PyTorch's F.batch_norm: training mode normalises with the batch statistics
// (biased variance) and updates the running ones (unbiased variance); eval mode uses the running ones.
// Synchronised batch norm (BatchNormSync): the statistics of a batch split over several processes.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "dispatch.hpp"
#include "reduce.hpp"

namespace gcc {

// What synchronised batch norm needs from a job of several processes, each holding a shard of the
// batch: a sum over the processes. gcc/dist/batchnorm_sync.hpp implements it over a dist::Communicator
// (ops/ knows nothing of MPI). With one, a training forward normalises every group with the statistics
// of that group's rows on ALL processes (mean and biased variance from summed sums, as one process with
// the whole batch computes them), updates the running statistics with them (the variance unbiased with
// the global count), and the backward sums its two per-channel sums too. The weight and bias gradients
// stay this process's share: summing them over the processes (dist::all_reduce_gradients) gives the
// whole batch's. Every process must run the same forwards and backwards in the same order (collective).
class BatchNormSync {
 public:
  virtual ~BatchNormSync() = default;
  // data[i] = the sum over the processes of their data[i], in place (host memory).
  virtual void all_reduce_sum(double* data /* [n] */, int64_t n) = 0;
};
namespace cpu {

// Training forward, per channel over (N, H, W): mean and biased variance in double (two passes),
// y = (x - mean) / sqrt(var + eps) * weight + bias, and, when the running statistics are defined,
// running = (1 - momentum) * running + momentum * batch (the variance unbiased, n / (n - 1)).
// An undefined weight / bias means 1 / 0. Needs n = N*H*W > 1 (the wrapper checks).
inline void batchnorm2d_forward_train(const Tensor& x /* [N, C, H, W] */,
                                      const Tensor& weight /* [C], or undefined */,
                                      const Tensor& bias /* [C], or undefined */,
                                      const Tensor& running_mean /* [C] updated in place, or undefined */,
                                      const Tensor& running_var /* [C] updated in place, or undefined */,
                                      float momentum, float eps, const Tensor& y /* [N, C, H, W] */,
                                      const Tensor& save_mean /* [C] */,
                                      const Tensor& save_invstd /* [C] */) {
  const int64_t N = x.size(0), C = x.size(1), L = x.size(2) * x.size(3);
  const double n = static_cast<double>(N * L);
  const float* xp = x.data();
  float* yp = y.data();
  const float* wp = weight.defined() ? weight.data() : nullptr;
  const float* bp = bias.defined() ? bias.data() : nullptr;
  float* rm = running_mean.defined() ? running_mean.data() : nullptr;
  float* rv = running_var.defined() ? running_var.data() : nullptr;
  float* sm = save_mean.data();
  float* si = save_invstd.data();
  parallel_for(C, [&](int64_t c) {
    double sum = 0;
    for (int64_t i = 0; i < N; ++i) sum += detail::row_sum(xp + (i * C + c) * L, L);
    const double mean = sum / n;
    double sq = 0;
    for (int64_t i = 0; i < N; ++i) sq += detail::row_sq_dev(xp + (i * C + c) * L, L, mean);
    const double var = sq / n;
    const double invstd = 1.0 / std::sqrt(var + static_cast<double>(eps));
    sm[c] = static_cast<float>(mean);
    si[c] = static_cast<float>(invstd);
    const float fm = static_cast<float>(mean);
    const float fs = static_cast<float>((wp ? wp[c] : 1.0) * invstd);
    const float fb = bp ? bp[c] : 0.f;
    for (int64_t i = 0; i < N; ++i) {
      const float* p = xp + (i * C + c) * L;
      float* q = yp + (i * C + c) * L;
      for (int64_t j = 0; j < L; ++j) q[j] = (p[j] - fm) * fs + fb;
    }
    const double m = momentum;
    if (rm) rm[c] = static_cast<float>((1.0 - m) * rm[c] + m * mean);
    if (rv) rv[c] = static_cast<float>((1.0 - m) * rv[c] + m * (n > 1 ? var * n / (n - 1) : var));
  });
}

// Eval forward: y = (x - running_mean) / sqrt(running_var + eps) * weight + bias.
inline void batchnorm2d_forward_eval(const Tensor& x /* [N, C, H, W] */,
                                     const Tensor& weight /* [C], or undefined */,
                                     const Tensor& bias /* [C], or undefined */,
                                     const Tensor& running_mean /* [C] */, const Tensor& running_var /* [C] */,
                                     float eps, const Tensor& y /* [N, C, H, W] */) {
  const int64_t N = x.size(0), C = x.size(1), L = x.size(2) * x.size(3);
  const float* xp = x.data();
  float* yp = y.data();
  const float* wp = weight.defined() ? weight.data() : nullptr;
  const float* bp = bias.defined() ? bias.data() : nullptr;
  const float* rm = running_mean.data();
  const float* rv = running_var.data();
  parallel_for(C, [&](int64_t c) {
    const float fm = rm[c];
    const float fs = static_cast<float>((wp ? wp[c] : 1.0) / std::sqrt(static_cast<double>(rv[c]) + eps));
    const float fb = bp ? bp[c] : 0.f;
    for (int64_t i = 0; i < N; ++i) {
      const float* p = xp + (i * C + c) * L;
      float* q = yp + (i * C + c) * L;
      for (int64_t j = 0; j < L; ++j) q[j] = (p[j] - fm) * fs + fb;
    }
  });
}

// Backward. Training: the full batch-statistics backward with the saved mean / inverse std,
// gx = w * invstd * (gy - mean(gy) - xhat * mean(gy * xhat)). Eval: the affine backward with the
// running statistics, gx = w * gy / sqrt(running_var + eps). Both: gweight = sum(gy * xhat),
// gbias = sum(gy) over (N, H, W). Outputs that are undefined are skipped.
inline void batchnorm2d_backward(const Tensor& gy /* [N, C, H, W] */, const Tensor& x /* [N, C, H, W] */,
                                 const Tensor& weight /* [C], or undefined */,
                                 const Tensor& running_mean /* [C] (eval), or undefined */,
                                 const Tensor& running_var /* [C] (eval), or undefined */,
                                 const Tensor& save_mean /* [C] (training), or undefined */,
                                 const Tensor& save_invstd /* [C] (training), or undefined */,
                                 bool training, float eps, const Tensor& gx /* [N, C, H, W], or undefined */,
                                 const Tensor& gweight /* [C], or undefined */,
                                 const Tensor& gbias /* [C], or undefined */) {
  const int64_t N = x.size(0), C = x.size(1), L = x.size(2) * x.size(3);
  const double n = static_cast<double>(N * L);
  const float* xp = x.data();
  const float* gp = gy.data();
  const float* wp = weight.defined() ? weight.data() : nullptr;
  const float* mp = training ? save_mean.data() : running_mean.data();
  const float* sp = training ? save_invstd.data() : nullptr;
  const float* vp = training ? nullptr : running_var.data();
  float* gxp = gx.defined() ? gx.data() : nullptr;
  float* gwp = gweight.defined() ? gweight.data() : nullptr;
  float* gbp = gbias.defined() ? gbias.data() : nullptr;
  parallel_for(C, [&](int64_t c) {
    const double mean = mp[c];
    const double invstd = training ? static_cast<double>(sp[c]) : 1.0 / std::sqrt(static_cast<double>(vp[c]) + eps);
    double sum_g = 0, dot = 0;  // sum(gy), sum(gy * (x - mean))
    for (int64_t i = 0; i < N; ++i) {
      sum_g += detail::row_sum(gp + (i * C + c) * L, L);
      dot += detail::row_dot_dev(gp + (i * C + c) * L, xp + (i * C + c) * L, L, mean);
    }
    if (gbp) gbp[c] = static_cast<float>(sum_g);
    if (gwp) gwp[c] = static_cast<float>(dot * invstd);
    if (!gxp) return;
    // gx = (gy - gmean - (x - mean) * proj) * a; gmean = proj = 0 in eval mode
    const float a = static_cast<float>((wp ? wp[c] : 1.0) * invstd);
    const float fm = static_cast<float>(mean);
    const float gmean = training ? static_cast<float>(sum_g / n) : 0.f;
    const float proj = training ? static_cast<float>(dot * invstd * invstd / n) : 0.f;
    for (int64_t i = 0; i < N; ++i) {
      const float* p = xp + (i * C + c) * L;
      const float* g = gp + (i * C + c) * L;
      float* q = gxp + (i * C + c) * L;
      for (int64_t j = 0; j < L; ++j) q[j] = (g[j] - gmean - (p[j] - fm) * proj) * a;
    }
  });
}

// Synchronised training forward over groups of rows (at [G + 1] row offsets of x [N, C, L, 1]): per group
// and channel the mean from all processes' sums, then the biased variance from all processes' sums of
// squared deviations (two rounds, in double, like batchnorm2d_forward_train); y, save_mean /
// save_invstd [G, C], and the running statistics updated group after group with the global statistics.
// Throws when a group holds at most one value per channel on all processes together.
inline void batchnorm2d_sync_forward_train(const Tensor& x /* [N, C, L, 1] */, const std::vector<int64_t>& at,
                                           const Tensor& weight /* [C], or undefined */,
                                           const Tensor& bias /* [C], or undefined */,
                                           const Tensor& running_mean /* [C] updated in place, or undefined */,
                                           const Tensor& running_var /* [C] updated in place, or undefined */,
                                           float momentum, float eps, const Tensor& y /* [N, C, L, 1] */,
                                           const Tensor& save_mean /* [G, C] */, const Tensor& save_invstd /* [G, C] */,
                                           BatchNormSync& sync, const char* op) {
  const int64_t C = x.size(1), L = x.size(2) * x.size(3);
  const int64_t G = static_cast<int64_t>(at.size()) - 1;
  const float* xp = x.data();
  float* yp = y.data();
  const float* wp = weight.defined() ? weight.data() : nullptr;
  const float* bp = bias.defined() ? bias.data() : nullptr;
  float* rm = running_mean.defined() ? running_mean.data() : nullptr;
  float* rv = running_var.defined() ? running_var.data() : nullptr;
  float* sm = save_mean.data();
  float* si = save_invstd.data();
  auto gi = [](int64_t g, int64_t c, int64_t C_) { return static_cast<std::size_t>(g * C_ + c); };
  // round 1: [G, C] sums, then [G] value counts
  std::vector<double> sums(static_cast<std::size_t>(G * C + G), 0.0);
  parallel_for(C, [&](int64_t c) {
    for (int64_t g = 0; g < G; ++g) {
      double s = 0;
      for (int64_t i = at[static_cast<std::size_t>(g)]; i < at[static_cast<std::size_t>(g) + 1]; ++i) {
        const float* p = xp + (i * C + c) * L;
        for (int64_t j = 0; j < L; ++j) s += p[j];
      }
      sums[gi(g, c, C)] = s;
    }
  });
  for (int64_t g = 0; g < G; ++g)
    sums[static_cast<std::size_t>(G * C + g)] =
        static_cast<double>((at[static_cast<std::size_t>(g) + 1] - at[static_cast<std::size_t>(g)]) * L);
  sync.all_reduce_sum(sums.data(), static_cast<int64_t>(sums.size()));
  for (int64_t g = 0; g < G; ++g) {
    const double n = sums[static_cast<std::size_t>(G * C + g)];
    GCC_CHECK(n > 1, op, ": synchronised batch norm needs more than 1 value per channel over all processes when "
              "training, group ", g, " of ", G, " has ", n, "; use a larger batch or eval mode");
  }
  // round 2: [G, C] sums of squared deviations from the global means
  std::vector<double> mean(static_cast<std::size_t>(G * C)), sq(static_cast<std::size_t>(G * C), 0.0);
  for (int64_t g = 0; g < G; ++g)
    for (int64_t c = 0; c < C; ++c) mean[gi(g, c, C)] = sums[gi(g, c, C)] / sums[static_cast<std::size_t>(G * C + g)];
  parallel_for(C, [&](int64_t c) {
    for (int64_t g = 0; g < G; ++g) {
      const double m = mean[gi(g, c, C)];
      double s = 0;
      for (int64_t i = at[static_cast<std::size_t>(g)]; i < at[static_cast<std::size_t>(g) + 1]; ++i) {
        const float* p = xp + (i * C + c) * L;
        for (int64_t j = 0; j < L; ++j) {
          const double d = p[j] - m;
          s += d * d;
        }
      }
      sq[gi(g, c, C)] = s;
    }
  });
  sync.all_reduce_sum(sq.data(), static_cast<int64_t>(sq.size()));
  parallel_for(C, [&](int64_t c) {
    for (int64_t g = 0; g < G; ++g) {  // in group order: the running statistics as separate calls update them
      const double n = sums[static_cast<std::size_t>(G * C + g)];
      const double mu = mean[gi(g, c, C)], var = sq[gi(g, c, C)] / n;
      const double invstd = 1.0 / std::sqrt(var + static_cast<double>(eps));
      sm[gi(g, c, C)] = static_cast<float>(mu);
      si[gi(g, c, C)] = static_cast<float>(invstd);
      const float fm = static_cast<float>(mu);
      const float fs = static_cast<float>((wp ? wp[c] : 1.0) * invstd);
      const float fb = bp ? bp[c] : 0.f;
      for (int64_t i = at[static_cast<std::size_t>(g)]; i < at[static_cast<std::size_t>(g) + 1]; ++i) {
        const float* p = xp + (i * C + c) * L;
        float* q = yp + (i * C + c) * L;
        for (int64_t j = 0; j < L; ++j) q[j] = (p[j] - fm) * fs + fb;
      }
      const double m = momentum;
      if (rm) rm[c] = static_cast<float>((1.0 - m) * rm[c] + m * mu);
      if (rv) rv[c] = static_cast<float>((1.0 - m) * rv[c] + m * var * n / (n - 1));
    }
  });
}

// Synchronised training backward: per group and channel sum(gy) and sum(gy * (x - mean)) over all
// processes give gx (the formula of batchnorm2d_backward with the global count); gweight / gbias get this
// process's sums only (the caller sums them over the processes with the other gradients).
inline void batchnorm2d_sync_backward(const Tensor& gy /* [N, C, L, 1] */, const Tensor& x /* [N, C, L, 1] */,
                                      const std::vector<int64_t>& at, const Tensor& weight /* [C], or undefined */,
                                      const Tensor& save_mean /* [G, C] */, const Tensor& save_invstd /* [G, C] */,
                                      const Tensor& gx /* [N, C, L, 1], or undefined */,
                                      const Tensor& gweight /* [C], or undefined */,
                                      const Tensor& gbias /* [C], or undefined */, BatchNormSync& sync) {
  const int64_t C = x.size(1), L = x.size(2) * x.size(3);
  const int64_t G = static_cast<int64_t>(at.size()) - 1;
  const float* xp = x.data();
  const float* gp = gy.data();
  const float* wp = weight.defined() ? weight.data() : nullptr;
  const float* mp = save_mean.data();
  const float* sp = save_invstd.data();
  float* gxp = gx.defined() ? gx.data() : nullptr;
  float* gwp = gweight.defined() ? gweight.data() : nullptr;
  float* gbp = gbias.defined() ? gbias.data() : nullptr;
  // [2, G, C] local sums (sum gy, then sum gy (x - mean)), [G] counts; then the same summed over the processes
  const std::size_t GC = static_cast<std::size_t>(G * C);
  std::vector<double> s(2 * GC + static_cast<std::size_t>(G), 0.0);
  parallel_for(C, [&](int64_t c) {
    double local_g = 0, local_dot = 0;
    for (int64_t g = 0; g < G; ++g) {
      const double mean = mp[g * C + c];
      double sum_g = 0, dot = 0;
      for (int64_t i = at[static_cast<std::size_t>(g)]; i < at[static_cast<std::size_t>(g) + 1]; ++i) {
        const float* p = xp + (i * C + c) * L;
        const float* q = gp + (i * C + c) * L;
        for (int64_t j = 0; j < L; ++j) {
          sum_g += q[j];
          dot += q[j] * (p[j] - mean);
        }
      }
      s[static_cast<std::size_t>(g * C + c)] = sum_g;
      s[GC + static_cast<std::size_t>(g * C + c)] = dot;
      local_g += sum_g;
      local_dot += dot * sp[g * C + c];
    }
    if (gbp) gbp[c] = static_cast<float>(local_g);
    if (gwp) gwp[c] = static_cast<float>(local_dot);
  });
  for (int64_t g = 0; g < G; ++g)
    s[2 * GC + static_cast<std::size_t>(g)] =
        static_cast<double>((at[static_cast<std::size_t>(g) + 1] - at[static_cast<std::size_t>(g)]) * L);
  sync.all_reduce_sum(s.data(), static_cast<int64_t>(s.size()));
  if (!gxp) return;
  parallel_for(C, [&](int64_t c) {
    for (int64_t g = 0; g < G; ++g) {
      const double n = s[2 * GC + static_cast<std::size_t>(g)];
      const double invstd = sp[g * C + c];
      const float a = static_cast<float>((wp ? wp[c] : 1.0) * invstd);
      const float fm = mp[g * C + c];
      const float gmean = static_cast<float>(s[static_cast<std::size_t>(g * C + c)] / n);
      const float proj = static_cast<float>(s[GC + static_cast<std::size_t>(g * C + c)] * invstd * invstd / n);
      for (int64_t i = at[static_cast<std::size_t>(g)]; i < at[static_cast<std::size_t>(g) + 1]; ++i) {
        const float* p = xp + (i * C + c) * L;
        const float* q = gp + (i * C + c) * L;
        float* o = gxp + (i * C + c) * L;
        for (int64_t j = 0; j < L; ++j) o[j] = (q[j] - gmean - (p[j] - fm) * proj) * a;
      }
    }
  });
}

}  // namespace cpu

GCC_CUDA_SLOT(batchnorm2d_forward_train, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
              const Tensor&, float, float, const Tensor&, const Tensor&, const Tensor&)
GCC_CUDA_SLOT(batchnorm2d_forward_eval, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
              const Tensor&, float, const Tensor&)
GCC_CUDA_SLOT(batchnorm2d_backward, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
              const Tensor&, const Tensor&, const Tensor&, bool, float, const Tensor&, const Tensor&,
              const Tensor&)

namespace detail {

// Row offsets [G + 1] of the statistics groups of a batch of N: group g is rows [at[g], at[g + 1]).
// Empty `group_sizes` is one group of all N rows. Training needs more than one value per channel in
// every group (rows * L > 1).
inline std::vector<int64_t> batchnorm_group_offsets(const char* op, const std::vector<int64_t>& group_sizes,
                                                    const Shape& shape, int64_t N, int64_t L, bool training) {
  std::vector<int64_t> at{0};
  if (group_sizes.empty()) at.push_back(N);
  for (int64_t n : group_sizes) {
    GCC_CHECK(n >= 1, op, ": group sizes must be positive, got ", n, " among ", group_sizes.size(), " groups");
    at.push_back(at.back() + n);
  }
  GCC_CHECK(at.back() == N, op, ": the group sizes add up to ", at.back(), " rows but input ", shape.str(), " has ",
            N, "; expected sizes summing to the batch");
  for (std::size_t g = 0; g + 1 < at.size(); ++g)
    GCC_CHECK(!training || (at[g + 1] - at[g]) * L > 1, op, ": expected more than 1 value per channel when training, "
              "got input ", shape.str(), at.size() > 2 ? " in a group of " + std::to_string(at[g + 1] - at[g]) + " rows" :
              std::string(), " (N*H*W = ", (at[g + 1] - at[g]) * L, "); use a larger batch or eval mode");
  return at;
}

// Batch norm over dimension 1 of x ([N, C], [N, C, L] or [N, C, H, W]); the kernels see x as
// [N, C, L, 1] with L the product of the trailing dimensions. In training mode each group of rows
// (group_sizes; empty = the whole batch) is normalised with its own statistics and updates the running
// statistics in turn, exactly as separate calls on the groups in order would. With `sync` (training only)
// each group's statistics are those of its rows on all processes (BatchNormSync); CPU tensors only.
inline Tensor batchnorm_impl(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias,
                             const Tensor& running_mean, const Tensor& running_var, bool training,
                             float momentum, float eps, const std::vector<int64_t>& group_sizes = {},
                             BatchNormSync* sync = nullptr) {
  const int64_t N = x.size(0), C = x.size(1);
  int64_t L = 1;
  for (int i = 2; i < x.dims(); ++i) L *= x.size(i);
  auto check_param = [&](const Tensor& p, const char* what) {
    if (!p.defined()) return;
    GCC_CHECK(p.dims() == 1 && p.size(0) == C, op, ": ", what, " ", p.shape().str(),
              " does not match the ", C, " channels of input ", x.shape().str(), " (expected [", C, "])");
    check_same_device(op, x, p);
  };
  check_param(weight, "weight");
  check_param(bias, "bias");
  check_param(running_mean, "running_mean");
  check_param(running_var, "running_var");
  GCC_CHECK(running_mean.defined() == running_var.defined(), op,
            ": running_mean and running_var must both be given or both be undefined");
  GCC_CHECK(!running_mean.defined() || (running_mean.is_contiguous() && running_var.is_contiguous()), op,
            ": running statistics are updated in place and must be contiguous");
  GCC_CHECK(training || running_mean.defined(), op,
            ": eval mode (training=false) needs running_mean and running_var");
  GCC_CHECK(eps >= 0.f, op, ": eps must be non-negative, got ", eps);
  if (!training) sync = nullptr;  // eval mode uses the running statistics: nothing to synchronise
  GCC_CHECK(sync == nullptr || x.device().is_cpu(), op, ": synchronised batch norm (sync_batchnorm) is not yet on CUDA "
            "(input on ", x.device().str(), "); train with sync_batchnorm: false (per-process statistics) or on the CPU");
  // eval mode normalises every row alike: the groups do not matter there. Synchronised, a group's size is
  // checked over all processes (by the kernel), not here.
  const std::vector<int64_t> at = batchnorm_group_offsets(op, training ? group_sizes : std::vector<int64_t>{},
                                                          x.shape(), N, L, training && sync == nullptr);
  const int64_t G = static_cast<int64_t>(at.size()) - 1;
  auto rows4 = [at, C, L](const Tensor& t, int64_t g) {  // group g of t as [n_g, C, L, 1] (kept by the backward)
    return t.narrow0(at[static_cast<std::size_t>(g)], at[static_cast<std::size_t>(g) + 1])
        .view(Shape{at[static_cast<std::size_t>(g) + 1] - at[static_cast<std::size_t>(g)], C, L, 1});
  };
  auto row = [C](const Tensor& t, int64_t g) { return t.narrow0(g, g + 1).view(Shape{C}); };  // [C] of [G, C]

  const Device dev = x.device();
  const Tensor xc = x.contiguous().detach();
  const Tensor wc = weight.defined() ? weight.contiguous().detach() : Tensor();
  const Tensor bc = bias.defined() ? bias.contiguous().detach() : Tensor();
  Tensor y = Tensor::empty(x.shape(), dev);
  Tensor save_mean, save_invstd, rm_used, rv_used;  // [G, C] batch statistics of each group (training)
  if (training && sync) {
    save_mean = Tensor::empty(Shape{G, C}, dev);
    save_invstd = Tensor::empty(Shape{G, C}, dev);
    cpu::batchnorm2d_sync_forward_train(xc.view(Shape{N, C, L, 1}), at, wc, bc, running_mean.detach(),
                                        running_var.detach(), momentum, eps, y.view(Shape{N, C, L, 1}), save_mean,
                                        save_invstd, *sync, op);
  } else if (training) {
    save_mean = Tensor::empty(Shape{G, C}, dev);
    save_invstd = Tensor::empty(Shape{G, C}, dev);
    for (int64_t g = 0; g < G; ++g)
      GCC_DISPATCH(batchnorm2d_forward_train, dev, rows4(xc, g), wc, bc, running_mean.detach(), running_var.detach(),
                   momentum, eps, rows4(y, g), row(save_mean, g), row(save_invstd, g));
  } else {
    GCC_DISPATCH(batchnorm2d_forward_eval, dev, rows4(xc, 0), wc, bc, running_mean.detach(), running_var.detach(), eps,
                 rows4(y, 0));
  }
  if (any_requires_grad(x, weight, bias)) {
    if (!training) {  // snapshot: a later training forward must not change this node's backward
      rm_used = running_mean.clone();
      rv_used = running_var.clone();
    }
    Tape::record(y, op, [x, weight, bias, xc, wc, G, at, N, C, L, rows4, row, save_mean, save_invstd, rm_used, rv_used,
                         training, eps, sync](const Tensor& gy) {
      const Device d = x.device();
      const Tensor gyc = gy.contiguous();
      const Tensor gx = x.requires_grad() ? Tensor::empty(x.shape(), d) : Tensor();
      const bool want_w = weight.defined() && weight.requires_grad(), want_b = bias.defined() && bias.requires_grad();
      if (sync) {  // collective: every process runs this backward (its sums are summed over them)
        const Tensor gw = want_w ? Tensor::empty(weight.shape(), d) : Tensor();
        const Tensor gb = want_b ? Tensor::empty(bias.shape(), d) : Tensor();
        const Shape s4{N, C, L, 1};
        cpu::batchnorm2d_sync_backward(gyc.view(s4), xc.view(s4), at, wc, save_mean, save_invstd,
                                       gx.defined() ? gx.view(s4) : Tensor(), gw, gb, *sync);
        if (gw.defined()) accumulate_grad_fresh(weight, gw);
        if (gb.defined()) accumulate_grad_fresh(bias, gb);
        if (gx.defined()) accumulate_grad_fresh(x, gx);
        return;
      }
      for (int64_t g = 0; g < G; ++g) {  // per group: its rows of gx, its share of gweight / gbias
        const Tensor gw = want_w ? Tensor::empty(weight.shape(), d) : Tensor();
        const Tensor gb = want_b ? Tensor::empty(bias.shape(), d) : Tensor();
        GCC_DISPATCH(batchnorm2d_backward, d, rows4(gyc, g), rows4(xc, g), wc, rm_used, rv_used,
                     training ? row(save_mean, g) : Tensor(), training ? row(save_invstd, g) : Tensor(), training, eps,
                     gx.defined() ? rows4(gx, g) : Tensor(), gw, gb);
        if (gw.defined()) accumulate_grad_fresh(weight, gw);
        if (gb.defined()) accumulate_grad_fresh(bias, gb);
      }
      if (gx.defined()) accumulate_grad_fresh(x, gx);
    });
  }
  return y;
}

}  // namespace detail

// Batch norm of images x [N, C, H, W] per channel (torch.nn.functional.batch_norm). weight / bias [C]
// (undefined for no affine transform) receive gradients; running_mean / running_var [C] never do and,
// in training mode, are updated in place with `momentum` (undefined: not tracked, training only).
// Training needs more than one value per channel (N*H*W > 1); eval mode works for any batch.
inline Tensor batchnorm2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                          const Tensor& running_var, bool training, float momentum = 0.1f, float eps = 1e-5f) {
  check_dims("batchnorm2d", x, 4, "[N, C, H, W]");
  return detail::batchnorm_impl("batchnorm2d", x, weight, bias, running_mean, running_var, training, momentum,
                                eps);
}

// Batch norm of a batch made of several forward passes' images: rows [0, n_0) are one pass, the next n_1
// another, ... (group_sizes, adding up to N). In training mode each group uses its own batch statistics
// and updates the running statistics in turn (group 0 first), so one call over the concatenated views
// equals separate batchnorm2d calls on each view (forward, gradients, running statistics); one call
// lets the surrounding convolutions run over all views at once. Eval mode ignores the groups.
// With `sync` (not null), a training forward synchronises every group's statistics over the processes that
// hold the other shards of the batch (see BatchNormSync; CPU tensors only); empty group_sizes is one group.
inline Tensor batchnorm2d_grouped(const Tensor& x, const std::vector<int64_t>& group_sizes, const Tensor& weight,
                                  const Tensor& bias, const Tensor& running_mean, const Tensor& running_var,
                                  bool training, float momentum = 0.1f, float eps = 1e-5f,
                                  BatchNormSync* sync = nullptr) {
  check_dims("batchnorm2d_grouped", x, 4, "[N, C, H, W]");
  return detail::batchnorm_impl("batchnorm2d_grouped", x, weight, bias, running_mean, running_var, training, momentum,
                                eps, group_sizes, sync);
}

// The same over features: x [N, C] or [N, C, L] (torch.nn.BatchNorm1d).
inline Tensor batchnorm1d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                          const Tensor& running_var, bool training, float momentum = 0.1f, float eps = 1e-5f) {
  GCC_CHECK(x.defined(), "batchnorm1d: input is undefined");
  GCC_CHECK(x.dims() == 2 || x.dims() == 3, "batchnorm1d: expected a 2-D tensor [N, C] or 3-D [N, C, L], got shape ",
            x.shape().str());
  return detail::batchnorm_impl("batchnorm1d", x, weight, bias, running_mean, running_var, training, momentum,
                                eps);
}

}  // namespace gcc
