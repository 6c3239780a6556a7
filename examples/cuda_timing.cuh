// Plumbing of the CUDA example programs (.cu demos and bench_gcc_step): CUDA-event timing on one stream
// and the "no usable GPU" check. Kept out of the library, like cli.hpp: the toolkit itself times nothing.
#pragma once
#include <cstddef>
#include <cstdio>
#include <vector>

#include "gcc/cuda.cuh"

namespace gcc_examples {

// A fixed set of CUDA events recorded on one stream: record(i) marks event i, ms(a, b) waits for
// event b and returns the milliseconds between events a and b. start() / stop_ms() time one span
// with events 0 and 1.
class EventTimer {
 public:
  explicit EventTimer(cudaStream_t stream, int events = 2) : stream_(stream), ev_(static_cast<std::size_t>(events)) {
    for (auto& e : ev_) GCC_CUDA_CHECK(cudaEventCreate(&e));
  }
  ~EventTimer() {
    for (auto& e : ev_) (void)cudaEventDestroy(e);
  }
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;

  void record(int i) { GCC_CUDA_CHECK(cudaEventRecord(ev_[static_cast<std::size_t>(i)], stream_)); }
  double ms(int a, int b) {
    GCC_CUDA_CHECK(cudaEventSynchronize(ev_[static_cast<std::size_t>(b)]));
    float t = 0.f;
    GCC_CUDA_CHECK(cudaEventElapsedTime(&t, ev_[static_cast<std::size_t>(a)], ev_[static_cast<std::size_t>(b)]));
    return t;
  }
  void start() { record(0); }
  double stop_ms() {
    record(1);
    return ms(0, 1);
  }

 private:
  cudaStream_t stream_;
  std::vector<cudaEvent_t> ev_;
};

// True when this process can use a GPU; otherwise prints "<program>: no usable GPU: <reason>" to stderr.
inline bool gpu_usable(const char* program) {
  const gcc::cuda::DeviceStatus st = gcc::cuda::device_status();
  if (!st.usable) std::fprintf(stderr, "%s: no usable GPU: %s\n", program, st.reason.c_str());
  return st.usable;
}

}  // namespace gcc_examples
