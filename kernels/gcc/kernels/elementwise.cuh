// Elementwise kernels on raw device pointers (the CUDA side of gcc/ops/elementwise.hpp's
// cpu::binary_forward, reduce_to_shape, unary_forward, unary_backward), plus the gradient accumulation
// y += x of the autograd tape and the strided copy / fill of core/tensor.hpp's device paths.
// Strided operands are described by raw arrays: `dims` sizes (row-major, at most 4 dims) and, per
// operand, `dims` strides in elements (stride 0 = a broadcast dim). Needs only the CUDA runtime.
// Driver: kernels/dev/elementwise.cu.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "common.cuh"

namespace gcc {
namespace kernels {

// The members (and values) of gcc::BinaryOp / gcc::UnaryOp of gcc/ops/elementwise.hpp, which this
// header does not include; the wrapper maps one onto the other.
enum class BinaryKind : int { Add = 0, Sub = 1, Mul = 2, Div = 3 };
enum class UnaryKind : int { Exp = 0, Log = 1, AddScalar = 2, MulScalar = 3, PowScalar = 4 };

// Whether `strides` lay out `sizes` row-major without gaps (size-1 dims may have any stride): the rule
// of Tensor::is_contiguous.
inline bool is_row_major(int dims, const int64_t* sizes, const int64_t* strides) {
  int64_t expect = 1;
  for (int i = dims - 1; i >= 0; --i) {
    if (sizes[i] != 1 && strides[i] != expect) return false;
    expect *= sizes[i];
  }
  return true;
}

inline int64_t numel_of(int dims, const int64_t* sizes) {
  int64_t n = 1;
  for (int i = 0; i < dims; ++i) n *= sizes[i];
  return n;
}

// ---- binary ---------------------------------------------------------------------------------------
template <BinaryKind OP>
__device__ __forceinline__ float binary_apply(float a, float b) {
  if constexpr (OP == BinaryKind::Add) return a + b;
  else if constexpr (OP == BinaryKind::Sub) return a - b;
  else if constexpr (OP == BinaryKind::Mul) return a * b;
  else return a / b;
}

template <BinaryKind OP>
__global__ void binary_contiguous_kernel(const float* a /* [n] */, const float* b /* [n] */,
                                         float* y /* [n] */, int64_t n) {
  GCC_CUDA_GRID_STRIDE_LOOP(int64_t, i, n) { y[i] = binary_apply<OP>(a[i], b[i]); }
}

template <BinaryKind OP, typename I>
__global__ void binary_strided_kernel(const float* a /* strided [y] */, const float* b /* strided [y] */,
                                      float* y /* [n] */, I n, Geometry<2> g) {
  GCC_CUDA_GRID_STRIDE_LOOP(I, i, n) {
    I off[2];
    strided_offsets<I, 2>(g, i, off);
    y[i] = binary_apply<OP>(a[off[0]], b[off[1]]);
  }
}

template <typename F>
void with_binary_op(BinaryKind op, F&& f) {
  switch (op) {
    case BinaryKind::Add: f(std::integral_constant<BinaryKind, BinaryKind::Add>{}); break;
    case BinaryKind::Sub: f(std::integral_constant<BinaryKind, BinaryKind::Sub>{}); break;
    case BinaryKind::Mul: f(std::integral_constant<BinaryKind, BinaryKind::Mul>{}); break;
    case BinaryKind::Div: f(std::integral_constant<BinaryKind, BinaryKind::Div>{}); break;
  }
}

// ---- reduce_to_shape ------------------------------------------------------------------------------
// The dims of g's shape split into kept ones (r has them) and reduced ones (r broadcast over them),
// each list right-aligned into 4 slots. Output j (row-major over kept dims) sums g over the reduced
// dims; r_expanded's stride-0 dims are exactly the reduced ones.
struct ReducePlan {
  int64_t m = 1, q = 1;                  // number of outputs, terms per output
  int64_t ksize[4], kg[4], kr[4];         // kept dims: sizes, strides in g, strides in r
  int64_t rsize[4], rg[4];                // reduced dims: sizes, strides in g
  bool overwrite = false;                 // r_expanded is r itself: copy g (what the CPU does)
};

__device__ __forceinline__ void reduce_output_offsets(const ReducePlan& p, int64_t j, int64_t& goff,
                                                      int64_t& roff) {
  goff = 0;
  roff = 0;
#pragma unroll
  for (int k = 3; k >= 0; --k) {
    const int64_t c = j % p.ksize[k];
    j /= p.ksize[k];
    goff += c * p.kg[k];
    roff += c * p.kr[k];
  }
}

// One thread per output, terms added in row-major order starting from r's value: the same
// additions in the same order as cpu::reduce_to_shape, hence the same bits. Used when there are
// many outputs (then neighbouring threads read neighbouring g elements) or few terms each.
GCC_HEADER_KERNEL void reduce_thread_kernel(const float* g /* strided [out] */, float* r /* [kept] */,
                                            ReducePlan p) {
  GCC_CUDA_GRID_STRIDE_LOOP(int64_t, j, p.m) {
    int64_t goff, roff;
    reduce_output_offsets(p, j, goff, roff);
    if (p.overwrite) {
      r[roff] = g[goff];
      continue;
    }
    float acc = r[roff];
    int64_t c[4] = {0, 0, 0, 0};
    int64_t off = goff;
    for (int64_t t = 0; t < p.q; ++t) {
      acc += g[off];
#pragma unroll
      for (int k = 3; k >= 0; --k) {  // odometer step over the reduced dims
        off += p.rg[k];
        if (++c[k] < p.rsize[k]) break;
        off -= p.rsize[k] * p.rg[k];
        c[k] = 0;
      }
    }
    r[roff] = acc;
  }
}

// One block per output (few outputs with many terms each): each thread sums a fixed strided subset,
// then a fixed-shape tree adds the partial sums. Deterministic, though not the CPU's order.
GCC_HEADER_KERNEL void reduce_block_kernel(const float* g /* strided [out] */, float* r /* [kept] */,
                                           ReducePlan p) {
  for (int64_t j = blockIdx.x; j < p.m; j += gridDim.x) {
    int64_t goff, roff;
    reduce_output_offsets(p, j, goff, roff);
    float acc = 0.f;
    for (int64_t t = threadIdx.x; t < p.q; t += blockDim.x) {
      int64_t rest = t, off = goff;
#pragma unroll
      for (int k = 3; k >= 0; --k) {
        off += (rest % p.rsize[k]) * p.rg[k];
        rest /= p.rsize[k];
      }
      acc += g[off];
    }
    acc = block_sum<float>(acc);
    if (threadIdx.x == 0) r[roff] = r[roff] + acc;
  }
}

// The plan for g of shape sizes[0..dims) (strides g_strides) summed into r viewed with r_strides
// (stride 0 on the reduced dims). False when dims > 4.
inline bool make_reduce_plan(int dims, const int64_t* sizes, const int64_t* g_strides, const int64_t* r_strides,
                             ReducePlan& p) {
  if (dims > 4) return false;
  p = ReducePlan{};
  int64_t ks[4], kg[4], kr[4], rs[4], rg[4];
  int nk = 0, nr = 0;
  for (int d = 0; d < dims; ++d) {
    const int64_t s = sizes[d];
    if (s == 1) continue;
    if (r_strides[d] == 0) {
      rs[nr] = s;
      rg[nr++] = g_strides[d];
    } else {
      ks[nk] = s;
      kg[nk] = g_strides[d];
      kr[nk++] = r_strides[d];
    }
  }
  for (int k = 0; k < 4; ++k) {
    const int a = k - (4 - nk), b = k - (4 - nr);
    p.ksize[k] = a >= 0 ? ks[a] : 1;
    p.kg[k] = a >= 0 ? kg[a] : 0;
    p.kr[k] = a >= 0 ? kr[a] : 0;
    p.rsize[k] = b >= 0 ? rs[b] : 1;
    p.rg[k] = b >= 0 ? rg[b] : 0;
    p.m *= p.ksize[k];
    p.q *= p.rsize[k];
  }
  p.overwrite = is_row_major(dims, sizes, r_strides);
  return true;
}

// Whether reduce_to_shape runs reduce_thread_kernel (bit-exact with the CPU) rather than
// reduce_block_kernel for plan p.
inline bool reduce_uses_thread_kernel(const ReducePlan& p) { return p.overwrite || p.q <= 32 || p.m >= 8192; }

// ---- unary ----------------------------------------------------------------------------------------
template <UnaryKind OP>
__device__ __forceinline__ float unary_apply(float s, float x) {
  if constexpr (OP == UnaryKind::Exp) return expf(x);
  else if constexpr (OP == UnaryKind::Log) return logf(x);
  else if constexpr (OP == UnaryKind::AddScalar) return x + s;
  else if constexpr (OP == UnaryKind::MulScalar) return x * s;
  else return powf(x, s);
}

// dy/dx, written as cpu::unary_backward computes it.
template <UnaryKind OP>
__device__ __forceinline__ float unary_derivative(float s, float x, float y) {
  if constexpr (OP == UnaryKind::Exp) return y;
  else if constexpr (OP == UnaryKind::Log) return 1.f / x;
  else if constexpr (OP == UnaryKind::AddScalar) return 1.f;
  else if constexpr (OP == UnaryKind::MulScalar) return s;
  else return s * powf(x, s - 1.f);
}

template <UnaryKind OP>
__global__ void unary_forward_kernel(float s, const float* x /* [n] */, float* y /* [n] */, int64_t n) {
  GCC_CUDA_GRID_STRIDE_LOOP(int64_t, i, n) { y[i] = unary_apply<OP>(s, x[i]); }
}

template <UnaryKind OP>
__global__ void unary_backward_kernel(float s, const float* x /* [n] */, const float* y /* [n] */,
                                      const float* gy /* [n] */, float* gx /* [n] */, int64_t n) {
  GCC_CUDA_GRID_STRIDE_LOOP(int64_t, i, n) { gx[i] = gy[i] * unary_derivative<OP>(s, x[i], y[i]); }
}

template <typename F>
void with_unary_op(UnaryKind op, F&& f) {
  switch (op) {
    case UnaryKind::Exp: f(std::integral_constant<UnaryKind, UnaryKind::Exp>{}); break;
    case UnaryKind::Log: f(std::integral_constant<UnaryKind, UnaryKind::Log>{}); break;
    case UnaryKind::AddScalar: f(std::integral_constant<UnaryKind, UnaryKind::AddScalar>{}); break;
    case UnaryKind::MulScalar: f(std::integral_constant<UnaryKind, UnaryKind::MulScalar>{}); break;
    case UnaryKind::PowScalar: f(std::integral_constant<UnaryKind, UnaryKind::PowScalar>{}); break;
  }
}

// ---- y += x ---------------------------------------------------------------------------------------
GCC_HEADER_KERNEL void add_inplace_contiguous_kernel(float* y /* [n] */, const float* x /* [n] */, int64_t n) {
  GCC_CUDA_GRID_STRIDE_LOOP(int64_t, i, n) { y[i] = y[i] + x[i]; }
}

template <typename I>
__global__ void add_inplace_strided_kernel(float* y /* [n] */, const float* x /* strided */, I n,
                                           Geometry<1> g) {
  GCC_CUDA_GRID_STRIDE_LOOP(I, i, n) {
    I off[1];
    strided_offsets<I, 1>(g, i, off);
    y[i] = y[i] + x[off[0]];
  }
}

// ---- strided copy and fill (for core/tensor.hpp's device paths) -----------------------------------
template <typename I>
__global__ void copy_strided_kernel(float* y /* [n] */, const float* x /* strided */, I n, Geometry<1> g) {
  GCC_CUDA_GRID_STRIDE_LOOP(I, i, n) {
    I off[1];
    strided_offsets<I, 1>(g, i, off);
    y[i] = x[off[0]];
  }
}

template <typename I>
__global__ void fill_strided_kernel(float* y /* strided */, float v, I n, Geometry<1> g) {
  GCC_CUDA_GRID_STRIDE_LOOP(I, i, n) {
    I off[1];
    strided_offsets<I, 1>(g, i, off);
    y[off[0]] = v;
  }
}

// The status of a shape with more dims than the kernels' 4 slots (gcc::Tensor has at most 4).
inline Status too_many_dims(const char* call) { return status_of(cudaErrorInvalidValue, call); }

// ---- launchers ------------------------------------------------------------------------------------
// y = a (op) b over the shape sizes[0..dims): a and b strided (e.g. broadcast views, stride 0), y
// contiguous. Both operands row-major: one flat pass; otherwise the merged geometry, with 32-bit
// index arithmetic when every offset fits.
inline Status binary_forward(const Launch& l, BinaryKind op, int dims, const int64_t* sizes /* [dims] */,
                             const float* a, const int64_t* a_strides /* [dims] */, const float* b,
                             const int64_t* b_strides /* [dims] */, float* y /* [n], contiguous */) {
  const int64_t n = numel_of(dims, sizes);
  if (n == 0) return Status{};
  const unsigned grid = l.grid_for(n);
  if (is_row_major(dims, sizes, a_strides) && is_row_major(dims, sizes, b_strides)) {
    with_binary_op(op, [&](auto tag) {
      binary_contiguous_kernel<decltype(tag)::value><<<grid, l.threads, 0, l.stream>>>(a, b, y, n);
    });
    return launched("binary_contiguous_kernel");
  }
  Geometry<2> g;
  const int64_t* const strides[2] = {a_strides, b_strides};
  if (!make_geometry<2>(dims, sizes, strides, g)) return too_many_dims("binary_forward: make_geometry");
  const bool small = fits_32bit(g, n);
  with_binary_op(op, [&](auto tag) {
    if (small) {
      binary_strided_kernel<decltype(tag)::value, uint32_t>
          <<<grid, l.threads, 0, l.stream>>>(a, b, y, static_cast<uint32_t>(n), g);
    } else {
      binary_strided_kernel<decltype(tag)::value, int64_t><<<grid, l.threads, 0, l.stream>>>(a, b, y, n, g);
    }
  });
  return launched("binary_strided_kernel");
}

// r += g summed over the dims where r_strides is 0 (r_expanded: a contiguous r viewed with broadcast
// strides over g's shape sizes[0..dims)); when r_strides is row-major, r = g. Deterministic: the same
// inputs give the same bits on every run; bit-exact with the CPU when reduce_uses_thread_kernel().
// l.threads must be a multiple of 32 (block_sum).
inline Status reduce_to_shape(const Launch& l, int dims, const int64_t* sizes /* [dims] */,
                              const float* g, const int64_t* g_strides /* [dims] */, float* r,
                              const int64_t* r_strides /* [dims] */) {
  if (numel_of(dims, sizes) == 0) return Status{};
  ReducePlan p;
  if (!make_reduce_plan(dims, sizes, g_strides, r_strides, p)) return too_many_dims("reduce_to_shape: make_reduce_plan");
  if (reduce_uses_thread_kernel(p)) {
    reduce_thread_kernel<<<l.grid_for(p.m), l.threads, 0, l.stream>>>(g, r, p);
    return launched("reduce_thread_kernel");
  }
  reduce_block_kernel<<<l.capped(p.m, 8), l.threads, 0, l.stream>>>(g, r, p);
  return launched("reduce_block_kernel");
}

// y = op(s, x) over n contiguous elements.
inline Status unary_forward(const Launch& l, UnaryKind op, float s, const float* x /* [n] */, float* y /* [n] */,
                            int64_t n) {
  if (n == 0) return Status{};
  const unsigned grid = l.grid_for(n);
  with_unary_op(op, [&](auto tag) {
    unary_forward_kernel<decltype(tag)::value><<<grid, l.threads, 0, l.stream>>>(s, x, y, n);
  });
  return launched("unary_forward_kernel");
}

// gx = gy * dy/dx, using whichever of x and y the derivative needs.
inline Status unary_backward(const Launch& l, UnaryKind op, float s, const float* x /* [n] */,
                             const float* y /* [n] */, const float* gy /* [n] */, float* gx /* [n] */, int64_t n) {
  if (n == 0) return Status{};
  const unsigned grid = l.grid_for(n);
  with_unary_op(op, [&](auto tag) {
    unary_backward_kernel<decltype(tag)::value><<<grid, l.threads, 0, l.stream>>>(s, x, y, gy, gx, n);
  });
  return launched("unary_backward_kernel");
}

// y += x elementwise: y contiguous; x of shape sizes[0..dims) (as many elements as y) with any
// strides, read in its own row-major order.
inline Status add_inplace(const Launch& l, int dims, const int64_t* sizes /* [dims] */, float* y /* [n] */,
                          const float* x, const int64_t* x_strides /* [dims] */) {
  const int64_t n = numel_of(dims, sizes);
  if (n == 0) return Status{};
  const unsigned grid = l.grid_for(n);
  if (is_row_major(dims, sizes, x_strides)) {
    add_inplace_contiguous_kernel<<<grid, l.threads, 0, l.stream>>>(y, x, n);
    return launched("add_inplace_contiguous_kernel");
  }
  Geometry<1> g;
  const int64_t* const strides[1] = {x_strides};
  if (!make_geometry<1>(dims, sizes, strides, g)) return too_many_dims("add_inplace: make_geometry");
  if (fits_32bit(g, n)) {
    add_inplace_strided_kernel<uint32_t><<<grid, l.threads, 0, l.stream>>>(y, x, static_cast<uint32_t>(n), g);
  } else {
    add_inplace_strided_kernel<int64_t><<<grid, l.threads, 0, l.stream>>>(y, x, n, g);
  }
  return launched("add_inplace_strided_kernel");
}

// dst = src element by element in row-major order: src of shape sizes[0..dims) with any strides (a
// transpose, a narrowed or expanded view), dst contiguous with as many elements. A row-major src is
// one cudaMemcpyAsync.
inline Status copy_strided(const Launch& l, int dims, const int64_t* sizes /* [dims] */, float* dst /* [n] */,
                           const float* src, const int64_t* src_strides /* [dims] */) {
  const int64_t n = numel_of(dims, sizes);
  if (n == 0) return Status{};
  if (is_row_major(dims, sizes, src_strides)) {
    return status_of(cudaMemcpyAsync(dst, src, static_cast<std::size_t>(n) * sizeof(float), cudaMemcpyDeviceToDevice,
                                     l.stream),
                     "cudaMemcpyAsync");
  }
  Geometry<1> g;
  const int64_t* const strides[1] = {src_strides};
  if (!make_geometry<1>(dims, sizes, strides, g)) return too_many_dims("copy_strided: make_geometry");
  const unsigned grid = l.grid_for(n);
  if (fits_32bit(g, n)) {
    copy_strided_kernel<uint32_t><<<grid, l.threads, 0, l.stream>>>(dst, src, static_cast<uint32_t>(n), g);
  } else {
    copy_strided_kernel<int64_t><<<grid, l.threads, 0, l.stream>>>(dst, src, n, g);
  }
  return launched("copy_strided_kernel");
}

// Every element of t (shape sizes[0..dims), any strides) set to v. +0.0 into a row-major t is one
// cudaMemsetAsync.
inline Status fill(const Launch& l, int dims, const int64_t* sizes /* [dims] */, float* t,
                   const int64_t* t_strides /* [dims] */, float v) {
  const int64_t n = numel_of(dims, sizes);
  if (n == 0) return Status{};
  Geometry<1> g;
  const int64_t* const strides[1] = {t_strides};
  if (!make_geometry<1>(dims, sizes, strides, g)) return too_many_dims("fill: make_geometry");
  const bool zero_bits = v == 0.f && !std::signbit(v);
  if (zero_bits && is_row_major(dims, sizes, t_strides)) {
    return status_of(cudaMemsetAsync(t, 0, static_cast<std::size_t>(n) * sizeof(float), l.stream), "cudaMemsetAsync");
  }
  const unsigned grid = l.grid_for(n);
  if (fits_32bit(g, n)) {
    fill_strided_kernel<uint32_t><<<grid, l.threads, 0, l.stream>>>(t, v, static_cast<uint32_t>(n), g);
  } else {
    fill_strided_kernel<int64_t><<<grid, l.threads, 0, l.stream>>>(t, v, n, g);
  }
  return launched("fill_strided_kernel");
}

}  // namespace kernels
}  // namespace gcc
