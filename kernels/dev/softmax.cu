// Driver for the row-normalising kernels of gcc/kernels/softmax.cuh: softmax / log_softmax, L2
// normalisation and cross-entropy, forward and backward. A CPU reference (gcc/ops/softmax.hpp,
// normalize.hpp, cross_entropy.hpp: the same formulas, the same double sums), the versions below checked
// against it for several launch shapes and problem sizes, and a timing sweep over GCC's shapes: cluster
// logits [1536, K] for K = 10 / 20 / 200 (softmax, cross-entropy), embeddings [1536, 128] (L2 rows),
// AGC's column_normalize of [1536, K] (L2 along dim 0), and long rows [128, 60000] (the block path).
//
// A tensor is seen as [outer, len, inner] around the normalised dimension (AxisGeom of reduce.cuh).
//   v1  one thread per slice (o, i): serial loops for the max, the double sum and the writes, the
//       cross-entropy loss summed by a single thread: the textbook kernels.
//   v2  the library (gcc::kernels::softmax_forward, ...): reduce.cuh's launch_axis runs each op's body
//       with one warp per row (rows up to 256 long, or up to 2048 with >= 4 rows per SM), one block per
//       row (longer or fewer rows), or (32, 8) column tiles (inner > 1); cross-entropy's per-row losses
//       summed by one block in double; its backward one grid-stride elementwise pass.
// (reduce.cu's v3 / v4 force the row modes of the same launcher; they apply to these bodies alike.)
// The library keeps v2. Both versions compute the CPU's formulas (maxima skip NaNs, sums of exp and
// dot products in double, the same float roundings, no FMA contraction where the CPU has none), in
// a different summation order, with CUDA's expf (2 ulp) against glibc's: hence the tolerances of
// tests/cuda/op_rows_losses.cu: softmax 2e-6 absolute + 1e-5 relative (log_softmax's gradient scales
// expf's error by |sum gy|), 1e-4 absolute on saturated [-200, 200] logits (float spacing there),
// L2 and cross-entropy 1e-6 + 1e-5 (all-zero L2 input: gy / eps = 1e12 gy, relative only);
// cross-entropy's backward is the same float arithmetic on both sides: bit for bit. v1 is parallel only
// over the slices: 1536 rows are 1536 threads (48 warps for the whole card), a 60000-long row is one
// thread, and along rows neighbouring threads read addresses `len` apart. v2 spreads each row over a warp / block with coalesced reads and deterministic fixed-order
// group reductions (results identical run to run). The timings are owed to a GPU run (README).
//
// Build and run, in a folder holding this file, driver.cuh and a copy of kernels/gcc/ (or in kernels/dev/
// with -I.. instead of -I.); VERSION picks one version, --check skips the timing sweep:
//   nvcc -O3 -std=c++17 -arch=native -I. softmax.cu -o softmax && ./softmax [VERSION] [--check]
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "driver.cuh"
#include "gcc/kernels/softmax.cuh"

namespace {

using gcc::kernels::AxisGeom;
using gcc::kernels::Launch;

constexpr int kVersions = 2;

// ---- CPU reference (gcc/ops: the same loops, accumulations and roundings) -----------------------------
// detail::row_max / row_sum / row_dot: four accumulators along a contiguous row.
float row_max(const float* p, int64_t n) {
  const float inf = std::numeric_limits<float>::infinity();
  float m[4] = {-inf, -inf, -inf, -inf};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; ++k) m[k] = p[i + k] > m[k] ? p[i + k] : m[k];
  for (; i < n; ++i) m[0] = p[i] > m[0] ? p[i] : m[0];
  const float a = m[0] > m[1] ? m[0] : m[1], b = m[2] > m[3] ? m[2] : m[3];
  return a > b ? a : b;
}
double row_sum(const float* p, int64_t n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) s0 += p[i], s1 += p[i + 1], s2 += p[i + 2], s3 += p[i + 3];
  for (; i < n; ++i) s0 += p[i];
  return (s0 + s1) + (s2 + s3);
}
double row_dot(const float* p, const float* q, int64_t n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += static_cast<double>(p[i]) * q[i];
    s1 += static_cast<double>(p[i + 1]) * q[i + 1];
    s2 += static_cast<double>(p[i + 2]) * q[i + 2];
    s3 += static_cast<double>(p[i + 3]) * q[i + 3];
  }
  for (; i < n; ++i) s0 += static_cast<double>(p[i]) * q[i];
  return (s0 + s1) + (s2 + s3);
}

