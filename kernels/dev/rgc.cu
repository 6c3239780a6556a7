// Driver for the fused RGC loss of gcc/kernels/contrastive.cuh (the CUDA side of gcc/loss/rgc.hpp's
// cpu::rgc_forward / rgc_backward): logits s = a C^T / tau of the b anchors against the B*b rows of the
// contrast set, log W folded into the diagonal columns, per row the log-sum-exp of the positives
// (columns k*b + i, k >= 1) and of the denominator set (every column in phase 1, denom_all; every
// non-positive one in phase 2), the row loss lse_den - lse_pos averaged over the rows, and the gradient
// weights softmax_den - softmax_pos overwriting the logits; backward dC = scale (R^T a + R C [anchors]).
//
//   v1  unfused, textbook: a naive one-thread-per-output FP32 GEMM for the logits and for backward, the
//       logits materialised, then separate kernels with global round trips: log W into the diagonal,
//       one thread per row for the two maxima, one thread per row for the two exp-sums (double), one
//       thread per element for the gradient weights, one thread summing the row losses in order.
//   v2  the library: cuBLAS FP32 sgemms (gcc::kernels::rowmajor_sgemm) and one block per row doing
//       both maxima, both sums and the gradient in one kernel (gcc::kernels::rgc_forward /
//       rgc_backward), the row losses averaged by a one-block kernel (mean_of_parts).
//
// Checks, per version and launch shape, each stage against the CPU: (1) the logits against exact
// double products within the FP32 GEMM's rounding bound gamma_{D+1} |alpha| sum |a c| (cuBLAS may
// sum in any order); (2) the row pass (loss and gradient weights) against cpu::rgc_forward's row code
// run on the version's OWN float logits: phase 1 (all weights 1, log 1 = 0) agrees to one float
// rounding of identical doubles (rtol 2.5e-7); phase 2 to 4e-6 relative because device logf and the
// host's logf may differ by one ulp in log W (the positives' logits then differ by <= 1 ulp, ~1e-6
// of exp); (3) backward from the version's own weights against double products within the GEMMs'
// bound. The library keeps v2: cuBLAS runs the GEMMs at a large fraction of FP32 peak where the naive
// GEMM re-reads its operands from memory for every output; the fused row kernel reads the [b, B*b]
// logits once from DRAM/L2 (the re-reads hit L1) and writes them once, where v1 makes five passes and
// two global round trips of per-row statistics and leaves most SMs idle in its one-thread-per-row
// kernels (b = 256 threads). Both are deterministic (fixed reduction orders). The GB/s and GFLOP/s
// are printed by the sweep (README; the figures are owed to a GPU run). At b = 256 the logits are
// 1.3-2.6 MB, so the row pass runs from L2 and its "GB/s" may exceed the DRAM peak.
//
// Build and run, in a folder holding this file, driver.cuh and a copy of kernels/gcc/ (or in kernels/dev/
// with -I.. instead of -I.); VERSION picks one version, --check skips the timing sweep:
//   nvcc -O3 -std=c++17 -arch=native -I. rgc.cu -o rgc -lcublas && ./rgc [VERSION] [--check]
#include <cublas_v2.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <vector>

#include "driver.cuh"
#include "gcc/kernels/contrastive.cuh"

