// Driver for the batch-norm kernels of gcc/kernels/batchnorm.cuh (training forward: statistics,
// running statistics and y; eval forward; backward in training and eval mode) and the per-channel
// machinery of gcc/kernels/channel.cuh under them (channel_reduce, channel_sum, add_channel_bias):
// a CPU reference (cpu::batchnorm2d_* of gcc/ops/batchnorm.hpp: double statistics, two passes), the
// versions below checked against it for several block sizes, SM counts and shapes, and a timing sweep
// over ResNet-18's batch-norm shapes at batch 256 (64..512 channels at 32x32..4x4).
//
//   v1  one block per channel: the block reduces its whole channel (sum, then squared deviations, in
//       double, block_sum), finalises, then writes the channel's y / gx. Only C blocks: 64 channels
//       leave half of an H200's 132 SMs idle and each block streams 262,144 elements three times.
//   v2  the library (gcc::kernels::batchnorm_forward_train / forward_eval / backward): the split
//       reduction of channel.cuh, G blocks per channel (about 4 blocks per SM in all, at least 4096
//       elements a block) writing partials [C, G], a finalize kernel adding them in block order, then
//       a grid-stride elementwise pass with the channel found by fast division.
//   v3  (training forward only; its eval and backward are v2's) one pass of statistics instead of
//       two: channel_reduce with two sums, sum(x) and sum(x^2) in double, var = E[x^2] - mean^2.
//       Reads x twice instead of three times, but it is not the CPU's formula: the subtraction cancels
//       when |mean| >> std, and even in double the result is not the two-pass variance to the bit.
// The library keeps v2. It is deterministic (the split depends only on the shape, the SM count and the
// block size; partials are added in block order, no atomics) and computes the CPU's two-pass formulas
// in double, so after the float roundings it matches the CPU's saved mean / inverse std, running
// statistics and y (the double sums are added in another order than the CPU's loop, so equality is
// to the last bit of a double, which float rounding hides except at a rounding boundary: the checks
// allow 1e-6). v1 computes the same formulas but starves the GPU when C is small (the ResNet stages
// have 64..512 channels, the SM count is 132) and runs a single block's reduction per channel serially;
// v3 saves one of the three reads of x in the training forward but gives up the CPU's formula. The
// timing figures are in the README (owed to a GPU run; this driver prints them).
//
// Build and run, in a folder holding this file, driver.cuh and a copy of kernels/gcc/ (or in kernels/dev/
// with -I.. instead of -I.); VERSION picks one version, --check skips the timing sweep:
//   nvcc -O3 -std=c++17 -arch=native -I. batchnorm.cu -o batchnorm && ./batchnorm [VERSION] [--check]
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <vector>

#include "driver.cuh"
#include "gcc/kernels/batchnorm.cuh"
#include "gcc/kernels/channel.cuh"

namespace {

using gcc::kernels::Launch;
using gcc::kernels::Status;

constexpr float kMomentum = 0.1f, kEps = 1e-5f;

struct Shape4 {
  int64_t N, C, H, W;
  int64_t L() const { return H * W; }
  int64_t numel() const { return N * C * H * W; }
};

// ---- CPU reference (gcc::cpu::batchnorm2d_forward_train / forward_eval / backward) -------------------
struct TrainOut {
  std::vector<float> y, save_mean, save_invstd, running_mean, running_var;
};

// weight / bias / running statistics: empty vectors mean undefined.
void train_cpu(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& b, TrainOut& o,
               int64_t N, int64_t C, int64_t L) {
  const double n = static_cast<double>(N * L);
  o.y.assign(x.size(), 0.f);
  o.save_mean.assign(C, 0.f);
  o.save_invstd.assign(C, 0.f);
  for (int64_t c = 0; c < C; ++c) {
    double sum = 0;
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < L; ++j) sum += x[(i * C + c) * L + j];
    const double mean = sum / n;
    double sq = 0;
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < L; ++j) {
        const double d = x[(i * C + c) * L + j] - mean;
        sq += d * d;
      }
    const double var = sq / n;
    const double invstd = 1.0 / std::sqrt(var + static_cast<double>(kEps));
    o.save_mean[c] = static_cast<float>(mean);
    o.save_invstd[c] = static_cast<float>(invstd);
    const float fm = static_cast<float>(mean);
    const float fs = static_cast<float>((w.empty() ? 1.0 : w[c]) * invstd);
    const float fb = b.empty() ? 0.f : b[c];
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < L; ++j) {
        const int64_t k = (i * C + c) * L + j;
        const float d = x[k] - fm;
        const float e = d * fs;
        o.y[k] = e + fb;
      }
    const double m = kMomentum;
    if (!o.running_mean.empty()) o.running_mean[c] = static_cast<float>((1.0 - m) * o.running_mean[c] + m * mean);
    if (!o.running_var.empty())
      o.running_var[c] = static_cast<float>((1.0 - m) * o.running_var[c] + m * (n > 1 ? var * n / (n - 1) : var));
  }
}

