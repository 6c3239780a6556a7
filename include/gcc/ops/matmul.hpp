// Matrix product of 2-D tensors with optional transposes, c = op(a) · op(b) (A·Bᵀ is
// matmul(a, b, false, true)); one generic GEMM kernel serves the forward and both gradients.
#pragma once
#include "dispatch.hpp"
#include "../core/blas.hpp"

namespace gcc {
namespace cpu {

// c = alpha * op(a) · op(b) + beta * c, everything contiguous and row-major; op(a) is [M, K], op(b)
// is [K, N]. With beta == 0 the old contents of c are ignored (may be uninitialised).
inline void gemm_forward(bool trans_a, bool trans_b, float alpha,
                         const Tensor& a /* [M, K], or [K, M] when trans_a */,
                         const Tensor& b /* [K, N], or [N, K] when trans_b */, float beta,
                         const Tensor& c /* [M, N] */) {
  const int64_t M = c.size(0), N = c.size(1);
  const int64_t K = trans_a ? a.size(0) : a.size(1);
  sgemm(trans_a, trans_b, M, N, K, alpha, a.data(), b.data(), beta, c.data());
}

}  // namespace cpu

GCC_CUDA_SLOT(gemm_forward, bool, bool, float, const Tensor&, const Tensor&, float, const Tensor&)

namespace detail {
inline const char* bool_str(bool v) { return v ? "true" : "false"; }

// op(a) · op(b) for contiguous 2-D tensors on one device, no autograd (a fresh tensor).
inline Tensor gemm_raw(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  const int64_t M = trans_a ? a.size(1) : a.size(0);
  const int64_t N = trans_b ? b.size(0) : b.size(1);
  Tensor c = Tensor::empty(Shape{M, N}, a.device());
  GCC_DISPATCH(gemm_forward, a.device(), trans_a, trans_b, 1.f, a, b, 0.f, c);
  return c;
}
}  // namespace detail

// c = op(a) · op(b) where op transposes when asked: a [M, K] (or [K, M] with trans_a), b [K, N]
// (or [N, K] with trans_b), c [M, N]. Differentiable in a and b (which may be the same tensor).
inline Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false) {
  check_dims("matmul (a)", a, 2, "[M, K]");
  check_dims("matmul (b)", b, 2, "[K, N]");
  check_same_device("matmul", a, b);
  const int64_t ka = trans_a ? a.size(0) : a.size(1);
  const int64_t kb = trans_b ? b.size(1) : b.size(0);
  GCC_CHECK(ka == kb, "matmul: cannot multiply a ", a.shape().str(), " by b ", b.shape().str(),
            " (trans_a=", detail::bool_str(trans_a), ", trans_b=", detail::bool_str(trans_b),
            "): inner dimensions ", ka, " and ", kb, " differ");
  const Tensor ac = a.contiguous().detach(), bc = b.contiguous().detach();
  Tensor c = detail::gemm_raw(ac, bc, trans_a, trans_b);
  if (any_requires_grad(a, b)) {
    Tape::record(c, "matmul", [a, b, ac, bc, trans_a, trans_b](const Tensor& gc) {
      const Tensor g = gc.contiguous();
      // c = op(a) op(b): d op(a) = g op(b)^T, d op(b) = op(a)^T g, transposed back where needed.
      if (a.requires_grad()) {
        Tensor ga = trans_a ? detail::gemm_raw(bc, g, trans_b, true)    // [K, M] = op(b) g^T
                            : detail::gemm_raw(g, bc, false, !trans_b);  // [M, K] = g op(b)^T
        accumulate_grad_fresh(a, ga);
      }
      if (b.requires_grad()) {
        Tensor gb = trans_b ? detail::gemm_raw(g, ac, true, trans_a)     // [N, K] = g^T op(a)
                            : detail::gemm_raw(ac, g, !trans_a, false);  // [K, N] = op(a)^T g
        accumulate_grad_fresh(b, gb);
      }
    });
  }
  return c;
}

}  // namespace gcc
