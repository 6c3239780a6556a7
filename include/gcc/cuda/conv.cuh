// CUDA versions of cpu::conv2d_forward / conv2d_backward_data / conv2d_backward_weight (ops/conv.hpp)
// on cuDNN: NCHW float cross-correlation. Each shape's descriptors and algorithms (measured once per
// direction, see conv_plan.cuh) are cached; the ops here check their tensors and run the plan.
#pragma once
#include "../ops/conv.hpp"
#include "conv_plan.cuh"
#include "gcc/kernels/channel.cuh"  // kernels/: per-channel bias and bias-gradient sums
#include "tensor_checks.cuh"

namespace gcc {
namespace cuda {

namespace impl {
inline void conv_check(const char* op, const Tensor& t, const char* what, int dev, int dims) {
  GCC_CHECK(t.defined(), op, ": ", what, " is undefined");
  GCC_CHECK(t.device().is_cuda() && t.device().index == dev, op, ": ", what, " of shape ", t.shape().str(),
            " is on ", t.device().str(), ", expected cuda:", dev);
  GCC_CHECK(t.is_contiguous(), op, ": ", what, " of shape ", t.shape().str(), " must be contiguous");
  GCC_CHECK(t.dims() == dims, op, ": ", what, " must be ", dims, "-D, got shape ", t.shape().str());
}

inline void conv_check_shape(const char* op, const detail::ConvShape& s, const Tensor& w) {
  GCC_CHECK(w.size(1) == s.C, op, ": weight ", w.shape().str(), " expects ", w.size(1), " input channels, input has ",
            s.C);
  GCC_CHECK(s.Ho == detail::conv_out_size(s.H, s.kh, s.sh, s.ph) && s.Wo == detail::conv_out_size(s.W, s.kw, s.sw, s.pw),
            op, ": output ", s.Ho, "x", s.Wo, " does not follow from input ", s.H, "x", s.W, ", kernel ", s.kh, "x",
            s.kw, ", stride (", s.sh, ", ", s.sw, "), padding (", s.ph, ", ", s.pw, ")");
}

}  // namespace impl

// y = conv(x, w) + bias (cross-correlation, as PyTorch's conv2d).
inline void conv2d_forward(const Tensor& x /* [N, C, H, W] */, const Tensor& w /* [Co, C, kh, kw] */,
                           const Tensor& bias /* [Co] or undefined */, const Tensor& y /* [N, Co, Ho, Wo] */,
                           Conv2dParams p) {
  const char* op = "conv2d_forward";
  const int dev = impl::cuda_device_of(op, y);
  impl::conv_check(op, x, "input", dev, 4);
  impl::conv_check(op, w, "weight", dev, 4);
  impl::conv_check(op, y, "output", dev, 4);
  const detail::ConvShape s = detail::conv_shape(x, w, y, p);
  impl::conv_check_shape(op, s, w);
  GCC_CHECK(y.size(0) == s.N && y.size(1) == s.Co, op, ": output ", y.shape().str(), " for input ", x.shape().str(),
            " and weight ", w.shape().str());
  if (bias.defined()) {
    impl::conv_check(op, bias, "bias", dev, 1);
    GCC_CHECK(bias.size(0) == s.Co, op, ": bias ", bias.shape().str(), " for ", s.Co, " output channels");
  }
  if (y.numel() == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  if (s.C == 0) {  // an empty sum: y = bias (or 0)
    GCC_CUDA_CHECK(cudaMemsetAsync(y.data(), 0, static_cast<std::size_t>(y.numel()) * sizeof(float), ctx.stream()));
  } else {
    cudnnHandle_t h = ctx.cudnn();
    const impl::ConvRules rules = impl::conv_rules();
    const bool tf32 = rules.tf32;
    std::lock_guard<std::mutex> lock(impl::conv_cache().mu);
    impl::ConvPlanCuda& plan = impl::conv_plan_locked(dev, s, rules);
    if (!plan.fwd_ready) impl::conv_pick_forward(ctx, h, plan, rules, x.data(), w.data(), y.data());
    const float alpha = 1.f, beta = 0.f;
    impl::run_conv(
        ctx, plan.fwd_algo, plan.fwd_ws, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM,
        [&](cudnnConvolutionFwdAlgo_t algo, void* ws, std::size_t bytes) {
          return cudnnConvolutionForward(h, &alpha, plan.x.d, x.data(), plan.w.d, w.data(), plan.fwd.d, algo, ws,
                                         bytes, &beta, plan.y.d, y.data());
        },
        [&] { impl::conv_fallback_forward(h, plan, tf32); }, "cudnnConvolutionForward");
  }
  if (bias.defined())
    GCC_KERNEL_CHECK(kernels::add_channel_bias(ctx.launch(), y.data(), bias.data(), s.N, s.Co, s.L()));
}

// gx = d(conv)/dx applied to gy (overwrites gx).
inline void conv2d_backward_data(const Tensor& gy /* [N, Co, Ho, Wo] */, const Tensor& w /* [Co, C, kh, kw] */,
                                 const Tensor& gx /* [N, C, H, W], overwritten */, Conv2dParams p) {
  const char* op = "conv2d_backward_data";
  const int dev = impl::cuda_device_of(op, gx);
  impl::conv_check(op, gy, "output gradient", dev, 4);
  impl::conv_check(op, w, "weight", dev, 4);
  impl::conv_check(op, gx, "input gradient", dev, 4);
  const detail::ConvShape s = detail::conv_shape(gx, w, gy, p);
  impl::conv_check_shape(op, s, w);
  GCC_CHECK(gy.size(0) == s.N && gy.size(1) == s.Co, op, ": output gradient ", gy.shape().str(), " for input ",
            gx.shape().str(), " and weight ", w.shape().str());
  if (gx.numel() == 0) return;
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  if (gy.numel() == 0) {  // no output depends on x
    GCC_CUDA_CHECK(cudaMemsetAsync(gx.data(), 0, static_cast<std::size_t>(gx.numel()) * sizeof(float), ctx.stream()));
    return;
  }
  cudnnHandle_t h = ctx.cudnn();
  const impl::ConvRules rules = impl::conv_rules();
  const bool tf32 = rules.tf32;
  std::lock_guard<std::mutex> lock(impl::conv_cache().mu);
  impl::ConvPlanCuda& plan = impl::conv_plan_locked(dev, s, rules);
  if (!plan.bwd_data_ready) impl::conv_pick_backward_data(ctx, h, plan, rules, w.data(), gy.data(), gx.data());
  const float alpha = 1.f, beta = 0.f;
  impl::run_conv(
      ctx, plan.bwd_data_algo, plan.bwd_data_ws, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1,
      [&](cudnnConvolutionBwdDataAlgo_t algo, void* ws, std::size_t bytes) {
        return cudnnConvolutionBackwardData(h, &alpha, plan.w.d, w.data(), plan.y.d, gy.data(), plan.bwd_data.d, algo,
                                            ws, bytes, &beta, plan.x.d, gx.data());
      },
      [&] { impl::conv_fallback_backward_data(h, plan, tf32); }, "cudnnConvolutionBackwardData");
}

// gw = sum over images and positions of gy ⊗ the input patches; gb = gy summed over (N, Ho, Wo)
// (deterministic, in double). Both overwritten; either may be undefined.
inline void conv2d_backward_weight(const Tensor& x /* [N, C, H, W] */, const Tensor& gy /* [N, Co, Ho, Wo] */,
                                   const Tensor& gw /* [Co, C, kh, kw] or undefined, overwritten */,
                                   const Tensor& gb /* [Co] or undefined, overwritten */, Conv2dParams p) {
  const char* op = "conv2d_backward_weight";
  const int dev = impl::cuda_device_of(op, gy);
  impl::conv_check(op, gy, "output gradient", dev, 4);
  const int64_t N = gy.size(0), Co = gy.size(1), L = gy.size(2) * gy.size(3);
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  if (gb.defined()) {
    impl::conv_check(op, gb, "bias gradient", dev, 1);
    GCC_CHECK(gb.size(0) == Co, op, ": bias gradient ", gb.shape().str(), " for ", Co, " output channels");
    const kernels::ChannelReducePlan plan = kernels::plan_channel_reduce(ctx.launch(), N, Co, L);
    double* partial = static_cast<double*>(ctx.workspace(kernels::channel_partial_bytes(plan, 1)));
    GCC_KERNEL_CHECK(kernels::channel_sum(ctx.launch(), plan, gy.data(), gb.data(), partial));
  }
  if (!gw.defined()) return;
  impl::conv_check(op, x, "input", dev, 4);
  impl::conv_check(op, gw, "weight gradient", dev, 4);
  const detail::ConvShape s = detail::conv_shape(x, gw, gy, p);
  impl::conv_check_shape(op, s, gw);
  GCC_CHECK(s.N == N && s.Co == Co, op, ": output gradient ", gy.shape().str(), " for input ", x.shape().str(),
            " and weight ", gw.shape().str());
  if (gw.numel() == 0) return;
  if (x.numel() == 0 || gy.numel() == 0) {  // an empty sum
    GCC_CUDA_CHECK(cudaMemsetAsync(gw.data(), 0, static_cast<std::size_t>(gw.numel()) * sizeof(float), ctx.stream()));
    return;
  }
  cudnnHandle_t h = ctx.cudnn();
  const impl::ConvRules rules = impl::conv_rules();
  const bool tf32 = rules.tf32;
  std::lock_guard<std::mutex> lock(impl::conv_cache().mu);
  impl::ConvPlanCuda& plan = impl::conv_plan_locked(dev, s, rules);
  if (!plan.bwd_filter_ready) impl::conv_pick_backward_filter(ctx, h, plan, rules, x.data(), gy.data(), gw.data());
  const float alpha = 1.f, beta = 0.f;
  impl::run_conv(
      ctx, plan.bwd_filter_algo, plan.bwd_filter_ws, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1,
      [&](cudnnConvolutionBwdFilterAlgo_t algo, void* ws, std::size_t bytes) {
        return cudnnConvolutionBackwardFilter(h, &alpha, plan.x.d, x.data(), plan.y.d, gy.data(), plan.bwd_filter.d,
                                              algo, ws, bytes, &beta, plan.w.d, gw.data());
      },
      [&] { impl::conv_fallback_backward_filter(h, plan, tf32); }, "cudnnConvolutionBackwardFilter");
}

}  // namespace cuda
}  // namespace gcc