std::vector<float> eval_cpu(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& b,
                            const std::vector<float>& rm, const std::vector<float>& rv, int64_t N, int64_t C,
                            int64_t L) {
  std::vector<float> y(x.size());
  for (int64_t c = 0; c < C; ++c) {
    const float fm = rm[c];
    const float fs = static_cast<float>((w.empty() ? 1.0 : w[c]) / std::sqrt(static_cast<double>(rv[c]) + kEps));
    const float fb = b.empty() ? 0.f : b[c];
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < L; ++j) {
        const int64_t k = (i * C + c) * L + j;
        const float d = x[k] - fm;
        const float e = d * fs;
        y[k] = e + fb;
      }
  }
  return y;
}

// mean: save_mean (training) or running_mean (eval); istd_or_var: save_invstd or running_var.
void backward_cpu(const std::vector<float>& gy, const std::vector<float>& x, const std::vector<float>& w,
                  const std::vector<float>& mean_in, const std::vector<float>& istd_or_var, bool training,
                  std::vector<float>& gx, std::vector<float>& gw, std::vector<float>& gb, int64_t N, int64_t C,
                  int64_t L) {
  const double n = static_cast<double>(N * L);
  gx.assign(x.size(), 0.f);
  gw.assign(C, 0.f);
  gb.assign(C, 0.f);
  for (int64_t c = 0; c < C; ++c) {
    const double mean = mean_in[c];
    const double invstd = training ? static_cast<double>(istd_or_var[c])
                                   : 1.0 / std::sqrt(static_cast<double>(istd_or_var[c]) + kEps);
    double sum_g = 0, dot = 0;
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < L; ++j) {
        const int64_t k = (i * C + c) * L + j;
        sum_g += gy[k];
        dot += gy[k] * (x[k] - mean);
      }
    gb[c] = static_cast<float>(sum_g);
    gw[c] = static_cast<float>(dot * invstd);
    const float a = static_cast<float>((w.empty() ? 1.0 : w[c]) * invstd);
    const float fm = static_cast<float>(mean);
    const float gmean = training ? static_cast<float>(sum_g / n) : 0.f;
    const float proj = training ? static_cast<float>(dot * invstd * invstd / n) : 0.f;
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < L; ++j) {
        const int64_t k = (i * C + c) * L + j;
        const float d = x[k] - fm;
        const float cen = d * proj;
        const float u = gy[k] - gmean;
        const float v = u - cen;
        gx[k] = v * a;
      }
  }
}

// ---- v1: one block per channel ------------------------------------------------------------------------
__device__ __forceinline__ int64_t chan_offset(int64_t t, int64_t c, int64_t C, int64_t L) {
  return (t / L * C + c) * L + t % L;
}