namespace {

using gcc::kernels::Launch;

// ---- problems ------------------------------------------------------------------------------------------
struct Problem {
  int64_t B = 2, b = 1, D = 1;
  bool denom_all = true;  // phase 1; phase 2: false, blocks k >= 2 weighted
  float tau = 0.1f;
  std::vector<float> contrast;  // [B*b, D]
  std::vector<float> diag_w;    // [B, b]
  int64_t M() const { return B * b; }
};

// Block 0 = random unit anchors, block k >= 1 = normalise(anchor + 0.5 noise) (positives are similar);
// phase 2 as gcc::rgc_loss builds it: blocks k >= 2 scaled row-wise by their weight w_k[i] in [0.05, 1]
// (one weight 0: log W is clamped at log FLT_MIN), which also weights their diagonal.
Problem make_problem(int64_t B, int64_t b, int64_t D, bool phase2, float tau, uint64_t seed) {
  Problem p;
  p.B = B, p.b = b, p.D = D, p.denom_all = !phase2, p.tau = tau;
  driver::Rng rng(seed);
  p.contrast.resize(static_cast<std::size_t>(B * b * D));
  p.diag_w.assign(static_cast<std::size_t>(B * b), 1.f);
  for (int64_t k = 0; k < B; ++k)
    for (int64_t i = 0; i < b; ++i) {
      float* row = p.contrast.data() + (k * b + i) * D;
      const float* anchor = p.contrast.data() + i * D;
      double n2 = 0.0;
      for (int64_t d = 0; d < D; ++d) {
        row[d] = k == 0 ? rng.uniform(-1.f, 1.f) : anchor[d] + 0.5f * rng.uniform(-1.f, 1.f);
        n2 += static_cast<double>(row[d]) * row[d];
      }
      const float w = phase2 && k >= 2 ? (k == 2 && i == 0 ? 0.f : rng.uniform(0.05f, 1.f)) : 1.f;
      p.diag_w[static_cast<std::size_t>(k * b + i)] = w;
      for (int64_t d = 0; d < D; ++d) row[d] = static_cast<float>(row[d] / std::sqrt(n2)) * w;
    }
  return p;
}

// ---- CPU reference (gcc/loss/rgc.hpp) ------------------------------------------------------------------
constexpr double kU = 0x1.0p-24;  // unit roundoff of float
double gamma_n(int64_t n) { return n * kU / (1.0 - n * kU); }

// Exact logits alpha * a C^T in double, and the largest FP32 GEMM error bound over them.
void logits_cpu(const Problem& p, float alpha, std::vector<float>& s, double& bound) {
  const int64_t b = p.b, M = p.M(), D = p.D;
  s.resize(static_cast<std::size_t>(b * M));
  bound = 0.0;
  for (int64_t i = 0; i < b; ++i)
    for (int64_t j = 0; j < M; ++j) {
      double v = 0.0, a = 0.0;
      for (int64_t d = 0; d < D; ++d) {
        const double t = static_cast<double>(p.contrast[i * D + d]) * p.contrast[j * D + d];
        v += t;
        a += std::fabs(t);
      }
      s[static_cast<std::size_t>(i * M + j)] = static_cast<float>(alpha * v);
      bound = std::max(bound, gamma_n(D + 1) * std::fabs(alpha) * a);
    }
}

// cpu::rgc_forward's row pass on the float logits s (in place: the gradient weights), returns the loss.
float row_pass_cpu(const Problem& p, std::vector<float>& s) {
  const int64_t B = p.B, b = p.b, M = p.M();
  double total = 0;
  for (int64_t i = 0; i < b; ++i) {
    float* si = s.data() + i * M;
    for (int64_t k = 0; k < B; ++k) {
      const float wk = p.diag_w[static_cast<std::size_t>(k * b + i)];
      si[k * b + i] += std::log(wk > 0.f ? wk : FLT_MIN);
    }
    auto is_pos = [&](int64_t j) { return j >= b && j % b == i; };
    double max_pos = -INFINITY, max_den = max_pos;
    for (int64_t j = 0; j < M; ++j) {
      if (is_pos(j) && si[j] > max_pos) max_pos = si[j];
      if ((p.denom_all || !is_pos(j)) && si[j] > max_den) max_den = si[j];
    }
    double sum_pos = 0, sum_den = 0;
    for (int64_t j = 0; j < M; ++j) {
      if (is_pos(j)) sum_pos += std::exp(si[j] - max_pos);
      if (p.denom_all || !is_pos(j)) sum_den += std::exp(si[j] - max_den);
    }
    const double lse_pos = max_pos + std::log(sum_pos), lse_den = max_den + std::log(sum_den);
    total += lse_den - lse_pos;
    for (int64_t j = 0; j < M; ++j) {
      double g = 0;
      if (p.denom_all || !is_pos(j)) g += std::exp(si[j] - lse_den);
      if (is_pos(j)) g -= std::exp(si[j] - lse_pos);
      si[j] = static_cast<float>(g);
    }
  }
  return static_cast<float>(total / static_cast<double>(b));
}

// cpu::rgc_backward in double from the weights r [b, M]: g = scale (R^T a + R C [anchor rows]), and the
// largest error bound of the two FP32 GEMMs (the second accumulating with beta = 1).
void backward_cpu(const Problem& p, const std::vector<float>& r, float scale, std::vector<float>& g, double& bound) {
  const int64_t b = p.b, M = p.M(), D = p.D;
  const std::vector<float>& c = p.contrast;
  g.assign(static_cast<std::size_t>(M * D), 0.f);
  bound = 0.0;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t d = 0; d < D; ++d) {
      double v1 = 0.0, a1 = 0.0, v2 = 0.0, a2 = 0.0;
      for (int64_t i = 0; i < b; ++i) {
        const double t = static_cast<double>(r[i * M + m]) * c[i * D + d];
        v1 += t, a1 += std::fabs(t);
      }
      if (m < b)
        for (int64_t j = 0; j < M; ++j) {
          const double t = static_cast<double>(r[m * M + j]) * c[j * D + d];
          v2 += t, a2 += std::fabs(t);
        }
      g[static_cast<std::size_t>(m * D + d)] = static_cast<float>(scale * (v1 + v2));
      bound = std::max(bound, std::fabs(scale) * (gamma_n(b + 2) * a1 + gamma_n(M + 2) * a2));
    }
}

