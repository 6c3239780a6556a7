// The CPU tensor allocator: 64-byte aligned blocks, and a cache of freed large blocks (>= 256 KiB) reused
// for the next request of the same rounded size. A training step asks for the same activation sizes every
// time; without the cache, glibc maps blocks over 32 MiB (and often smaller ones) fresh from the kernel on
// every step, and first touches of their pages (page faults, zeroing) cost ~10% of a CPU step. The cache
// holds at most GCC_CPU_CACHE_MB (default 4096) MiB; cpu_cache_trim() returns it to the system.
// Sanitizer builds bypass it, so that AddressSanitizer still sees every use after free.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>

#include "error.hpp"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define GCC_CPU_CACHE_DEFAULT_OFF 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define GCC_CPU_CACHE_DEFAULT_OFF 1
#endif
#endif

namespace gcc {
namespace detail {

class CpuBlockCache {
 public:
  static constexpr std::size_t kHeader = 64;               // the block's size, before the aligned data
  static constexpr std::size_t kMinCached = 256 << 10;     // smaller blocks go straight to malloc / free
  static constexpr std::size_t kGranule = 64 << 10;        // cached sizes are rounded up to this

  static CpuBlockCache& instance() {
    static CpuBlockCache* c = new CpuBlockCache();  // never destroyed: tensors may die after static teardown
    return *c;
  }

  float* allocate(std::size_t bytes) {
    std::size_t size = bytes + kHeader;
    if (size >= kMinCached) size = (size + kGranule - 1) / kGranule * kGranule;
    if (size >= kMinCached && enabled_) {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(size);
      if (it != free_.end()) {
        char* base = it->second;
        free_.erase(it);
        cached_ -= size;
        return reinterpret_cast<float*>(base + kHeader);
      }
    }
    char* base = static_cast<char*>(std::aligned_alloc(64, (size + 63) / 64 * 64));
    GCC_CHECK(base != nullptr, "cpu_allocate: out of host memory asking for ", bytes,
              " bytes; reduce the batch size or the image size");
    *reinterpret_cast<std::size_t*>(base) = size;
    return reinterpret_cast<float*>(base + kHeader);
  }

  void release(float* p) {
    if (!p) return;
    char* base = reinterpret_cast<char*>(p) - kHeader;
    const std::size_t size = *reinterpret_cast<std::size_t*>(base);
    if (size >= kMinCached && enabled_) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_ + size <= limit_) {
        free_.emplace(size, base);
        cached_ += size;
        return;
      }
    }
    std::free(base);
  }

  // Frees every cached block; returns the bytes given back.
  std::size_t trim() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& b : free_) std::free(b.second);
    free_.clear();
    const std::size_t n = cached_;
    cached_ = 0;
    return n;
  }
  bool enabled() const { return enabled_; }
  std::size_t cached_bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_;
  }

 private:
  CpuBlockCache() {
    const char* mb = std::getenv("GCC_CPU_CACHE_MB");
    limit_ = (mb ? static_cast<std::size_t>(std::strtoull(mb, nullptr, 10)) : std::size_t(4096)) << 20;
#if defined(GCC_CPU_CACHE_DEFAULT_OFF)
    enabled_ = false;
#else
    enabled_ = limit_ > 0;
#endif
  }
  std::mutex mutex_;
  std::multimap<std::size_t, char*> free_;  // size -> block base
  std::size_t cached_ = 0, limit_ = 0;
  bool enabled_ = true;
};

}  // namespace detail

// Returns the CPU tensor cache's blocks to the system (e.g. after training, before a long evaluation).
inline std::size_t cpu_cache_trim() { return detail::CpuBlockCache::instance().trim(); }
inline std::size_t cpu_cache_bytes() { return detail::CpuBlockCache::instance().cached_bytes(); }

}  // namespace gcc
