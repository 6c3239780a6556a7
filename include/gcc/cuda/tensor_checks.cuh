// Argument checks shared by the Tensor-level wrappers of include/gcc/cuda/ (the kernels of
// gcc/kernels/ take raw pointers and check nothing): device, contiguity, element counts.
#pragma once
#include "../core/tensor.hpp"

namespace gcc {
namespace cuda {
namespace impl {

// Throws unless t lives on a CUDA device; returns its index.
inline int cuda_device_of(const char* op, const Tensor& t) {
  GCC_CHECK(t.defined(), op, ": a tensor argument is undefined");
  GCC_CHECK(t.device().is_cuda(), op, ": CUDA kernel called with a tensor on ", t.device().str());
  return t.device().index;
}

// t is defined, on cuda:dev and contiguous.
inline void check_on_device_contiguous(const char* op, const Tensor& t, const char* what, int dev) {
  GCC_CHECK(t.defined(), op, ": ", what, " is undefined");
  GCC_CHECK(t.device().is_cuda() && t.device().index == dev, op, ": ", what, " of shape ", t.shape().str(),
            " is on ", t.device().str(), ", expected cuda:", dev);
  GCC_CHECK(t.is_contiguous(), op, ": ", what, " of shape ", t.shape().str(), " must be contiguous");
}

// An optional tensor (undefined is allowed): on cuda:dev, contiguous, with `numel` elements.
inline void check_optional(const char* op, const Tensor& t, const char* what, int dev, int64_t numel) {
  if (!t.defined()) return;
  check_on_device_contiguous(op, t, what, dev);
  GCC_CHECK(t.numel() == numel, op, ": ", what, " of shape ", t.shape().str(), " should have ", numel, " elements");
}

// A required tensor: on cuda:dev, contiguous, with `numel` elements.
inline void check_numel(const char* op, const Tensor& t, const char* what, int dev, int64_t numel) {
  GCC_CHECK(t.defined(), op, ": ", what, " is undefined");
  check_optional(op, t, what, dev, numel);
}

// t is defined, on ref's device, contiguous and as large as ref (`ref_what` names ref in the message).
inline void check_like(const char* op, const Tensor& t, const char* what, const Tensor& ref, const char* ref_what) {
  GCC_CHECK(t.defined(), op, ": ", what, " is undefined");
  check_same_device(op, t, ref);
  GCC_CHECK(t.is_contiguous(), op, ": ", what, " of shape ", t.shape().str(), " must be contiguous");
  GCC_CHECK(t.numel() == ref.numel(), op, ": ", what, " of shape ", t.shape().str(), " does not match ", ref_what,
            ref.shape().str());
}

inline const float* opt_data(const Tensor& t) { return t.defined() ? t.data() : nullptr; }
inline float* opt_mutable(const Tensor& t) { return t.defined() ? t.data() : nullptr; }

}  // namespace impl
}  // namespace cuda
}  // namespace gcc
