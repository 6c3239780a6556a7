// 2-D pooling over NCHW tensors with PyTorch's semantics: max_pool2d (implicit -inf padding, floor
// mode, gradient to the first maximum), avg_pool2d (count_include_pad, floor mode), global average.
#pragma once
#include <algorithm>
#include <cmath>
#include <limits>

#include "dispatch.hpp"

namespace gcc {

struct Pool2dParams {
  int kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
};

namespace detail {

// The window of output (oh, ow) clipped to the input: rows [h0, h1), columns [w0, w1).
struct PoolWindow {
  int64_t h0, h1, w0, w1;
};
inline PoolWindow pool_window(int64_t oh, int64_t ow, int64_t H, int64_t W, const Pool2dParams& p) {
  const int64_t hs = oh * p.stride_h - p.pad_h, ws = ow * p.stride_w - p.pad_w;
  return PoolWindow{std::max<int64_t>(hs, 0), std::min<int64_t>(hs + p.kernel_h, H), std::max<int64_t>(ws, 0),
                    std::min<int64_t>(ws + p.kernel_w, W)};
}

// Index (within the plane) of the window's maximum as PyTorch's CPU kernel picks it: the first
// strictly larger value wins, a NaN always wins (so the last NaN), -inf everywhere gives the first.
inline int64_t pool_argmax(const float* plane, int64_t W, const PoolWindow& win) {
  int64_t best = win.h0 * W + win.w0;
  float bv = -std::numeric_limits<float>::infinity();
  for (int64_t ih = win.h0; ih < win.h1; ++ih) {
    for (int64_t iw = win.w0; iw < win.w1; ++iw) {
      const float v = plane[ih * W + iw];
      const bool take = v > bv || v != v;  // v != v: NaN. Selects, not branches: random data mispredicts
      bv = take ? v : bv;
      best = take ? ih * W + iw : best;
    }
  }
  return best;
}

}  // namespace detail

namespace cpu {

inline void max_pool2d_forward(const Tensor& x /* [N, C, H, W] */, const Tensor& y /* [N, C, Ho, Wo] */,
                               Pool2dParams p) {
  const int64_t H = x.size(2), W = x.size(3), Ho = y.size(2), Wo = y.size(3);
  const float* xp = x.data();
  float* yp = y.data();
  parallel_for(x.size(0) * x.size(1), [&](int64_t plane) {
    const float* xs = xp + plane * H * W;
    float* ys = yp + plane * Ho * Wo;
    for (int64_t oh = 0; oh < Ho; ++oh)
      for (int64_t ow = 0; ow < Wo; ++ow)
        ys[oh * Wo + ow] = xs[detail::pool_argmax(xs, W, detail::pool_window(oh, ow, H, W, p))];
  }, 4);
}

// gx = gy routed to each window's maximum (recomputed from x; y is there for backends that use it,
// e.g. cuDNN).
inline void max_pool2d_backward(const Tensor& x /* [N, C, H, W] */, const Tensor& y /* [N, C, Ho, Wo] */,
                                const Tensor& gy /* [N, C, Ho, Wo] */,
                                const Tensor& gx /* [N, C, H, W], overwritten */, Pool2dParams p) {
  (void)y;
  const int64_t H = x.size(2), W = x.size(3), Ho = gy.size(2), Wo = gy.size(3);
  const float* xp = x.data();
  const float* gp = gy.data();
  float* gxp = gx.data();
  parallel_for(x.size(0) * x.size(1), [&](int64_t plane) {
    const float* xs = xp + plane * H * W;
    const float* gs = gp + plane * Ho * Wo;
    float* gxs = gxp + plane * H * W;
    std::fill(gxs, gxs + H * W, 0.f);
    for (int64_t oh = 0; oh < Ho; ++oh)
      for (int64_t ow = 0; ow < Wo; ++ow)
        gxs[detail::pool_argmax(xs, W, detail::pool_window(oh, ow, H, W, p))] += gs[oh * Wo + ow];
  }, 4);
}

// y = window sum / (kernel_h * kernel_w): padding counts (count_include_pad); in floor mode every
// window lies inside the padded input, so the divisor is always the kernel area.
inline void avg_pool2d_forward(const Tensor& x /* [N, C, H, W] */, const Tensor& y /* [N, C, Ho, Wo] */,
                               Pool2dParams p) {
  const int64_t H = x.size(2), W = x.size(3), Ho = y.size(2), Wo = y.size(3);
  const float div = static_cast<float>(p.kernel_h * p.kernel_w);
  const float* xp = x.data();
  float* yp = y.data();
  parallel_for(x.size(0) * x.size(1), [&](int64_t plane) {
    const float* xs = xp + plane * H * W;
    float* ys = yp + plane * Ho * Wo;
    for (int64_t oh = 0; oh < Ho; ++oh) {
      for (int64_t ow = 0; ow < Wo; ++ow) {
        const detail::PoolWindow win = detail::pool_window(oh, ow, H, W, p);
        float s = 0.f;
        for (int64_t ih = win.h0; ih < win.h1; ++ih)
          for (int64_t iw = win.w0; iw < win.w1; ++iw) s += xs[ih * W + iw];
        ys[oh * Wo + ow] = s / div;
      }
    }
  }, 4);
}

inline void avg_pool2d_backward(const Tensor& gy /* [N, C, Ho, Wo] */,
                                const Tensor& gx /* [N, C, H, W], overwritten */, Pool2dParams p) {
  const int64_t H = gx.size(2), W = gx.size(3), Ho = gy.size(2), Wo = gy.size(3);
  const float div = static_cast<float>(p.kernel_h * p.kernel_w);
  const float* gp = gy.data();
  float* gxp = gx.data();
  parallel_for(gx.size(0) * gx.size(1), [&](int64_t plane) {
    const float* gs = gp + plane * Ho * Wo;
    float* gxs = gxp + plane * H * W;
    std::fill(gxs, gxs + H * W, 0.f);
    for (int64_t oh = 0; oh < Ho; ++oh) {
      for (int64_t ow = 0; ow < Wo; ++ow) {
        const detail::PoolWindow win = detail::pool_window(oh, ow, H, W, p);
        const float g = gs[oh * Wo + ow] / div;
        for (int64_t ih = win.h0; ih < win.h1; ++ih)
          for (int64_t iw = win.w0; iw < win.w1; ++iw) gxs[ih * W + iw] += g;
      }
    }
  }, 4);
}

// y[n, c] = mean of the plane x[n, c].
inline void global_avg_pool2d_forward(const Tensor& x /* [N, C, H, W] */, const Tensor& y /* [N, C] */) {
  const int64_t HW = x.size(2) * x.size(3);
  const float* xp = x.data();
  float* yp = y.data();
  parallel_for(x.size(0) * x.size(1), [&](int64_t plane) {
    const float* xs = xp + plane * HW;
    float s = 0.f;
    for (int64_t i = 0; i < HW; ++i) s += xs[i];
    yp[plane] = s / static_cast<float>(HW);
  }, 16);
}

inline void global_avg_pool2d_backward(const Tensor& gy /* [N, C] */,
                                       const Tensor& gx /* [N, C, H, W], overwritten */) {
  const int64_t HW = gx.size(2) * gx.size(3);
  const float* gp = gy.data();
  float* gxp = gx.data();
  parallel_for(gx.size(0) * gx.size(1), [&](int64_t plane) {
    const float g = gp[plane] / static_cast<float>(HW);
    std::fill(gxp + plane * HW, gxp + (plane + 1) * HW, g);
  }, 16);
}

}  // namespace cpu

GCC_CUDA_SLOT(max_pool2d_forward, const Tensor&, const Tensor&, Pool2dParams)
GCC_CUDA_SLOT(max_pool2d_backward, const Tensor&, const Tensor&, const Tensor&, const Tensor&, Pool2dParams)
GCC_CUDA_SLOT(avg_pool2d_forward, const Tensor&, const Tensor&, Pool2dParams)
GCC_CUDA_SLOT(avg_pool2d_backward, const Tensor&, const Tensor&, Pool2dParams)
GCC_CUDA_SLOT(global_avg_pool2d_forward, const Tensor&, const Tensor&)
GCC_CUDA_SLOT(global_avg_pool2d_backward, const Tensor&, const Tensor&)

namespace detail {
// Checks the input and the parameters as PyTorch does; returns the output shape [N, C, Ho, Wo].
inline Shape pool_output_shape(const char* op, const Tensor& x, const Pool2dParams& p) {
  check_dims(op, x, 4, "[N, C, H, W]");
  GCC_CHECK(p.kernel_h >= 1 && p.kernel_w >= 1 && p.stride_h >= 1 && p.stride_w >= 1 && p.pad_h >= 0 &&
                p.pad_w >= 0,
            op, ": kernel and stride must be >= 1 and padding >= 0, got kernel (", p.kernel_h, ", ",
            p.kernel_w, ") stride (", p.stride_h, ", ", p.stride_w, ") padding (", p.pad_h, ", ", p.pad_w,
            ") for input ", x.shape().str());
  GCC_CHECK(p.pad_h <= p.kernel_h / 2 && p.pad_w <= p.kernel_w / 2, op, ": padding (", p.pad_h, ", ",
            p.pad_w, ") must be at most half the kernel size (", p.kernel_h, ", ", p.kernel_w,
            ") as in PyTorch; input is ", x.shape().str());
  const int64_t H = x.size(2), W = x.size(3);
  GCC_CHECK(H + 2 * p.pad_h >= p.kernel_h && W + 2 * p.pad_w >= p.kernel_w, op, ": kernel (", p.kernel_h,
            ", ", p.kernel_w, ") is larger than the padded input ", x.shape().str(), " with padding (",
            p.pad_h, ", ", p.pad_w, ")");
  return Shape{x.size(0), x.size(1), (H + 2 * p.pad_h - p.kernel_h) / p.stride_h + 1,
               (W + 2 * p.pad_w - p.kernel_w) / p.stride_w + 1};
}
inline Pool2dParams square_pool(int kernel, int stride, int padding) {
  Pool2dParams p;
  p.kernel_h = p.kernel_w = kernel;
  p.stride_h = p.stride_w = stride;
  p.pad_h = p.pad_w = padding;
  return p;
}
}  // namespace detail

// Max over each kernel window; padding is implicit -inf (never selected), output size
// floor((H + 2*pad - kernel) / stride) + 1. The gradient goes to the first maximum of each window.
inline Tensor max_pool2d(const Tensor& x, Pool2dParams p) {
  const Shape os = detail::pool_output_shape("max_pool2d", x, p);
  const Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(os, x.device());
  GCC_DISPATCH(max_pool2d_forward, x.device(), xc, y, p);
  if (any_requires_grad(x)) {
    Tape::record(y, "max_pool2d", [x, xd = xc.detach(), yd = y.detach(), p](const Tensor& gy) {
      Tensor gx = Tensor::empty(x.shape(), x.device());
      GCC_DISPATCH(max_pool2d_backward, x.device(), xd, yd, gy.contiguous(), gx, p);
      accumulate_grad_fresh(x, gx);
    });
  }
  return y;
}
inline Tensor max_pool2d(const Tensor& x, int kernel, int stride, int padding = 0) {
  return max_pool2d(x, detail::square_pool(kernel, stride, padding));
}

// Mean over each kernel window with PyTorch's defaults: zero padding counted in the divisor
// (count_include_pad=True), floor mode.
inline Tensor avg_pool2d(const Tensor& x, Pool2dParams p) {
  const Shape os = detail::pool_output_shape("avg_pool2d", x, p);
  const Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(os, x.device());
  GCC_DISPATCH(avg_pool2d_forward, x.device(), xc, y, p);
  if (any_requires_grad(x)) {
    Tape::record(y, "avg_pool2d", [x, p](const Tensor& gy) {
      Tensor gx = Tensor::empty(x.shape(), x.device());
      GCC_DISPATCH(avg_pool2d_backward, x.device(), gy.contiguous(), gx, p);
      accumulate_grad_fresh(x, gx);
    });
  }
  return y;
}
inline Tensor avg_pool2d(const Tensor& x, int kernel, int stride, int padding = 0) {
  return avg_pool2d(x, detail::square_pool(kernel, stride, padding));
}

// [N, C, H, W] -> [N, C]: the mean of every plane (2-D output, ready for a linear layer).
inline Tensor global_avg_pool2d(const Tensor& x) {
  check_dims("global_avg_pool2d", x, 4, "[N, C, H, W]");
  GCC_CHECK(x.size(2) * x.size(3) > 0, "global_avg_pool2d: empty planes in input ", x.shape().str());
  const Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(Shape{x.size(0), x.size(1)}, x.device());
  GCC_DISPATCH(global_avg_pool2d_forward, x.device(), xc, y);
  if (any_requires_grad(x)) {
    Tape::record(y, "global_avg_pool2d", [x](const Tensor& gy) {
      Tensor gx = Tensor::empty(x.shape(), x.device());
      GCC_DISPATCH(global_avg_pool2d_backward, x.device(), gy.contiguous(), gx);
      accumulate_grad_fresh(x, gx);
    });
  }
  return y;
}

}  // namespace gcc
