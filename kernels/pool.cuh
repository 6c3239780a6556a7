// CUDA versions of the pooling kernels of gcc/ops/pool.hpp (same names and signatures as gcc::cpu::):
// custom kernels with the CPU's window, tie and summation-order rules, so results agree bit for bit.
#pragma once
#include <cstdint>

#include "channel.cuh"
#include "common.cuh"
#include "gcc/ops/pool.hpp"

namespace gcc {
namespace cuda {
namespace impl {

// Not cuDNN pooling: its tie rule for max pooling (which of equal maxima gets the gradient) and NaN
// handling are not specified, while the CPU reference routes the gradient to the first strictly larger
// value (a NaN always wins). Backward passes gather (one thread per input element, adding its windows'
// contributions in the CPU's output order) instead of scattering with atomics: deterministic and exact.

// n / d for the index type: 32-bit fast division, or 64-bit.
template <typename I>
struct Divider;
template <>
struct Divider<uint32_t> {
  FastDiv f;
  explicit Divider(int64_t d) : f(static_cast<uint32_t>(d)) {}
  __device__ __forceinline__ uint32_t div(uint32_t n) const { return f.div(n); }
  __device__ __forceinline__ uint32_t divisor() const { return f.d; }
};
template <>
struct Divider<int64_t> {
  int64_t den;
  explicit Divider(int64_t d) : den(d) {}
  __device__ __forceinline__ int64_t div(int64_t n) const { return n / den; }
  __device__ __forceinline__ int64_t divisor() const { return den; }
};

struct PoolGeom {
  int H, W, Ho, Wo, kh, kw, sh, sw, ph, pw;
};

inline PoolGeom pool_geom(const Tensor& x, const Tensor& y, const Pool2dParams& p) {
  return PoolGeom{static_cast<int>(x.size(2)), static_cast<int>(x.size(3)), static_cast<int>(y.size(2)),
                  static_cast<int>(y.size(3)), p.kernel_h, p.kernel_w, p.stride_h, p.stride_w, p.pad_h, p.pad_w};
}

// Clipped window of output (oh, ow): rows [h0, h1), columns [w0, w1) (detail::pool_window).
__device__ __forceinline__ void pool_window_dev(const PoolGeom& g, int oh, int ow, int& h0, int& h1, int& w0, int& w1) {
  const int hs = oh * g.sh - g.ph, ws = ow * g.sw - g.pw;
  h0 = hs > 0 ? hs : 0;
  h1 = hs + g.kh < g.H ? hs + g.kh : g.H;
  w0 = ws > 0 ? ws : 0;
  w1 = ws + g.kw < g.W ? ws + g.kw : g.W;
}

// detail::pool_argmax: the first strictly larger value wins, a NaN always wins, all -inf gives the first.
__device__ __forceinline__ int pool_argmax_dev(const float* plane, const PoolGeom& g, int oh, int ow) {
  int h0, h1, w0, w1;
  pool_window_dev(g, oh, ow, h0, h1, w0, w1);
  int best = h0 * g.W + w0;
  float bv = -INFINITY;
  for (int ih = h0; ih < h1; ++ih) {
    for (int iw = w0; iw < w1; ++iw) {
      const float v = plane[ih * g.W + iw];
      if (v > bv || isnan(v)) {
        bv = v;
        best = ih * g.W + iw;
      }
    }
  }
  return best;
}

// Outputs whose window covers input (ih, iw): rows [oh0, oh1], columns [ow0, ow1] (empty if lo > hi).
__device__ __forceinline__ void pool_covering(const PoolGeom& g, int ih, int iw, int& oh0, int& oh1, int& ow0,
                                              int& ow1) {
  const int th = ih + g.ph, tw = iw + g.pw;
  oh0 = th < g.kh ? 0 : (th - g.kh) / g.sh + 1;
  oh1 = th / g.sh < g.Ho - 1 ? th / g.sh : g.Ho - 1;
  ow0 = tw < g.kw ? 0 : (tw - g.kw) / g.sw + 1;
  ow1 = tw / g.sw < g.Wo - 1 ? tw / g.sw : g.Wo - 1;
}

// Output index o -> (plane, oh, ow) and input index i -> (plane, ih, iw).
template <typename I>
struct PlaneIndex {
  Divider<I> cols, rows;  // by the plane's width, then its height
  __device__ __forceinline__ void split(I i, I& plane, int& r, int& c) const {
    const I q = cols.div(i);
    c = static_cast<int>(i - q * cols.divisor());
    plane = rows.div(q);
    r = static_cast<int>(q - plane * rows.divisor());
  }
};

template <typename I>
__global__ void max_pool_forward_kernel(const float* x /* [N, C, H, W] */, float* y /* [N, C, Ho, Wo] */,
                                        int* argmax /* [N, C, Ho, Wo] or null */, I n, PoolGeom g,
                                        PlaneIndex<I> out_index) {
  GCC_CUDA_GRID_STRIDE_LOOP(I, o, n) {
    I plane;
    int oh, ow;
    out_index.split(o, plane, oh, ow);
    const float* xs = x + static_cast<int64_t>(plane) * g.H * g.W;
    const int best = pool_argmax_dev(xs, g, oh, ow);
    if (y) y[o] = xs[best];
    if (argmax) argmax[o] = best;
  }
}

template <typename I>
__global__ void max_pool_backward_kernel(const int* argmax /* [N, C, Ho, Wo] */, const float* gy /* [N, C, Ho, Wo] */,
                                         float* gx /* [N, C, H, W] */, I n, PoolGeom g, PlaneIndex<I> in_index) {
  GCC_CUDA_GRID_STRIDE_LOOP(I, i, n) {
    I plane;
    int ih, iw;
    in_index.split(i, plane, ih, iw);
    int oh0, oh1, ow0, ow1;
    pool_covering(g, ih, iw, oh0, oh1, ow0, ow1);
    const int me = ih * g.W + iw;
    const int64_t base = static_cast<int64_t>(plane) * g.Ho * g.Wo;
    float acc = 0.f;
    for (int oh = oh0; oh <= oh1; ++oh)
      for (int ow = ow0; ow <= ow1; ++ow) {
        const int64_t o = base + oh * g.Wo + ow;
        if (argmax[o] == me) acc += gy[o];
      }
    gx[i] = acc;
  }
}

template <typename I>
__global__ void avg_pool_forward_kernel(const float* x /* [N, C, H, W] */, float* y /* [N, C, Ho, Wo] */, I n,
                                        PoolGeom g, float div, PlaneIndex<I> out_index) {
  GCC_CUDA_GRID_STRIDE_LOOP(I, o, n) {
    I plane;
    int oh, ow;
    out_index.split(o, plane, oh, ow);
    const float* xs = x + static_cast<int64_t>(plane) * g.H * g.W;
    int h0, h1, w0, w1;
    pool_window_dev(g, oh, ow, h0, h1, w0, w1);
    float s = 0.f;
    for (int ih = h0; ih < h1; ++ih)
      for (int iw = w0; iw < w1; ++iw) s += xs[ih * g.W + iw];
    y[o] = s / div;
  }
}

template <typename I>
__global__ void avg_pool_backward_kernel(const float* gy /* [N, C, Ho, Wo] */, float* gx /* [N, C, H, W] */, I n,
                                         PoolGeom g, float div, PlaneIndex<I> in_index) {
  GCC_CUDA_GRID_STRIDE_LOOP(I, i, n) {
    I plane;
    int ih, iw;
    in_index.split(i, plane, ih, iw);
    int oh0, oh1, ow0, ow1;
    pool_covering(g, ih, iw, oh0, oh1, ow0, ow1);
    const int64_t base = static_cast<int64_t>(plane) * g.Ho * g.Wo;
    float acc = 0.f;
    for (int oh = oh0; oh <= oh1; ++oh)
      for (int ow = ow0; ow <= ow1; ++ow) acc += gy[base + oh * g.Wo + ow] / div;
    gx[i] = acc;
  }
}

// One thread per plane, summing in order like the CPU (bit-exact; planes are small in practice).
template <int Unused>
__global__ void global_avg_pool_forward_kernel(const float* x /* [P, HW] */, float* y /* [P] */, int64_t planes,
                                               int64_t hw) {
  GCC_CUDA_GRID_STRIDE_LOOP(int64_t, p, planes) {
    const float* xs = x + p * hw;
    float s = 0.f;
    for (int64_t i = 0; i < hw; ++i) s += xs[i];
    y[p] = s / static_cast<float>(hw);
  }
}

template <typename I>
__global__ void global_avg_pool_backward_kernel(const float* gy /* [P] */, float* gx /* [P, HW] */, I n,
                                                Divider<I> by_hw, float hw) {
  GCC_CUDA_GRID_STRIDE_LOOP(I, i, n) { gx[i] = gy[by_hw.div(i)] / hw; }
}

inline void pool_check(const char* op, const Tensor& t, const char* what, int dev, int dims) {
  GCC_CHECK(t.defined(), op, ": ", what, " is undefined");
  GCC_CHECK(t.device().is_cuda() && t.device().index == dev, op, ": ", what, " of shape ", t.shape().str(),
            " is on ", t.device().str(), ", expected cuda:", dev);
  GCC_CHECK(t.is_contiguous(), op, ": ", what, " of shape ", t.shape().str(), " must be contiguous");
  GCC_CHECK(t.dims() == dims, op, ": ", what, " must be ", dims, "-D, got shape ", t.shape().str());
}

inline void pool_check_pair(const char* op, const Tensor& x, const Tensor& y, const Pool2dParams& p) {
  GCC_CHECK(x.size(0) == y.size(0) && x.size(1) == y.size(1) &&
                y.size(2) == (x.size(2) + 2 * p.pad_h - p.kernel_h) / p.stride_h + 1 &&
                y.size(3) == (x.size(3) + 2 * p.pad_w - p.kernel_w) / p.stride_w + 1,
            op, ": output ", y.shape().str(), " does not follow from input ", x.shape().str(), " with kernel (",
            p.kernel_h, ", ", p.kernel_w, ") stride (", p.stride_h, ", ", p.stride_w, ") padding (", p.pad_h, ", ",
            p.pad_w, ")");
  GCC_CHECK(x.size(2) * x.size(3) < (int64_t{1} << 31) && y.size(2) * y.size(3) < (int64_t{1} << 31), op,
            ": planes of ", x.shape().str(), " are too large");
}

// Launches f(I-typed count, PlaneIndex<I>) over `n` elements of planes rows x cols.
template <typename F>
void with_plane_index(int64_t n, int64_t rows, int64_t cols, F&& f) {
  if (fits_int31(n)) {
    f(static_cast<uint32_t>(n), PlaneIndex<uint32_t>{Divider<uint32_t>(cols), Divider<uint32_t>(rows)});
  } else {
    f(n, PlaneIndex<int64_t>{Divider<int64_t>(cols), Divider<int64_t>(rows)});
  }
}

}  // namespace impl

inline void max_pool2d_forward(const Tensor& x /* [N, C, H, W] */, const Tensor& y /* [N, C, Ho, Wo] */,
                               Pool2dParams p) {
  const char* op = "max_pool2d_forward";
  const int dev = impl::cuda_device_of(op, y);
  impl::pool_check(op, x, "input", dev, 4);
  impl::pool_check(op, y, "output", dev, 4);
  impl::pool_check_pair(op, x, y, p);
  const int64_t n = y.numel();
  if (n == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  const impl::PoolGeom g = impl::pool_geom(x, y, p);
  impl::with_plane_index(n, y.size(2), y.size(3), [&](auto count, auto idx) {
    using I = decltype(count);
    impl::max_pool_forward_kernel<I><<<ctx.grid_for(n), kThreadsPerBlock, 0, ctx.stream()>>>(
        x.data(), y.data(), nullptr, count, g, idx);
  });
  GCC_CUDA_LAUNCH_CHECK();
}

// gx = gy routed to each window's first maximum (recomputed from x; y is not needed).
inline void max_pool2d_backward(const Tensor& x /* [N, C, H, W] */, const Tensor& y /* [N, C, Ho, Wo] */,
                                const Tensor& gy /* [N, C, Ho, Wo] */, const Tensor& gx /* [N, C, H, W], overwritten */,
                                Pool2dParams p) {
  (void)y;
  const char* op = "max_pool2d_backward";
  const int dev = impl::cuda_device_of(op, gx);
  impl::pool_check(op, x, "input", dev, 4);
  impl::pool_check(op, gy, "output gradient", dev, 4);
  impl::pool_check(op, gx, "input gradient", dev, 4);
  impl::pool_check_pair(op, x, gy, p);
  check_same_shape(op, x, gx);
  if (gx.numel() == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  const impl::PoolGeom g = impl::pool_geom(x, gy, p);
  const int64_t no = gy.numel();
  int* argmax = static_cast<int*>(ctx.workspace(static_cast<std::size_t>(no) * sizeof(int)));
  impl::with_plane_index(no, gy.size(2), gy.size(3), [&](auto count, auto idx) {
    using I = decltype(count);
    impl::max_pool_forward_kernel<I><<<ctx.grid_for(no), kThreadsPerBlock, 0, ctx.stream()>>>(
        x.data(), nullptr, argmax, count, g, idx);
  });
  GCC_CUDA_LAUNCH_CHECK();
  const int64_t ni = gx.numel();
  impl::with_plane_index(ni, gx.size(2), gx.size(3), [&](auto count, auto idx) {
    using I = decltype(count);
    impl::max_pool_backward_kernel<I><<<ctx.grid_for(ni), kThreadsPerBlock, 0, ctx.stream()>>>(
        argmax, gy.data(), gx.data(), count, g, idx);
  });
  GCC_CUDA_LAUNCH_CHECK();
}

// y = window sum / (kernel_h * kernel_w) (count_include_pad, floor mode).
inline void avg_pool2d_forward(const Tensor& x /* [N, C, H, W] */, const Tensor& y /* [N, C, Ho, Wo] */,
                               Pool2dParams p) {
  const char* op = "avg_pool2d_forward";
  const int dev = impl::cuda_device_of(op, y);
  impl::pool_check(op, x, "input", dev, 4);
  impl::pool_check(op, y, "output", dev, 4);
  impl::pool_check_pair(op, x, y, p);
  const int64_t n = y.numel();
  if (n == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  const impl::PoolGeom g = impl::pool_geom(x, y, p);
  const float div = static_cast<float>(p.kernel_h * p.kernel_w);
  impl::with_plane_index(n, y.size(2), y.size(3), [&](auto count, auto idx) {
    using I = decltype(count);
    impl::avg_pool_forward_kernel<I><<<ctx.grid_for(n), kThreadsPerBlock, 0, ctx.stream()>>>(x.data(), y.data(), count,
                                                                                            g, div, idx);
  });
  GCC_CUDA_LAUNCH_CHECK();
}

inline void avg_pool2d_backward(const Tensor& gy /* [N, C, Ho, Wo] */, const Tensor& gx /* [N, C, H, W], overwritten */,
                                Pool2dParams p) {
  const char* op = "avg_pool2d_backward";
  const int dev = impl::cuda_device_of(op, gx);
  impl::pool_check(op, gy, "output gradient", dev, 4);
  impl::pool_check(op, gx, "input gradient", dev, 4);
  impl::pool_check_pair(op, gx, gy, p);
  const int64_t n = gx.numel();
  if (n == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  const impl::PoolGeom g = impl::pool_geom(gx, gy, p);
  const float div = static_cast<float>(p.kernel_h * p.kernel_w);
  impl::with_plane_index(n, gx.size(2), gx.size(3), [&](auto count, auto idx) {
    using I = decltype(count);
    impl::avg_pool_backward_kernel<I><<<ctx.grid_for(n), kThreadsPerBlock, 0, ctx.stream()>>>(
        gy.data(), gx.data(), count, g, div, idx);
  });
  GCC_CUDA_LAUNCH_CHECK();
}

// y[n, c] = mean of the plane x[n, c].
inline void global_avg_pool2d_forward(const Tensor& x /* [N, C, H, W] */, const Tensor& y /* [N, C] */) {
  const char* op = "global_avg_pool2d_forward";
  const int dev = impl::cuda_device_of(op, y);
  impl::pool_check(op, x, "input", dev, 4);
  impl::pool_check(op, y, "output", dev, 2);
  GCC_CHECK(y.size(0) == x.size(0) && y.size(1) == x.size(1), op, ": output ", y.shape().str(), " for input ",
            x.shape().str());
  const int64_t planes = y.numel(), hw = x.size(2) * x.size(3);
  if (planes == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  impl::global_avg_pool_forward_kernel<0><<<ctx.grid_for(planes), kThreadsPerBlock, 0, ctx.stream()>>>(
      x.data(), y.data(), planes, hw);
  GCC_CUDA_LAUNCH_CHECK();
}

inline void global_avg_pool2d_backward(const Tensor& gy /* [N, C] */, const Tensor& gx /* [N, C, H, W], overwritten */) {
  const char* op = "global_avg_pool2d_backward";
  const int dev = impl::cuda_device_of(op, gx);
  impl::pool_check(op, gy, "output gradient", dev, 2);
  impl::pool_check(op, gx, "input gradient", dev, 4);
  GCC_CHECK(gy.size(0) == gx.size(0) && gy.size(1) == gx.size(1), op, ": output gradient ", gy.shape().str(),
            " for input ", gx.shape().str());
  const int64_t n = gx.numel(), hw = gx.size(2) * gx.size(3);
  if (n == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  const float fhw = static_cast<float>(hw);
  if (impl::fits_int31(n)) {
    impl::global_avg_pool_backward_kernel<uint32_t><<<ctx.grid_for(n), kThreadsPerBlock, 0, ctx.stream()>>>(
        gy.data(), gx.data(), static_cast<uint32_t>(n), impl::Divider<uint32_t>(hw), fhw);
  } else {
    impl::global_avg_pool_backward_kernel<int64_t><<<ctx.grid_for(n), kThreadsPerBlock, 0, ctx.stream()>>>(
        gy.data(), gx.data(), n, impl::Divider<int64_t>(hw), fhw);
  }
  GCC_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda
}  // namespace gcc
