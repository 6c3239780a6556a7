// cuDNN convolution plans: descriptors per shape, cached, and the algorithm of each direction chosen on
// its first call. Used by conv.cuh (the conv2d ops).
//
// Algorithm choice (like PyTorch with torch.backends.cudnn.benchmark = True). The first call of each
// direction (forward, backward-data, backward-filter) for a shape times every cuDNN algorithm on that
// call's own buffers with cudnnFindConvolution*AlgorithmEx, given a workspace from the context as large
// as the hungriest algorithm asks for, capped at kConvMaxWorkspaceBytes (1 GiB). The fastest result that
//  - succeeded (and needs at most that workspace),
//  - has math type CUDNN_FMA_MATH when TF32 is off (strict FP32; with allow_tf32() any math type but
//    CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION, which may convert to FP16/BF16), and
//  - is CUDNN_DETERMINISTIC when deterministic() (the default; any when set_deterministic(false))
// is kept in the shape's plan, keyed by (device, shape, tf32, deterministic), for every later call. The
// measurement writes the call's output buffer (y / gx / gw) several times; the real call then overwrites
// it (beta = 0), and the inputs are only read. Fallbacks: if Find fails (or its workspace cannot be
// allocated, or no result qualifies) the first qualifying candidate of cuDNN's heuristics
// (cudnnGet*Algorithm_v7, best first) is taken; if none qualifies either, the general algorithm (implicit
// GEMM forward, ALGO_1 backward: deterministic and FMA-capable); and if the chosen algorithm answers
// NOT_SUPPORTED at run time, the plan switches to the general one. With deterministic() each call is
// bitwise reproducible within a process; two processes may measure differently and pick different
// (each deterministic) algorithms, so bits can differ between runs, as in PyTorch's benchmark mode.
#pragma once
#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../ops/conv.hpp"
#include "context.cuh"
#include "math_mode.cuh"

namespace gcc {
namespace cuda {
namespace impl {

// Workspace cap for one convolution algorithm; faster algorithms that want more are skipped.
constexpr std::size_t kConvMaxWorkspaceBytes = std::size_t(1) << 30;

// Owning cuDNN descriptors (destroyed if building a plan fails half-way; cached plans live on).
struct TensorDesc {
  cudnnTensorDescriptor_t d = nullptr;
  TensorDesc() { GCC_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d)); }
  ~TensorDesc() { if (d) (void)cudnnDestroyTensorDescriptor(d); }
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
};
struct FilterDesc {
  cudnnFilterDescriptor_t d = nullptr;
  FilterDesc() { GCC_CUDNN_CHECK(cudnnCreateFilterDescriptor(&d)); }
  ~FilterDesc() { if (d) (void)cudnnDestroyFilterDescriptor(d); }
  FilterDesc(const FilterDesc&) = delete;
  FilterDesc& operator=(const FilterDesc&) = delete;
};
struct ConvDesc {
  cudnnConvolutionDescriptor_t d = nullptr;
  ConvDesc() { GCC_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&d)); }
  ~ConvDesc() { if (d) (void)cudnnDestroyConvolutionDescriptor(d); }
  ConvDesc(const ConvDesc&) = delete;
  ConvDesc& operator=(const ConvDesc&) = delete;
};

// One convolution shape: its descriptors and, once each direction has run, that direction's algorithm,
// workspace size and math type (one convolution descriptor per direction, since the math type lives
// in the descriptor and the chosen algorithms may differ in it).
struct ConvPlanCuda {
  TensorDesc x, y;  // [N, C, H, W], [N, Co, Ho, Wo]
  FilterDesc w;     // [Co, C, kh, kw]
  ConvDesc fwd, bwd_data, bwd_filter;
  bool fwd_ready = false, bwd_data_ready = false, bwd_filter_ready = false;
  cudnnConvolutionFwdAlgo_t fwd_algo{};
  cudnnConvolutionBwdDataAlgo_t bwd_data_algo{};
  cudnnConvolutionBwdFilterAlgo_t bwd_filter_algo{};
  std::size_t fwd_ws = 0, bwd_data_ws = 0, bwd_filter_ws = 0;
};

