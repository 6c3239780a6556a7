// 2-D convolution over NCHW tensors (no groups, no dilation), PyTorch's conv2d semantics.
// CPU path: oneDNN's JIT convolutions when the build has them (GCC_WITH_DNNL, ops/conv_dnnl.hpp), else --
// and always as the reference the tests compare with -- im2col + one sgemm per unit of images, units
// spread over the OpenMP threads.
#pragma once
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../core/blas.hpp"
#include "dispatch.hpp"
#if defined(GCC_WITH_DNNL)
#include "conv_dnnl.hpp"
#endif

namespace gcc {

struct Conv2dParams {
  int stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
};

// Which CPU convolution cpu::conv2d_* runs: oneDNN (default when built with GCC_WITH_DNNL) or the toolkit's
// im2col + GEMM. The environment variable GCC_CPU_CONV=im2col|onednn sets the start value.
enum class CpuConv { Im2col, OneDnn };
inline bool cpu_conv_onednn_built() {
#if defined(GCC_WITH_DNNL)
  return true;
#else
  return false;
#endif
}
inline CpuConv& cpu_conv_setting() {
  static CpuConv c = [] {
    const char* e = std::getenv("GCC_CPU_CONV");
    const std::string v = e ? e : "";
    GCC_CHECK(v.empty() || v == "im2col" || v == "onednn", "GCC_CPU_CONV='", v,
              "' is not a CPU convolution; expected im2col or onednn");
    GCC_CHECK(v != "onednn" || cpu_conv_onednn_built(), "GCC_CPU_CONV=onednn, but this program was built without "
              "oneDNN (install libdnnl-dev and reconfigure; GCC_WITH_DNNL)");
    return v == "im2col" || !cpu_conv_onednn_built() ? CpuConv::Im2col : CpuConv::OneDnn;
  }();
  return c;
}
inline CpuConv cpu_conv() { return cpu_conv_setting(); }
inline void set_cpu_conv(CpuConv c) {
  GCC_CHECK(c == CpuConv::Im2col || cpu_conv_onednn_built(), "set_cpu_conv: this program was built without oneDNN "
            "(install libdnnl-dev and reconfigure; GCC_WITH_DNNL)");
  cpu_conv_setting() = c;
}

namespace detail {

// Sizes of one convolution, read off the tensors of a kernel call.
struct ConvShape {
  int64_t N, C, H, W;     // input
  int64_t Co, kh, kw;     // weight
  int64_t Ho, Wo;         // output
  int64_t sh, sw, ph, pw;
  int64_t K() const { return C * kh * kw; }  // rows of the column matrix
  int64_t L() const { return Ho * Wo; }      // output positions per image
  int64_t HW() const { return H * W; }
  // 1x1, stride 1, no padding: the input plane already is the column matrix.
  bool pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
};

inline ConvShape conv_shape(const Tensor& x /* [N, C, H, W] */, const Tensor& w /* [Co, C, kh, kw] */,
                            const Tensor& y /* [N, Co, Ho, Wo] */, const Conv2dParams& p) {
  return ConvShape{x.size(0), x.size(1), x.size(2), x.size(3), w.size(0), w.size(2), w.size(3),
                   y.size(2), y.size(3), p.stride_h, p.stride_w, p.pad_h, p.pad_w};
}

inline int64_t conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad) {
  return (in + 2 * pad - k) / stride + 1;
}

// The per-thread column buffers of one call stay under this many floats in all (32 MB).
constexpr int64_t kConvColBudget = int64_t(8) << 20;
// A work unit covers at least this many output positions (GEMM columns), batching small images.
constexpr int64_t kConvMinColumns = 512;


inline bool conv_in_parallel() {
#ifdef _OPENMP
  return omp_in_parallel() != 0;
#else
  return false;
#endif
}
inline int conv_thread_index() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// How a batch is split: `units` chunks of `b` consecutive images (the last may be shorter). With
// `parallel`, the units run on `threads` OpenMP threads, each with its own buffers and a single-threaded
// GEMM (no data crosses threads, nothing waits on OpenBLAS's pool); otherwise they run one after another,
// with im2col/col2im threaded by parallel_for and OpenBLAS threading each GEMM (few images, e.g. N = 1).
struct ConvPlan {
  int64_t b = 1, units = 0;
  int threads = 1;
  bool parallel = false;
};

// rows: the largest number of rows of a per-unit buffer (max(K, Co)); L: output positions per image.
inline ConvPlan conv_plan(int64_t N, int64_t rows, int64_t L) {
  ConvPlan p;
  const int nt = conv_in_parallel() ? 1 : num_threads();
  const int64_t per_image = std::max<int64_t>(1, rows * L);
  int64_t b = (kConvMinColumns + std::max<int64_t>(L, 1) - 1) / std::max<int64_t>(L, 1);
  b = std::min(b, (N + nt - 1) / nt);  // at least one unit per thread when the batch allows
  b = std::min(b, kConvColBudget / (per_image * nt));
  b = std::max<int64_t>(b, 1);
  p.units = N > 0 ? (N + b - 1) / b : 0;
  p.b = p.units > 0 ? (N + p.units - 1) / p.units : 1;  // balance the units
  p.parallel = nt > 1 && p.units >= 2;
  p.threads = p.parallel ? nt : 1;
  return p;
}

// Calls body(n0, count, thread) for every unit of the plan.
template <typename F>
void conv_run_units(const ConvPlan& plan, int64_t N, F&& body) {
  auto unit = [&](int64_t u, int t) {
    const int64_t n0 = u * plan.b;
    body(n0, std::min(plan.b, N - n0), t);
  };
  if (plan.parallel) {
    BlasSingleThread single;
    parallel_for(plan.units, [&](int64_t u) { unit(u, conv_thread_index()); });
  } else {
    for (int64_t u = 0; u < plan.units; ++u) unit(u, 0);
  }
}

// Output columns [lo, hi) whose input column ow*s + off lies inside [0, W).
inline void conv_valid_range(int64_t off, int64_t s, int64_t W, int64_t Wo, int64_t& lo, int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + s - 1) / s;
  hi = W - 1 - off >= 0 ? (W - 1 - off) / s + 1 : 0;
  lo = std::min(lo, Wo);
  hi = std::max(lo, std::min(hi, Wo));
}

