// CPU convolutions on oneDNN (Debian's libdnnl-dev: the library PyTorch's own CPU convolutions run on).
// Its JIT kernels work on channel-blocked layouts with AVX-512 / AVX2 chosen for the CPU at run time;
// on a 2-core AVX-512 VM a full GCC step runs 1.8-2.0x faster than on im2col + OpenBLAS. Our tensors stay
// NCHW: each call reorders the operands into the layouts the primitive asks for and the result back,
// as PyTorch does for its plain tensors. Used by cpu::conv2d_* (ops/conv.hpp) when the build defines
// GCC_WITH_DNNL and cpu_conv_backend() is Dnnl; the im2col path stays the reference the tests compare with.
#pragma once
#include <oneapi/dnnl/dnnl.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "../core/tensor.hpp"

namespace gcc {
namespace detail {

// Everything that decides a convolution's primitives.
struct DnnlConvKey {
  int64_t N, C, H, W, Co, kh, kw, Ho, Wo, sh, sw, ph, pw;
  bool bias;
  bool operator==(const DnnlConvKey& o) const {
    return N == o.N && C == o.C && H == o.H && W == o.W && Co == o.Co && kh == o.kh && kw == o.kw && Ho == o.Ho &&
           Wo == o.Wo && sh == o.sh && sw == o.sw && ph == o.ph && pw == o.pw && bias == o.bias;
  }
};

inline dnnl::engine& dnnl_cpu_engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

// The primitives of one convolution shape, created on first use, with scratch memories for the operands
// whose layout differs from NCHW / OIHW (kept, so steady-state calls allocate nothing).
class DnnlConv {
 public:
  using md = dnnl::memory::desc;
  explicit DnnlConv(const DnnlConvKey& k) : key_(k) {
    const auto f32 = dnnl::memory::data_type::f32;
    const auto any = dnnl::memory::format_tag::any;
    src_ = md({k.N, k.C, k.H, k.W}, f32, dnnl::memory::format_tag::nchw);
    wei_ = md({k.Co, k.C, k.kh, k.kw}, f32, dnnl::memory::format_tag::oihw);
    dst_ = md({k.N, k.Co, k.Ho, k.Wo}, f32, dnnl::memory::format_tag::nchw);
    bias_ = md({k.Co}, f32, dnnl::memory::format_tag::x);
    strides_ = {k.sh, k.sw};
    pad_l_ = {k.ph, k.pw};
    // right padding that gives PyTorch's floor((H + 2p - k) / s) + 1 (negative: rows the kernel never reaches)
    pad_r_ = {(k.Ho - 1) * k.sh + k.kh - k.H - k.ph, (k.Wo - 1) * k.sw + k.kw - k.W - k.pw};
    src_any_ = md({k.N, k.C, k.H, k.W}, f32, any);
    wei_any_ = md({k.Co, k.C, k.kh, k.kw}, f32, any);
    dst_any_ = md({k.N, k.Co, k.Ho, k.Wo}, f32, any);
    const dnnl::convolution_forward::desc d =
        k.bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                                 src_any_, wei_any_, bias_, dst_any_, strides_, pad_l_, pad_r_)
               : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                                 src_any_, wei_any_, dst_any_, strides_, pad_l_, pad_r_);
    fwd_pd_ = dnnl::convolution_forward::primitive_desc(d, dnnl_cpu_engine());
    fwd_ = dnnl::convolution_forward(fwd_pd_);
  }
  const DnnlConvKey& key() const { return key_; }
  std::mutex& mutex() { return mutex_; }

