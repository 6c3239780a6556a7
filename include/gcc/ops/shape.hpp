// Differentiable shape ops: reshape / flatten (views of contiguous tensors), concat0 and slice0
// (copies along dimension 0). One row-copy kernel does all the data movement, forward and backward.
#pragma once
#include <algorithm>
#include <cstring>
#include <vector>

#include "dispatch.hpp"

namespace gcc {
namespace cpu {

// dst rows [dst_row, dst_row + rows) = src rows [src_row, src_row + rows), a row being everything
// after dimension 0. src and dst are contiguous with equal trailing dimensions.
inline void copy_rows(const Tensor& src /* [S, ...] */, int64_t src_row, const Tensor& dst /* [D, ...] */,
                      int64_t dst_row, int64_t rows) {
  int64_t inner = 1;
  for (int i = 1; i < src.dims(); ++i) inner *= src.size(i);
  const int64_t n = rows * inner;
  if (n == 0) return;
  const float* sp = src.data() + src_row * inner;
  float* dp = dst.data() + dst_row * inner;
  constexpr int64_t kChunk = 1 << 16;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  parallel_for(chunks, [&](int64_t c) {
    const int64_t b = c * kChunk, e = std::min(n, b + kChunk);
    std::memcpy(dp + b, sp + b, static_cast<std::size_t>(e - b) * sizeof(float));
  }, 2);
}

}  // namespace cpu

GCC_CUDA_SLOT(copy_rows, const Tensor&, int64_t, const Tensor&, int64_t, int64_t)

// The same values with a new shape of the same element count: a view (shared memory) when x is
// contiguous, a copy otherwise. The gradient is reshaped back to x's shape.
inline Tensor reshape(const Tensor& x, const Shape& shape) {
  GCC_CHECK(x.defined(), "reshape: input is undefined");
  GCC_CHECK(shape.numel() == x.numel(), "reshape: cannot reshape ", x.shape().str(), " (", x.numel(),
            " elements) to ", shape.str(), " (", shape.numel(), " elements)");
  Tensor y = x.contiguous().view(shape);  // view() drops autograd history
  if (any_requires_grad(x)) {
    Tape::record(y, "reshape", [x](const Tensor& gy) {
      accumulate_grad(x, gy.contiguous().view(x.shape()));
    });
  }
  return y;
}

// [N, d1, d2, ...] -> [N, d1 * d2 * ...] (torch.flatten(x, 1)); needs at least 2 dimensions.
inline Tensor flatten(const Tensor& x) {
  GCC_CHECK(x.defined(), "flatten: input is undefined");
  GCC_CHECK(x.dims() >= 2, "flatten: expected a tensor [N, ...] with at least 2 dimensions, got shape ",
            x.shape().str());
  int64_t rest = 1;
  for (int i = 1; i < x.dims(); ++i) rest *= x.size(i);
  return reshape(x, Shape{x.size(0), rest});
}

// Concatenation along dimension 0 (torch.cat(parts, 0)): every part has the same number of dimensions
// (at least 1) and the same trailing dimensions. The gradient is sliced back to each part.
inline Tensor concat0(const std::vector<Tensor>& parts) {
  GCC_CHECK(!parts.empty(), "concat0: needs at least one tensor");
  const Tensor& first = parts[0];
  GCC_CHECK(first.defined(), "concat0: part 0 is undefined");
  GCC_CHECK(first.dims() >= 1, "concat0: part 0 is a scalar (shape []); parts need a dimension 0");
  int64_t rows = 0;
  for (std::size_t k = 0; k < parts.size(); ++k) {
    const Tensor& p = parts[k];
    GCC_CHECK(p.defined(), "concat0: part ", k, " is undefined");
    GCC_CHECK(p.device() == first.device(), "concat0: part ", k, " is on ", p.device().str(),
              ", part 0 on ", first.device().str(), "; move them with .to(device)");
    bool same = p.dims() == first.dims();
    for (int i = 1; same && i < p.dims(); ++i) same = p.size(i) == first.size(i);
    GCC_CHECK(same, "concat0: part ", k, " has shape ", p.shape().str(), ", part 0 has shape ",
              first.shape().str(), "; all dimensions but the first must match");
    rows += p.size(0);
  }
  std::vector<int64_t> dims = first.shape().vec();
  dims[0] = rows;
  Tensor y = Tensor::empty(Shape(dims), first.device());
  std::vector<int64_t> offsets(parts.size());
  int64_t off = 0;
  for (std::size_t k = 0; k < parts.size(); ++k) {
    offsets[k] = off;
    const Tensor pc = parts[k].contiguous();
    GCC_DISPATCH(copy_rows, y.device(), pc, int64_t{0}, y, off, pc.size(0));
    off += pc.size(0);
  }
  if (any_requires_grad_list(parts)) {
    Tape::record(y, "concat0", [parts, offsets](const Tensor& gy) {
      const Tensor g = gy.contiguous();
      for (std::size_t k = 0; k < parts.size(); ++k) {
        if (!parts[k].requires_grad()) continue;
        Tensor gp = Tensor::empty(parts[k].shape(), g.device());
        GCC_DISPATCH(copy_rows, g.device(), g, offsets[k], gp, int64_t{0}, parts[k].size(0));
        accumulate_grad_fresh(parts[k], gp);
      }
    });
  }
  return y;
}

// Rows [begin, end) of dimension 0 as a new tensor (a copy, like x[begin:end].clone()). The gradient
// is scattered into zeros of x's shape.
inline Tensor slice0(const Tensor& x, int64_t begin, int64_t end) {
  GCC_CHECK(x.defined(), "slice0: input is undefined");
  GCC_CHECK(x.dims() >= 1, "slice0: input is a scalar (shape []); it needs a dimension 0");
  GCC_CHECK(0 <= begin && begin <= end && end <= x.size(0), "slice0: rows [", begin, ", ", end,
            ") out of range for shape ", x.shape().str(), " (need 0 <= begin <= end <= ", x.size(0), ")");
  std::vector<int64_t> dims = x.shape().vec();
  dims[0] = end - begin;
  Tensor y = Tensor::empty(Shape(dims), x.device());
  const Tensor xc = x.contiguous();
  GCC_DISPATCH(copy_rows, x.device(), xc, begin, y, int64_t{0}, end - begin);
  if (any_requires_grad(x)) {
    Tape::record(y, "slice0", [x, begin, end](const Tensor& gy) {
      Tensor gx = Tensor::zeros(x.shape(), x.device());
      GCC_DISPATCH(copy_rows, x.device(), gy.contiguous(), int64_t{0}, gx, begin, end - begin);
      accumulate_grad_fresh(x, gx);
    });
  }
  return y;
}

}  // namespace gcc