// ---- v1: unfused ---------------------------------------------------------------------------------------
// C[m, n] = alpha sum_k A[m sam + k sak] B[k sbk + n sbn] (+ beta C[m, n] when beta != 0), one thread each.
__global__ void gemm_v1(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t sam, int64_t sak,
                        const float* B, int64_t sbk, int64_t sbn, float beta, float* C /* [M, N] */) {
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= M * N) return;
  const int64_t m = e / N, n = e % N;
  float acc = 0.f;
  for (int64_t k = 0; k < K; ++k) acc += A[m * sam + k * sak] * B[k * sbk + n * sbn];
  const float r = alpha * acc;
  C[e] = beta != 0.f ? r + beta * C[e] : r;
}

// s[i, k b + i] += log W[k, i] (the CPU's order: the weight folded into the stored logit).
__global__ void rgc_diag_v1(float* s /* [b, M] */, const float* w /* [B, b] */, int64_t B, int64_t b, int64_t M) {
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= B * b) return;
  const int64_t k = e / b, i = e % b;
  const float wk = w[e];
  s[i * M + k * b + i] += logf(wk > 0.f ? wk : FLT_MIN);
}

__device__ __forceinline__ bool rgc_is_pos(int64_t i, int64_t j, int64_t b) { return j >= b && j % b == i; }

// stats[i] = {max_pos, max_den, lse_pos, lse_den}: the maxima (one thread per row).
__global__ void rgc_rowmax_v1(const float* s, int64_t b, int64_t M, bool denom_all, double* stats /* [b, 4] */) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= b) return;
  float mp = -INFINITY, md = -INFINITY;
  for (int64_t j = 0; j < M; ++j) {
    const float l = s[i * M + j];
    const bool pos = rgc_is_pos(i, j, b);
    if (pos && l > mp) mp = l;
    if ((denom_all || !pos) && l > md) md = l;
  }
  stats[i * 4 + 0] = mp;
  stats[i * 4 + 1] = md;
}

// The two exp-sums in double, the log-sum-exps and the row loss (one thread per row).
__global__ void rgc_sumexp_v1(const float* s, int64_t b, int64_t M, bool denom_all, double* stats, double* parts) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= b) return;
  const double mp = stats[i * 4 + 0], md = stats[i * 4 + 1];
  double sp = 0.0, sd = 0.0;
  for (int64_t j = 0; j < M; ++j) {
    const double l = s[i * M + j];
    const bool pos = rgc_is_pos(i, j, b);
    if (pos) sp += exp(l - mp);
    if (denom_all || !pos) sd += exp(l - md);
  }
  const double lse_pos = mp + log(sp), lse_den = md + log(sd);
  stats[i * 4 + 2] = lse_pos;
  stats[i * 4 + 3] = lse_den;
  parts[i] = lse_den - lse_pos;
}

// The gradient weights in place, one thread per element.
__global__ void rgc_grad_v1(float* s, int64_t b, int64_t M, bool denom_all, const double* stats) {
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= b * M) return;
  const int64_t i = e / M, j = e % M;
  const double l = s[e];
  const bool pos = rgc_is_pos(i, j, b);
  double g = 0.0;
  if (denom_all || !pos) g += exp(l - stats[i * 4 + 3]);
  if (pos) g -= exp(l - stats[i * 4 + 2]);
  s[e] = static_cast<float>(g);
}

