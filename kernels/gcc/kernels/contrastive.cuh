// The contrastive-loss kernels on raw device pointers: the fused RGC loss (gcc/loss/rgc.hpp's
// cpu::rgc_forward / rgc_backward: one cuBLAS sgemm for the logits, then one block per row for both
// log-sum-exps and the gradient weights; two sgemms backward) and xlogx (gcc/loss/agc.hpp's entropy
// term). Needs the CUDA runtime and cuBLAS (link -lcublas). Drivers: kernels/dev/rgc.cu, dev/agc.cu.
#pragma once
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "common.cuh"
#include "reduce.cuh"
#include "rowmajor_sgemm.cuh"

namespace gcc {
namespace kernels {

// ---- xlogx ----------------------------------------------------------------------------------------
GCC_HEADER_KERNEL void xlogx_forward_kernel(const float* x /* [n] */, float* y /* [n] */, int64_t n) {
  GCC_CUDA_GRID_STRIDE_LOOP(int64_t, i, n) {
    const float v = x[i];
    y[i] = v > 0.f ? v * ::logf(v) : 0.f;
  }
}

GCC_HEADER_KERNEL void xlogx_backward_kernel(const float* x /* [n] */, const float* gy /* [n] */, float* gx /* [n] */,
                                             int64_t n) {
  GCC_CUDA_GRID_STRIDE_LOOP(int64_t, i, n) {
    const float v = x[i];
    gx[i] = gy[i] * (::logf(v > FLT_MIN ? v : FLT_MIN) + 1.f);
  }
}

// y = x log x over n elements, 0 for x <= 0.
inline Status xlogx_forward(const Launch& l, const float* x /* [n] */, float* y /* [n] */, int64_t n) {
  if (n == 0) return Status{};
  xlogx_forward_kernel<<<l.grid_for(n), l.threads, 0, l.stream>>>(x, y, n);
  return launched("xlogx_forward_kernel");
}

// gx = gy (log max(x, FLT_MIN) + 1) over n elements.
inline Status xlogx_backward(const Launch& l, const float* x /* [n] */, const float* gy /* [n] */,
                             float* gx /* [n] */, int64_t n) {
  if (n == 0) return Status{};
  xlogx_backward_kernel<<<l.grid_for(n), l.threads, 0, l.stream>>>(x, gy, gx, n);
  return launched("xlogx_backward_kernel");
}

// ---- RGC ------------------------------------------------------------------------------------------
// One block per anchor row i of s = a C^T / tau (the GEMM's output, [b, M], M = B*b). With log W folded
// into the diagonal columns k*b + i, it computes the log-sum-exp of the positives (columns k*b + i,
// k >= 1) and of the denominator set (every column when denom_all, else every non-positive one), each
// with its own maximum, writes the row loss lse_den - lse_pos to parts[i], and overwrites the row with
// dL_i/dl_ij = softmax over the denominator set - softmax over the positives (doubles, as the CPU).
// Each thread reads and writes only its own columns, so the in-place update needs no barrier; the
// re-reads of the row hit L1.
GCC_HEADER_KERNEL void rgc_row_kernel(float* s /* [b, M] logits in, gradient weights out */,
                                      const float* diag_w /* [B, b] */, int64_t b, int64_t M, bool denom_all,
                                      double* parts /* [b] */) {
  for (int64_t i = blockIdx.x; i < b; i += gridDim.x) {
    float* si = s + i * M;
    auto logit = [&](int64_t j) -> float {
      const float v = si[j];
      const int64_t k = j / b;
      if (j - k * b != i) return v;
      const float wk = diag_w[k * b + i];
      return v + ::logf(wk > 0.f ? wk : FLT_MIN);
    };
    auto is_pos = [&](int64_t j) { return j >= b && j % b == i; };

    float max_pos = -INFINITY, max_den = -INFINITY;
    for (int64_t j = threadIdx.x; j < M; j += blockDim.x) {
      const float l = logit(j);
      const bool pos = is_pos(j);
      if (pos) max_pos = MaxOp{}(max_pos, l);
      if (denom_all || !pos) max_den = MaxOp{}(max_den, l);
    }
    const double mp = block_allreduce(max_pos, MaxOp{});
    const double md = block_allreduce(max_den, MaxOp{});

    double sum_pos = 0.0, sum_den = 0.0;
    for (int64_t j = threadIdx.x; j < M; j += blockDim.x) {
      const double l = logit(j);
      const bool pos = is_pos(j);
      if (pos) sum_pos += ::exp(l - mp);
      if (denom_all || !pos) sum_den += ::exp(l - md);
    }
    sum_pos = block_allreduce(sum_pos, SumOp{});
    sum_den = block_allreduce(sum_den, SumOp{});
    const double lse_pos = mp + ::log(sum_pos), lse_den = md + ::log(sum_den);
    if (threadIdx.x == 0) parts[i] = lse_den - lse_pos;

    for (int64_t j = threadIdx.x; j < M; j += blockDim.x) {
      const double l = logit(j);
      const bool pos = is_pos(j);
      double g = 0.0;
      if (denom_all || !pos) g += ::exp(l - lse_den);
      if (pos) g -= ::exp(l - lse_pos);
      si[j] = static_cast<float>(g);
    }
  }
}

// Bytes of the `parts` scratch rgc_forward needs: one double per anchor row.
inline std::size_t rgc_parts_bytes(int64_t b) { return static_cast<std::size_t>(b) * sizeof(double); }

// The fused RGC loss (cpu::rgc_forward) for B >= 2 blocks of b >= 1 rows: saved = s = a C^T / tau by
// cuBLAS (FP32; a = the first b rows of contrast), then one block per row turns its row of s into the
// gradient weights in place and writes the row loss to parts; a one-block kernel averages the b row
// losses in double (deterministic) into loss[0]. `h` must be bound to l.stream by the caller.
inline Status rgc_forward(cublasHandle_t h, const Launch& l, const float* contrast /* [B*b, D] */,
                          const float* diag_w /* [B, b] */, int64_t B, int64_t b, int64_t D, float tau,
                          bool denom_all, float* loss /* [1] */, float* saved /* [b, B*b] */,
                          double* parts /* [b] scratch, rgc_parts_bytes(b) */) {
  const int64_t M = B * b;
  GCC_KERNELS_TRY(rowmajor_sgemm(h, l, false, true, b, M, D, 1.f / tau, contrast, contrast, 0.f, saved));
  const int threads = M >= 1024 ? 256 : 128;
  rgc_row_kernel<<<l.capped(b, 8), threads, 0, l.stream>>>(saved, diag_w, b, M, denom_all, parts);
  GCC_KERNELS_TRY(launched("rgc_row_kernel"));
  return mean_of_parts(l, parts, b, static_cast<double>(b), loss);
}

// gcontrast = dL/dC from the gradient weights (cpu::rgc_backward): two cuBLAS sgemms, R^T a into every
// row, then + R C into the anchor rows, scale = grad_loss / (tau b). M = B*b rows of contrast. `h` must
// be bound to l.stream by the caller.
inline Status rgc_backward(cublasHandle_t h, const Launch& l, const float* contrast /* [M, D] */,
                           const float* saved /* [b, M] */, int64_t b, int64_t M, int64_t D, float tau,
                           float grad_loss, float* gcontrast /* [M, D] */) {
  const float scale = grad_loss / (tau * static_cast<float>(b));
  GCC_KERNELS_TRY(rowmajor_sgemm(h, l, true, false, M, D, b, scale, saved, contrast, 0.f, gcontrast));  // R^T a
  return rowmajor_sgemm(h, l, false, false, b, D, M, scale, saved, contrast, 1.f, gcontrast);  // + R C, anchors
}

}  // namespace kernels
}  // namespace gcc