std::size_t at(const AxisGeom& a, int64_t o, int64_t c, int64_t i) {
  return static_cast<std::size_t>((o * a.len + c) * a.inner + i);
}

// cpu::softmax_forward: rows (inner == 1) with the row helpers, other dims one column at a time.
void softmax_cpu(const std::vector<float>& x, const AxisGeom& a, bool log_output, std::vector<float>& y) {
  y.assign(x.size(), 0.f);
  for (int64_t o = 0; o < a.outer; ++o) {
    if (a.inner == 1) {
      const float* xr = x.data() + o * a.len;
      float* yr = y.data() + o * a.len;
      const float m = row_max(xr, a.len);
      for (int64_t c = 0; c < a.len; ++c) yr[c] = std::exp(xr[c] - m);
      const double s = row_sum(yr, a.len);
      if (log_output) {
        const float shift = m + static_cast<float>(std::log(s));
        for (int64_t c = 0; c < a.len; ++c) yr[c] = xr[c] - shift;
      } else {
        const float inv = static_cast<float>(1.0 / s);
        for (int64_t c = 0; c < a.len; ++c) yr[c] *= inv;
      }
      continue;
    }
    for (int64_t i = 0; i < a.inner; ++i) {
      float m = -std::numeric_limits<float>::infinity();
      double s = 0.0;
      for (int64_t c = 0; c < a.len; ++c) m = x[at(a, o, c, i)] > m ? x[at(a, o, c, i)] : m;
      for (int64_t c = 0; c < a.len; ++c) {
        const float e = std::exp(x[at(a, o, c, i)] - m);
        s += e;
        if (!log_output) y[at(a, o, c, i)] = e;
      }
      if (log_output) {
        const float shift = m + static_cast<float>(std::log(s));
        for (int64_t c = 0; c < a.len; ++c) y[at(a, o, c, i)] = x[at(a, o, c, i)] - shift;
      } else {
        const float inv = static_cast<float>(1.0 / s);
        for (int64_t c = 0; c < a.len; ++c) y[at(a, o, c, i)] *= inv;
      }
    }
  }
}

// cpu::softmax_backward: softmax gx = y (gy - sum(gy y)), log_softmax gx = gy - exp(y) sum(gy); the dot
// multiplies in double along rows, in float along the other dims.
void softmax_backward_cpu(const std::vector<float>& y, const std::vector<float>& gy, const AxisGeom& a,
                          bool log_output, std::vector<float>& gx) {
  gx.assign(y.size(), 0.f);
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t i = 0; i < a.inner; ++i) {
      float t;
      if (a.inner == 1) {
        const float* yr = y.data() + o * a.len;
        const float* gr = gy.data() + o * a.len;
        t = static_cast<float>(log_output ? row_sum(gr, a.len) : row_dot(gr, yr, a.len));
      } else {
        double acc = 0.0;
        for (int64_t c = 0; c < a.len; ++c) {
          const std::size_t e = at(a, o, c, i);
          acc += log_output ? gy[e] : gy[e] * y[e];
        }
        t = static_cast<float>(acc);
      }
      for (int64_t c = 0; c < a.len; ++c) {
        const std::size_t e = at(a, o, c, i);
        gx[e] = log_output ? gy[e] - std::exp(y[e]) * t : y[e] * (gy[e] - t);
      }
    }
}

// cpu::l2_normalize_forward: norm = sqrt(double sum of squares), y = x / max(norm, eps).
void l2_cpu(const std::vector<float>& x, const AxisGeom& a, float eps, std::vector<float>& y, std::vector<float>& norm) {
  y.assign(x.size(), 0.f);
  norm.assign(static_cast<std::size_t>(a.outer * a.inner), 0.f);
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t i = 0; i < a.inner; ++i) {
      double ss = 0.0;
      if (a.inner == 1) {
        ss = row_dot(x.data() + o * a.len, x.data() + o * a.len, a.len);
      } else {
        for (int64_t c = 0; c < a.len; ++c) ss += static_cast<double>(x[at(a, o, c, i)]) * x[at(a, o, c, i)];
      }
      const float n = static_cast<float>(std::sqrt(ss));
      norm[o * a.inner + i] = n;
      const float d = n > eps ? n : eps;
      for (int64_t c = 0; c < a.len; ++c) y[at(a, o, c, i)] = x[at(a, o, c, i)] / d;
    }
}

