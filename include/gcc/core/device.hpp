// Where a tensor's memory lives: the CPU or a CUDA device. The CUDA backend (include/gcc/cuda)
// registers its allocator here, so CPU-only builds never need the CUDA headers.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <string>

#include "cpu_allocator.hpp"
#include "error.hpp"

namespace gcc {

enum class DeviceKind : unsigned char { CPU, CUDA };

struct Device {
  DeviceKind kind = DeviceKind::CPU;
  int index = 0;

  static Device cpu() { return Device{DeviceKind::CPU, 0}; }
  static Device cuda(int i = 0) { return Device{DeviceKind::CUDA, i}; }
  bool is_cpu() const { return kind == DeviceKind::CPU; }
  bool is_cuda() const { return kind == DeviceKind::CUDA; }
  bool operator==(const Device& o) const { return kind == o.kind && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const { return is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(index); }
};

// Allocation hooks per device kind. CPU memory is 64-byte aligned (one cache line, AVX-512 width).
struct DeviceAllocator {
  float* (*allocate)(std::size_t numel, int device_index) = nullptr;
  void (*release)(float* ptr, int device_index) = nullptr;
};

namespace detail {
inline float* cpu_allocate(std::size_t numel, int) {
  if (numel == 0) return nullptr;
  return CpuBlockCache::instance().allocate(numel * sizeof(float));  // core/cpu_allocator.hpp
}
inline void cpu_release(float* p, int) { CpuBlockCache::instance().release(p); }
}  // namespace detail

inline DeviceAllocator& cuda_allocator_hook() {
  static DeviceAllocator hook;  // filled in by include/gcc/cuda/memory.cuh when compiled with nvcc
  return hook;
}

// Whether the CUDA backend can run here (device count > 0 and this build's kernels load); filled in by
// <gcc/cuda.cuh>. Null in CPU-only programs.
using CudaAvailableFn = bool (*)();
inline CudaAvailableFn& cuda_available_hook() {
  static CudaAvailableFn hook = nullptr;
  return hook;
}
inline bool cuda_available() { return cuda_available_hook() != nullptr && cuda_available_hook()(); }

// "cpu", "cuda", "cuda:N" or "auto" (cuda:0 when this program has the CUDA backend and a usable GPU, else
// cpu). Throws naming the text and the accepted forms.
inline Device parse_device(const std::string& s) {
  if (s == "cpu") return Device::cpu();
  if (s == "auto") return cuda_available() ? Device::cuda(0) : Device::cpu();
  if (s == "cuda") return Device::cuda(0);
  if (s.compare(0, 5, "cuda:") == 0 && s.size() > 5 && s.size() < 9 &&
      s.find_first_not_of("0123456789", 5) == std::string::npos)
    return Device::cuda(std::stoi(s.substr(5)));
  GCC_FAIL("unknown device '", s, "'; expected cpu, cuda, cuda:N or auto");
}

inline DeviceAllocator allocator_for(Device d) {
  if (d.is_cpu()) return DeviceAllocator{&detail::cpu_allocate, &detail::cpu_release};
  const DeviceAllocator& h = cuda_allocator_hook();
  GCC_CHECK(h.allocate != nullptr, "allocator_for: no CUDA backend in this build (device ", d.str(),
            "); build with GCC_WITH_CUDA=ON and include <gcc/cuda.cuh> from a .cu file");
  return h;
}

}  // namespace gcc
