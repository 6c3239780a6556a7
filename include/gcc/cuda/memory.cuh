// Device memory for the CUDA backend: a caching allocator (size classes, per-class free lists, so a
// training loop stops calling cudaMalloc after its first step) and the host/device copy function.
// <gcc/cuda.cuh> registers both into the hooks of core/device.hpp and core/tensor.hpp.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "../core/device.hpp"
#include "../core/tensor.hpp"
#include "check.cuh"
#include "context.cuh"

namespace gcc {
namespace cuda {

struct MemoryStats {
  std::size_t bytes_in_use = 0;       // handed out to tensors (rounded to size classes)
  std::size_t peak_bytes_in_use = 0;  // highest bytes_in_use so far
  std::size_t bytes_cached = 0;       // freed by tensors, kept for reuse
  std::size_t cuda_malloc_count = 0;  // cudaMalloc calls so far
  std::size_t allocations = 0;        // allocate() calls so far (cache hits included)
};

// Blocks are never split or merged: a request is rounded up to its size class (512 bytes at least,
// then four classes per power of two, so at most 25% is wasted) and served from that class's free
// list when it has a block. All work on a device runs on its one context stream, so a block freed
// by one op can be handed to the next op at once: stream order keeps the old kernels first.
class CachingAllocator {
 public:
  static std::size_t size_class(std::size_t bytes) {
    if (bytes <= 512) return 512;
    std::size_t pow2 = 1;
    while (pow2 <= bytes / 2) pow2 <<= 1;  // largest power of two <= bytes
    std::size_t step = pow2 / 4 < 512 ? 512 : pow2 / 4;
    return (bytes + step - 1) / step * step;
  }

  float* allocate(std::size_t numel, int device) {
    if (numel == 0) return nullptr;
    GCC_CHECK(device >= 0 && device < kMaxDevices, "cuda allocate: bad device index ", device);
    const std::size_t bytes = size_class(numel * sizeof(float));
    Context& ctx = context(device);
    void* p = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      PerDevice& d = dev_[device];
      auto it = d.free.find(bytes);
      if (it != d.free.end() && !it->second.empty()) {
        p = it->second.back();
        it->second.pop_back();
        d.stats.bytes_cached -= bytes;
      }
    }
    if (!p) p = fresh_block(device, bytes);
    {
      std::lock_guard<std::mutex> lock(mu_);
      PerDevice& d = dev_[device];
      d.live[p] = bytes;
      d.stats.bytes_in_use += bytes;
      d.stats.allocations += 1;
      if (d.stats.bytes_in_use > d.stats.peak_bytes_in_use) d.stats.peak_bytes_in_use = d.stats.bytes_in_use;
    }
    if (debug_fill_.load(std::memory_order_relaxed)) {  // all-ones bytes: every float reads as NaN
      DeviceGuard guard(device);
      GCC_CUDA_CHECK(cudaMemsetAsync(p, 0xFF, bytes, ctx.stream()));
    }
    return static_cast<float*>(p);
  }

  // Called from Storage's destructor: must not throw.
  void release(float* ptr, int device) noexcept {
    if (!ptr) return;
    bool known = false;
    if (device >= 0 && device < kMaxDevices) {
      std::lock_guard<std::mutex> lock(mu_);
      PerDevice& d = dev_[device];
      auto it = d.live.find(ptr);
      if (it != d.live.end()) {
        const std::size_t bytes = it->second;
        d.live.erase(it);
        d.stats.bytes_in_use -= bytes;
        d.stats.bytes_cached += bytes;
        d.free[bytes].push_back(ptr);
        known = true;
      }
    }
    if (!known) (void)cudaFree(ptr);  // not ours (should not happen): give it back to CUDA
  }

  MemoryStats stats(int device) const {
    std::lock_guard<std::mutex> lock(mu_);
    return dev_[checked(device)].stats;
  }

  // Returns every cached (free) block of `device` to CUDA (-1: the current device).
  void empty_cache(int device) {
    device = checked(device);
    if (!impl::context_slots()[device].load()) return;  // nothing was ever allocated there
    context(device).synchronize();
    std::lock_guard<std::mutex> lock(mu_);
    PerDevice& d = dev_[device];
    DeviceGuard guard(device);
    for (auto& kv : d.free)
      for (void* p : kv.second) (void)cudaFree(p);
    d.free.clear();
    d.stats.bytes_cached = 0;
  }