__global__ void bn_train_v1(const float* x, const float* w, const float* b, float* rm, float* rv, float momentum,
                            float eps, float* y, float* sm, float* si, int64_t N, int64_t C, int64_t L) {
  __shared__ double s_mean;
  __shared__ float s_fm, s_fs, s_fb;
  const int64_t c = blockIdx.x, m = N * L;
  const double n = static_cast<double>(m);
  double s = 0.0;
  for (int64_t t = threadIdx.x; t < m; t += blockDim.x) s += x[chan_offset(t, c, C, L)];
  s = gcc::kernels::block_sum<double>(s);
  if (threadIdx.x == 0) s_mean = s / n;
  __syncthreads();
  const double mean = s_mean;
  double q = 0.0;
  for (int64_t t = threadIdx.x; t < m; t += blockDim.x) {
    const double d = static_cast<double>(x[chan_offset(t, c, C, L)]) - mean;
    q += d * d;
  }
  q = gcc::kernels::block_sum<double>(q);
  if (threadIdx.x == 0) {
    const double var = q / n;
    const double invstd = 1.0 / sqrt(var + static_cast<double>(eps));
    sm[c] = static_cast<float>(mean);
    si[c] = static_cast<float>(invstd);
    s_fm = static_cast<float>(mean);
    s_fs = static_cast<float>((w ? static_cast<double>(w[c]) : 1.0) * invstd);
    s_fb = b ? b[c] : 0.f;
    const double mo = momentum;
    if (rm) rm[c] = static_cast<float>(__dadd_rn(__dmul_rn(1.0 - mo, static_cast<double>(rm[c])), __dmul_rn(mo, mean)));
    if (rv) {
      const double unbiased = n > 1 ? var * n / (n - 1) : var;
      rv[c] = static_cast<float>(__dadd_rn(__dmul_rn(1.0 - mo, static_cast<double>(rv[c])), __dmul_rn(mo, unbiased)));
    }
  }
  __syncthreads();
  const float fm = s_fm, fs = s_fs, fb = s_fb;
  for (int64_t t = threadIdx.x; t < m; t += blockDim.x) {
    const int64_t k = chan_offset(t, c, C, L);
    y[k] = __fadd_rn(__fmul_rn(__fsub_rn(x[k], fm), fs), fb);
  }
}

__global__ void bn_eval_v1(const float* x, const float* w, const float* b, const float* rm, const float* rv, float eps,
                           float* y, int64_t N, int64_t C, int64_t L) {
  const int64_t c = blockIdx.x, m = N * L;
  const float fm = rm[c];
  const float fs = static_cast<float>((w ? static_cast<double>(w[c]) : 1.0) / sqrt(static_cast<double>(rv[c]) + eps));
  const float fb = b ? b[c] : 0.f;
  for (int64_t t = threadIdx.x; t < m; t += blockDim.x) {
    const int64_t k = chan_offset(t, c, C, L);
    y[k] = __fadd_rn(__fmul_rn(__fsub_rn(x[k], fm), fs), fb);
  }
}

// mean: save_mean or running_mean; istd_or_var: save_invstd or running_var.
__global__ void bn_backward_v1(const float* gy, const float* x, const float* w, const float* mean_in,
                               const float* istd_or_var, bool training, float eps, float* gx, float* gw, float* gb,
                               int64_t N, int64_t C, int64_t L) {
  __shared__ float s_a, s_fm, s_gmean, s_proj;
  const int64_t c = blockIdx.x, m = N * L;
  const double n = static_cast<double>(m);
  const double mean = mean_in[c];
  double sg = 0.0, dot = 0.0;
  for (int64_t t = threadIdx.x; t < m; t += blockDim.x) {
    const int64_t k = chan_offset(t, c, C, L);
    const double g = gy[k];
    sg += g;
    dot += g * (static_cast<double>(x[k]) - mean);
  }
  sg = gcc::kernels::block_sum<double>(sg);
  dot = gcc::kernels::block_sum<double>(dot);
  if (threadIdx.x == 0) {
    const double invstd = training ? static_cast<double>(istd_or_var[c])
                                   : 1.0 / sqrt(static_cast<double>(istd_or_var[c]) + eps);
    if (gb) gb[c] = static_cast<float>(sg);
    if (gw) gw[c] = static_cast<float>(dot * invstd);
    s_a = static_cast<float>((w ? static_cast<double>(w[c]) : 1.0) * invstd);
    s_fm = static_cast<float>(mean);
    s_gmean = training ? static_cast<float>(sg / n) : 0.f;
    s_proj = training ? static_cast<float>(dot * invstd * invstd / n) : 0.f;
  }
  __syncthreads();
  if (!gx) return;
  const float a = s_a, fm = s_fm, gmean = s_gmean, proj = s_proj;
  for (int64_t t = threadIdx.x; t < m; t += blockDim.x) {
    const int64_t k = chan_offset(t, c, C, L);
    const float centred = __fmul_rn(__fsub_rn(x[k], fm), proj);
    gx[k] = __fmul_rn(__fsub_rn(__fsub_rn(gy[k], gmean), centred), a);
  }
}

