// Per-device CUDA context: one stream, the cuBLAS and cuDNN handles bound to it, and a reusable
// workspace; created lazily on first use. Also device_status() (can this process use a GPU?) and
// synchronize(). Every op of the CUDA backend runs on its device's context stream, in order.
#pragma once
#include <atomic>
#include <cstddef>
#include <mutex>
#include <string>

#include "../core/device.hpp"
#include "check.cuh"
#include "gcc/kernels/common.cuh"  // kernels/: Launch

#define GCC_CUDA_STRINGIFY_(...) #__VA_ARGS__
#define GCC_CUDA_STRINGIFY(...) GCC_CUDA_STRINGIFY_(__VA_ARGS__)

namespace gcc {
namespace cuda {

constexpr int kMaxDevices = 16;
constexpr int kThreadsPerBlock = 256;

// Makes `device` current for the guard's lifetime (and restores the previous one).
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    GCC_CUDA_CHECK(cudaGetDevice(&prev_));
    if (prev_ != device) {
      GCC_CUDA_CHECK(cudaSetDevice(device));
      switched_ = true;
    }
  }
  ~DeviceGuard() {
    if (switched_) (void)cudaSetDevice(prev_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int prev_ = 0;
  bool switched_ = false;
};

class Context {
 public:
  explicit Context(int device) : device_(device) {
    DeviceGuard guard(device);
    // A blocking stream (default flags): it stays ordered with the legacy default stream, so user
    // kernels launched without a stream see the toolkit's results.
    GCC_CUDA_CHECK(cudaStreamCreate(&stream_));
    GCC_CUDA_CHECK(cudaDeviceGetAttribute(&sm_count_, cudaDevAttrMultiProcessorCount, device));
  }
  // Contexts live until the process ends and are never destroyed: tearing down cuDNN/cuBLAS handles
  // from static destructors, after the CUDA runtime has begun to unload, crashes on some drivers.
  ~Context() = default;
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  int sm_count() const { return sm_count_; }

  // How the kernels of gcc/kernels/ launch on this context: its stream, SM count, 256-thread blocks.
  kernels::Launch launch() const {
    kernels::Launch l;
    l.stream = stream_;
    l.sm_count = sm_count_;
    l.threads = kThreadsPerBlock;
    return l;
  }
  // Blocks for a grid-stride loop over n items (kernels::Launch::grid_for).
  unsigned grid_for(int64_t n) const { return launch().grid_for(n); }

  // cuBLAS handle bound to this context's stream (created on first use).
  cublasHandle_t cublas() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!cublas_) {
      DeviceGuard guard(device_);
      GCC_CUBLAS_CHECK(cublasCreate(&cublas_));
      GCC_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
    }
    return cublas_;
  }
  // cuDNN handle bound to this context's stream (created on first use; the first one is slow).
  cudnnHandle_t cudnn() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!cudnn_) {
      DeviceGuard guard(device_);
      GCC_CUDNN_CHECK(cudnnCreate(&cudnn_));
      GCC_CUDNN_CHECK(cudnnSetStream(cudnn_, stream_));
    }
    return cudnn_;
  }
  // A scratch buffer of at least `bytes`, valid until the next workspace() call on this context. It
  // grows (by at least 1.5x) and never shrinks, so a training loop stops allocating after one step.
  void* workspace(std::size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    if (bytes > workspace_bytes_) {
      DeviceGuard guard(device_);
      std::size_t grow = workspace_bytes_ + workspace_bytes_ / 2;
      std::size_t want = bytes > grow ? bytes : grow;
      if (workspace_) {
        GCC_CUDA_CHECK(cudaStreamSynchronize(stream_));  // kernels may still read the old buffer
        GCC_CUDA_CHECK(cudaFree(workspace_));
        workspace_ = nullptr;
        workspace_bytes_ = 0;
      }
      GCC_CUDA_CHECK(cudaMalloc(&workspace_, want));
      workspace_bytes_ = want;
    }
    return workspace_;
  }
  std::size_t workspace_size() const { return workspace_bytes_; }
  void synchronize() const {
    DeviceGuard guard(device_);
    GCC_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

 private:
  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  int sm_count_ = 1;
  std::mutex mu_;
  cublasHandle_t cublas_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  void* workspace_ = nullptr;
  std::size_t workspace_bytes_ = 0;
};