// col[(c*kh + i)*kw + j, b*L + oh*Wo + ow] = x[n0+b, c, oh*sh - ph + i, ow*sw - pw + j] (0 outside),
// for b in [0, B). x: [N, C, H, W]; col: [K, B*L].
inline void im2col_chunk(const float* x, float* col, int64_t n0, int64_t B, const ConvShape& s) {
  const int64_t L = s.L(), ld = B * L, HW = s.HW();
  parallel_for(B * s.C, [&](int64_t item) {
    const int64_t b = item / s.C, c = item % s.C;
    const float* xp = x + ((n0 + b) * s.C + c) * HW;
    for (int64_t i = 0; i < s.kh; ++i) {
      for (int64_t j = 0; j < s.kw; ++j) {
        float* dst = col + ((c * s.kh + i) * s.kw + j) * ld + b * L;
        const int64_t off = j - s.pw;
        int64_t lo, hi;
        conv_valid_range(off, s.sw, s.W, s.Wo, lo, hi);
        for (int64_t oh = 0; oh < s.Ho; ++oh) {
          float* d = dst + oh * s.Wo;
          const int64_t ih = oh * s.sh - s.ph + i;
          if (ih < 0 || ih >= s.H) {
            std::fill(d, d + s.Wo, 0.f);
            continue;
          }
          const float* src = xp + ih * s.W + off;
          std::fill(d, d + lo, 0.f);
          if (s.sw == 1) {
            std::memcpy(d + lo, src + lo, static_cast<std::size_t>(hi - lo) * sizeof(float));
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) d[ow] = src[ow * s.sw];
          }
          std::fill(d + hi, d + s.Wo, 0.f);
        }
      }
    }
  });
}