__global__ void rgc_mean_v1(const double* parts, int64_t b, float* loss) {
  double t = 0.0;
  for (int64_t i = 0; i < b; ++i) t += parts[i];
  loss[0] = static_cast<float>(t / static_cast<double>(b));
}

// ---- the versions on device buffers --------------------------------------------------------------------
struct Gpu {
  cublasHandle_t h = nullptr;
  Gpu() {
    if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS || cublasSetStream(h, nullptr) != CUBLAS_STATUS_SUCCESS) {
      std::fprintf(stderr, "rgc: cuBLAS initialisation failed\n");
      std::exit(1);
    }
  }
  ~Gpu() { cublasDestroy(h); }
};

// How a version launches: v1's block size; v2 through the launcher (sm_count as given) or, when
// row_threads > 0, its row kernel called directly with that block size.
struct Shape {
  int threads = 256;
  int row_threads = 0;
  const char* name = "";
};

struct Buffers {
  driver::Buffer<float> contrast, diag_w, saved, loss, grad;
  driver::Buffer<double> parts, stats;
  explicit Buffers(const Problem& p)
      : contrast(p.contrast), diag_w(p.diag_w), saved(static_cast<std::size_t>(p.b * p.M())), loss(1),
        grad(static_cast<std::size_t>(p.M() * p.D)), parts(static_cast<std::size_t>(p.b)),
        stats(static_cast<std::size_t>(4 * p.b)) {}
};

unsigned blocks(int64_t n, int threads) { return static_cast<unsigned>(std::max<int64_t>(1, (n + threads - 1) / threads)); }

// The logits alone into `out` [b, M], as version v computes them.
void logits(int v, const Gpu& g, const Launch& l, const Shape& sh, const Problem& p, const Buffers& d, float* out) {
  const int64_t b = p.b, M = p.M(), D = p.D;
  if (v == 1) {
    gemm_v1<<<blocks(b * M, sh.threads), sh.threads, 0, l.stream>>>(b, M, D, 1.f / p.tau, d.contrast.get(), D, 1,
                                                                    d.contrast.get(), 1, D, 0.f, out);
    driver::check(gcc::kernels::launched("gemm_v1"), "rgc v1 logits");
  } else {  // the call rgc_forward makes (same arguments: cuBLAS gives the same bits)
    driver::check(gcc::kernels::rowmajor_sgemm(g.h, l, false, true, b, M, D, 1.f / p.tau, d.contrast.get(),
                                               d.contrast.get(), 0.f, out), "rgc v2 logits");
  }
}

// The row pass of version v on the logits in d.saved: gradient weights in place, the loss into d.loss.
void row_pass(int v, const Launch& l, const Shape& sh, const Problem& p, const Buffers& d) {
  const int64_t B = p.B, b = p.b, M = p.M();
  if (v == 1) {
    const int t = sh.threads;
    rgc_diag_v1<<<blocks(B * b, t), t, 0, l.stream>>>(d.saved.get(), d.diag_w.get(), B, b, M);
    rgc_rowmax_v1<<<blocks(b, t), t, 0, l.stream>>>(d.saved.get(), b, M, p.denom_all, d.stats.get());
    rgc_sumexp_v1<<<blocks(b, t), t, 0, l.stream>>>(d.saved.get(), b, M, p.denom_all, d.stats.get(), d.parts.get());
    rgc_grad_v1<<<blocks(b * M, t), t, 0, l.stream>>>(d.saved.get(), b, M, p.denom_all, d.stats.get());
    rgc_mean_v1<<<1, 1, 0, l.stream>>>(d.parts.get(), b, d.loss.get());
    driver::check(gcc::kernels::launched("rgc v1 row kernels"), "rgc v1 row pass");
  } else {  // the launcher's row kernel configuration, or the block size under test
    const int threads = sh.row_threads > 0 ? sh.row_threads : (M >= 1024 ? 256 : 128);
    gcc::kernels::rgc_row_kernel<<<l.capped(b, 8), threads, 0, l.stream>>>(d.saved.get(), d.diag_w.get(), b, M,
                                                                            p.denom_all, d.parts.get());
    driver::check(gcc::kernels::launched("rgc_row_kernel"), "rgc v2 row pass");
    driver::check(gcc::kernels::mean_of_parts(l, d.parts.get(), b, static_cast<double>(b), d.loss.get()), "rgc v2 mean");
  }
}

