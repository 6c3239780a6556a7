// CUDA versions of the contrastive-loss kernels: the fused RGC loss (gcc/loss/rgc.hpp: one cuBLAS sgemm
// for the logits, then one block per row for both log-sum-exps and the gradient weights) and xlogx (agc.hpp).
#pragma once
#include <cfloat>
#include <cmath>
#include <cstdint>

#include "common.cuh"
#include "gcc/loss/agc.hpp"
#include "gcc/loss/rgc.hpp"
#include "reduce.cuh"
#include "rowmajor_sgemm.cuh"

namespace gcc {
namespace cuda {
namespace impl {

// ---- xlogx ----------------------------------------------------------------------------------------
template <int Unused>
__global__ void xlogx_forward_kernel(const float* x /* [n] */, float* y /* [n] */, int64_t n) {
  GCC_CUDA_GRID_STRIDE_LOOP(int64_t, i, n) {
    const float v = x[i];
    y[i] = v > 0.f ? v * ::logf(v) : 0.f;
  }
}

template <int Unused>
__global__ void xlogx_backward_kernel(const float* x /* [n] */, const float* gy /* [n] */, float* gx /* [n] */,
                                      int64_t n) {
  GCC_CUDA_GRID_STRIDE_LOOP(int64_t, i, n) {
    const float v = x[i];
    gx[i] = gy[i] * (::logf(v > FLT_MIN ? v : FLT_MIN) + 1.f);
  }
}

// ---- RGC ------------------------------------------------------------------------------------------
// One block per anchor row i of s = a C^T / tau (the GEMM's output, [b, M], M = B*b). With log W folded
// into the diagonal columns k*b + i, it computes the log-sum-exp of the positives (columns k*b + i,
// k >= 1) and of the denominator set (every column when denom_all, else every non-positive one), each
// with its own maximum, writes the row loss lse_den - lse_pos to parts[i], and overwrites the row with
// dL_i/dl_ij = softmax over the denominator set - softmax over the positives (doubles, as the CPU).
// Each thread reads and writes only its own columns, so the in-place update needs no barrier; the
// re-reads of the row hit L1.
template <int Unused>
__global__ void rgc_row_kernel(float* s /* [b, M] logits in, gradient weights out */,
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

}  // namespace impl

// y = x log x, 0 for x <= 0.
inline void xlogx_forward(const Tensor& x /* [*] */, const Tensor& y /* [*] */) {
  const int dev = impl::cuda_device_of("xlogx_forward", y);
  impl::check_on_device_contiguous("xlogx_forward", x, "input", dev);
  impl::check_on_device_contiguous("xlogx_forward", y, "output", dev);
  GCC_CHECK(x.numel() == y.numel(), "xlogx_forward: input ", x.shape().str(), " and output ", y.shape().str(),
            " differ in size");
  const int64_t n = x.numel();
  if (n == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  impl::xlogx_forward_kernel<0><<<ctx.grid_for(n), kThreadsPerBlock, 0, ctx.stream()>>>(x.data(), y.data(), n);
  GCC_CUDA_LAUNCH_CHECK();
}

// gx = gy (log max(x, FLT_MIN) + 1).
inline void xlogx_backward(const Tensor& x /* [*] */, const Tensor& gy /* [*] */, const Tensor& gx /* [*] */) {
  const int dev = impl::cuda_device_of("xlogx_backward", gx);
  impl::check_on_device_contiguous("xlogx_backward", x, "input", dev);
  impl::check_on_device_contiguous("xlogx_backward", gy, "output gradient", dev);
  impl::check_on_device_contiguous("xlogx_backward", gx, "input gradient", dev);
  GCC_CHECK(x.numel() == gy.numel() && x.numel() == gx.numel(), "xlogx_backward: input ", x.shape().str(),
            ", gradient ", gy.shape().str(), " and input gradient ", gx.shape().str(), " differ in size");
  const int64_t n = x.numel();
  if (n == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  impl::xlogx_backward_kernel<0><<<ctx.grid_for(n), kThreadsPerBlock, 0, ctx.stream()>>>(x.data(), gy.data(),
                                                                                        gx.data(), n);
  GCC_CUDA_LAUNCH_CHECK();
}

// The fused RGC loss (cpu::rgc_forward): saved = s = a C^T / tau by cuBLAS (FP32), then one block per
// row turns its row of s into the gradient weights in place and writes the row loss; a one-block
// kernel averages the b row losses in double (deterministic). loss is a 0-d (one-element) tensor.
inline void rgc_forward(const Tensor& contrast /* [B*b, D] */, const Tensor& diag_w /* [B, b] */, float tau,
                        bool denom_all, const Tensor& loss /* [1] */, const Tensor& saved /* [b, B*b] */) {
  const int dev = impl::cuda_device_of("rgc_forward", saved);
  impl::check_on_device_contiguous("rgc_forward", contrast, "contrast set", dev);
  impl::check_on_device_contiguous("rgc_forward", diag_w, "diagonal weights", dev);
  impl::check_on_device_contiguous("rgc_forward", loss, "loss", dev);
  impl::check_on_device_contiguous("rgc_forward", saved, "saved logits", dev);
  check_dims("rgc_forward", contrast, 2, "[B*b, D]");
  check_dims("rgc_forward", diag_w, 2, "[B, b]");
  const int64_t B = diag_w.size(0), b = diag_w.size(1), M = B * b, D = contrast.size(1);
  GCC_CHECK(contrast.size(0) == M && saved.dims() == 2 && saved.size(0) == b && saved.size(1) == M &&
                loss.numel() == 1,
            "rgc_forward: contrast ", contrast.shape().str(), ", diagonal weights ", diag_w.shape().str(),
            ", saved ", saved.shape().str(), ", loss ", loss.shape().str(), " do not fit [B*b, D], [B, b], [b, B*b], [1]");
  GCC_CHECK(b >= 1 && B >= 2, "rgc_forward: needs at least 2 blocks of at least 1 row, diagonal weights are ",
            diag_w.shape().str());
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  impl::rowmajor_sgemm(ctx, false, true, b, M, D, 1.f / tau, contrast.data(), contrast.data(), 0.f, saved.data());
  double* parts = static_cast<double*>(ctx.workspace(static_cast<std::size_t>(b) * sizeof(double)));
  const int threads = M >= 1024 ? 256 : 128;
  const int64_t cap = static_cast<int64_t>(ctx.sm_count()) * 8;
  impl::rgc_row_kernel<0><<<static_cast<unsigned>(b < cap ? b : cap), threads, 0, ctx.stream()>>>(
      saved.data(), diag_w.data(), b, M, denom_all, parts);
  GCC_CUDA_LAUNCH_CHECK();
  impl::launch_mean_of_parts(ctx, parts, b, static_cast<double>(b), loss.data());
}

// gcontrast = dL/dC from the gradient weights: two cuBLAS sgemms, as cpu::rgc_backward
// (R^T a into every row, then + R C into the anchor rows), scale = grad_loss / (tau b).
inline void rgc_backward(const Tensor& contrast /* [B*b, D] */, const Tensor& saved /* [b, B*b] */, float tau,
                         float grad_loss, const Tensor& gcontrast /* [B*b, D] */) {
  const int dev = impl::cuda_device_of("rgc_backward", gcontrast);
  impl::check_on_device_contiguous("rgc_backward", contrast, "contrast set", dev);
  impl::check_on_device_contiguous("rgc_backward", saved, "saved gradient weights", dev);
  impl::check_on_device_contiguous("rgc_backward", gcontrast, "contrast gradient", dev);
  check_dims("rgc_backward", contrast, 2, "[B*b, D]");
  check_dims("rgc_backward", saved, 2, "[b, B*b]");
  check_same_shape("rgc_backward", contrast, gcontrast);
  const int64_t b = saved.size(0), M = saved.size(1), D = contrast.size(1);
  GCC_CHECK(contrast.size(0) == M && b >= 1 && M >= b, "rgc_backward: saved ", saved.shape().str(),
            " does not fit the contrast set ", contrast.shape().str());
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  const float scale = grad_loss / (tau * static_cast<float>(b));
  const float* c = contrast.data();
  const float* r = saved.data();
  float* g = gcontrast.data();
  impl::rowmajor_sgemm(ctx, true, false, M, D, b, scale, r, c, 0.f, g);  // R^T a
  impl::rowmajor_sgemm(ctx, false, false, b, D, M, scale, r, c, 1.f, g);  // + R C into the anchor rows
}

}  // namespace cuda
}  // namespace gcc
