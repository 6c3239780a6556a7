// Per-op GPU time inside a real workload (the op table's perf mode): every CUDA op slot of the dispatch
// layer (GCC_CUDA_SLOT, plus the gradient-accumulation, strided-copy and fill hooks) is wrapped, while an
// OpProfile is alive, by a function that records a CUDA event pair around the op on the device's
// context stream. report() adds the elapsed times per op. An op's time runs from the end of the work
// queued before it to the end of its own kernels, so the ops' times add up to the GPU time of the span.
#pragma once
#include <algorithm>
#include <cstdio>
#include <string>
#include <type_traits>
#include <vector>

#include "gcc/cuda.cuh"

namespace gcc_op_table {

class OpProfile;

// The event pairs of the ops called so far, and their names.
struct OpEvents {
  std::vector<std::string> names;         // per slot
  std::vector<std::pair<int, std::pair<cudaEvent_t, cudaEvent_t>>> calls;  // (slot, (start, end))
  std::vector<cudaEvent_t> spare;
  cudaEvent_t take() {
    if (spare.empty()) {
      cudaEvent_t e;
      GCC_CUDA_CHECK(cudaEventCreate(&e));
      return e;
    }
    cudaEvent_t e = spare.back();
    spare.pop_back();
    return e;
  }
  static OpEvents& get() {
    static OpEvents ev;
    return ev;
  }
};

// The wrapper of one slot: Accessor is the slot's accessor (e.g. &gcc::cuda_ops::relu_forward), which
// returns a reference to a function pointer void (*)(Args...).
template <auto Accessor, typename Fn = std::remove_reference_t<decltype(Accessor())>>
struct TimedSlot;
template <auto Accessor, typename... Args>
struct TimedSlot<Accessor, void (*)(Args...)> {
  static inline void (*inner)(Args...) = nullptr;
  static inline int slot = -1;
  static void call(Args... args) {
    OpEvents& ev = OpEvents::get();
    const cudaStream_t s = gcc::cuda::context().stream();
    const cudaEvent_t a = ev.take(), b = ev.take();
    GCC_CUDA_CHECK(cudaEventRecord(a, s));
    inner(args...);
    GCC_CUDA_CHECK(cudaEventRecord(b, s));
    ev.calls.push_back({slot, {a, b}});
  }
  static void install(const char* name) {
    if (inner || !Accessor()) return;  // installed already, or no CUDA version registered
    OpEvents& ev = OpEvents::get();
    slot = static_cast<int>(ev.names.size());
    ev.names.push_back(name);
    inner = Accessor();
    Accessor() = &call;
  }
  static void uninstall() {
    if (!inner) return;
    Accessor() = inner;
    inner = nullptr;
  }
};

// One line per op: calls, milliseconds, share of the profiled span.
struct OpTime {
  std::string name;
  int calls = 0;
  double ms = 0.0;
};

// While alive, every op slot is timed. collect() waits for the GPU and returns the times so far
// (and forgets them); the slots are restored when the profile ends.
class OpProfile {
 public:
  OpProfile() { for_each_slot(true); }
  ~OpProfile() {
    for_each_slot(false);
    (void)cudaDeviceSynchronize();
    OpEvents& ev = OpEvents::get();
    for (auto& c : ev.calls) ev.spare.push_back(c.second.first), ev.spare.push_back(c.second.second);
    ev.calls.clear();
  }
  OpProfile(const OpProfile&) = delete;
  OpProfile& operator=(const OpProfile&) = delete;

  // Drops what was recorded so far (e.g. a warm-up step).
  void reset() { (void)collect(); }

  std::vector<OpTime> collect() {
    gcc::cuda::synchronize();
    OpEvents& ev = OpEvents::get();
    std::vector<OpTime> t(ev.names.size());
    for (std::size_t i = 0; i < t.size(); ++i) t[i].name = ev.names[i];
    for (auto& c : ev.calls) {
      float ms = 0.f;
      GCC_CUDA_CHECK(cudaEventElapsedTime(&ms, c.second.first, c.second.second));
      t[static_cast<std::size_t>(c.first)].calls += 1;
      t[static_cast<std::size_t>(c.first)].ms += ms;
      ev.spare.push_back(c.second.first);
      ev.spare.push_back(c.second.second);
    }
    ev.calls.clear();
    t.erase(std::remove_if(t.begin(), t.end(), [](const OpTime& o) { return o.calls == 0; }), t.end());
    std::sort(t.begin(), t.end(), [](const OpTime& a, const OpTime& b) { return a.ms > b.ms; });
    return t;
  }