// The adjoint of im2col_chunk: gx[n0+b, c] = sum of the col entries that im2col read from there.
// gx: [N, C, H, W] (planes of the chunk overwritten); col: [K, B*L].
inline void col2im_chunk(const float* col, float* gx, int64_t n0, int64_t B, const ConvShape& s) {
  const int64_t L = s.L(), ld = B * L, HW = s.HW();
  parallel_for(B * s.C, [&](int64_t item) {
    const int64_t b = item / s.C, c = item % s.C;
    float* gp = gx + ((n0 + b) * s.C + c) * HW;
    std::fill(gp, gp + HW, 0.f);
    for (int64_t i = 0; i < s.kh; ++i) {
      for (int64_t j = 0; j < s.kw; ++j) {
        const float* src = col + ((c * s.kh + i) * s.kw + j) * ld + b * L;
        const int64_t off = j - s.pw;
        int64_t lo, hi;
        conv_valid_range(off, s.sw, s.W, s.Wo, lo, hi);
        for (int64_t oh = 0; oh < s.Ho; ++oh) {
          const int64_t ih = oh * s.sh - s.ph + i;
          if (ih < 0 || ih >= s.H) continue;
          float* g = gp + ih * s.W + off;
          const float* sr = src + oh * s.Wo;
          if (s.sw == 1) {
            for (int64_t ow = lo; ow < hi; ++ow) g[ow] += sr[ow];
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) g[ow * s.sw] += sr[ow];
          }
        }
      }
    }
  });
}

// y[n0+b, co, :] = t[co, b*L : (b+1)*L] (+ bias[co]). t: [Co, B*L]; y: [N, Co, L].
inline void conv_scatter_chunk(const float* t, const float* bias, float* y, int64_t n0, int64_t B,
                               int64_t Co, int64_t L) {
  parallel_for(B * Co, [&](int64_t item) {
    const int64_t b = item / Co, co = item % Co;
    const float* src = t + co * B * L + b * L;
    float* dst = y + ((n0 + b) * Co + co) * L;
    if (bias) {
      const float bv = bias[co];
      for (int64_t l = 0; l < L; ++l) dst[l] = src[l] + bv;
    } else {
      std::memcpy(dst, src, static_cast<std::size_t>(L) * sizeof(float));
    }
  }, 8);
}

// t[co, b*L : (b+1)*L] = g[n0+b, co, :]. g: [N, Co, L]; t: [Co, B*L].
inline void conv_gather_chunk(const float* g, float* t, int64_t n0, int64_t B, int64_t Co, int64_t L) {
  parallel_for(B * Co, [&](int64_t item) {
    const int64_t b = item / Co, co = item % Co;
    std::memcpy(t + co * B * L + b * L, g + ((n0 + b) * Co + co) * L,
                static_cast<std::size_t>(L) * sizeof(float));
  }, 8);
}

inline std::unique_ptr<float[]> conv_buffer(int64_t n) {
  return std::unique_ptr<float[]>(new float[static_cast<std::size_t>(std::max<int64_t>(n, 1))]);
}

}  // namespace detail