// cpu::l2_normalize_backward: norm >= eps: gx = (gy - y sum(gy y)) / norm, else gx = gy / eps.
void l2_backward_cpu(const std::vector<float>& y, const std::vector<float>& norm, const std::vector<float>& gy,
                     const AxisGeom& a, float eps, std::vector<float>& gx) {
  gx.assign(y.size(), 0.f);
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t i = 0; i < a.inner; ++i) {
      double acc = 0.0;
      if (a.inner == 1) {
        acc = row_dot(gy.data() + o * a.len, y.data() + o * a.len, a.len);
      } else {
        for (int64_t c = 0; c < a.len; ++c) acc += static_cast<double>(gy[at(a, o, c, i)]) * y[at(a, o, c, i)];
      }
      const float n = norm[o * a.inner + i];
      const bool clamped = !(n >= eps);
      const float dot = clamped ? 0.f : static_cast<float>(acc);
      const float d = clamped ? eps : n;
      for (int64_t c = 0; c < a.len; ++c) {
        const std::size_t e = at(a, o, c, i);
        gx[e] = (gy[e] - y[e] * dot) / d;
      }
    }
}

// cpu::cross_entropy_forward / backward on [n, c] logits.
void ce_cpu(const std::vector<float>& x, const std::vector<float>& target, const std::vector<float>& sw, int64_t n,
            int64_t c, float total_weight, std::vector<float>& probs, std::vector<float>& loss) {
  probs.assign(x.size(), 0.f);
  std::vector<double> row_loss(static_cast<std::size_t>(n), 0.0);
  for (int64_t r = 0; r < n; ++r) {
    const float* xr = x.data() + r * c;
    float* p = probs.data() + r * c;
    const float m = row_max(xr, c);
    for (int64_t j = 0; j < c; ++j) p[j] = std::exp(xr[j] - m);
    const double s = row_sum(p, c);
    const float inv = static_cast<float>(1.0 / s);
    for (int64_t j = 0; j < c; ++j) p[j] *= inv;
    if (sw[r] != 0.f) {
      const int64_t t = static_cast<int64_t>(target[r]);
      const float nll = -((xr[t] - m) - static_cast<float>(std::log(s)));
      row_loss[r] = static_cast<double>(sw[r]) * nll;
    }
  }
  double total = 0.0;
  for (int64_t r = 0; r < n; ++r) total += row_loss[r];
  loss.assign(1, total_weight != 0.f ? static_cast<float>(total / total_weight) : 0.f);
}

void ce_backward_cpu(const std::vector<float>& probs, const std::vector<float>& target, const std::vector<float>& sw,
                     int64_t n, int64_t c, float total_weight, float g, std::vector<float>& glogits) {
  glogits.assign(probs.size(), 0.f);
  for (int64_t r = 0; r < n; ++r) {
    if (sw[r] == 0.f || total_weight == 0.f) continue;
    const float scale = g * sw[r] / total_weight;
    for (int64_t j = 0; j < c; ++j) glogits[r * c + j] = scale * probs[r * c + j];
    glogits[r * c + static_cast<int64_t>(target[r])] -= scale;
  }
}

// ---- v1: one thread per slice --------------------------------------------------------------------------
// Slice r = (o, i) of [outer, len, inner]: element c at (o len + c) inner + i.
__device__ __forceinline__ int64_t v1_at(const AxisGeom& a, int64_t r, int64_t c) {
  return ((r / a.inner) * a.len + c) * a.inner + r % a.inner;
}

__global__ void softmax_v1(const float* x, float* y, AxisGeom a, bool log_output) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= a.outer * a.inner) return;
  float m = -INFINITY;
  for (int64_t c = 0; c < a.len; ++c) {
    const float v = x[v1_at(a, r, c)];
    m = v > m ? v : m;
  }
  double sum = 0.0;
  for (int64_t c = 0; c < a.len; ++c) {
    const float v = ::expf(x[v1_at(a, r, c)] - m);
    if (!log_output) y[v1_at(a, r, c)] = v;
    sum += v;
  }
  const float shift = m + static_cast<float>(::log(sum)), inv = static_cast<float>(1.0 / sum);
  for (int64_t c = 0; c < a.len; ++c) {
    const int64_t e = v1_at(a, r, c);
    y[e] = log_output ? x[e] - shift : y[e] * inv;
  }
}

