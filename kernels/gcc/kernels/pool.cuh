// Pooling kernels on raw device pointers (the CUDA side of gcc/ops/pool.hpp's cpu::max_pool2d_*,
// avg_pool2d_*, global_avg_pool2d_*) over contiguous NCHW planes, with the CPU's window, tie and
// summation-order rules, so results agree bit for bit. Needs only the CUDA runtime.
// Driver: kernels/dev/pool.cu.
//
// Not cuDNN pooling: its tie rule for max pooling (which of equal maxima gets the gradient) and NaN
// handling are not specified, while the CPU reference routes the gradient to the first strictly larger
// value (a NaN always wins). Backward passes gather (one thread per input element, adding its windows'
// contributions in the CPU's output order) instead of scattering with atomics: deterministic and exact.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "channel.cuh"  // FastDiv
#include "common.cuh"

namespace gcc {
namespace kernels {

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

// The geometry of one pooling: input planes H x W, output planes Ho x Wo (floor mode), kernel kh x kw,
// stride (sh, sw), padding (ph, pw). The caller fills it (gcc::cuda builds it from Pool2dParams) and
// guarantees H * W and Ho * Wo < 2^31.
struct PoolGeom {
  int H, W, Ho, Wo, kh, kw, sh, sw, ph, pw;
};

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
__global__ void max_pool_forward_kernel(const float* x /* [N, C, H, W] */, float* y /* [N, C, Ho, Wo] or null */,
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
GCC_HEADER_KERNEL void global_avg_pool_forward_kernel(const float* x /* [P, HW] */, float* y /* [P] */,
                                                      int64_t planes, int64_t hw) {
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

// Launches f(I-typed count, PlaneIndex<I>) over `n` elements of planes rows x cols.
template <typename F>
void with_plane_index(int64_t n, int64_t rows, int64_t cols, F&& f) {
  if (fits_32bit(n)) {
    f(static_cast<uint32_t>(n), PlaneIndex<uint32_t>{Divider<uint32_t>(cols), Divider<uint32_t>(rows)});
  } else {
    f(n, PlaneIndex<int64_t>{Divider<int64_t>(cols), Divider<int64_t>(rows)});
  }
}

// ---- launchers (`planes` = N * C) -----------------------------------------------------------------

// y [planes, Ho, Wo] = max over each window of x [planes, H, W] (implicit -inf padding).
inline Status max_pool2d_forward(const Launch& l, const float* x, float* y, int64_t planes, const PoolGeom& g) {
  const int64_t n = planes * g.Ho * g.Wo;
  if (n == 0) return Status{};
  with_plane_index(n, g.Ho, g.Wo, [&](auto count, auto idx) {
    using I = decltype(count);
    max_pool_forward_kernel<I><<<l.grid_for(n), l.threads, 0, l.stream>>>(x, y, nullptr, count, g, idx);
  });
  return launched("max_pool_forward_kernel");
}

// Scratch of max_pool2d_backward: the argmax of every window, [planes, Ho, Wo] ints.
inline std::size_t max_pool2d_backward_workspace_bytes(int64_t planes, const PoolGeom& g) {
  return static_cast<std::size_t>(planes * g.Ho * g.Wo) * sizeof(int);
}

// gx [planes, H, W] (overwritten) = gy [planes, Ho, Wo] routed to each window's first maximum, the
// maxima recomputed from x [planes, H, W] into `argmax` (max_pool2d_backward_workspace_bytes bytes).
inline Status max_pool2d_backward(const Launch& l, const float* x, const float* gy, float* gx, int64_t planes,
                                  const PoolGeom& g, int* argmax) {
  const int64_t ni = planes * g.H * g.W;
  if (ni == 0) return Status{};
  const int64_t no = planes * g.Ho * g.Wo;
  with_plane_index(no, g.Ho, g.Wo, [&](auto count, auto idx) {
    using I = decltype(count);
    max_pool_forward_kernel<I><<<l.grid_for(no), l.threads, 0, l.stream>>>(x, nullptr, argmax, count, g, idx);
  });
  GCC_KERNELS_TRY(launched("max_pool_forward_kernel"));
  with_plane_index(ni, g.H, g.W, [&](auto count, auto idx) {
    using I = decltype(count);
    max_pool_backward_kernel<I><<<l.grid_for(ni), l.threads, 0, l.stream>>>(argmax, gy, gx, count, g, idx);
  });
  return launched("max_pool_backward_kernel");
}

// y [planes, Ho, Wo] = window sum of x [planes, H, W] / (kh * kw) (count_include_pad, floor mode).
inline Status avg_pool2d_forward(const Launch& l, const float* x, float* y, int64_t planes, const PoolGeom& g) {
  const int64_t n = planes * g.Ho * g.Wo;
  if (n == 0) return Status{};
  const float div = static_cast<float>(g.kh * g.kw);
  with_plane_index(n, g.Ho, g.Wo, [&](auto count, auto idx) {
    using I = decltype(count);
    avg_pool_forward_kernel<I><<<l.grid_for(n), l.threads, 0, l.stream>>>(x, y, count, g, div, idx);
  });
  return launched("avg_pool_forward_kernel");
}

// gx [planes, H, W] (overwritten) = sum of gy [planes, Ho, Wo] / (kh * kw) over the covering windows.
inline Status avg_pool2d_backward(const Launch& l, const float* gy, float* gx, int64_t planes, const PoolGeom& g) {
  const int64_t n = planes * g.H * g.W;
  if (n == 0) return Status{};
  const float div = static_cast<float>(g.kh * g.kw);
  with_plane_index(n, g.H, g.W, [&](auto count, auto idx) {
    using I = decltype(count);
    avg_pool_backward_kernel<I><<<l.grid_for(n), l.threads, 0, l.stream>>>(gy, gx, count, g, div, idx);
  });
  return launched("avg_pool_backward_kernel");
}

// y [planes] = mean of each plane of x [planes, hw].
inline Status global_avg_pool2d_forward(const Launch& l, const float* x, float* y, int64_t planes, int64_t hw) {
  if (planes == 0) return Status{};
  global_avg_pool_forward_kernel<<<l.grid_for(planes), l.threads, 0, l.stream>>>(x, y, planes, hw);
  return launched("global_avg_pool_forward_kernel");
}

// gx [planes, hw] (overwritten) = gy [planes] / hw.
inline Status global_avg_pool2d_backward(const Launch& l, const float* gy, float* gx, int64_t planes, int64_t hw) {
  const int64_t n = planes * hw;
  if (n == 0) return Status{};
  const float fhw = static_cast<float>(hw);
  if (fits_32bit(n)) {
    global_avg_pool_backward_kernel<uint32_t><<<l.grid_for(n), l.threads, 0, l.stream>>>(
        gy, gx, static_cast<uint32_t>(n), Divider<uint32_t>(hw), fhw);
  } else {
    global_avg_pool_backward_kernel<int64_t><<<l.grid_for(n), l.threads, 0, l.stream>>>(gy, gx, n,
                                                                                         Divider<int64_t>(hw), fhw);
  }
  return launched("global_avg_pool_backward_kernel");
}

}  // namespace kernels
}  // namespace gcc