// device, N, C, H, W, Co, kh, kw, sh, sw, ph, pw, tf32, deterministic
using ConvKey = std::array<int64_t, 14>;

struct ConvCache {
  std::mutex mu;
  std::map<ConvKey, std::unique_ptr<ConvPlanCuda>> plans;
};
// Never destroyed (like the contexts): cuDNN may already be unloading when static destructors run.
inline ConvCache& conv_cache() {
  static ConvCache* c = new ConvCache();
  return *c;
}

inline int to_int(int64_t v, const char* what) {
  GCC_CHECK(v >= 0 && v <= INT_MAX, "conv2d (CUDA): ", what, " = ", v, " exceeds cuDNN's 32-bit limit");
  return static_cast<int>(v);
}

inline void set_conv_desc(cudnnConvolutionDescriptor_t d, const detail::ConvShape& s, cudnnMathType_t math) {
  GCC_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(d, to_int(s.ph, "pad_h"), to_int(s.pw, "pad_w"),
                                                  to_int(s.sh, "stride_h"), to_int(s.sw, "stride_w"), 1, 1,
                                                  CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  GCC_CUDNN_CHECK(cudnnSetConvolutionMathType(d, math));
}

// What a chosen algorithm must satisfy; both flags are part of the plan's key.
struct ConvRules {
  bool tf32 = false;          // any math type; otherwise CUDNN_FMA_MATH only (strict FP32)
  bool deterministic = true;  // CUDNN_DETERMINISTIC only
};
inline ConvRules conv_rules() {
  ConvRules r;
  r.tf32 = allow_tf32();
  r.deterministic = deterministic();
  return r;
}

// The descriptor's math type before any algorithm is chosen: CUDNN_FMA_MATH (FMA kernels only) for
// strict FP32; CUDNN_DEFAULT_MATH, which permits TF32 tensor cores, when TF32 is allowed.
inline cudnnMathType_t conv_base_math(bool tf32) { return tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH; }

// Whether a result's math type keeps the promised precision: strict FP32 takes CUDNN_FMA_MATH only;
// TF32 takes any but CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION, which may convert FP32 data down to
// FP16/BF16 (fewer mantissa bits or less range than TF32).
inline bool conv_math_ok(cudnnMathType_t m, bool tf32) {
  return tf32 ? m != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION : m == CUDNN_FMA_MATH;
}

// The cached plan of shape s on device dev (descriptors only; algorithms are picked per direction).
// The caller holds conv_cache().mu.
inline ConvPlanCuda& conv_plan_locked(int dev, const detail::ConvShape& s, ConvRules r) {
  const bool tf32 = r.tf32;
  const ConvKey key{dev, s.N, s.C, s.H, s.W, s.Co, s.kh, s.kw, s.sh, s.sw, s.ph, s.pw,
                    tf32 ? 1 : 0, r.deterministic ? 1 : 0};
  auto& plans = conv_cache().plans;
  auto it = plans.find(key);
  if (it != plans.end()) return *it->second;
  for (int64_t numel : {s.N * s.C * s.H * s.W, s.N * s.Co * s.Ho * s.Wo, s.Co * s.C * s.kh * s.kw})
    to_int(numel, "tensor size");
  auto p = std::make_unique<ConvPlanCuda>();
  GCC_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->x.d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, to_int(s.N, "N"),
                                             to_int(s.C, "C"), to_int(s.H, "H"), to_int(s.W, "W")));
  GCC_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->y.d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, to_int(s.N, "N"),
                                             to_int(s.Co, "Co"), to_int(s.Ho, "Ho"), to_int(s.Wo, "Wo")));
  GCC_CUDNN_CHECK(cudnnSetFilter4dDescriptor(p->w.d, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, to_int(s.Co, "Co"),
                                             to_int(s.C, "C"), to_int(s.kh, "kh"), to_int(s.kw, "kw")));
  const cudnnMathType_t math = conv_base_math(tf32);
  for (ConvDesc* d : {&p->fwd, &p->bwd_data, &p->bwd_filter}) set_conv_desc(d->d, s, math);
  int n = 0, c = 0, h = 0, w = 0;
  GCC_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(p->fwd.d, p->x.d, p->w.d, &n, &c, &h, &w));
  GCC_CHECK(n == s.N && c == s.Co && h == s.Ho && w == s.Wo, "conv2d (CUDA): cuDNN computes output [", n, ", ", c,
            ", ", h, ", ", w, "] for input [", s.N, ", ", s.C, ", ", s.H, ", ", s.W, "], weight [", s.Co, ", ", s.C,
            ", ", s.kh, ", ", s.kw, "]; the output tensor is [", s.N, ", ", s.Co, ", ", s.Ho, ", ", s.Wo, "]");
  ConvPlanCuda& ref = *p;
  plans.emplace(key, std::move(p));
  return ref;
}