  // Fill every block handed out with NaN (tests: an op that leaves part of its output unwritten
  // then fails the comparison instead of passing on stale values).
  void set_debug_fill(bool on) { debug_fill_.store(on); }
  bool debug_fill() const { return debug_fill_.load(); }

 private:
  struct PerDevice {
    std::unordered_map<std::size_t, std::vector<void*>> free;  // size class -> cached blocks
    std::unordered_map<void*, std::size_t> live;              // block -> its size class
    MemoryStats stats;
  };

  static int checked(int device) {
    if (device < 0) GCC_CUDA_CHECK(cudaGetDevice(&device));
    GCC_CHECK(device < kMaxDevices, "cuda memory: bad device index ", device);
    return device;
  }

  void* fresh_block(int device, std::size_t bytes) {
    DeviceGuard guard(device);
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, bytes);
    if (e == cudaErrorMemoryAllocation) {  // give the cache back and try once more
      (void)cudaGetLastError();
      empty_cache(device);
      e = cudaMalloc(&p, bytes);
    }
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      const MemoryStats s = stats(device);
      GCC_FAIL("CUDA out of memory on cuda:", device, " asking for ", bytes, " bytes (",
               cudaGetErrorName(e), "; the toolkit holds ", s.bytes_in_use, " bytes in tensors and ",
               s.bytes_cached, " cached); reduce the batch size or the image size");
    }
    std::lock_guard<std::mutex> lock(mu_);
    dev_[device].stats.cuda_malloc_count += 1;
    return p;
  }

  mutable std::mutex mu_;
  PerDevice dev_[kMaxDevices];
  std::atomic<bool> debug_fill_{false};
};

// The process-wide allocator. Never destroyed: tensors held in static objects are released after
// main returns, and must still find it.
inline CachingAllocator& caching_allocator() {
  static CachingAllocator* a = new CachingAllocator();
  return *a;
}

inline MemoryStats memory_stats(int device = -1) { return caching_allocator().stats(device); }
inline void empty_cache(int device = -1) { caching_allocator().empty_cache(device); }

// The functions registered as gcc::cuda_allocator_hook().
inline float* allocate(std::size_t numel, int device) { return caching_allocator().allocate(numel, device); }
inline void release(float* ptr, int device) { caching_allocator().release(ptr, device); }

// Copies n floats between host and device or between devices (gcc::cuda_copy_hook()). Copies run on
// the context stream, after every op issued before them. Host -> device returns once the pageable
// host buffer has been staged (the toolkit's host tensors are pageable, so the source may be freed at
// once); device -> host waits for the copy, so the host sees the values on return.
inline void copy(float* dst, Device dst_dev, const float* src, Device src_dev, std::size_t n) {
  if (n == 0) return;
  const std::size_t bytes = n * sizeof(float);
  if (dst_dev.is_cuda() && src_dev.is_cpu()) {
    Context& ctx = context(dst_dev.index);
    DeviceGuard guard(dst_dev.index);
    GCC_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx.stream()));
  } else if (dst_dev.is_cpu() && src_dev.is_cuda()) {
    Context& ctx = context(src_dev.index);
    DeviceGuard guard(src_dev.index);
    GCC_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx.stream()));
    GCC_CUDA_CHECK(cudaStreamSynchronize(ctx.stream()));
  } else if (dst_dev.is_cuda() && src_dev.is_cuda()) {
    Context& dctx = context(dst_dev.index);
    DeviceGuard guard(dst_dev.index);
    if (dst_dev.index == src_dev.index) {
      GCC_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, dctx.stream()));
    } else {
      context(src_dev.index).synchronize();  // the source's producers ran on the other stream
      GCC_CUDA_CHECK(cudaMemcpyPeerAsync(dst, dst_dev.index, src, src_dev.index, bytes, dctx.stream()));
    }
  } else {
    GCC_FAIL("cuda::copy: host-to-host copy of ", n, " floats reached the CUDA backend");
  }
}

}  // namespace cuda
}  // namespace gcc
