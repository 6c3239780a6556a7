// ReLU on raw device pointers (the CUDA side of gcc/ops/activation.hpp's cpu::relu_forward,
// relu_backward): elementwise, with the CPU's comparisons (a NaN input passes through; gradient 0
// where y <= 0). Needs only the CUDA runtime. Driver: kernels/dev/elementwise.cu.
#pragma once
#include <cstdint>

#include "common.cuh"

namespace gcc {
namespace kernels {

GCC_HEADER_KERNEL void relu_forward_kernel(const float* x /* [n] */, float* y /* [n] */, int64_t n) {
  GCC_CUDA_GRID_STRIDE_LOOP(int64_t, i, n) {
    const float v = x[i];
    y[i] = v < 0.f ? 0.f : v;
  }
}

GCC_HEADER_KERNEL void relu_backward_kernel(const float* y /* [n] */, const float* gy /* [n] */, float* gx /* [n] */,
                                            int64_t n) {
  GCC_CUDA_GRID_STRIDE_LOOP(int64_t, i, n) { gx[i] = y[i] <= 0.f ? 0.f : gy[i]; }
}

// y = max(x, 0) over n contiguous elements; a NaN input stays NaN as in torch.relu.
inline Status relu_forward(const Launch& l, const float* x /* [n] */, float* y /* [n] */, int64_t n) {
  if (n == 0) return Status{};
  relu_forward_kernel<<<l.grid_for(n), l.threads, 0, l.stream>>>(x, y, n);
  return launched("relu_forward_kernel");
}

// gx = 0 where y <= 0, else gy (PyTorch's threshold_backward on the output; NaN passes gy).
inline Status relu_backward(const Launch& l, const float* y /* [n] */, const float* gy /* [n] */, float* gx /* [n] */,
                            int64_t n) {
  if (n == 0) return Status{};
  relu_backward_kernel<<<l.grid_for(n), l.threads, 0, l.stream>>>(y, gy, gx, n);
  return launched("relu_backward_kernel");
}

}  // namespace kernels
}  // namespace gcc