// Heuristic choice: the first of cuDNN's heuristic candidates (best first) that is supported with the
// descriptor's math type, fits the workspace cap and, when r.deterministic, is deterministic. With
// TF32 off the descriptor stays CUDNN_FMA_MATH, so only FMA kernels can run; with TF32 on it takes the
// candidate's math type (as PyTorch does, but never ALLOW_CONVERSION: conv_math_ok).
// `workspace_of(algo, bytes)` returns false when the algorithm is not supported.
template <typename Perf, typename Algo, typename WorkspaceOf>
bool pick_heuristic_algo(const std::vector<Perf>& perf, int count, cudnnConvolutionDescriptor_t desc, ConvRules r,
                         WorkspaceOf&& workspace_of, Algo& algo, std::size_t& ws) {
  for (int i = 0; i < count; ++i) {
    const Perf& pf = perf[static_cast<std::size_t>(i)];
    if (pf.status != CUDNN_STATUS_SUCCESS) continue;
    if (r.deterministic && pf.determinism != CUDNN_DETERMINISTIC) continue;
    if (r.tf32 && !conv_math_ok(pf.mathType, true)) continue;
    if (r.tf32) GCC_CUDNN_CHECK(cudnnSetConvolutionMathType(desc, pf.mathType));
    std::size_t bytes = 0;
    if (!workspace_of(pf.algo, bytes) || bytes > kConvMaxWorkspaceBytes) continue;
    algo = pf.algo;
    ws = bytes;
    return true;
  }
  return false;
}

// Measured choice from Find*Ex results (timed with `ws_given` bytes of workspace): the fastest that
// succeeded within that workspace, meets the math-type rule (conv_math_ok) and, when r.deterministic,
// is deterministic. The descriptor takes the result's math type; the workspace of the real call is
// asked of cuDNN again for that algorithm and math type.
template <typename Perf, typename Algo, typename WorkspaceOf>
bool pick_measured_algo(const std::vector<Perf>& perf, int count, std::size_t ws_given,
                        cudnnConvolutionDescriptor_t desc, ConvRules r, WorkspaceOf&& workspace_of, Algo& algo,
                        std::size_t& ws) {
  std::vector<const Perf*> ok;
  for (int i = 0; i < count; ++i) {
    const Perf& pf = perf[static_cast<std::size_t>(i)];
    if (pf.status != CUDNN_STATUS_SUCCESS || pf.memory > ws_given || !(pf.time >= 0.f)) continue;
    if (r.deterministic && pf.determinism != CUDNN_DETERMINISTIC) continue;
    if (!conv_math_ok(pf.mathType, r.tf32)) continue;
    ok.push_back(&pf);
  }
  // cuDNN returns the results fastest first; sort anyway (stably, so ties keep cuDNN's order).
  std::stable_sort(ok.begin(), ok.end(), [](const Perf* a, const Perf* b) { return a->time < b->time; });
  for (const Perf* pf : ok) {
    GCC_CUDNN_CHECK(cudnnSetConvolutionMathType(desc, r.tf32 ? pf->mathType : CUDNN_FMA_MATH));
    std::size_t bytes = 0;
    if (!workspace_of(pf->algo, bytes) || bytes > kConvMaxWorkspaceBytes) continue;
    algo = pf->algo;
    ws = bytes;
    return true;
  }
  GCC_CUDNN_CHECK(cudnnSetConvolutionMathType(desc, conv_base_math(r.tf32)));
  return false;
}