// ---- v3: one statistics pass (sum and sum of squares) ------------------------------------------------------
struct SumSqAccumulate {
  static constexpr int kSums = 2;
  const float* x;
  __device__ __forceinline__ void accumulate(int64_t off, int64_t, double* acc) const {
    const double v = x[off];
    acc[0] += v;
    acc[1] += v * v;
  }
};

// TrainStatsFinalize of the library with mean and var from the two raw sums.
struct SumSqFinalize {
  double n, eps, momentum;
  const float* weight;
  const float* bias;
  float* running_mean;
  float* running_var;
  float* save_mean;
  float* save_invstd;
  float* scale;
  float* shift;
  __device__ __forceinline__ void finalize(int64_t c, const double* s) const {
    const double m = s[0] / n;
    const double ex2 = s[1] / n;
    const double var = ex2 - m * m > 0.0 ? ex2 - m * m : 0.0;
    const double invstd = 1.0 / sqrt(var + eps);
    save_mean[c] = static_cast<float>(m);
    save_invstd[c] = static_cast<float>(invstd);
    scale[c] = static_cast<float>((weight ? static_cast<double>(weight[c]) : 1.0) * invstd);
    shift[c] = bias ? bias[c] : 0.f;
    if (running_mean)
      running_mean[c] = static_cast<float>(
          __dadd_rn(__dmul_rn(1.0 - momentum, static_cast<double>(running_mean[c])), __dmul_rn(momentum, m)));
    if (running_var) {
      const double unbiased = n > 1 ? var * n / (n - 1) : var;
      running_var[c] = static_cast<float>(
          __dadd_rn(__dmul_rn(1.0 - momentum, static_cast<double>(running_var[c])), __dmul_rn(momentum, unbiased)));
    }
  }
};

// Scratch of v3: partials [C, G, 2] doubles, scale [C], shift [C].
std::size_t v3_workspace_bytes(const Launch& l, int64_t N, int64_t C, int64_t L) {
  const gcc::kernels::ChannelReducePlan plan = gcc::kernels::plan_channel_reduce(l, N, C, L);
  gcc::kernels::WorkspaceCarver carve;
  carve.add<char>(static_cast<int64_t>(gcc::kernels::channel_partial_bytes(plan, 2)));
  carve.add<float>(C);
  carve.add<float>(C);
  return carve.bytes();
}

Status train_v3(const Launch& l, const float* x, const float* w, const float* b, float* rm, float* rv, float* y,
                float* sm, float* si, int64_t N, int64_t C, int64_t L, void* ws) {
  if (C == 0) return Status{};
  const gcc::kernels::ChannelReducePlan plan = gcc::kernels::plan_channel_reduce(l, N, C, L);
  gcc::kernels::WorkspaceCarver carve;
  const std::size_t o_partial = carve.add<char>(static_cast<int64_t>(gcc::kernels::channel_partial_bytes(plan, 2)));
  const std::size_t o_scale = carve.add<float>(C);
  const std::size_t o_shift = carve.add<float>(C);
  float* scale = gcc::kernels::at_offset<float>(ws, o_scale);
  float* shift = gcc::kernels::at_offset<float>(ws, o_shift);
  const SumSqFinalize fin{static_cast<double>(N * L), kEps, kMomentum, w, b, rm, rv, sm, si, scale, shift};
  GCC_KERNELS_TRY(gcc::kernels::channel_reduce(l, plan, SumSqAccumulate{x}, fin,
                                               gcc::kernels::at_offset<double>(ws, o_partial)));
  return gcc::kernels::bn_apply(l, x, sm, scale, shift, y, N, C, L);
}

// ---- running the versions on device buffers ---------------------------------------------------------------
// Every device tensor of one problem; weight / bias / running statistics may be null (undefined).
struct Dev {
  const float* x;
  const float* w;
  const float* b;
  float* rm;
  float* rv;
  float* y;
  float* sm;
  float* si;
  void* ws;
};