__global__ void softmax_backward_v1(const float* y, const float* gy, float* gx, AxisGeom a, bool log_output) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= a.outer * a.inner) return;
  double acc = 0.0;
  for (int64_t c = 0; c < a.len; ++c) {
    const int64_t e = v1_at(a, r, c);
    if (log_output) acc += gy[e];
    else if (a.inner == 1) acc += static_cast<double>(gy[e]) * y[e];
    else acc += __fmul_rn(gy[e], y[e]);
  }
  const float t = static_cast<float>(acc);
  for (int64_t c = 0; c < a.len; ++c) {
    const int64_t e = v1_at(a, r, c);
    gx[e] = log_output ? gy[e] - __fmul_rn(::expf(y[e]), t) : y[e] * (gy[e] - t);
  }
}

__global__ void l2_v1(const float* x, float eps, float* y, float* norm, AxisGeom a) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= a.outer * a.inner) return;
  double ss = 0.0;
  for (int64_t c = 0; c < a.len; ++c) {
    const double v = x[v1_at(a, r, c)];
    ss += v * v;
  }
  const float n = static_cast<float>(::sqrt(ss));
  norm[r] = n;
  const float d = n > eps ? n : eps;
  for (int64_t c = 0; c < a.len; ++c) y[v1_at(a, r, c)] = x[v1_at(a, r, c)] / d;
}

__global__ void l2_backward_v1(const float* y, const float* norm, const float* gy, float eps, float* gx, AxisGeom a) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= a.outer * a.inner) return;
  double acc = 0.0;
  for (int64_t c = 0; c < a.len; ++c) acc += static_cast<double>(gy[v1_at(a, r, c)]) * y[v1_at(a, r, c)];
  const bool clamped = !(norm[r] >= eps);
  const float dot = clamped ? 0.f : static_cast<float>(acc), d = clamped ? eps : norm[r];
  for (int64_t c = 0; c < a.len; ++c) {
    const int64_t e = v1_at(a, r, c);
    gx[e] = (gy[e] - __fmul_rn(y[e], dot)) / d;
  }
}

__global__ void ce_v1(const float* x, const float* target, const float* sw, float* probs, double* parts, int64_t n,
                      int64_t c) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= n) return;
  const float* xr = x + r * c;
  float* p = probs + r * c;
  float m = -INFINITY;
  for (int64_t j = 0; j < c; ++j) m = xr[j] > m ? xr[j] : m;
  double sum = 0.0;
  for (int64_t j = 0; j < c; ++j) {
    p[j] = ::expf(xr[j] - m);
    sum += p[j];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t j = 0; j < c; ++j) p[j] = p[j] * inv;
  double part = 0.0;
  if (sw[r] != 0.f) {
    const int64_t t = static_cast<int64_t>(target[r]);
    part = static_cast<double>(sw[r]) * -((xr[t] - m) - static_cast<float>(::log(sum)));
  }
  parts[r] = part;
}

__global__ void ce_mean_v1(const double* parts, int64_t n, float total_weight, float* loss) {
  double total = 0.0;
  for (int64_t r = 0; r < n; ++r) total += parts[r];
  loss[0] = total_weight != 0.f ? static_cast<float>(total / total_weight) : 0.f;
}

__global__ void ce_backward_v1(const float* probs, const float* target, const float* sw, float total_weight,
                               const float* gloss, float* glogits, int64_t n, int64_t c) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= n) return;
  const bool zero = sw[r] == 0.f || total_weight == 0.f;
  const float scale = zero ? 0.f : gloss[0] * sw[r] / total_weight;
  const int64_t t = zero ? -1 : static_cast<int64_t>(target[r]);
  for (int64_t j = 0; j < c; ++j) {
    const float v = __fmul_rn(scale, probs[r * c + j]);
    glogits[r * c + j] = zero ? 0.f : (j == t ? v - scale : v);
  }
}

unsigned v1_grid(const Launch& l, int64_t slices) {
  return static_cast<unsigned>(slices > 0 ? (slices + l.threads - 1) / l.threads : 1);
}

// ---- one call of version v ----------------------------------------------------------------------------
void run_softmax(int v, const Launch& l, const float* x, const AxisGeom& a, bool lg, float* y) {
  if (v == 1) {
    if (a.outer * a.inner > 0) softmax_v1<<<v1_grid(l, a.outer * a.inner), l.threads, 0, l.stream>>>(x, y, a, lg);
    driver::check(gcc::kernels::launched("softmax_v1"), "softmax v1");
  } else {
    driver::check(gcc::kernels::softmax_forward(l, x, a, lg, y), "softmax v2");
  }
}

