// CUDA version of cpu::copy_rows (ops/shape.hpp), the data movement of concat0 / slice0 and their
// gradients: a block of whole rows is one contiguous range, so it is one device-to-device copy (no
// kernel of its own: a pure wrapper over cudaMemcpyAsync on the device's context stream).
#pragma once
#include <cstddef>
#include <cstdint>

#include "../ops/shape.hpp"
#include "context.cuh"
#include "tensor_checks.cuh"

namespace gcc {
namespace cuda {

// dst rows [dst_row, dst_row + rows) = src rows [src_row, src_row + rows), a row being everything
// after dimension 0. src and dst are contiguous with equal trailing dimensions.
inline void copy_rows(const Tensor& src /* [S, ...] */, int64_t src_row, const Tensor& dst /* [D, ...] */,
                      int64_t dst_row, int64_t rows) {
  const int dev = impl::cuda_device_of("copy_rows", dst);
  check_same_device("copy_rows", src, dst);
  GCC_CHECK(src.is_contiguous() && dst.is_contiguous(), "copy_rows: source ", src.shape().str(),
            " and destination ", dst.shape().str(), " must be contiguous");
  GCC_CHECK(src.dims() >= 1 && dst.dims() >= 1, "copy_rows: needs tensors with a dimension 0");
  int64_t inner = 1, dinner = 1;
  for (int i = 1; i < src.dims(); ++i) inner *= src.size(i);
  for (int i = 1; i < dst.dims(); ++i) dinner *= dst.size(i);
  GCC_CHECK(inner == dinner, "copy_rows: rows of ", src.shape().str(), " and ", dst.shape().str(), " differ");
  GCC_CHECK(rows >= 0 && src_row >= 0 && dst_row >= 0 && src_row + rows <= src.size(0) &&
                dst_row + rows <= dst.size(0),
            "copy_rows: rows [", src_row, ", ", src_row + rows, ") of ", src.shape().str(), " to rows [", dst_row,
            ", ", dst_row + rows, ") of ", dst.shape().str(), " out of range");
  const int64_t n = rows * inner;
  if (n == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  GCC_CUDA_CHECK(cudaMemcpyAsync(dst.data() + dst_row * inner, src.data() + src_row * inner,
                                 static_cast<std::size_t>(n) * sizeof(float), cudaMemcpyDeviceToDevice,
                                 ctx.stream()));
}

}  // namespace cuda
}  // namespace gcc