std::size_t workspace_bytes(const Launch& l, const Shape4& s) {
  const int64_t N = s.N, C = s.C, L = s.L();
  std::size_t bytes = gcc::kernels::batchnorm_forward_train_workspace_bytes(l, N, C, L);
  const std::size_t more[] = {gcc::kernels::batchnorm_forward_eval_workspace_bytes(C),
                              gcc::kernels::batchnorm_backward_workspace_bytes(l, N, C, L),
                              v3_workspace_bytes(l, N, C, L)};
  for (std::size_t m : more) bytes = m > bytes ? m : bytes;
  return bytes;
}

void run_train(int v, const Launch& l, const Dev& d, const Shape4& s) {
  const int64_t N = s.N, C = s.C, L = s.L();
  if (v == 1) {
    bn_train_v1<<<static_cast<unsigned>(C), l.threads, 0, l.stream>>>(d.x, d.w, d.b, d.rm, d.rv, kMomentum, kEps, d.y,
                                                                      d.sm, d.si, N, C, L);
    driver::check(gcc::kernels::launched("bn_train_v1"), "train v1");
  } else if (v == 2) {
    driver::check(gcc::kernels::batchnorm_forward_train(l, d.x, d.w, d.b, d.rm, d.rv, kMomentum, kEps, d.y, d.sm,
                                                        d.si, N, C, L, d.ws),
                  "train v2");
  } else {
    driver::check(train_v3(l, d.x, d.w, d.b, d.rm, d.rv, d.y, d.sm, d.si, N, C, L, d.ws), "train v3");
  }
}

// Eval forward of version v (v3: v2's), with rm / rv as the running statistics.
void run_eval(int v, const Launch& l, const Dev& d, const Shape4& s) {
  const int64_t N = s.N, C = s.C, L = s.L();
  if (v == 1) {
    bn_eval_v1<<<static_cast<unsigned>(C), l.threads, 0, l.stream>>>(d.x, d.w, d.b, d.rm, d.rv, kEps, d.y, N, C, L);
    driver::check(gcc::kernels::launched("bn_eval_v1"), "eval v1");
  } else {
    driver::check(gcc::kernels::batchnorm_forward_eval(l, d.x, d.w, d.b, d.rm, d.rv, kEps, d.y, N, C, L, d.ws),
                  "eval v2");
  }
}

// Backward of version v (v3: v2's). mean / istd_or_var: save_mean / save_invstd (training) or the
// running statistics (eval).
void run_backward(int v, const Launch& l, const float* gy, const float* x, const float* w, const float* mean,
                  const float* istd_or_var, bool training, float* gx, float* gw, float* gb, void* ws, const Shape4& s) {
  const int64_t N = s.N, C = s.C, L = s.L();
  if (v == 1) {
    bn_backward_v1<<<static_cast<unsigned>(C), l.threads, 0, l.stream>>>(gy, x, w, mean, istd_or_var, training, kEps,
                                                                         gx, gw, gb, N, C, L);
    driver::check(gcc::kernels::launched("bn_backward_v1"), "backward v1");
  } else {
    driver::check(gcc::kernels::batchnorm_backward(l, gy, x, w, training ? nullptr : mean,
                                                   training ? nullptr : istd_or_var, training ? mean : nullptr,
                                                   training ? istd_or_var : nullptr, training, kEps, gx, gw, gb, N, C,
                                                   L, ws),
                  "backward v2");
  }
}

std::vector<float> concat(std::initializer_list<const std::vector<float>*> parts) {
  std::vector<float> out;
  for (const std::vector<float>* p : parts) out.insert(out.end(), p->begin(), p->end());
  return out;
}

// One problem: inputs, and the CPU's results computed once for every version and launch shape.
struct Problem {
  Shape4 s;
  bool affine;  // weight, bias and running statistics defined
  std::vector<float> x, w, b, rm, rv, gy;
  TrainOut train;
  std::vector<float> eval_y, gx_t, gw_t, gb_t, gx_e, gw_e, gb_e;

