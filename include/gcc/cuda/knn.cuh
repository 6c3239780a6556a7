// The kNN graph for CUDA features (gcc/graph/knn.hpp's knn_topk_inner_product, registered by
// <gcc/cuda.cuh> as cuda_knn_topk_hook): argument checks, the non-finite scan and the blocked top-k of
// gcc/kernels/knn.cuh on the device's context stream, the lists copied back into a host KnnGraph.
#pragma once
#include <climits>
#include <cstdint>
#include <vector>

#include "../graph/knn.hpp"
#include "context.cuh"
#include "gcc/kernels/knn.cuh"  // kernels/
#include "tensor_checks.cuh"

namespace gcc {
namespace cuda {

// For every row i of the CUDA tensor `features`, the k rows j (i itself included) with the largest
// <f_i, f_j>, best first, equal scores ranking the smaller index first: the same graph as the CPU's
// gcc::knn_topk_inner_product (identical wherever the float scores are), returned in host vectors.
// Query blocks of `block` rows against database blocks of `block` rows: a [block, block] FP32 buffer
// (16 MiB at the default) plus the [N, k] lists live on the device; never an N x N matrix. Throws
// gcc::Error naming the first row holding a NaN/Inf. k <= 32 on the device; larger k runs on the CPU.
inline KnnGraph knn_topk_inner_product(const Tensor& features /* [N, D] */, int64_t k, int64_t block = 2048) {
  check_dims("knn_topk_inner_product", features, 2, "[N, D]");
  const int dev = impl::cuda_device_of("knn_topk_inner_product", features);
  const int64_t n = features.size(0), d = features.size(1);
  GCC_CHECK(k >= 1 && k <= n, "knn_topk_inner_product: k = ", k, " must be in [1, N = ", n, "]");
  GCC_CHECK(block >= 1, "knn_topk_inner_product: block must be positive");
  if (k > kernels::kKnnMaxK) return ::gcc::knn_topk_inner_product(features.to(Device::cpu()), k, block);
  GCC_CHECK(n < INT_MAX, "knn_topk_inner_product: N = ", n, " rows exceed the CUDA kernel's 32-bit ids");
  const Tensor f = features.contiguous();
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  const kernels::Launch l = ctx.launch();
  cudaStream_t st = l.stream;

  // Non-finite features: find the first bad element on the device, report it like the CPU does.
  {
    const Tensor slot = Tensor::empty(Shape{2}, features.device());  // one unsigned long long
    unsigned long long* first = reinterpret_cast<unsigned long long*>(slot.data());
    GCC_KERNEL_CHECK(kernels::first_non_finite(l, f.data(), n * d, first));
    unsigned long long bad = 0;
    GCC_CUDA_CHECK(cudaMemcpyAsync(&bad, first, sizeof(bad), cudaMemcpyDeviceToHost, st));
    GCC_CUDA_CHECK(cudaStreamSynchronize(st));
    if (bad != ~0ull) {
      float value = 0.f;
      GCC_CUDA_CHECK(cudaMemcpyAsync(&value, f.data() + bad, sizeof(float), cudaMemcpyDeviceToHost, st));
      GCC_CUDA_CHECK(cudaStreamSynchronize(st));
      const int64_t row = static_cast<int64_t>(bad) / d, col = static_cast<int64_t>(bad) % d;
      GCC_FAIL("knn_topk_inner_product: feature row ", row, " holds a non-finite value (", value, " at column ",
               col, "); the model has diverged (NaN/Inf weights?)");
    }
  }

  const Tensor sim = Tensor::empty(Shape{kernels::knn_block_rows(n, block), kernels::knn_sim_ld(n, block)},
                                   features.device());
  const Tensor best_s = Tensor::empty(Shape{n, k}, features.device());
  const Tensor best_i = Tensor::empty(Shape{n, k}, features.device());  // int32 ids in float storage
  float* bs = best_s.data();
  int* bi_ids = reinterpret_cast<int*>(best_i.data());
  GCC_KERNEL_CHECK(kernels::knn_topk(ctx.cublas(), l, f.data(), n, d, static_cast<int>(k), block, sim.data(), bs,
                                     bi_ids));

  KnnGraph g;
  g.n = n;
  g.k = k;
  g.score.resize(static_cast<std::size_t>(n * k));
  std::vector<int> ids(static_cast<std::size_t>(n * k));
  GCC_CUDA_CHECK(cudaMemcpyAsync(g.score.data(), bs, g.score.size() * sizeof(float), cudaMemcpyDeviceToHost, st));
  GCC_CUDA_CHECK(cudaMemcpyAsync(ids.data(), bi_ids, ids.size() * sizeof(int), cudaMemcpyDeviceToHost, st));
  GCC_CUDA_CHECK(cudaStreamSynchronize(st));
  g.index.assign(ids.begin(), ids.end());
  return g;
}

}  // namespace cuda
}  // namespace gcc
