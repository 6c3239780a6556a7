// Error checks for CUDA runtime, cuBLAS and cuDNN calls: a failing call throws gcc::Error naming the
// call's text, the error's name and description, and file:line (library code never exits).
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <string>

#include "../core/error.hpp"

namespace gcc {
namespace cuda {
namespace impl {

// cuDNN 9 keeps a more specific message for the last failure on this thread; empty when none.
inline std::string cudnn_last_message() {
#if defined(CUDNN_MAJOR) && CUDNN_MAJOR >= 9
  char buf[512] = {0};
  cudnnGetLastErrorString(buf, sizeof(buf));
  return std::string(buf);
#else
  return std::string();
#endif
}

}  // namespace impl
}  // namespace cuda
}  // namespace gcc

// GCC_CUDA_CHECK(cudaMalloc(&p, n)) throws "CUDA call `cudaMalloc(&p, n)` failed:
// cudaErrorMemoryAllocation (out of memory) [file:line]". The (non-sticky) error is cleared first so
// that a caller who catches the exception can go on.
#define GCC_CUDA_CHECK(call)                                                                      \
  do {                                                                                            \
    const cudaError_t gcc_cuda_err_ = (call);                                                     \
    if (gcc_cuda_err_ != cudaSuccess) {                                                           \
      (void)cudaGetLastError();                                                                   \
      ::gcc::detail::throw_error(__FILE__, __LINE__, "CUDA call `" #call "` failed: ",            \
                                 cudaGetErrorName(gcc_cuda_err_), " (",                           \
                                 cudaGetErrorString(gcc_cuda_err_), ")");                         \
    }                                                                                             \
  } while (0)

#define GCC_CUBLAS_CHECK(call)                                                                    \
  do {                                                                                            \
    const cublasStatus_t gcc_cublas_st_ = (call);                                                 \
    if (gcc_cublas_st_ != CUBLAS_STATUS_SUCCESS) {                                                \
      ::gcc::detail::throw_error(__FILE__, __LINE__, "cuBLAS call `" #call "` failed: ",          \
                                 cublasGetStatusName(gcc_cublas_st_), " (",                       \
                                 cublasGetStatusString(gcc_cublas_st_), ")");                     \
    }                                                                                             \
  } while (0)

#define GCC_CUDNN_CHECK(call)                                                                     \
  do {                                                                                            \
    const cudnnStatus_t gcc_cudnn_st_ = (call);                                                   \
    if (gcc_cudnn_st_ != CUDNN_STATUS_SUCCESS) {                                                  \
      const std::string gcc_cudnn_msg_ = ::gcc::cuda::impl::cudnn_last_message();               \
      ::gcc::detail::throw_error(__FILE__, __LINE__, "cuDNN call `" #call "` failed: ",           \
                                 cudnnGetErrorString(gcc_cudnn_st_),                              \
                                 gcc_cudnn_msg_.empty() ? "" : " (", gcc_cudnn_msg_,              \
                                 gcc_cudnn_msg_.empty() ? "" : ")");                              \
    }                                                                                             \
  } while (0)

// GCC_KERNEL_CHECK(kernels::sgd_update(...)) throws gcc::Error when a launcher of gcc/kernels/ reports
// a failure (its kernels::Status): the launcher's text, the failing call, the CUDA or cuBLAS error.
#define GCC_KERNEL_CHECK(launch_expr)                                                             \
  do {                                                                                            \
    const auto gcc_kernel_st_ = (launch_expr);                                                    \
    if (!gcc_kernel_st_.ok()) {                                                                   \
      (void)cudaGetLastError();                                                                   \
      if (gcc_kernel_st_.cublas != 0)                                                             \
        ::gcc::detail::throw_error(__FILE__, __LINE__, "`" #launch_expr "` failed in cuBLAS call ", \
                                   gcc_kernel_st_.call, ": ",                                     \
                                   cublasGetStatusName(static_cast<cublasStatus_t>(gcc_kernel_st_.cublas))); \
      ::gcc::detail::throw_error(__FILE__, __LINE__, "`" #launch_expr "` failed at ", gcc_kernel_st_.call, \
                                 ": ", cudaGetErrorName(gcc_kernel_st_.cuda), " (",               \
                                 cudaGetErrorString(gcc_kernel_st_.cuda), ")");                   \
    }                                                                                             \
  } while (0)