// Times every algorithm of one direction with `find(requested, &returned, perf, workspace, bytes)` (a
// cudnnFind*AlgorithmEx call on the real buffers) and picks per pick_measured_algo. The workspace is
// the context's, sized for the hungriest algorithm within the cap (as the descriptor's math type
// reports it). Returns false, leaving the descriptor's math type as it was, when the workspace cannot
// be had, Find fails, or no result qualifies: the caller then uses the heuristics.
template <typename Perf, typename Algo, typename MaxCount, typename Find, typename WorkspaceOf>
bool find_conv_algo(Context& ctx, int algo_count, cudnnConvolutionDescriptor_t desc, ConvRules r,
                    MaxCount&& max_count_of, Find&& find, WorkspaceOf&& workspace_of, Algo& algo, std::size_t& ws) {
  int max_count = 0;
  GCC_CUDNN_CHECK(max_count_of(&max_count));
  if (max_count < 1) return false;
  std::size_t bytes = 0;
  for (int a = 0; a < algo_count; ++a) {
    std::size_t b = 0;
    if (workspace_of(static_cast<Algo>(a), b) && b <= kConvMaxWorkspaceBytes && b > bytes) bytes = b;
  }
  (void)cudnn_last_message();  // clear the messages of unsupported algorithms
  void* workspace = nullptr;
  if (bytes > 0) {
    try {
      workspace = ctx.workspace(bytes);
    } catch (const ::gcc::Error&) {  // out of memory: the heuristics need no trial workspace
      return false;
    }
  }
  std::vector<Perf> perf(static_cast<std::size_t>(max_count));
  int count = 0;
  const cudnnStatus_t st = find(max_count, &count, perf.data(), workspace, bytes);
  (void)cudnn_last_message();  // failed trials leave messages; they are not errors of this call
  if (st != CUDNN_STATUS_SUCCESS) return false;
  return pick_measured_algo(perf, std::min(count, max_count), bytes, desc, r, workspace_of, algo, ws);
}

// The general algorithms, used when no measured or heuristic candidate qualifies or the chosen one turns out to be
// unsupported at run time: implicit GEMM forward, ALGO_1 backward (both deterministic, FMA-capable).
inline void conv_fallback_forward(cudnnHandle_t h, ConvPlanCuda& p, bool tf32) {
  p.fwd_algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  GCC_CUDNN_CHECK(cudnnSetConvolutionMathType(p.fwd.d, conv_base_math(tf32)));
  GCC_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(h, p.x.d, p.w.d, p.fwd.d, p.y.d, p.fwd_algo, &p.fwd_ws));
}
inline void conv_fallback_backward_data(cudnnHandle_t h, ConvPlanCuda& p, bool tf32) {
  p.bwd_data_algo = CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
  GCC_CUDNN_CHECK(cudnnSetConvolutionMathType(p.bwd_data.d, conv_base_math(tf32)));
  GCC_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(h, p.w.d, p.y.d, p.bwd_data.d, p.x.d, p.bwd_data_algo,
                                                               &p.bwd_data_ws));
}
inline void conv_fallback_backward_filter(cudnnHandle_t h, ConvPlanCuda& p, bool tf32) {
  p.bwd_filter_algo = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1;
  GCC_CUDNN_CHECK(cudnnSetConvolutionMathType(p.bwd_filter.d, conv_base_math(tf32)));
  GCC_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p.x.d, p.y.d, p.bwd_filter.d, p.w.d,
                                                                 p.bwd_filter_algo, &p.bwd_filter_ws));
}