void forward(int v, const Gpu& g, const Launch& l, const Shape& sh, const Problem& p, const Buffers& d) {
  if (v == 2 && sh.row_threads == 0) {
    driver::check(gcc::kernels::rgc_forward(g.h, l, d.contrast.get(), d.diag_w.get(), p.B, p.b, p.D, p.tau,
                                            p.denom_all, d.loss.get(), d.saved.get(), d.parts.get()), "rgc v2 forward");
    return;
  }
  logits(v, g, l, sh, p, d, d.saved.get());
  row_pass(v, l, sh, p, d);
}

void backward(int v, const Gpu& g, const Launch& l, const Shape& sh, const Problem& p, const Buffers& d, float grad_loss) {
  const int64_t b = p.b, M = p.M(), D = p.D;
  if (v == 2) {
    driver::check(gcc::kernels::rgc_backward(g.h, l, d.contrast.get(), d.saved.get(), b, M, D, p.tau, grad_loss,
                                             d.grad.get()), "rgc v2 backward");
    return;
  }
  const float scale = grad_loss / (p.tau * static_cast<float>(b));
  const int t = sh.threads;
  // R^T a into every row ([M, D], K = b), then + R C into the anchor rows ([b, D], K = M).
  gemm_v1<<<blocks(M * D, t), t, 0, l.stream>>>(M, D, b, scale, d.saved.get(), 1, M, d.contrast.get(), D, 1, 0.f,
                                                d.grad.get());
  gemm_v1<<<blocks(b * D, t), t, 0, l.stream>>>(b, D, M, scale, d.saved.get(), M, 1, d.contrast.get(), D, 1, 1.f,
                                                d.grad.get());
  driver::check(gcc::kernels::launched("gemm_v1"), "rgc v1 backward");
}

// ---- checks --------------------------------------------------------------------------------------------
bool check(int v, const Gpu& g, const Launch& l, const Shape& sh, const Problem& p, const std::vector<float>& ref_logits,
           double logit_bound) {
  Buffers d(p);
  char what[128];
  const char* phase = p.denom_all ? "ph1" : "ph2";
  std::snprintf(what, sizeof what, "v%d %s %s B %lld b %lld D %lld tau %g", v, sh.name, phase,
                static_cast<long long>(p.B), static_cast<long long>(p.b), static_cast<long long>(p.D), p.tau);
  std::printf("  %s\n", what);
  // (1) this version's logits
  driver::Buffer<float> own(static_cast<std::size_t>(p.b * p.M()));
  logits(v, g, l, sh, p, d, own.get());
  std::vector<float> s = own.download();
  bool ok = driver::compare("    logits (FP32 GEMM bound)", ref_logits, s, logit_bound, kU);
  // (2) the row pass: loss and weights against the CPU's row code on the same float logits
  const float ref_loss = row_pass_cpu(p, s);
  forward(v, g, l, sh, p, d);
  const std::vector<float> saved = d.saved.download();
  const double rtol = p.denom_all ? 2.5e-7 : 4e-6;
  ok = driver::compare("    gradient weights", s, saved, 1e-12, rtol) && ok;
  ok = driver::compare("    loss", {ref_loss}, d.loss.download(), p.denom_all ? 0.0 : 2e-6, 2.5e-7) && ok;
  // (3) backward from this version's weights
  const float grad_loss = 0.75f;
  std::vector<float> ref_g;
  double gb = 0.0;
  backward_cpu(p, saved, grad_loss / (p.tau * static_cast<float>(p.b)), ref_g, gb);
  backward(v, g, l, sh, p, d, grad_loss);
  return driver::compare("    contrast gradient (FP32 GEMM bound)", ref_g, d.grad.download(), gb, kU) && ok;
}

}  // namespace

