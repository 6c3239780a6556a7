// cpu::sgemm's row-major contract on cuBLAS (column-major underneath: C^T = op(B)^T op(A)^T), in full
// FP32 (TF32 tensor-op math switched off for the call) and with host scalars, on raw device pointers.
// Shared by the fused RGC loss (contrastive.cuh) and the kNN graph (knn.cuh). Needs the CUDA runtime
// and cuBLAS (link -lcublas).
#pragma once
#include <cublas_v2.h>

#include <cstdint>

#include "common.cuh"

namespace gcc {
namespace kernels {

// The Status of a failing cuBLAS call `call`.
inline Status cublas_failed(cublasStatus_t st, const char* call) {
  Status s;
  s.cublas = static_cast<int>(st);
  s.call = call;
  return s;
}

// Keeps the handle at plain FP32 math and host scalars for its lifetime, then restores what was set: the
// RGC loss and the kNN graph must match the CPU's float results, whatever other ops set on the shared
// handle. Reports instead of throwing: check status() after construction; whatever it did switch is
// switched back by the destructor even when a later get/set failed.
class Fp32MathGuard {
 public:
  explicit Fp32MathGuard(cublasHandle_t h) : h_(h) {
    cublasStatus_t st = cublasGetMathMode(h_, &prev_);
    if (st != CUBLAS_STATUS_SUCCESS) {
      status_ = cublas_failed(st, "cublasGetMathMode");
      return;
    }
    if (prev_ != CUBLAS_DEFAULT_MATH) {
      st = cublasSetMathMode(h_, CUBLAS_DEFAULT_MATH);
      if (st != CUBLAS_STATUS_SUCCESS) {
        status_ = cublas_failed(st, "cublasSetMathMode");
        return;
      }
      restore_math_ = true;
    }
    st = cublasGetPointerMode(h_, &prev_ptr_);
    if (st != CUBLAS_STATUS_SUCCESS) {
      status_ = cublas_failed(st, "cublasGetPointerMode");
      return;
    }
    if (prev_ptr_ != CUBLAS_POINTER_MODE_HOST) {
      st = cublasSetPointerMode(h_, CUBLAS_POINTER_MODE_HOST);
      if (st != CUBLAS_STATUS_SUCCESS) {
        status_ = cublas_failed(st, "cublasSetPointerMode");
        return;
      }
      restore_ptr_ = true;
    }
  }
  ~Fp32MathGuard() {
    if (restore_math_) (void)cublasSetMathMode(h_, prev_);
    if (restore_ptr_) (void)cublasSetPointerMode(h_, prev_ptr_);
  }
  Fp32MathGuard(const Fp32MathGuard&) = delete;
  Fp32MathGuard& operator=(const Fp32MathGuard&) = delete;

  const Status& status() const { return status_; }

 private:
  cublasHandle_t h_;
  cublasMath_t prev_ = CUBLAS_DEFAULT_MATH;
  cublasPointerMode_t prev_ptr_ = CUBLAS_POINTER_MODE_HOST;
  bool restore_math_ = false, restore_ptr_ = false;
  Status status_;
};

GCC_HEADER_KERNEL void scale_rows_kernel(float* c /* [M, ldc] */, int64_t n_cols, int64_t ldc, int64_t n, float beta) {
  GCC_CUDA_GRID_STRIDE_LOOP(int64_t, e, n) {
    float& v = c[(e / n_cols) * ldc + e % n_cols];
    v = beta == 0.f ? 0.f : beta * v;
  }
}

// C[M,N] = alpha * op(A) * op(B) + beta * C, all row-major device pointers, exactly cpu::sgemm's
// arguments (op(A) is [M,K]: A stored [M,K], or [K,M] when trans_a; op(B) is [K,N]: B stored [K,N],
// or [N,K] when trans_b). lda/ldb/ldc default to the packed row lengths. The CALLER binds `h` to
// l.stream (cublasSetStream): the sgemm runs on the handle's stream, the K == 0 kernel on l.stream.
// Returns cuda = cudaErrorInvalidValue for a negative size or one beyond cuBLAS's 32-bit ints, the
// cuBLAS status of a failing get/set of the handle's modes or of cublasSgemm (`call` names it).
inline Status rowmajor_sgemm(cublasHandle_t h, const Launch& l, bool trans_a, bool trans_b, int64_t M, int64_t N,
                             int64_t K, float alpha, const float* A, const float* B, float beta, float* C,
                             int64_t lda = -1, int64_t ldb = -1, int64_t ldc = -1) {
  if (!(M >= 0 && N >= 0 && K >= 0)) return status_of(cudaErrorInvalidValue, "rowmajor_sgemm: negative size M, N or K");
  if (M == 0 || N == 0) return Status{};
  if (lda < 0) lda = trans_a ? M : K;
  if (ldb < 0) ldb = trans_b ? K : N;
  if (ldc < 0) ldc = N;
  const int64_t lim = int64_t{1} << 31;
  if (!(M < lim && N < lim && K < lim && lda < lim && ldb < lim && ldc < lim))
    return status_of(cudaErrorInvalidValue,
                     "rowmajor_sgemm: M, N, K or a leading dimension exceeds cuBLAS's 32-bit limits");
  if (K == 0) {  // as cpu::sgemm: C = beta * C (exactly 0 when beta == 0, whatever C held)
    const int64_t n = M * N;
    scale_rows_kernel<<<l.grid_for(n), l.threads, 0, l.stream>>>(C, N, ldc, n, beta);
    return launched("scale_rows_kernel");
  }
  Fp32MathGuard fp32(h);
  if (!fp32.status().ok()) return fp32.status();
  const cublasStatus_t st =
      cublasSgemm(h, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, static_cast<int>(N),
                  static_cast<int>(M), static_cast<int>(K), &alpha, B, static_cast<int>(ldb), A, static_cast<int>(lda),
                  &beta, C, static_cast<int>(ldc));
  if (st != CUBLAS_STATUS_SUCCESS) return cublas_failed(st, "cublasSgemm");
  return Status{};
}

}  // namespace kernels
}  // namespace gcc