// Throws like GCC_CUDNN_CHECK for a status already in hand.
inline void cudnn_check_status(cudnnStatus_t st, const char* call, const char* file, int line) {
  if (st == CUDNN_STATUS_SUCCESS) return;
  const std::string msg = cudnn_last_message();
  ::gcc::detail::throw_error(file, line, "cuDNN call `", call, "` failed: ", cudnnGetErrorString(st),
                             msg.empty() ? "" : " (", msg, msg.empty() ? "" : ")");
}

// Runs `call(algo, workspace, bytes)` with the plan's algorithm; if cuDNN answers NOT_SUPPORTED for a
// measured or heuristic pick, the plan switches to the general algorithm (kept for later calls) and
// runs again.
template <typename Algo, typename Call, typename Fallback>
void run_conv(Context& ctx, Algo& algo, std::size_t& ws_bytes, Algo general, Call&& call, Fallback&& fallback,
              const char* what) {
  cudnnStatus_t st = call(algo, ws_bytes ? ctx.workspace(ws_bytes) : nullptr, ws_bytes);
  if (st == CUDNN_STATUS_NOT_SUPPORTED && algo != general) {
    (void)cudnn_last_message();  // clear the message of the failed attempt
    fallback();
    st = call(algo, ws_bytes ? ctx.workspace(ws_bytes) : nullptr, ws_bytes);
  }
  cudnn_check_status(st, what, __FILE__, __LINE__);
}

// One direction's choice: measured (find_conv_algo), else the first of cuDNN's heuristic order that the
// rules allow (`heuristic` fills it: the direction's Get*Algorithm_v7), else `fallback` (the general
// algorithm).
template <typename Perf, typename Algo, typename MaxCount, typename Find, typename WorkspaceOf, typename Heuristic,
          typename Fallback>
void conv_pick(Context& ctx, int algo_count, cudnnConvolutionDescriptor_t desc, ConvRules r, MaxCount max_count_of,
               Find find, WorkspaceOf ws_of, Heuristic heuristic, Fallback fallback, Algo& algo, std::size_t& ws) {
  if (find_conv_algo<Perf>(ctx, algo_count, desc, r, max_count_of, find, ws_of, algo, ws)) return;
  int max_count = 0, count = 0;
  GCC_CUDNN_CHECK(max_count_of(&max_count));
  std::vector<Perf> perf(static_cast<std::size_t>(max_count > 0 ? max_count : 1));
  GCC_CUDNN_CHECK(heuristic(max_count, &count, perf.data()));
  if (!pick_heuristic_algo(perf, count, desc, r, ws_of, algo, ws)) fallback();
}

// The algorithm of each direction, chosen on its first call with that call's buffers (see the top of
// the file): measured, else heuristic, else the general algorithm.
inline void conv_pick_forward(Context& ctx, cudnnHandle_t h, ConvPlanCuda& p, ConvRules r,
                              const void* x /* [N, C, H, W] */, const void* w /* [Co, C, kh, kw] */,
                              void* y /* [N, Co, Ho, Wo], overwritten with arbitrary values */) {
  using Perf = cudnnConvolutionFwdAlgoPerf_t;
  conv_pick<Perf>(
      ctx, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, p.fwd.d, r,
      [&](int* n) { return cudnnGetConvolutionForwardAlgorithmMaxCount(h, n); },
      [&](int requested, int* returned, Perf* perf, void* ws, std::size_t bytes) {
        return cudnnFindConvolutionForwardAlgorithmEx(h, p.x.d, x, p.w.d, w, p.fwd.d, p.y.d, y, requested, returned,
                                                      perf, ws, bytes);
      },
      [&](cudnnConvolutionFwdAlgo_t a, std::size_t& bytes) {
        return cudnnGetConvolutionForwardWorkspaceSize(h, p.x.d, p.w.d, p.fwd.d, p.y.d, a, &bytes) == CUDNN_STATUS_SUCCESS;
      },
      [&](int max_count, int* count, Perf* perf) {
        return cudnnGetConvolutionForwardAlgorithm_v7(h, p.x.d, p.w.d, p.fwd.d, p.y.d, max_count, count, perf);
      },
      [&] { conv_fallback_forward(h, p, r.tf32); }, p.fwd_algo, p.fwd_ws);
  p.fwd_ready = true;
}

