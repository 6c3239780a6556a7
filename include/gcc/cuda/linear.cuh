// CUDA versions of cpu::gemm_forward (ops/matmul.hpp) and cpu::linear_forward / linear_backward
// (ops/linear.hpp): cuBLAS sgemm on row-major data, strict FP32 unless set_allow_tf32(true).
#pragma once
#include <climits>
#include <cstdint>

#include "../ops/linear.hpp"
#include "../ops/matmul.hpp"
#include "context.cuh"
#include "gcc/kernels/channel.cuh"  // kernels/
#include "math_mode.cuh"
#include "tensor_checks.cuh"

namespace gcc {
namespace cuda {
namespace impl {

// C[M, N] = alpha * op(A) · op(B) + beta * C, all row-major and packed, on the context's stream.
// cuBLAS is column-major, and a row-major X[r, c] is the column-major Xᵀ, so this computes
// Cᵀ[N, M] = op(B)ᵀ · op(A)ᵀ: the operands swap places and keep their transpose flags.
inline void sgemm_row_major(Context& ctx, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                            const float* A /* [M, K] or [K, M] */, const float* B /* [K, N] or [N, K] */,
                            float beta, float* C /* [M, N] */) {
  GCC_CHECK(M >= 0 && N >= 0 && K >= 0, "sgemm (CUDA): negative size M=", M, " N=", N, " K=", K);
  if (M == 0 || N == 0) return;
  GCC_CHECK(M <= INT_MAX && N <= INT_MAX && K <= INT_MAX && M * N <= INT_MAX, "sgemm (CUDA): sizes M=", M,
            " N=", N, " K=", K, " exceed cuBLAS's 32-bit limits");
  DeviceGuard guard(ctx.device());
  cublasHandle_t h = ctx.cublas();
  GCC_CUBLAS_CHECK(cublasSetPointerMode(h, CUBLAS_POINTER_MODE_HOST));
  if (K == 0) {  // an empty sum: C = beta * C (and beta == 0 ignores C's old contents, as BLAS does)
    if (beta == 0.f) {
      GCC_CUDA_CHECK(cudaMemsetAsync(C, 0, static_cast<std::size_t>(M * N) * sizeof(float), ctx.stream()));
    } else if (beta != 1.f) {
      GCC_CUBLAS_CHECK(cublasSscal(h, static_cast<int>(M * N), &beta, C, 1));
    }
    return;
  }
  GCC_CUBLAS_CHECK(cublasSetMathMode(h, cublas_math_mode()));
  const int m = static_cast<int>(M), n = static_cast<int>(N), k = static_cast<int>(K);
  const int lda = trans_a ? m : k;  // row length of A as stored
  const int ldb = trans_b ? k : n;
  GCC_CUBLAS_CHECK(cublasSgemm(h, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k,
                               &alpha, B, ldb, A, lda, &beta, C, n));
}

}  // namespace impl

// c = alpha * op(a) · op(b) + beta * c; op(a) [M, K], op(b) [K, N]; beta == 0 ignores c's contents.
inline void gemm_forward(bool trans_a, bool trans_b, float alpha,
                         const Tensor& a /* [M, K], or [K, M] when trans_a */,
                         const Tensor& b /* [K, N], or [N, K] when trans_b */, float beta,
                         const Tensor& c /* [M, N] */) {
  const int dev = impl::cuda_device_of("gemm_forward", c);
  impl::check_on_device_contiguous("gemm_forward", a, "a", dev);
  impl::check_on_device_contiguous("gemm_forward", b, "b", dev);
  impl::check_on_device_contiguous("gemm_forward", c, "c", dev);
  GCC_CHECK(a.dims() == 2 && b.dims() == 2 && c.dims() == 2, "gemm_forward: needs 2-D tensors, got a ",
            a.shape().str(), ", b ", b.shape().str(), ", c ", c.shape().str());
  const int64_t M = c.size(0), N = c.size(1);
  const int64_t K = trans_a ? a.size(0) : a.size(1);
  GCC_CHECK((trans_a ? a.size(1) : a.size(0)) == M && (trans_b ? b.size(1) : b.size(0)) == K &&
                (trans_b ? b.size(0) : b.size(1)) == N,
            "gemm_forward: a ", a.shape().str(), " (trans_a=", trans_a, ") and b ", b.shape().str(),
            " (trans_b=", trans_b, ") do not give c ", c.shape().str());
  impl::sgemm_row_major(context(dev), trans_a, trans_b, M, N, K, alpha, a.data(), b.data(), beta, c.data());
}

// y = x · wᵀ (+ bias on every row).
inline void linear_forward(const Tensor& x /* [N, in] */, const Tensor& w /* [out, in] */,
                           const Tensor& bias /* [out], or undefined */, const Tensor& y /* [N, out] */) {
  const int dev = impl::cuda_device_of("linear_forward", y);
  impl::check_on_device_contiguous("linear_forward", x, "input", dev);
  impl::check_on_device_contiguous("linear_forward", w, "weight", dev);
  impl::check_on_device_contiguous("linear_forward", y, "output", dev);
  const int64_t N = x.size(0), in = x.size(1), out = w.size(0);
  GCC_CHECK(w.size(1) == in && y.size(0) == N && y.size(1) == out, "linear_forward: input ", x.shape().str(),
            ", weight ", w.shape().str(), " and output ", y.shape().str(), " do not fit");
  Context& ctx = context(dev);
  impl::sgemm_row_major(ctx, false, true, N, out, in, 1.f, x.data(), w.data(), 0.f, y.data());
  if (bias.defined() && N * out > 0) {
    impl::check_on_device_contiguous("linear_forward", bias, "bias", dev);
    DeviceGuard guard(dev);
    GCC_KERNEL_CHECK(kernels::add_channel_bias(ctx.launch(), y.data(), bias.data(), N, out, 1));
  }
}

// Gradients of y = x · wᵀ + b given gy; each output is skipped when undefined.
// gx = gy · w, gw = gyᵀ · x (cuBLAS), gb = column sums of gy (deterministic, in double).
inline void linear_backward(const Tensor& x /* [N, in] */, const Tensor& w /* [out, in] */,
                            const Tensor& gy /* [N, out] */, const Tensor& gx /* [N, in], or undefined */,
                            const Tensor& gw /* [out, in], or undefined */,
                            const Tensor& gb /* [out], or undefined */) {
  const int dev = impl::cuda_device_of("linear_backward", gy);
  impl::check_on_device_contiguous("linear_backward", x, "input", dev);
  impl::check_on_device_contiguous("linear_backward", w, "weight", dev);
  impl::check_on_device_contiguous("linear_backward", gy, "output gradient", dev);
  const int64_t N = x.size(0), in = x.size(1), out = w.size(0);
  GCC_CHECK(gy.size(0) == N && gy.size(1) == out && w.size(1) == in, "linear_backward: input ", x.shape().str(),
            ", weight ", w.shape().str(), " and output gradient ", gy.shape().str(), " do not fit");
  Context& ctx = context(dev);
  if (gx.defined()) {
    impl::check_on_device_contiguous("linear_backward", gx, "input gradient", dev);
    impl::sgemm_row_major(ctx, false, false, N, in, out, 1.f, gy.data(), w.data(), 0.f, gx.data());
  }
  if (gw.defined()) {
    impl::check_on_device_contiguous("linear_backward", gw, "weight gradient", dev);
    impl::sgemm_row_major(ctx, true, false, out, in, N, 1.f, gy.data(), x.data(), 0.f, gw.data());
  }
  if (gb.defined()) {
    impl::check_on_device_contiguous("linear_backward", gb, "bias gradient", dev);
    DeviceGuard guard(dev);
    const kernels::ChannelReducePlan plan = kernels::plan_channel_reduce(ctx.launch(), N, out, 1);
    double* partial = static_cast<double*>(ctx.workspace(kernels::channel_partial_bytes(plan, 1)));
    GCC_KERNEL_CHECK(kernels::channel_sum(ctx.launch(), plan, gy.data(), gb.data(), partial));
  }
}

}  // namespace cuda
}  // namespace gcc