  Problem(const Shape4& shape, bool with_affine) : s(shape), affine(with_affine) {
    driver::Rng rng(1000 + static_cast<uint64_t>(s.numel()) * 7 + static_cast<uint64_t>(s.C));
    x = driver::random_vector(s.numel(), rng, -0.5f, 1.5f);  // mean 0.5: the two-pass formula matters
    gy = driver::random_vector(s.numel(), rng);
    rm = driver::random_vector(s.C, rng, -0.2f, 0.2f);
    rv = driver::random_vector(s.C, rng, 0.5f, 1.5f);
    if (affine) {
      w = driver::random_vector(s.C, rng, 0.5f, 1.5f);
      b = driver::random_vector(s.C, rng, -0.5f, 0.5f);
      train.running_mean = rm;
      train.running_var = rv;
    }
    train_cpu(x, w, b, train, s.N, s.C, s.L());
    eval_y = eval_cpu(x, w, b, rm, rv, s.N, s.C, s.L());
    backward_cpu(gy, x, w, train.save_mean, train.save_invstd, true, gx_t, gw_t, gb_t, s.N, s.C, s.L());
    backward_cpu(gy, x, w, rm, rv, false, gx_e, gw_e, gb_e, s.N, s.C, s.L());
  }
};

// Version v at block size `threads` (and SM count `sm`, 0: the card's) against the CPU: training
// forward (y; saved and running statistics), eval forward, backward in both modes.
bool check(int v, int threads, int sm, const Problem& p) {
  Launch l = gcc::kernels::launch_on(nullptr, threads);
  if (sm > 0) l.sm_count = sm;
  const Shape4& s = p.s;
  driver::Buffer<float> x(p.x), gy(p.gy), w(p.w), b(p.b), rm(p.rm), rv(p.rv), y(s.numel()), sm_(s.C), si(s.C);
  driver::Buffer<char> ws(workspace_bytes(l, s));
  Dev d{x.get(), p.affine ? w.get() : nullptr, p.affine ? b.get() : nullptr, p.affine ? rm.get() : nullptr,
        p.affine ? rv.get() : nullptr, y.get(), sm_.get(), si.get(), ws.get()};
  char what[128];
  std::snprintf(what, sizeof what, "v%d block %d sm %d [%lld,%lld,%lld,%lld]%s", v, threads, l.sm_count,
                static_cast<long long>(s.N), static_cast<long long>(s.C), static_cast<long long>(s.H),
                static_cast<long long>(s.W), p.affine ? "" : " no affine");
  std::printf("  %s\n", what);
  bool ok = true;
  // Training forward. Statistics: float roundings of double values (v3: of another formula).
  run_train(v, l, d, s);
  ok = driver::compare("train y", p.train.y, y.download(), 1e-6, 1e-6) && ok;
  const std::vector<float> ref_stats =
      concat({&p.train.save_mean, &p.train.save_invstd, &p.train.running_mean, &p.train.running_var});
  std::vector<float> got_sm = sm_.download(), got_si = si.download(), got_rm, got_rv;
  if (p.affine) {
    got_rm = rm.download();
    got_rv = rv.download();
  }
  ok = driver::compare("train saved / running statistics", ref_stats, concat({&got_sm, &got_si, &got_rm, &got_rv}),
                       1e-7, 1e-6) && ok;
  if (v == 3) return ok;  // v3 differs from v2 in the training forward only
  // Eval forward, with the original running statistics (and weight / bias when affine).
  rm.upload(p.rm);
  rv.upload(p.rv);
  const Dev e{x.get(), d.w, d.b, rm.get(), rv.get(), y.get(), nullptr, nullptr, ws.get()};
  run_eval(v, l, e, s);
  ok = driver::compare("eval y", p.eval_y, y.download(), 1e-6, 1e-6) && ok;
  // Backward, from the CPU's saved statistics (training) or the running ones (eval).
  driver::Buffer<float> csm(p.train.save_mean), csi(p.train.save_invstd), gx(s.numel()), gw(s.C), gb(s.C);
  run_backward(v, l, gy.get(), x.get(), d.w, csm.get(), csi.get(), true, gx.get(), gw.get(), gb.get(), ws.get(), s);
  ok = driver::compare("backward (training) gx", p.gx_t, gx.download(), 1e-6, 1e-6) && ok;
  std::vector<float> got_gw = gw.download(), got_gb = gb.download();
  ok = driver::compare("backward (training) gweight, gbias", concat({&p.gw_t, &p.gb_t}), concat({&got_gw, &got_gb}),
                       1e-6, 1e-6) && ok;
  run_backward(v, l, gy.get(), x.get(), d.w, rm.get(), rv.get(), false, gx.get(), gw.get(), gb.get(), ws.get(), s);
  ok = driver::compare("backward (eval) gx", p.gx_e, gx.download(), 1e-6, 1e-6) && ok;
  got_gw = gw.download();
  got_gb = gb.download();
  ok = driver::compare("backward (eval) gweight, gbias", concat({&p.gw_e, &p.gb_e}), concat({&got_gw, &got_gb}), 1e-6,
                       1e-6) && ok;
  return ok;
}