void run_softmax_backward(int v, const Launch& l, const float* y, const float* gy, const AxisGeom& a, bool lg,
                          float* gx) {
  if (v == 1) {
    if (a.outer * a.inner > 0)
      softmax_backward_v1<<<v1_grid(l, a.outer * a.inner), l.threads, 0, l.stream>>>(y, gy, gx, a, lg);
    driver::check(gcc::kernels::launched("softmax_backward_v1"), "softmax backward v1");
  } else {
    driver::check(gcc::kernels::softmax_backward(l, y, gy, a, lg, gx), "softmax backward v2");
  }
}

void run_l2(int v, const Launch& l, const float* x, const AxisGeom& a, float eps, float* y, float* norm) {
  if (v == 1) {
    if (a.outer * a.inner > 0) l2_v1<<<v1_grid(l, a.outer * a.inner), l.threads, 0, l.stream>>>(x, eps, y, norm, a);
    driver::check(gcc::kernels::launched("l2_v1"), "l2_normalize v1");
  } else {
    driver::check(gcc::kernels::l2_normalize_forward(l, x, a, eps, y, norm), "l2_normalize v2");
  }
}

void run_l2_backward(int v, const Launch& l, const float* y, const float* norm, const float* gy, const AxisGeom& a,
                     float eps, float* gx) {
  if (v == 1) {
    if (a.outer * a.inner > 0)
      l2_backward_v1<<<v1_grid(l, a.outer * a.inner), l.threads, 0, l.stream>>>(y, norm, gy, eps, gx, a);
    driver::check(gcc::kernels::launched("l2_backward_v1"), "l2_normalize backward v1");
  } else {
    driver::check(gcc::kernels::l2_normalize_backward(l, y, norm, gy, a, eps, gx), "l2_normalize backward v2");
  }
}

void run_ce(int v, const Launch& l, const float* x, const float* target, const float* sw, int64_t n, int64_t c,
            float tw, float* probs, float* loss, double* parts) {
  if (v == 1) {
    if (n > 0) ce_v1<<<v1_grid(l, n), l.threads, 0, l.stream>>>(x, target, sw, probs, parts, n, c);
    ce_mean_v1<<<1, 1, 0, l.stream>>>(parts, n, tw, loss);
    driver::check(gcc::kernels::launched("ce_v1"), "cross_entropy v1");
  } else {
    driver::check(gcc::kernels::cross_entropy_forward(l, x, target, sw, n, c, tw, probs, loss, parts), "cross_entropy v2");
  }
}

void run_ce_backward(int v, const Launch& l, const float* probs, const float* target, const float* sw, int64_t n,
                     int64_t c, float tw, const float* gloss, float* glogits) {
  if (v == 1) {
    if (n * c > 0) ce_backward_v1<<<v1_grid(l, n), l.threads, 0, l.stream>>>(probs, target, sw, tw, gloss, glogits, n, c);
    driver::check(gcc::kernels::launched("ce_backward_v1"), "cross_entropy backward v1");
  } else {
    driver::check(gcc::kernels::cross_entropy_backward(l, probs, target, sw, n, c, tw, gloss, glogits),
                  "cross_entropy backward v2");
  }
}

// ---- checks -----------------------------------------------------------------------------------------------
std::string label(int v, const Launch& l, const AxisGeom& a, const char* op) {
  char s[120];
  std::snprintf(s, sizeof s, "v%d b%d sm%d %s [%lld,%lld,%lld]", v, l.threads, l.sm_count, op,
                static_cast<long long>(a.outer), static_cast<long long>(a.len), static_cast<long long>(a.inner));
  return s;
}

// softmax and log_softmax, forward then backward (from the CPU's y, so each direction is checked alone).
bool check_softmax(int v, const Launch& l, const AxisGeom& a, float lo, float hi, double atol) {
  const std::size_t n = static_cast<std::size_t>(a.outer * a.len * a.inner);
  driver::Rng rng(17 + 31 * static_cast<uint64_t>(n) + static_cast<uint64_t>(a.inner));
  const std::vector<float> x = driver::random_vector(n, rng, lo, hi), gy = driver::random_vector(n, rng);
  bool ok = true;
  for (int lg = 0; lg < 2; ++lg) {
    std::vector<float> y_ref, gx_ref;
    softmax_cpu(x, a, lg != 0, y_ref);
    softmax_backward_cpu(y_ref, gy, a, lg != 0, gx_ref);
    driver::Buffer<float> dx(x), dgy(gy), dyr(y_ref), dy(n), dgx(n);
    run_softmax(v, l, dx.get(), a, lg != 0, dy.get());
    run_softmax_backward(v, l, dyr.get(), dgy.get(), a, lg != 0, dgx.get());
    ok = driver::compare(label(v, l, a, lg ? "log_softmax" : "softmax").c_str(), y_ref, dy.download(), atol, 1e-5) && ok;
    ok = driver::compare("  backward", gx_ref, dgx.download(), atol, 1e-5) && ok;
  }
  return ok;
}