  void forward(const float* x, const float* w, const float* b, float* y) {
    dnnl::stream s(dnnl_cpu_engine());
    dnnl::memory xm = input(s, src_, fwd_pd_.src_desc(), x, 0);
    dnnl::memory wm = input(s, wei_, fwd_pd_.weights_desc(), w, 1);
    Output ym = output(dst_, fwd_pd_.dst_desc(), y, 2);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, ym.work}};
    if (key_.bias) args[DNNL_ARG_BIAS] = dnnl::memory(bias_, dnnl_cpu_engine(), const_cast<float*>(b));
    fwd_.execute(s, args);
    ym.finish(s);
    s.wait();
  }

  void backward_data(const float* gy, const float* w, float* gx) {
    if (!bwd_data_) {
      bwd_data_pd_ = dnnl::convolution_backward_data::primitive_desc(
          dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, src_any_, wei_any_, dst_any_,
                                                strides_, pad_l_, pad_r_),
          dnnl_cpu_engine(), fwd_pd_);
      bwd_data_ = std::make_unique<dnnl::convolution_backward_data>(bwd_data_pd_);
    }
    dnnl::stream s(dnnl_cpu_engine());
    dnnl::memory gym = input(s, dst_, bwd_data_pd_.diff_dst_desc(), gy, 3);
    dnnl::memory wm = input(s, wei_, bwd_data_pd_.weights_desc(), w, 4);
    Output gxm = output(src_, bwd_data_pd_.diff_src_desc(), gx, 5);
    bwd_data_->execute(s, {{DNNL_ARG_DIFF_DST, gym}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DIFF_SRC, gxm.work}});
    gxm.finish(s);
    s.wait();
  }

  // gw [Co, C, kh, kw] and, when the key has a bias, gb [Co]; both overwritten.
  void backward_weights(const float* x, const float* gy, float* gw, float* gb) {
    if (!bwd_weights_) {
      const dnnl::convolution_backward_weights::desc d =
          key_.bias ? dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, src_any_, wei_any_,
                                                               bias_, dst_any_, strides_, pad_l_, pad_r_)
                    : dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, src_any_, wei_any_,
                                                               dst_any_, strides_, pad_l_, pad_r_);
      bwd_weights_pd_ = dnnl::convolution_backward_weights::primitive_desc(d, dnnl_cpu_engine(), fwd_pd_);
      bwd_weights_ = std::make_unique<dnnl::convolution_backward_weights>(bwd_weights_pd_);
    }
    dnnl::stream s(dnnl_cpu_engine());
    dnnl::memory xm = input(s, src_, bwd_weights_pd_.src_desc(), x, 6);
    dnnl::memory gym = input(s, dst_, bwd_weights_pd_.diff_dst_desc(), gy, 7);
    Output gwm = output(wei_, bwd_weights_pd_.diff_weights_desc(), gw, 8);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, xm}, {DNNL_ARG_DIFF_DST, gym}, {DNNL_ARG_DIFF_WEIGHTS, gwm.work}};
    if (key_.bias) args[DNNL_ARG_DIFF_BIAS] = dnnl::memory(bias_, dnnl_cpu_engine(), gb);
    bwd_weights_->execute(s, args);
    gwm.finish(s);
    s.wait();
  }

 private:
  // An output: the primitive writes `work`; finish() reorders it into the caller's NCHW buffer if they differ.
  struct Output {
    dnnl::memory work, plain;
    void finish(dnnl::stream& s) {
      if (work.get() != plain.get()) dnnl::reorder(work, plain).execute(s, work, plain);
    }
  };

  // The scratch memory `slot` in layout `want` (allocated on first use).
  dnnl::memory& scratch(int slot, const md& want) {
    dnnl::memory& m = scratch_[static_cast<std::size_t>(slot)];
    if (!m || m.get_desc() != want) m = dnnl::memory(want, dnnl_cpu_engine());
    return m;
  }
  // The caller's buffer as a primitive input in layout `want`: itself, or a reordered copy.
  dnnl::memory input(dnnl::stream& s, const md& plain, const md& want, const float* p, int slot) {
    dnnl::memory user(plain, dnnl_cpu_engine(), const_cast<float*>(p));
    if (want == plain) return user;
    dnnl::memory& m = scratch(slot, want);
    dnnl::reorder(user, m).execute(s, user, m);
    return m;
  }
  Output output(const md& plain, const md& want, float* p, int slot) {
    dnnl::memory user(plain, dnnl_cpu_engine(), p);
    if (want == plain) return Output{user, user};
    return Output{scratch(slot, want), user};
  }

  DnnlConvKey key_;
  std::mutex mutex_;
  md src_, wei_, dst_, bias_, src_any_, wei_any_, dst_any_;
  dnnl::memory::dims strides_, pad_l_, pad_r_;
  dnnl::convolution_forward::primitive_desc fwd_pd_;
  dnnl::convolution_forward fwd_;
  dnnl::convolution_backward_data::primitive_desc bwd_data_pd_;
  std::unique_ptr<dnnl::convolution_backward_data> bwd_data_;
  dnnl::convolution_backward_weights::primitive_desc bwd_weights_pd_;
  std::unique_ptr<dnnl::convolution_backward_weights> bwd_weights_;
  std::array<dnnl::memory, 9> scratch_;
};

// The DnnlConv of a shape (created once per shape; a network has a few dozen).
inline DnnlConv& dnnl_conv(const DnnlConvKey& k) {
  static std::mutex mutex;
  static std::vector<std::unique_ptr<DnnlConv>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  for (auto& c : cache)
    if (c->key() == k) return *c;
  try {
    cache.push_back(std::make_unique<DnnlConv>(k));
  } catch (const dnnl::error& e) {
    GCC_FAIL("conv2d (oneDNN): no primitive for input [", k.N, ", ", k.C, ", ", k.H, ", ", k.W, "], weight [", k.Co,
             ", ", k.C, ", ", k.kh, ", ", k.kw, "], stride (", k.sh, ", ", k.sw, "), padding (", k.ph, ", ", k.pw,
             "): ", e.what(), " (status ", static_cast<int>(e.status), "); set GCC_CPU_CONV=im2col to use the "
             "toolkit's own convolution");
  }
  return *cache.back();
}

}  // namespace detail
}  // namespace gcc