// The rest of channel.cuh as the layers use it: bias gradients (channel_sum) and y += bias
// (add_channel_bias) of linear ([N, out, 1]) and conv2d ([N, Co, Ho*Wo]) layers.
bool check_channel_ops(int threads, int64_t N, int64_t C, int64_t L) {
  const Launch l = gcc::kernels::launch_on(nullptr, threads);
  driver::Rng rng(77 + static_cast<uint64_t>(N * C * L));
  const std::vector<float> x = driver::random_vector(N * C * L, rng), bias = driver::random_vector(C, rng);
  std::vector<float> sum_ref(C), y_ref(x);
  for (int64_t c = 0; c < C; ++c) {
    double s = 0;
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < L; ++j) s += x[(i * C + c) * L + j];
    sum_ref[c] = static_cast<float>(s);
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < L; ++j) y_ref[(i * C + c) * L + j] += bias[c];
  }
  driver::Buffer<float> dx(x), db(bias), dout(C);
  const gcc::kernels::ChannelReducePlan plan = gcc::kernels::plan_channel_reduce(l, N, C, L);
  driver::Buffer<char> partial(gcc::kernels::channel_partial_bytes(plan, 1));
  driver::check(gcc::kernels::channel_sum(l, plan, dx.get(), dout.get(), reinterpret_cast<double*>(partial.get())),
                "channel_sum");
  driver::check(gcc::kernels::add_channel_bias(l, dx.get(), db.get(), N, C, L), "add_channel_bias");
  char what[96];
  std::snprintf(what, sizeof what, "channel_sum block %d [%lld,%lld,%lld]", threads, static_cast<long long>(N),
                static_cast<long long>(C), static_cast<long long>(L));
  // a double sum in another order, rounded to float: equal but at a rounding boundary
  const bool ok = driver::compare(what, sum_ref, dout.download(), 1e-7, 1e-6);
  return driver::compare("  add_channel_bias (exact)", y_ref, dx.download(), 0.0, 0.0) && ok;
}

}  // namespace

