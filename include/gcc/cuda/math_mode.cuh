// Floating-point policy of the cuBLAS and cuDNN paths: strict FP32 (no TF32 tensor-core math) unless
// set_allow_tf32(true), and deterministic cuDNN convolutions unless set_deterministic(false); process-wide.
#pragma once
#include <atomic>

#include "check.cuh"

namespace gcc {
namespace cuda {

namespace impl {
inline std::atomic<bool>& allow_tf32_flag() {
  static std::atomic<bool> flag{false};
  return flag;
}
inline std::atomic<bool>& deterministic_flag() {
  static std::atomic<bool> flag{true};
  return flag;
}
}  // namespace impl

// TF32 (FP32 inputs rounded to a 10-bit mantissa inside tensor-core products, FP32 accumulation) for
// matmul / linear (cuBLAS) and conv2d (cuDNN). Off by default: every product is then an FP32 FMA, and
// the GPU agrees with the CPU reference to float rounding (about 1e-6 relative per term). Switched on,
// matrix products and convolutions run several times faster on Ampere/Hopper but differ from the CPU
// by about 1e-3 relative — like torch.backends.cuda.matmul.allow_tf32 / torch.backends.cudnn.allow_tf32.
// Takes effect from the next op (cached convolution algorithms are kept per setting).
inline void set_allow_tf32(bool on) { impl::allow_tf32_flag().store(on, std::memory_order_relaxed); }
inline bool allow_tf32() { return impl::allow_tf32_flag().load(std::memory_order_relaxed); }

// Deterministic cuDNN convolutions (on by default): only algorithms that cuDNN reports as
// CUDNN_DETERMINISTIC are chosen (no float atomics, e.g. in backward-filter), so the same inputs give
// the same bits on every call of a process. Switched off, the fastest measured algorithm is chosen
// whatever its determinism -- like torch.backends.cudnn.deterministic = False (PyTorch's default).
// Only cuDNN convolutions read this flag. Takes effect from the next convolution (cached algorithms
// are kept per setting).
inline void set_deterministic(bool on) { impl::deterministic_flag().store(on, std::memory_order_relaxed); }
inline bool deterministic() { return impl::deterministic_flag().load(std::memory_order_relaxed); }

// cuBLAS: CUBLAS_DEFAULT_MATH never lowers FP32 inputs below FP32 precision (so no TF32);
// CUBLAS_TF32_TENSOR_OP_MATH allows TF32 tensor cores for sgemm.
inline cublasMath_t cublas_math_mode() { return allow_tf32() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH; }

// cuDNN: CUDNN_DEFAULT_MATH PERMITS TF32 for float convolutions on Ampere and newer (cuDNN >= 8), so
// strict FP32 needs CUDNN_FMA_MATH (FMA kernels only), as PyTorch does when allow_tf32 is off.
inline cudnnMathType_t cudnn_math_type() { return allow_tf32() ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH; }

}  // namespace cuda
}  // namespace gcc