 private:
  static void for_each_slot(bool on);
};

#define GCC_OP_PROFILE_SLOT(ACCESSOR, NAME)                   \
  if (on)                                                     \
    TimedSlot<&ACCESSOR>::install(NAME);                      \
  else                                                        \
    TimedSlot<&ACCESSOR>::uninstall()
#define GCC_OP_PROFILE_OP(NAME) GCC_OP_PROFILE_SLOT(gcc::cuda_ops::NAME, #NAME)

inline void OpProfile::for_each_slot(bool on) {
  GCC_OP_PROFILE_OP(conv2d_forward);
  GCC_OP_PROFILE_OP(conv2d_backward_data);
  GCC_OP_PROFILE_OP(conv2d_backward_weight);
  GCC_OP_PROFILE_OP(batchnorm2d_forward_train);
  GCC_OP_PROFILE_OP(batchnorm2d_forward_eval);
  GCC_OP_PROFILE_OP(batchnorm2d_backward);
  GCC_OP_PROFILE_OP(relu_forward);
  GCC_OP_PROFILE_OP(relu_backward);
  GCC_OP_PROFILE_OP(max_pool2d_forward);
  GCC_OP_PROFILE_OP(max_pool2d_backward);
  GCC_OP_PROFILE_OP(avg_pool2d_forward);
  GCC_OP_PROFILE_OP(avg_pool2d_backward);
  GCC_OP_PROFILE_OP(global_avg_pool2d_forward);
  GCC_OP_PROFILE_OP(global_avg_pool2d_backward);
  GCC_OP_PROFILE_OP(linear_forward);
  GCC_OP_PROFILE_OP(linear_backward);
  GCC_OP_PROFILE_OP(gemm_forward);
  GCC_OP_PROFILE_OP(binary_forward);
  GCC_OP_PROFILE_OP(reduce_to_shape);
  GCC_OP_PROFILE_OP(unary_forward);
  GCC_OP_PROFILE_OP(unary_backward);
  GCC_OP_PROFILE_OP(copy_rows);
  GCC_OP_PROFILE_OP(sum_dim_forward);
  GCC_OP_PROFILE_OP(sum_dim_backward);
  GCC_OP_PROFILE_OP(max_dim_forward);
  GCC_OP_PROFILE_OP(max_dim_backward);
  GCC_OP_PROFILE_OP(softmax_forward);
  GCC_OP_PROFILE_OP(softmax_backward);
  GCC_OP_PROFILE_OP(l2_normalize_forward);
  GCC_OP_PROFILE_OP(l2_normalize_backward);
  GCC_OP_PROFILE_OP(cross_entropy_forward);
  GCC_OP_PROFILE_OP(cross_entropy_backward);
  GCC_OP_PROFILE_OP(xlogx_forward);
  GCC_OP_PROFILE_OP(xlogx_backward);
  GCC_OP_PROFILE_OP(rgc_forward);
  GCC_OP_PROFILE_OP(rgc_backward);
  GCC_OP_PROFILE_OP(sgd_update);
  GCC_OP_PROFILE_OP(adam_update);
  GCC_OP_PROFILE_OP(ema_update);
  GCC_OP_PROFILE_SLOT(gcc::detail::cuda_add_inplace_hook, "add_inplace (gradient accumulation)");
  GCC_OP_PROFILE_SLOT(gcc::cuda_strided_copy_hook, "copy_strided (contiguous())");
  GCC_OP_PROFILE_SLOT(gcc::cuda_fill_hook, "fill (zeros / ones)");
}

#undef GCC_OP_PROFILE_OP
#undef GCC_OP_PROFILE_SLOT

// Prints the table: op, calls, ms, share of `span_ms` (the whole step, timed without the profile);
// what the ops do not cover (host gaps the GPU waited through, copies outside the ops) is the last line.
inline void print_op_times(const std::vector<OpTime>& t, double span_ms, const char* title) {
  double total = 0.0;
  for (const OpTime& o : t) total += o.ms;
  std::printf("%s\n  %-40s %7s %10s %8s\n", title, "op", "calls", "ms", "share");
  for (const OpTime& o : t)
    std::printf("  %-40s %7d %10.3f %7.1f%%\n", o.name.c_str(), o.calls, o.ms, 100.0 * o.ms / span_ms);
  std::printf("  %-40s %7s %10.3f %7.1f%%\n", "(all ops, profiled)", "", total, 100.0 * total / span_ms);
  std::printf("  %-40s %7s %10.3f %7s\n", "(the step, timed without the profile)", "", span_ms, "100%");
}

}  // namespace gcc_op_table