namespace impl {
inline std::atomic<Context*>* context_slots() {
  static std::atomic<Context*> slots[kMaxDevices];  // zero-initialised: no context yet
  return slots;
}
}  // namespace impl

// The context of CUDA device `device` (-1: the current device), created on first use.
inline Context& context(int device = -1) {
  if (device < 0) GCC_CUDA_CHECK(cudaGetDevice(&device));
  GCC_CHECK(device < kMaxDevices, "cuda::context: device index ", device, " is above the supported ",
            kMaxDevices - 1);
  std::atomic<Context*>& slot = impl::context_slots()[device];
  Context* c = slot.load(std::memory_order_acquire);
  if (c) return *c;
  static std::mutex create_mu;
  std::lock_guard<std::mutex> lock(create_mu);
  c = slot.load(std::memory_order_acquire);
  if (!c) {
    int count = 0;
    GCC_CUDA_CHECK(cudaGetDeviceCount(&count));
    GCC_CHECK(device < count, "cuda::context: device cuda:", device, " does not exist (", count,
              " CUDA device(s) visible); check CUDA_VISIBLE_DEVICES");
    c = new Context(device);  // never deleted, see ~Context
    slot.store(c, std::memory_order_release);
  }
  return *c;
}

// Waits until every kernel and copy issued so far by the toolkit (on any device) has finished, and
// reports an asynchronous error from any of them.
inline void synchronize() {
  for (int d = 0; d < kMaxDevices; ++d) {
    Context* c = impl::context_slots()[d].load(std::memory_order_acquire);
    if (c) c->synchronize();
  }
  GCC_CUDA_CHECK(cudaGetLastError());
}

struct DeviceStatus {
  bool usable = false;
  std::string reason;  // why not (empty when usable)
};

namespace impl {
GCC_HEADER_KERNEL void probe_kernel(int* out) {
  if (out) *out = 1;
}
inline std::string cuda_error_text(cudaError_t e) {
  return std::string(cudaGetErrorName(e)) + " (" + cudaGetErrorString(e) + ")";
}
}  // namespace impl

// Whether this process can run the CUDA backend: a device exists and runs this build's kernels.
// Never throws; `reason` says what is missing, e.g. "cudaGetDeviceCount failed:
// cudaErrorInsufficientDriver (CUDA driver version is insufficient for CUDA runtime version)".
inline DeviceStatus device_status() {
  DeviceStatus st;
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    st.reason = "cudaGetDeviceCount failed: " + impl::cuda_error_text(e);
    return st;
  }
  if (count <= 0) {
    st.reason = "no CUDA device";
    return st;
  }
  // A kernel launch finds a build made for other GPUs (cudaErrorNoKernelImageForDevice).
  int dev = 0;
  e = cudaGetDevice(&dev);
  if (e == cudaSuccess) {
    impl::probe_kernel<<<1, 1>>>(nullptr);
    e = cudaGetLastError();
  }
  if (e == cudaSuccess) e = cudaDeviceSynchronize();
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    int major = 0, minor = 0;
    (void)cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
    (void)cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
    (void)cudaGetLastError();
    st.reason = "CUDA device " + std::to_string(dev) + " (compute capability " +
                std::to_string(major) + "." + std::to_string(minor) +
                ") cannot run this build's kernels: " + impl::cuda_error_text(e) +
#ifdef __CUDA_ARCH_LIST__
                "; built for architectures " GCC_CUDA_STRINGIFY(__CUDA_ARCH_LIST__) +
#endif
                "; rebuild with -DGCC_CUDA_ARCHITECTURES=<this GPU's, e.g. 90>";
    return st;
  }
  st.usable = true;
  return st;
}

}  // namespace cuda
}  // namespace gcc