// L2 normalisation: x in [lo, hi] with slice `zero` (an index < outer * inner, or -1) set to 0.
bool check_l2(int v, const Launch& l, const AxisGeom& a, float lo, float hi, float eps, int64_t zero, double atol) {
  const std::size_t n = static_cast<std::size_t>(a.outer * a.len * a.inner);
  driver::Rng rng(23 + 37 * static_cast<uint64_t>(n) + static_cast<uint64_t>(a.inner));
  std::vector<float> x = driver::random_vector(n, rng, lo, hi);
  const std::vector<float> gy = driver::random_vector(n, rng);
  if (zero >= 0)
    for (int64_t c = 0; c < a.len; ++c) x[at(a, zero / a.inner, c, zero % a.inner)] = 0.f;
  std::vector<float> y_ref, norm_ref, gx_ref;
  l2_cpu(x, a, eps, y_ref, norm_ref);
  l2_backward_cpu(y_ref, norm_ref, gy, a, eps, gx_ref);
  const std::size_t m = norm_ref.size();
  driver::Buffer<float> dx(x), dgy(gy), dyr(y_ref), dnr(norm_ref), dy(n), dn(m), dgx(n);
  run_l2(v, l, dx.get(), a, eps, dy.get(), dn.get());
  run_l2_backward(v, l, dyr.get(), dnr.get(), dgy.get(), a, eps, dgx.get());
  std::vector<float> ref = y_ref, got = dy.download();
  ref.insert(ref.end(), norm_ref.begin(), norm_ref.end());
  const std::vector<float> gn = dn.download();
  got.insert(got.end(), gn.begin(), gn.end());
  bool ok = driver::compare(label(v, l, a, "l2_normalize (y, norm)").c_str(), ref, got, atol, 1e-5);
  return driver::compare("  backward", gx_ref, dgx.download(), atol, 1e-5) && ok;
}

// Cross-entropy on [n, c]: every `masked`-th row (0: none) gets weight 0 and a junk target (never
// read); all_masked: every row (total weight 0: zero loss, zero gradient).
bool check_ce(int v, const Launch& l, int64_t n, int64_t c, float lo, float hi, int64_t masked, bool all_masked,
              double atol) {
  driver::Rng rng(29 + 41 * static_cast<uint64_t>(n) + static_cast<uint64_t>(c));
  const std::vector<float> x = driver::random_vector(static_cast<std::size_t>(n * c), rng, lo, hi);
  std::vector<float> target(static_cast<std::size_t>(n)), sw(static_cast<std::size_t>(n));
  float tw = 0.f;
  for (int64_t r = 0; r < n; ++r) {
    const bool off = all_masked || (masked > 0 && r % masked == masked - 1);
    target[r] = off ? 1e9f : std::floor(rng.uniform(0.f, static_cast<float>(c) - 0.01f));
    sw[r] = off ? 0.f : rng.uniform(0.5f, 1.5f);
    tw += sw[r];
  }
  const float g = 0.75f;
  std::vector<float> probs_ref, loss_ref, gl_ref;
  ce_cpu(x, target, sw, n, c, tw, probs_ref, loss_ref);
  ce_backward_cpu(probs_ref, target, sw, n, c, tw, g, gl_ref);
  driver::Buffer<float> dx(x), dt(target), dw(sw), dpr(probs_ref), dg(std::vector<float>{g}), dp(probs_ref.size()),
      dl(1), dgl(gl_ref.size());
  driver::Buffer<double> parts(static_cast<std::size_t>(n > 0 ? n : 1));
  run_ce(v, l, dx.get(), dt.get(), dw.get(), n, c, tw, dp.get(), dl.get(), parts.get());
  run_ce_backward(v, l, dpr.get(), dt.get(), dw.get(), n, c, tw, dg.get(), dgl.get());
  const AxisGeom a{n, c, 1};
  std::string what = label(v, l, a, "cross_entropy probs");
  if (masked > 0 || all_masked) what += all_masked ? " all masked" : " masked";
  bool ok = driver::compare(what.c_str(), probs_ref, dp.download(), atol, 1e-5);
  ok = driver::compare("  loss", loss_ref, dl.download(), atol, 1e-5) && ok;
  return driver::compare("  backward (exact)", gl_ref, dgl.download(), 0.0, 0.0) && ok;
}

}  // namespace