namespace cpu {

// y = conv(x, w) + bias. Each unit of images: im2col, one GEMM W[Co, K] * col[K, b*L], scatter to NCHW.
inline void conv2d_forward_im2col(const Tensor& x /* [N, C, H, W] */, const Tensor& w /* [Co, C, kh, kw] */,
                                  const Tensor& bias /* [Co] or undefined */,
                                  const Tensor& y /* [N, Co, Ho, Wo] */, Conv2dParams p) {
  const detail::ConvShape s = detail::conv_shape(x, w, y, p);
  const float* xp = x.data();
  const float* wp = w.data();
  const float* bp = bias.defined() ? bias.data() : nullptr;
  float* yp = y.data();
  const int64_t K = s.K(), L = s.L(), Co = s.Co;
  if (s.N == 0 || Co == 0 || L == 0) return;
  const detail::ConvPlan plan = detail::conv_plan(s.N, std::max(K, Co), L);
  const int64_t ncol = K * plan.b * L, ntmp = plan.b > 1 ? Co * plan.b * L : 0;
  auto col = detail::conv_buffer(plan.threads * ncol);
  auto tmp = detail::conv_buffer(plan.threads * ntmp);
  detail::conv_run_units(plan, s.N, [&](int64_t n0, int64_t b, int t) {
    const float* c = xp + n0 * s.C * L;  // a 1x1/s1/p0 conv of one image reads x directly
    if (!(s.pointwise() && b == 1)) {
      detail::im2col_chunk(xp, col.get() + t * ncol, n0, b, s);
      c = col.get() + t * ncol;
    }
    if (b == 1) {  // the GEMM writes straight into y
      float* yn = yp + n0 * Co * L;
      cpu::sgemm(false, false, Co, L, K, 1.f, wp, c, 0.f, yn);
      if (bp) {
        for (int64_t co = 0; co < Co; ++co) {
          const float bv = bp[co];
          for (int64_t l = 0; l < L; ++l) yn[co * L + l] += bv;
        }
      }
      return;
    }
    float* tm = tmp.get() + t * ntmp;
    cpu::sgemm(false, false, Co, b * L, K, 1.f, wp, c, 0.f, tm);
    detail::conv_scatter_chunk(tm, bp, yp, n0, b, Co, L);
  });
}

// gx = d(conv)/dx applied to gy: per unit, col = W^T[K, Co] * gy[Co, b*L], then col2im.
inline void conv2d_backward_data_im2col(const Tensor& gy /* [N, Co, Ho, Wo] */,
                                        const Tensor& w /* [Co, C, kh, kw] */,
                                        const Tensor& gx /* [N, C, H, W], overwritten */, Conv2dParams p) {
  const detail::ConvShape s = detail::conv_shape(gx, w, gy, p);
  const float* gp = gy.data();
  const float* wp = w.data();
  float* gxp = gx.data();
  const int64_t K = s.K(), L = s.L(), Co = s.Co;
  if (s.N == 0 || s.C == 0) return;
  if (L == 0 || Co == 0) {
    gx.fill(0.f);
    return;
  }
  const detail::ConvPlan plan = detail::conv_plan(s.N, std::max(K, Co), L);
  const int64_t ncol = K * plan.b * L, ntmp = plan.b > 1 ? Co * plan.b * L : 0;
  auto col = detail::conv_buffer(plan.threads * ncol);
  auto tmp = detail::conv_buffer(plan.threads * ntmp);
  detail::conv_run_units(plan, s.N, [&](int64_t n0, int64_t b, int t) {
    const float* g = gp + n0 * Co * L;
    if (b > 1) {
      detail::conv_gather_chunk(gp, tmp.get() + t * ntmp, n0, b, Co, L);
      g = tmp.get() + t * ntmp;
    }
    if (s.pointwise() && b == 1) {  // gx[n] = W^T[C, Co] * gy[n][Co, HW]
      cpu::sgemm(true, false, K, L, Co, 1.f, wp, g, 0.f, gxp + n0 * s.C * L);
      return;
    }
    float* c = col.get() + t * ncol;
    cpu::sgemm(true, false, K, b * L, Co, 1.f, wp, g, 0.f, c);
    detail::col2im_chunk(c, gxp, n0, b, s);
  });
}

// gw = sum over images of gy[Co, L] * col^T[L, K]; gb = gy summed over images and positions.
// With several threads each accumulates its units in its own buffer; the buffers are summed at the end.
inline void conv2d_backward_weight_im2col(const Tensor& x /* [N, C, H, W] */,
                                          const Tensor& gy /* [N, Co, Ho, Wo] */,
                                          const Tensor& gw /* [Co, C, kh, kw] or undefined, overwritten */,
                                          const Tensor& gb /* [Co] or undefined, overwritten */, Conv2dParams p) {
  const int64_t N = gy.size(0), Co = gy.size(1), L = gy.size(2) * gy.size(3);
  const float* gp = gy.data();
  if (gb.defined()) {
    float* gbp = gb.data();
    parallel_for(Co, [&](int64_t co) {
      double acc = 0;
      for (int64_t n = 0; n < N; ++n) {
        const float* r = gp + (n * Co + co) * L;
        float part = 0.f;
        for (int64_t l = 0; l < L; ++l) part += r[l];
        acc += part;
      }
      gbp[co] = static_cast<float>(acc);
    }, 4);
  }
  if (!gw.defined()) return;
  const detail::ConvShape s = detail::conv_shape(x, gw, gy, p);
  const float* xp = x.data();
  float* gwp = gw.data();
  const int64_t K = s.K(), CoK = Co * K;
  gw.fill(0.f);
  if (N == 0 || L == 0 || CoK == 0) return;
  const detail::ConvPlan plan = detail::conv_plan(N, std::max(K, Co), L);
  const int64_t ncol = K * plan.b * L, ntmp = plan.b > 1 ? Co * plan.b * L : 0;
  auto col = detail::conv_buffer(plan.threads * ncol);
  auto tmp = detail::conv_buffer(plan.threads * ntmp);
  auto acc = detail::conv_buffer((plan.threads - 1) * CoK);  // thread 0 accumulates into gw
  std::vector<char> used(static_cast<std::size_t>(plan.threads), 0);
  detail::conv_run_units(plan, N, [&](int64_t n0, int64_t b, int t) {
    const float* c = xp + n0 * s.C * L;
    if (!(s.pointwise() && b == 1)) {
      detail::im2col_chunk(xp, col.get() + t * ncol, n0, b, s);
      c = col.get() + t * ncol;
    }
    const float* g = gp + n0 * Co * L;
    if (b > 1) {
      detail::conv_gather_chunk(gp, tmp.get() + t * ntmp, n0, b, Co, L);
      g = tmp.get() + t * ntmp;
    }
    float* a = t == 0 ? gwp : acc.get() + (t - 1) * CoK;
    const float beta = (t == 0 || used[static_cast<std::size_t>(t)]) ? 1.f : 0.f;
    used[static_cast<std::size_t>(t)] = 1;
    cpu::sgemm(false, true, Co, K, b * L, 1.f, g, c, beta, a);
  });
  for (int t = 1; t < plan.threads; ++t) {
    if (!used[static_cast<std::size_t>(t)]) continue;
    const float* a = acc.get() + (t - 1) * CoK;
    parallel_for(CoK, [&](int64_t i) { gwp[i] += a[i]; }, 1 << 14);
  }
}

#if defined(GCC_WITH_DNNL)
inline detail::DnnlConv& onednn_conv(const detail::ConvShape& s, bool bias) {
  return detail::dnnl_conv(
      detail::DnnlConvKey{s.N, s.C, s.H, s.W, s.Co, s.kh, s.kw, s.Ho, s.Wo, s.sh, s.sw, s.ph, s.pw, bias});
}
inline bool onednn_conv_applies(const detail::ConvShape& s) {
  return cpu_conv() == CpuConv::OneDnn && s.N > 0 && s.C > 0 && s.Co > 0 && s.L() > 0;
}
#endif

// The CPU convolution entry points (one dispatch slot each): oneDNN or im2col, as cpu_conv() says.
inline void conv2d_forward(const Tensor& x /* [N, C, H, W] */, const Tensor& w /* [Co, C, kh, kw] */,
                           const Tensor& bias /* [Co] or undefined */, const Tensor& y /* [N, Co, Ho, Wo] */,
                           Conv2dParams p) {
#if defined(GCC_WITH_DNNL)
  const detail::ConvShape s = detail::conv_shape(x, w, y, p);
  if (onednn_conv_applies(s)) {
    detail::DnnlConv& c = onednn_conv(s, bias.defined());
    std::lock_guard<std::mutex> lock(c.mutex());
    c.forward(x.data(), w.data(), bias.defined() ? bias.data() : nullptr, y.data());
    return;
  }
#endif
  conv2d_forward_im2col(x, w, bias, y, p);
}

inline void conv2d_backward_data(const Tensor& gy /* [N, Co, Ho, Wo] */, const Tensor& w /* [Co, C, kh, kw] */,
                                 const Tensor& gx /* [N, C, H, W], overwritten */, Conv2dParams p) {
#if defined(GCC_WITH_DNNL)
  const detail::ConvShape s = detail::conv_shape(gx, w, gy, p);
  if (onednn_conv_applies(s)) {
    detail::DnnlConv& c = onednn_conv(s, false);
    std::lock_guard<std::mutex> lock(c.mutex());
    c.backward_data(gy.data(), w.data(), gx.data());
    return;
  }
#endif
  conv2d_backward_data_im2col(gy, w, gx, p);
}

inline void conv2d_backward_weight(const Tensor& x /* [N, C, H, W] */, const Tensor& gy /* [N, Co, Ho, Wo] */,
                                   const Tensor& gw /* [Co, C, kh, kw] or undefined, overwritten */,
                                   const Tensor& gb /* [Co] or undefined, overwritten */, Conv2dParams p) {
#if defined(GCC_WITH_DNNL)
  if (gw.defined()) {
    const detail::ConvShape s = detail::conv_shape(x, gw, gy, p);
    if (onednn_conv_applies(s)) {
      detail::DnnlConv& c = onednn_conv(s, gb.defined());
      std::lock_guard<std::mutex> lock(c.mutex());
      c.backward_weights(x.data(), gy.data(), gw.data(), gb.defined() ? gb.data() : nullptr);
      return;
    }
  }
#endif
  conv2d_backward_weight_im2col(x, gy, gw, gb, p);
}

}  // namespace cpu

