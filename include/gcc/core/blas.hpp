// Row-major single-precision GEMM on the CPU through OpenBLAS (cblas_sgemm), the workhorse of
// convolution (im2col), linear layers and similarity matrices.
#pragma once
#include <cblas.h>

#include <cstdint>

#include "error.hpp"

namespace gcc {
namespace cpu {

// C[M,N] = alpha * op(A) * op(B) + beta * C, row-major. op(A) is [M,K] (A stored [M,K], or [K,M] when
// trans_a); op(B) is [K,N] (B stored [K,N], or [N,K] when trans_b). lda/ldb/ldc default to the packed
// row lengths.
inline void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                  const float* A, const float* B, float beta, float* C, int64_t lda = -1,
                  int64_t ldb = -1, int64_t ldc = -1) {
  GCC_CHECK(M >= 0 && N >= 0 && K >= 0, "sgemm: negative size M=", M, " N=", N, " K=", K);
  if (M == 0 || N == 0) return;
  if (lda < 0) lda = trans_a ? M : K;
  if (ldb < 0) ldb = trans_b ? K : N;
  if (ldc < 0) ldc = N;
  if (K == 0) {  // BLAS leaves C untouched when K == 0 only if beta == 1; make it explicit
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
    return;
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), alpha, A,
              static_cast<int>(lda), B, static_cast<int>(ldb), beta, C, static_cast<int>(ldc));
}

}  // namespace cpu

namespace detail {
// Makes OpenBLAS single-threaded while alive (the previous count comes back after), for GEMMs issued
// from inside an OpenMP region where every thread already owns a core: the pthread build of OpenBLAS
// would otherwise serialise the concurrent calls on its own thread pool, which competes with OpenMP's
// for the same cores. The OpenMP build of OpenBLAS runs nested calls single-threaded by itself.
class BlasSingleThread {
 public:
  BlasSingleThread() {
#ifdef OPENBLAS_CONFIG_H
    if (openblas_get_parallel() == 1) {  // 1: pthreads, 2: OpenMP, 0: sequential
      prev_ = openblas_get_num_threads();
      if (prev_ > 1) openblas_set_num_threads(1);
    }
#endif
  }
  ~BlasSingleThread() {
#ifdef OPENBLAS_CONFIG_H
    if (prev_ > 1) openblas_set_num_threads(prev_);
#endif
  }
  BlasSingleThread(const BlasSingleThread&) = delete;
  BlasSingleThread& operator=(const BlasSingleThread&) = delete;

 private:
  int prev_ = 0;
};
}  // namespace detail
}  // namespace gcc