int main(int argc, char** argv) {
  const driver::Args args = driver::parse_args(argc, argv, kVersions,
      "softmax: softmax / log_softmax, L2 normalisation, cross-entropy forward and backward\n"
      "(gcc/kernels/softmax.cuh), versions 1-2 checked against the CPU and timed over GCC's shapes");
  if (!driver::gpu_present("softmax")) return 1;
  const driver::Card card = driver::card();
  driver::print_card(card, "softmax");
  bool ok = true;

  std::printf("correctness (tolerances of tests/cuda/op_rows_losses.cu, see the header):\n");
  const AxisGeom shapes[] = {
      {1, 1, 1},      {1, 10, 1},    {37, 53, 1},   {1536, 10, 1}, {1536, 20, 1}, {1536, 200, 1},
      {1536, 128, 1}, {3, 2000, 1},  {600, 1000, 1}, {2, 60000, 1}, {1, 37, 53},   {4, 7, 9},
      {1, 3000, 6},   {1, 1536, 200}, {3, 5, 33},    {5, 1, 40},
  };
  Launch small = gcc::kernels::launch_on(nullptr, 128);
  small.sm_count = 1;  // tiny grids: every grid-stride loop goes round many times
  const Launch lib = gcc::kernels::launch_on(nullptr, 256), wide = gcc::kernels::launch_on(nullptr, 1024);
  for (int v = 1; v <= kVersions; ++v) {
    if (!driver::wanted(args, v)) continue;
    for (const Launch& l : {small, lib, wide}) {
      for (const AxisGeom& a : shapes) ok = check_softmax(v, l, a, -3.f, 3.f, 2e-6) && ok;
      ok = check_softmax(v, l, {8, 8, 1}, -200.f, 200.f, 1e-4) && ok;  // saturated rows
      ok = check_softmax(v, l, {1, 8, 8}, -200.f, 200.f, 1e-4) && ok;  // saturated columns
      for (const AxisGeom& a : shapes) ok = check_l2(v, l, a, -1.f, 1.f, 1e-12f, -1, 1e-6) && ok;
      ok = check_l2(v, l, {6, 5, 1}, -1.f, 1.f, 1e-12f, 2, 1e-6) && ok;      // a zero row
      ok = check_l2(v, l, {1, 5, 6}, -1.f, 1.f, 1e-12f, 4, 1e-6) && ok;      // a zero column
      ok = check_l2(v, l, {4, 6, 1}, 0.f, 0.f, 1e-12f, -1, 0.0) && ok;       // all zero: gx = gy / eps
      ok = check_l2(v, l, {1, 4, 6}, 0.f, 0.f, 1e-12f, -1, 0.0) && ok;
      ok = check_l2(v, l, {64, 4, 1}, -0.5f, 0.5f, 0.5f, -1, 1e-6) && ok;   // eps among the norms
      ok = check_l2(v, l, {1, 4, 64}, -0.5f, 0.5f, 0.5f, -1, 1e-6) && ok;
      const int64_t ce_shapes[][2] = {{1, 1}, {1, 10}, {64, 10}, {1536, 10}, {1536, 20}, {1536, 200},
                                      {300, 1000}, {600, 1000}, {3, 60000}};
      for (const auto& s : ce_shapes) ok = check_ce(v, l, s[0], s[1], -3.f, 3.f, 0, false, 1e-6) && ok;
      ok = check_ce(v, l, 64, 10, -3.f, 3.f, 5, false, 1e-6) && ok;    // junk targets masked out
      ok = check_ce(v, l, 1536, 20, -3.f, 3.f, 3, false, 1e-6) && ok;
      ok = check_ce(v, l, 64, 10, -3.f, 3.f, 0, true, 1e-6) && ok;     // total weight 0
      ok = check_ce(v, l, 16, 8, -200.f, 200.f, 0, false, 1e-4) && ok;  // saturated logits
    }
  }

  if (!args.check_only) {
    std::printf("timing (median of %d calls; bytes = one read of each input and one write of each output):\n",
                args.repeat);
    struct Case {
      const char* name;
      AxisGeom a;
    };
    const Case softmax_cases[] = {{"softmax [1536, 10] dim 1", {1536, 10, 1}},
                                  {"softmax [1536, 20] dim 1", {1536, 20, 1}},
                                  {"softmax [1536, 200] dim 1", {1536, 200, 1}},
                                  {"softmax [128, 60000] dim 1", {128, 60000, 1}}};
    const Case l2_cases[] = {{"l2 [1536, 128] dim 1", {1536, 128, 1}},
                             {"l2 [1536, 10] dim 0", {1, 1536, 10}},
                             {"l2 [1536, 200] dim 0", {1, 1536, 200}},
                             {"l2 [128, 60000] dim 1", {128, 60000, 1}}};
    for (int v = 1; v <= kVersions; ++v) {
      if (!driver::wanted(args, v)) continue;
      char version[32];
      for (const Case& s : softmax_cases) {
        const AxisGeom& a = s.a;
        const int64_t n = a.outer * a.len * a.inner;
        driver::Rng rng(3);
        driver::Buffer<float> x(driver::random_vector(n, rng, -3.f, 3.f)), gy(driver::random_vector(n, rng)), y(n), gx(n);
        std::snprintf(version, sizeof version, "v%d fwd", v);
        double ms = driver::time_ms(nullptr, args.repeat, [&] { run_softmax(v, lib, x.get(), a, false, y.get()); });
        driver::print_timing(card, version, s.name, ms, 8.0 * n, 0.0);
        std::snprintf(version, sizeof version, "v%d bwd", v);
        ms = driver::time_ms(nullptr, args.repeat,
                             [&] { run_softmax_backward(v, lib, y.get(), gy.get(), a, false, gx.get()); });
        driver::print_timing(card, version, s.name, ms, 12.0 * n, 0.0);
      }
      for (const Case& s : l2_cases) {
        const AxisGeom& a = s.a;
        const int64_t n = a.outer * a.len * a.inner, m = a.outer * a.inner;
        driver::Rng rng(4);
        driver::Buffer<float> x(driver::random_vector(n, rng)), gy(driver::random_vector(n, rng)), y(n), norm(m), gx(n);
        std::snprintf(version, sizeof version, "v%d fwd", v);
        double ms = driver::time_ms(nullptr, args.repeat, [&] { run_l2(v, lib, x.get(), a, 1e-12f, y.get(), norm.get()); });
        driver::print_timing(card, version, s.name, ms, 8.0 * n + 4.0 * m, 0.0);
        std::snprintf(version, sizeof version, "v%d bwd", v);
        ms = driver::time_ms(nullptr, args.repeat,
                             [&] { run_l2_backward(v, lib, y.get(), norm.get(), gy.get(), a, 1e-12f, gx.get()); });
        driver::print_timing(card, version, s.name, ms, 12.0 * n + 4.0 * m, 0.0);
      }
      for (int64_t c : {int64_t{10}, int64_t{20}, int64_t{200}}) {
        const int64_t n = 1536;
        driver::Rng rng(5);
        std::vector<float> target(n), sw(n, 1.f);
        for (int64_t r = 0; r < n; ++r) target[r] = static_cast<float>(r % c);
        driver::Buffer<float> x(driver::random_vector(n * c, rng, -3.f, 3.f)), t(target), w(sw),
            g(std::vector<float>{1.f}), probs(n * c), loss(1), gl(n * c);
        driver::Buffer<double> parts(n);
        char shape[48];
        std::snprintf(shape, sizeof shape, "cross_entropy [1536, %lld]", static_cast<long long>(c));
        std::snprintf(version, sizeof version, "v%d fwd", v);
        double ms = driver::time_ms(nullptr, args.repeat, [&] {
          run_ce(v, lib, x.get(), t.get(), w.get(), n, c, static_cast<float>(n), probs.get(), loss.get(), parts.get());
        });
        driver::print_timing(card, version, shape, ms, 8.0 * n * c + 16.0 * n, 0.0);
        std::snprintf(version, sizeof version, "v%d bwd", v);
        ms = driver::time_ms(nullptr, args.repeat, [&] {
          run_ce_backward(v, lib, probs.get(), t.get(), w.get(), n, c, static_cast<float>(n), g.get(), gl.get());
        });
        driver::print_timing(card, version, shape, ms, 8.0 * n * c + 8.0 * n, 0.0);
      }
    }
  }
  std::printf(ok ? "softmax: every check passed\n" : "softmax: CHECKS FAILED\n");
  return ok ? 0 : 1;
}