GCC_CUDA_SLOT(conv2d_forward, const Tensor&, const Tensor&, const Tensor&, const Tensor&, Conv2dParams)
GCC_CUDA_SLOT(conv2d_backward_data, const Tensor&, const Tensor&, const Tensor&, Conv2dParams)
GCC_CUDA_SLOT(conv2d_backward_weight, const Tensor&, const Tensor&, const Tensor&, const Tensor&, Conv2dParams)

// y[N, Cout, Ho, Wo] = conv2d(x[N, Cin, H, W], w[Cout, Cin, kh, kw]) + bias[Cout] (bias may be an
// undefined Tensor). Ho = floor((H + 2*pad_h - kh) / stride_h) + 1, likewise Wo (PyTorch).
// Differentiable in x, w and bias.
inline Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, Conv2dParams p) {
  check_dims("conv2d", x, 4, "[N, C, H, W] (input)");
  GCC_CHECK(w.defined(), "conv2d: weight is undefined");
  GCC_CHECK(w.dims() == 4, "conv2d: weight must be 4-D [Cout, Cin, kh, kw], got shape ", w.shape().str(),
            " (input ", x.shape().str(), ")");
  check_same_device("conv2d", x, w);
  GCC_CHECK(w.size(1) == x.size(1), "conv2d: weight ", w.shape().str(), " expects ", w.size(1),
            " input channels, input is ", x.shape().str());
  if (bias.defined()) {
    check_same_device("conv2d", x, bias);
    GCC_CHECK(bias.dims() == 1 && bias.size(0) == w.size(0), "conv2d: bias must be [", w.size(0),
              "] for weight ", w.shape().str(), ", got shape ", bias.shape().str());
  }
  GCC_CHECK(p.stride_h >= 1 && p.stride_w >= 1 && p.pad_h >= 0 && p.pad_w >= 0,
            "conv2d: strides must be >= 1 and paddings >= 0, got stride (", p.stride_h, ", ", p.stride_w,
            ") padding (", p.pad_h, ", ", p.pad_w, ")");
  GCC_CHECK(w.size(2) >= 1 && w.size(3) >= 1, "conv2d: empty kernel in weight ", w.shape().str());
  const int64_t H = x.size(2), W = x.size(3), kh = w.size(2), kw = w.size(3);
  GCC_CHECK(H + 2 * p.pad_h >= kh && W + 2 * p.pad_w >= kw, "conv2d: kernel ", kh, "x", kw,
            " is larger than the padded input (input ", x.shape().str(), ", padding (", p.pad_h, ", ",
            p.pad_w, "))");
  const int64_t Ho = detail::conv_out_size(H, kh, p.stride_h, p.pad_h);
  const int64_t Wo = detail::conv_out_size(W, kw, p.stride_w, p.pad_w);
  const Tensor xc = x.contiguous(), wc = w.contiguous();
  const Tensor bc = bias.defined() ? bias.contiguous() : Tensor();
  Tensor y = Tensor::empty(Shape{x.size(0), w.size(0), Ho, Wo}, x.device());
  GCC_DISPATCH(conv2d_forward, x.device(), xc, wc, bc, y, p);
  if (any_requires_grad(x, w, bias)) {
    Tape::record(y, "conv2d", [x, w, bias, xd = xc.detach(), wd = wc.detach(), p](const Tensor& gy) {
      const Tensor g = gy.contiguous();
      if (x.requires_grad()) {
        Tensor gx = Tensor::empty(x.shape(), x.device());
        GCC_DISPATCH(conv2d_backward_data, x.device(), g, wd, gx, p);
        accumulate_grad_fresh(x, gx);
      }
      const bool need_b = bias.defined() && bias.requires_grad();
      if (w.requires_grad() || need_b) {
        Tensor gw = w.requires_grad() ? Tensor::empty(w.shape(), w.device()) : Tensor();
        Tensor gb = need_b ? Tensor::empty(bias.shape(), bias.device()) : Tensor();
        GCC_DISPATCH(conv2d_backward_weight, x.device(), xd, g, gw, gb, p);
        if (gw.defined()) accumulate_grad_fresh(w, gw);
        if (gb.defined()) accumulate_grad_fresh(bias, gb);
      }
    });
  }
  return y;
}

// Same stride and padding in both directions.
inline Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, int stride, int pad) {
  Conv2dParams p;
  p.stride_h = p.stride_w = stride;
  p.pad_h = p.pad_w = pad;
  return conv2d(x, w, bias, p);
}

}  // namespace gcc