inline void conv_pick_backward_data(Context& ctx, cudnnHandle_t h, ConvPlanCuda& p, ConvRules r,
                                    const void* w /* [Co, C, kh, kw] */, const void* gy /* [N, Co, Ho, Wo] */,
                                    void* gx /* [N, C, H, W], overwritten with arbitrary values */) {
  using Perf = cudnnConvolutionBwdDataAlgoPerf_t;
  conv_pick<Perf>(
      ctx, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, p.bwd_data.d, r,
      [&](int* n) { return cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, n); },
      [&](int requested, int* returned, Perf* perf, void* ws, std::size_t bytes) {
        return cudnnFindConvolutionBackwardDataAlgorithmEx(h, p.w.d, w, p.y.d, gy, p.bwd_data.d, p.x.d, gx, requested,
                                                           returned, perf, ws, bytes);
      },
      [&](cudnnConvolutionBwdDataAlgo_t a, std::size_t& bytes) {
        return cudnnGetConvolutionBackwardDataWorkspaceSize(h, p.w.d, p.y.d, p.bwd_data.d, p.x.d, a, &bytes) ==
               CUDNN_STATUS_SUCCESS;
      },
      [&](int max_count, int* count, Perf* perf) {
        return cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p.w.d, p.y.d, p.bwd_data.d, p.x.d, max_count, count, perf);
      },
      [&] { conv_fallback_backward_data(h, p, r.tf32); }, p.bwd_data_algo, p.bwd_data_ws);
  p.bwd_data_ready = true;
}

inline void conv_pick_backward_filter(Context& ctx, cudnnHandle_t h, ConvPlanCuda& p, ConvRules r,
                                      const void* x /* [N, C, H, W] */, const void* gy /* [N, Co, Ho, Wo] */,
                                      void* gw /* [Co, C, kh, kw], overwritten with arbitrary values */) {
  using Perf = cudnnConvolutionBwdFilterAlgoPerf_t;
  conv_pick<Perf>(
      ctx, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, p.bwd_filter.d, r,
      [&](int* n) { return cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, n); },
      [&](int requested, int* returned, Perf* perf, void* ws, std::size_t bytes) {
        return cudnnFindConvolutionBackwardFilterAlgorithmEx(h, p.x.d, x, p.y.d, gy, p.bwd_filter.d, p.w.d, gw,
                                                             requested, returned, perf, ws, bytes);
      },
      [&](cudnnConvolutionBwdFilterAlgo_t a, std::size_t& bytes) {
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p.x.d, p.y.d, p.bwd_filter.d, p.w.d, a, &bytes) ==
               CUDNN_STATUS_SUCCESS;
      },
      [&](int max_count, int* count, Perf* perf) {
        return cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.x.d, p.y.d, p.bwd_filter.d, p.w.d, max_count, count,
                                                             perf);
      },
      [&] { conv_fallback_backward_filter(h, p, r.tf32); }, p.bwd_filter_algo, p.bwd_filter_ws);
  p.bwd_filter_ready = true;
}

}  // namespace impl
}  // namespace cuda
}  // namespace gcc