int main(int argc, char** argv) {
  const driver::Args args = driver::parse_args(argc, argv, 3,
      "batchnorm: batch-norm training forward, eval forward and backward (gcc/kernels/batchnorm.cuh), versions\n"
      "1-3 checked against the CPU and timed at ResNet-18's shapes (batch 256)");
  if (!driver::gpu_present("batchnorm")) return 1;
  const driver::Card card = driver::card();
  driver::print_card(card, "batchnorm");
  bool ok = true;
  std::printf("correctness (against the CPU reference; 1e-6 relative: see the header):\n");
  // Small and odd shapes (N = 1, L = 1, sizes off multiples of 32, channels split in G > 1 blocks with
  // chunks that end inside an image), every launch shape; ResNet-18's shapes at the library's.
  const std::vector<Shape4> small = {{1, 4, 1, 2}, {2, 3, 1, 1}, {3, 5, 7, 9}, {300, 17, 1, 1},
                                     {1, 7, 61, 67}, {5, 2, 37, 41}, {8, 33, 13, 11}, {64, 3, 50, 50}};
  const std::vector<Shape4> resnet = {{256, 64, 32, 32}, {256, 128, 16, 16}, {256, 256, 8, 8}, {256, 512, 4, 4}};
  for (const Shape4& s : small) {
    for (bool affine : {true, false}) {
      const Problem p(s, affine);
      for (int v = 1; v <= 3; ++v) {
        if (!driver::wanted(args, v)) continue;
        for (int threads : {32, 128, 256, 1024}) ok = check(v, threads, 0, p) && ok;
        if (v >= 2)  // other splits of the reduction: one SM (G = 1 mostly), a huge card (G up to the cap)
          for (int sm : {1, 1000}) ok = check(v, 256, sm, p) && ok;
      }
    }
  }
  for (const Shape4& s : resnet) {
    const Problem p(s, true);
    for (int v = 1; v <= 3; ++v)
      if (driver::wanted(args, v)) ok = check(v, 256, 0, p) && ok;
  }
  std::printf("channel_sum / add_channel_bias (library):\n");
  for (int threads : {64, 256, 1024}) {
    ok = check_channel_ops(threads, 1, 1, 1) && ok;
    ok = check_channel_ops(threads, 37, 11, 1) && ok;
    ok = check_channel_ops(threads, 256, 512, 1) && ok;
    ok = check_channel_ops(threads, 3, 5, 63) && ok;
    ok = check_channel_ops(threads, 256, 64, 1024) && ok;
  }
  if (!args.check_only) {
    std::printf("timing (median of %d calls; bytes = what the version moves: training forward reads x three\n"
                "times (v3 twice) and writes y, eval reads x and writes y, backward reads gy and x twice and\n"
                "writes gx):\n", args.repeat);
    for (const Shape4& s : resnet) {
      driver::Rng rng(5);
      const int64_t n = s.numel();
      driver::Buffer<float> x(driver::random_vector(n, rng)), gy(driver::random_vector(n, rng)), y(n), gx(n);
      driver::Buffer<float> w(driver::random_vector(s.C, rng, 0.5f, 1.5f)), b(driver::random_vector(s.C, rng));
      driver::Buffer<float> rm(driver::random_vector(s.C, rng)), rv(driver::random_vector(s.C, rng, 0.5f, 1.5f));
      driver::Buffer<float> sm(s.C), si(s.C), gw(s.C), gb(s.C);
      char shape[48];
      std::snprintf(shape, sizeof shape, "[%lld, %lld, %lld, %lld]", static_cast<long long>(s.N),
                    static_cast<long long>(s.C), static_cast<long long>(s.H), static_cast<long long>(s.W));
      for (int v = 1; v <= 3; ++v) {
        if (!driver::wanted(args, v)) continue;
        for (int threads : {128, 256, 512}) {
          if (v == 1 && threads != 256) continue;
          const Launch l = gcc::kernels::launch_on(nullptr, threads);
          driver::Buffer<char> ws(workspace_bytes(l, s));
          const Dev d{x.get(), w.get(), b.get(), rm.get(), rv.get(), y.get(), sm.get(), si.get(), ws.get()};
          char version[40];
          std::snprintf(version, sizeof version, "train v%d block %d", v, threads);
          double ms = driver::time_ms(nullptr, args.repeat, [&] { run_train(v, l, d, s); });
          driver::print_timing(card, version, shape, ms, (v == 3 ? 12.0 : 16.0) * n, 0.0);
          if (v == 3) continue;
          std::snprintf(version, sizeof version, "eval v%d block %d", v, threads);
          ms = driver::time_ms(nullptr, args.repeat, [&] { run_eval(v, l, d, s); });
          driver::print_timing(card, version, shape, ms, 8.0 * n, 0.0);
          std::snprintf(version, sizeof version, "backward v%d block %d", v, threads);
          ms = driver::time_ms(nullptr, args.repeat, [&] {
            run_backward(v, l, gy.get(), x.get(), w.get(), sm.get(), si.get(), true, gx.get(), gw.get(), gb.get(),
                         ws.get(), s);
          });
          driver::print_timing(card, version, shape, ms, 20.0 * n, 0.0);
        }
      }
    }
  }
  std::printf(ok ? "batchnorm: every check passed\n" : "batchnorm: CHECKS FAILED\n");
  return ok ? 0 : 1;
}
