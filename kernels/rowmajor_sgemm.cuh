// cpu::sgemm's row-major contract on cuBLAS (column-major underneath: C^T = op(B)^T op(A)^T), in
// full FP32 (TF32 tensor-op math switched off for the call), on the context stream. For the fused kernels.
#pragma once
#include <cstdint>

#include "common.cuh"

namespace gcc {
namespace cuda {
namespace impl {

// Keeps the handle at plain FP32 math and host scalars for its lifetime, then restores what was set: the
// RGC loss and the kNN graph must match the CPU's float results, whatever other ops set on the shared handle.
class Fp32MathGuard {
 public:
  explicit Fp32MathGuard(cublasHandle_t h) : h_(h) {
    GCC_CUBLAS_CHECK(cublasGetMathMode(h_, &prev_));
    if (prev_ != CUBLAS_DEFAULT_MATH) GCC_CUBLAS_CHECK(cublasSetMathMode(h_, CUBLAS_DEFAULT_MATH));
    GCC_CUBLAS_CHECK(cublasGetPointerMode(h_, &prev_ptr_));
    if (prev_ptr_ != CUBLAS_POINTER_MODE_HOST) GCC_CUBLAS_CHECK(cublasSetPointerMode(h_, CUBLAS_POINTER_MODE_HOST));
  }
  ~Fp32MathGuard() {
    if (prev_ != CUBLAS_DEFAULT_MATH) (void)cublasSetMathMode(h_, prev_);
    if (prev_ptr_ != CUBLAS_POINTER_MODE_HOST) (void)cublasSetPointerMode(h_, prev_ptr_);
  }
  Fp32MathGuard(const Fp32MathGuard&) = delete;
  Fp32MathGuard& operator=(const Fp32MathGuard&) = delete;

 private:
  cublasHandle_t h_;
  cublasMath_t prev_ = CUBLAS_DEFAULT_MATH;
  cublasPointerMode_t prev_ptr_ = CUBLAS_POINTER_MODE_HOST;
};

template <int Unused>
__global__ void scale_rows_kernel(float* c /* [M, ldc] */, int64_t n_cols, int64_t ldc, int64_t n, float beta) {
  GCC_CUDA_GRID_STRIDE_LOOP(int64_t, e, n) {
    float& v = c[(e / n_cols) * ldc + e % n_cols];
    v = beta == 0.f ? 0.f : beta * v;
  }
}

// C[M,N] = alpha * op(A) * op(B) + beta * C, all row-major device pointers, exactly cpu::sgemm's
// arguments (op(A) is [M,K]: A stored [M,K], or [K,M] when trans_a; op(B) is [K,N]: B stored [K,N],
// or [N,K] when trans_b). lda/ldb/ldc default to the packed row lengths.
inline void rowmajor_sgemm(Context& ctx, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                           const float* A, const float* B, float beta, float* C, int64_t lda = -1,
                           int64_t ldb = -1, int64_t ldc = -1) {
  GCC_CHECK(M >= 0 && N >= 0 && K >= 0, "rowmajor_sgemm: negative size M=", M, " N=", N, " K=", K);
  if (M == 0 || N == 0) return;
  if (lda < 0) lda = trans_a ? M : K;
  if (ldb < 0) ldb = trans_b ? K : N;
  if (ldc < 0) ldc = N;
  const int64_t lim = int64_t{1} << 31;
  GCC_CHECK(M < lim && N < lim && K < lim && lda < lim && ldb < lim && ldc < lim,
            "rowmajor_sgemm: sizes M=", M, " N=", N, " K=", K, " exceed cuBLAS's 32-bit limits");
  if (K == 0) {  // as cpu::sgemm: C = beta * C (exactly 0 when beta == 0, whatever C held)
    const int64_t n = M * N;
    scale_rows_kernel<0><<<ctx.grid_for(n), kThreadsPerBlock, 0, ctx.stream()>>>(C, N, ldc, n, beta);
    GCC_CUDA_LAUNCH_CHECK();
    return;
  }
  cublasHandle_t h = ctx.cublas();
  Fp32MathGuard fp32(h);
  GCC_CUBLAS_CHECK(cublasSgemm(h, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                               static_cast<int>(N), static_cast<int>(M), static_cast<int>(K), &alpha, B,
                               static_cast<int>(ldb), A, static_cast<int>(lda), &beta, C, static_cast<int>(ldc)));
}

}  // namespace impl
}  // namespace cuda
}  // namespace gcc
