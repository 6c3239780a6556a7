// CUDA versions of the elementwise kernels of gcc/ops/elementwise.hpp (same names and signatures as
// gcc::cpu::), the gradient accumulation y += x of the autograd tape, and strided copy / fill.
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "common.cuh"
#include "gcc/ops/elementwise.hpp"

namespace gcc {
namespace cuda {
namespace impl {

// ---- binary ---------------------------------------------------------------------------------------
template <BinaryOp OP>
__device__ __forceinline__ float binary_apply(float a, float b) {
  if constexpr (OP == BinaryOp::Add) return a + b;
  else if constexpr (OP == BinaryOp::Sub) return a - b;
  else if constexpr (OP == BinaryOp::Mul) return a * b;
  else return a / b;
}

template <BinaryOp OP>
__global__ void binary_contiguous_kernel(const float* a /* [n] */, const float* b /* [n] */,
                                         float* y /* [n] */, int64_t n) {
  GCC_CUDA_GRID_STRIDE_LOOP(int64_t, i, n) { y[i] = binary_apply<OP>(a[i], b[i]); }
}

template <BinaryOp OP, typename I>
__global__ void binary_strided_kernel(const float* a /* strided [y] */, const float* b /* strided [y] */,
                                      float* y /* [n] */, I n, Geometry<2> g) {
  GCC_CUDA_GRID_STRIDE_LOOP(I, i, n) {
    I off[2];
    strided_offsets<I, 2>(g, i, off);
    y[i] = binary_apply<OP>(a[off[0]], b[off[1]]);
  }
}

template <typename F>
void with_binary_op(BinaryOp op, F&& f) {
  switch (op) {
    case BinaryOp::Add: f(std::integral_constant<BinaryOp, BinaryOp::Add>{}); break;
    case BinaryOp::Sub: f(std::integral_constant<BinaryOp, BinaryOp::Sub>{}); break;
    case BinaryOp::Mul: f(std::integral_constant<BinaryOp, BinaryOp::Mul>{}); break;
    case BinaryOp::Div: f(std::integral_constant<BinaryOp, BinaryOp::Div>{}); break;
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
template <int Unused>
__global__ void reduce_thread_kernel(const float* g /* strided [out] */, float* r /* [kept] */,
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
template <int Unused>
__global__ void reduce_block_kernel(const float* g /* strided [out] */, float* r /* [kept] */,
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
    acc = block_sum(acc);
    if (threadIdx.x == 0) r[roff] = r[roff] + acc;
  }
}

inline ReducePlan make_reduce_plan(const Tensor& g, const Tensor& r_expanded) {
  ReducePlan p;
  int64_t ks[4], kg[4], kr[4], rs[4], rg[4];
  int nk = 0, nr = 0;
  for (int d = 0; d < g.dims(); ++d) {
    const int64_t s = g.size(d);
    if (s == 1) continue;
    if (r_expanded.stride(d) == 0) {
      rs[nr] = s;
      rg[nr++] = g.stride(d);
    } else {
      ks[nk] = s;
      kg[nk] = g.stride(d);
      kr[nk++] = r_expanded.stride(d);
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
  p.overwrite = r_expanded.is_contiguous();
  return p;
}

// ---- unary ----------------------------------------------------------------------------------------
template <UnaryOp OP>
__device__ __forceinline__ float unary_apply(float s, float x) {
  if constexpr (OP == UnaryOp::Exp) return expf(x);
  else if constexpr (OP == UnaryOp::Log) return logf(x);
  else if constexpr (OP == UnaryOp::AddScalar) return x + s;
  else if constexpr (OP == UnaryOp::MulScalar) return x * s;
  else return powf(x, s);
}

// dy/dx, written as cpu::unary_backward computes it.
template <UnaryOp OP>
__device__ __forceinline__ float unary_derivative(float s, float x, float y) {
  if constexpr (OP == UnaryOp::Exp) return y;
  else if constexpr (OP == UnaryOp::Log) return 1.f / x;
  else if constexpr (OP == UnaryOp::AddScalar) return 1.f;
  else if constexpr (OP == UnaryOp::MulScalar) return s;
  else return s * powf(x, s - 1.f);
}

template <UnaryOp OP>
__global__ void unary_forward_kernel(float s, const float* x /* [n] */, float* y /* [n] */, int64_t n) {
  GCC_CUDA_GRID_STRIDE_LOOP(int64_t, i, n) { y[i] = unary_apply<OP>(s, x[i]); }
}

template <UnaryOp OP>
__global__ void unary_backward_kernel(float s, const float* x /* [n] */, const float* y /* [n] */,
                                      const float* gy /* [n] */, float* gx /* [n] */, int64_t n) {
  GCC_CUDA_GRID_STRIDE_LOOP(int64_t, i, n) { gx[i] = gy[i] * unary_derivative<OP>(s, x[i], y[i]); }
}

template <typename F>
void with_unary_op(UnaryOp op, F&& f) {
  switch (op) {
    case UnaryOp::Exp: f(std::integral_constant<UnaryOp, UnaryOp::Exp>{}); break;
    case UnaryOp::Log: f(std::integral_constant<UnaryOp, UnaryOp::Log>{}); break;
    case UnaryOp::AddScalar: f(std::integral_constant<UnaryOp, UnaryOp::AddScalar>{}); break;
    case UnaryOp::MulScalar: f(std::integral_constant<UnaryOp, UnaryOp::MulScalar>{}); break;
    case UnaryOp::PowScalar: f(std::integral_constant<UnaryOp, UnaryOp::PowScalar>{}); break;
  }
}

// ---- y += x ---------------------------------------------------------------------------------------
template <int Unused>
__global__ void add_inplace_contiguous_kernel(float* y /* [n] */, const float* x /* [n] */, int64_t n) {
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

inline void check_contiguous(const char* op, const Tensor& t, const char* what) {
  GCC_CHECK(t.is_contiguous(), op, ": ", what, " of shape ", t.shape().str(), " must be contiguous");
}

}  // namespace impl

// y = a (op) b. a and b may be broadcast views (stride 0) of y's shape; y is contiguous.
inline void binary_forward(BinaryOp op, const Tensor& a /* [y] */, const Tensor& b /* [y] */,
                           const Tensor& y /* [y] */) {
  const int dev = impl::cuda_device_of("binary_forward", y);
  GCC_CHECK(a.shape() == y.shape() && b.shape() == y.shape(), "binary_forward: operands ",
            a.shape().str(), " and ", b.shape().str(), " must be views of the output shape ",
            y.shape().str());
  check_same_device("binary_forward", a, y);
  check_same_device("binary_forward", b, y);
  impl::check_contiguous("binary_forward", y, "output");
  const int64_t n = y.numel();
  if (n == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  const unsigned grid = ctx.grid_for(n);
  const float* ap = a.data();
  const float* bp = b.data();
  float* yp = y.data();
  if (a.is_contiguous() && b.is_contiguous()) {
    impl::with_binary_op(op, [&](auto tag) {
      impl::binary_contiguous_kernel<decltype(tag)::value>
          <<<grid, kThreadsPerBlock, 0, ctx.stream()>>>(ap, bp, yp, n);
    });
  } else {
    const impl::Geometry<2> g = impl::make_geometry<2>(y.shape(), {&a, &b});
    const bool small = impl::fits_32bit(g, n);
    impl::with_binary_op(op, [&](auto tag) {
      if (small) {
        impl::binary_strided_kernel<decltype(tag)::value, uint32_t>
            <<<grid, kThreadsPerBlock, 0, ctx.stream()>>>(ap, bp, yp, static_cast<uint32_t>(n), g);
      } else {
        impl::binary_strided_kernel<decltype(tag)::value, int64_t>
            <<<grid, kThreadsPerBlock, 0, ctx.stream()>>>(ap, bp, yp, n, g);
      }
    });
  }
  GCC_CUDA_LAUNCH_CHECK();
}

// r += g summed over the dims that were broadcast to reach g's shape; `r_expanded` is a zero-filled
// contiguous r viewed with broadcast strides (stride 0 on the reduced dims). Deterministic: the same
// inputs give the same bits on every run.
inline void reduce_to_shape(const Tensor& g /* [out] */, const Tensor& r_expanded /* [out] */) {
  const int dev = impl::cuda_device_of("reduce_to_shape", r_expanded);
  check_same_device("reduce_to_shape", g, r_expanded);
  check_same_shape("reduce_to_shape", g, r_expanded);
  if (g.numel() == 0) return;
  const impl::ReducePlan p = impl::make_reduce_plan(g, r_expanded);
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  if (p.overwrite || p.q <= 32 || p.m >= 8192) {
    impl::reduce_thread_kernel<0><<<ctx.grid_for(p.m), kThreadsPerBlock, 0, ctx.stream()>>>(
        g.data(), r_expanded.data(), p);
  } else {
    const int64_t cap = static_cast<int64_t>(ctx.sm_count()) * 8;
    const unsigned grid = static_cast<unsigned>(p.m < cap ? p.m : cap);
    impl::reduce_block_kernel<0><<<grid, kThreadsPerBlock, 0, ctx.stream()>>>(g.data(),
                                                                              r_expanded.data(), p);
  }
  GCC_CUDA_LAUNCH_CHECK();
}

inline void unary_forward(UnaryOp op, float s, const Tensor& x /* [*] */, const Tensor& y /* [*] */) {
  const int dev = impl::cuda_device_of("unary_forward", y);
  check_same_device("unary_forward", x, y);
  GCC_CHECK(x.numel() == y.numel(), "unary_forward: input ", x.shape().str(), " and output ",
            y.shape().str(), " differ in size");
  impl::check_contiguous("unary_forward", x, "input");
  impl::check_contiguous("unary_forward", y, "output");
  const int64_t n = y.numel();
  if (n == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  const unsigned grid = ctx.grid_for(n);
  const float* xp = x.data();
  float* yp = y.data();
  impl::with_unary_op(op, [&](auto tag) {
    impl::unary_forward_kernel<decltype(tag)::value><<<grid, kThreadsPerBlock, 0, ctx.stream()>>>(s, xp, yp, n);
  });
  GCC_CUDA_LAUNCH_CHECK();
}

// gx = gy * dy/dx, using whichever of x and y the derivative needs.
inline void unary_backward(UnaryOp op, float s, const Tensor& x /* [*] */, const Tensor& y /* [*] */,
                           const Tensor& gy /* [*] */, const Tensor& gx /* [*] */) {
  const int dev = impl::cuda_device_of("unary_backward", gx);
  for (const Tensor* t : {&x, &y, &gy}) {
    check_same_device("unary_backward", *t, gx);
    GCC_CHECK(t->numel() == gx.numel(), "unary_backward: tensor of shape ", t->shape().str(),
              " for a gradient of shape ", gx.shape().str());
    impl::check_contiguous("unary_backward", *t, "input");
  }
  impl::check_contiguous("unary_backward", gx, "gradient");
  const int64_t n = gx.numel();
  if (n == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  const unsigned grid = ctx.grid_for(n);
  const float* xp = x.data();
  const float* yp = y.data();
  const float* gp = gy.data();
  float* gxp = gx.data();
  impl::with_unary_op(op, [&](auto tag) {
    impl::unary_backward_kernel<decltype(tag)::value>
        <<<grid, kThreadsPerBlock, 0, ctx.stream()>>>(s, xp, yp, gp, gxp, n);
  });
  GCC_CUDA_LAUNCH_CHECK();
}

// y += x elementwise (gradient accumulation, gcc::detail::cuda_add_inplace_hook()). y is
// contiguous; x has y's number of elements and any strides, read in its own row-major order.
inline void add_inplace(const Tensor& y /* [*] */, const Tensor& x /* [*] */) {
  const int dev = impl::cuda_device_of("add_inplace", y);
  check_same_device("add_inplace", x, y);
  GCC_CHECK(x.numel() == y.numel(), "add_inplace: tensor of shape ", x.shape().str(),
            " added to one of shape ", y.shape().str());
  impl::check_contiguous("add_inplace", y, "destination");
  const int64_t n = y.numel();
  if (n == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  const unsigned grid = ctx.grid_for(n);
  if (x.is_contiguous()) {
    impl::add_inplace_contiguous_kernel<0><<<grid, kThreadsPerBlock, 0, ctx.stream()>>>(y.data(), x.data(), n);
  } else {
    const impl::Geometry<1> g = impl::make_geometry<1>(x.shape(), {&x});
    if (impl::fits_32bit(g, n)) {
      impl::add_inplace_strided_kernel<uint32_t><<<grid, kThreadsPerBlock, 0, ctx.stream()>>>(
          y.data(), x.data(), static_cast<uint32_t>(n), g);
    } else {
      impl::add_inplace_strided_kernel<int64_t><<<grid, kThreadsPerBlock, 0, ctx.stream()>>>(
          y.data(), x.data(), n, g);
    }
  }
  GCC_CUDA_LAUNCH_CHECK();
}

// dst = src, element by element in row-major order: src may be any strided view on dst's device
// (a transpose, a narrowed or expanded view), dst is contiguous with as many elements. This is the
// gather that Tensor::contiguous()/to() need for strided device tensors.
inline void copy_strided(const Tensor& dst /* [*] */, const Tensor& src /* [*], any strides */) {
  const int dev = impl::cuda_device_of("copy_strided", dst);
  check_same_device("copy_strided", src, dst);
  GCC_CHECK(src.numel() == dst.numel(), "copy_strided: source of shape ", src.shape().str(),
            " copied into a tensor of shape ", dst.shape().str());
  impl::check_contiguous("copy_strided", dst, "destination");
  const int64_t n = dst.numel();
  if (n == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  if (src.is_contiguous()) {
    GCC_CUDA_CHECK(cudaMemcpyAsync(dst.data(), src.data(), static_cast<std::size_t>(n) * sizeof(float),
                                   cudaMemcpyDeviceToDevice, ctx.stream()));
    return;
  }
  const impl::Geometry<1> g = impl::make_geometry<1>(src.shape(), {&src});
  const unsigned grid = ctx.grid_for(n);
  if (impl::fits_32bit(g, n)) {
    impl::copy_strided_kernel<uint32_t><<<grid, kThreadsPerBlock, 0, ctx.stream()>>>(
        dst.data(), src.data(), static_cast<uint32_t>(n), g);
  } else {
    impl::copy_strided_kernel<int64_t><<<grid, kThreadsPerBlock, 0, ctx.stream()>>>(dst.data(), src.data(), n, g);
  }
  GCC_CUDA_LAUNCH_CHECK();
}

// Every element of t (any strides) set to v, on the device: the fill that
// Tensor::fill/zeros/ones need instead of a host buffer and a copy.
inline void fill(const Tensor& t /* [*] */, float v) {
  const int dev = impl::cuda_device_of("fill", t);
  const int64_t n = t.numel();
  if (n == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  const impl::Geometry<1> g = impl::make_geometry<1>(t.shape(), {&t});
  const bool zero_bits = v == 0.f && !std::signbit(v);
  if (zero_bits && t.is_contiguous()) {
    GCC_CUDA_CHECK(cudaMemsetAsync(t.data(), 0, static_cast<std::size_t>(n) * sizeof(float), ctx.stream()));
    return;
  }
  const unsigned grid = ctx.grid_for(n);
  if (impl::fits_32bit(g, n)) {
    impl::fill_strided_kernel<uint32_t><<<grid, kThreadsPerBlock, 0, ctx.stream()>>>(
        t.data(), v, static_cast<uint32_t>(n), g);
  } else {
    impl::fill_strided_kernel<int64_t><<<grid, kThreadsPerBlock, 0, ctx.stream()>>>(t.data(), v, n, g);
  }
  GCC_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda
}  // namespace gcc