int main(int argc, char** argv) {
  const driver::Args args = driver::parse_args(argc, argv, 2,
      "rgc: the fused RGC loss (gcc/kernels/contrastive.cuh), forward + backward, versions 1-2 checked stage by\n"
      "stage against the CPU and timed at b = 256 / 512, D = 128, phase 1 (B = 2) and phase 2 (B = 5)");
  if (!driver::gpu_present("rgc")) return 1;
  const driver::Card card = driver::card();
  driver::print_card(card, "rgc");
  const Gpu g;
  const Launch lib = gcc::kernels::launch_on(nullptr);
  Launch one_sm = lib;
  one_sm.sm_count = 1;  // at most 8 row blocks: each loops over many rows
  bool ok = true;

  std::printf("correctness (logits / gradient to the FP32 GEMM bound; row pass to float rounding, see the top):\n");
  struct Size {
    int64_t B, b, D;
    bool phase2;
    float tau;
  };
  const Size sizes[] = {{2, 1, 1, false, 0.1f},    {5, 1, 5, true, 0.1f},     {2, 37, 128, false, 0.1f},
                        {5, 37, 128, true, 0.1f},  {3, 300, 17, true, 0.1f},  {2, 256, 128, false, 0.1f},
                        {5, 256, 128, true, 0.1f}, {2, 256, 128, false, 0.01f}, {2, 600, 128, false, 0.1f},
                        {5, 512, 64, true, 0.1f}};
  for (const Size& z : sizes) {
    const Problem p = make_problem(z.B, z.b, z.D, z.phase2, z.tau, 1000 + static_cast<uint64_t>(z.B * z.b * z.D));
    std::vector<float> ref_logits;
    double bound = 0.0;
    logits_cpu(p, 1.f / p.tau, ref_logits, bound);
    for (int v = 1; v <= 2; ++v) {
      if (!driver::wanted(args, v)) continue;
      if (v == 1) {
        for (int t : {64, 256}) ok = check(1, g, lib, Shape{t, 0, t == 64 ? "t64" : "t256"}, p, ref_logits, bound) && ok;
      } else {
        ok = check(2, g, lib, Shape{256, 0, "launcher"}, p, ref_logits, bound) && ok;
        ok = check(2, g, one_sm, Shape{256, 0, "launcher 1 SM"}, p, ref_logits, bound) && ok;
        ok = check(2, g, lib, Shape{256, 32, "rows t32"}, p, ref_logits, bound) && ok;
        ok = check(2, g, lib, Shape{256, 1024, "rows t1024"}, p, ref_logits, bound) && ok;
      }
    }
  }

  if (!args.check_only) {
    std::printf("timing (median of %d calls; row pass: 8 b B b bytes, the logits read and written once;\n"
                "logits sgemm 2 b (B b) D flops, backward 4 b (B b) D):\n", args.repeat);
    for (const Size& z : {Size{2, 256, 128, false, 0.1f}, Size{5, 256, 128, true, 0.1f},
                          Size{2, 512, 128, false, 0.1f}, Size{5, 512, 128, true, 0.1f}}) {
      const Problem p = make_problem(z.B, z.b, z.D, z.phase2, z.tau, 7);
      const Buffers d(p);
      const double bM = static_cast<double>(p.b) * p.M();
      char shape[64];
      std::snprintf(shape, sizeof shape, "%s B %lld b %lld D %lld", z.phase2 ? "phase 2" : "phase 1",
                    static_cast<long long>(p.B), static_cast<long long>(p.b), static_cast<long long>(p.D));
      for (int v = 1; v <= 2; ++v) {
        if (!driver::wanted(args, v)) continue;
        const Shape sh{256, 0, ""};
        char version[32];
        const double t_logits = driver::time_ms(nullptr, args.repeat, [&] { logits(v, g, lib, sh, p, d, d.saved.get()); });
        std::snprintf(version, sizeof version, "v%d logits sgemm", v);
        driver::print_timing(card, version, shape, t_logits, 0.0, 2.0 * bM * p.D);
        const double t_row = driver::time_ms(nullptr, args.repeat, [&] { row_pass(v, lib, sh, p, d); });
        std::snprintf(version, sizeof version, "v%d row pass", v);
        driver::print_timing(card, version, shape, t_row, 8.0 * bM, 0.0);
        const double t_fwd = driver::time_ms(nullptr, args.repeat, [&] { forward(v, g, lib, sh, p, d); });
        std::snprintf(version, sizeof version, "v%d forward", v);
        driver::print_timing(card, version, shape, t_fwd, 0.0, 2.0 * bM * p.D);
        const double t_bwd = driver::time_ms(nullptr, args.repeat, [&] { backward(v, g, lib, sh, p, d, 1.f); });
        std::snprintf(version, sizeof version, "v%d backward sgemms", v);
        driver::print_timing(card, version, shape, t_bwd, 0.0, 4.0 * bM * p.D);
      }
    }
  }
  std::printf(ok ? "rgc: every check passed\n" : "rgc: CHECKS FAILED\n");
  return ok ? 0 : 1;
}
