// The kNN graph on the GPU (gcc/graph/knn.hpp's knn_topk_inner_product for CUDA features): blocked
// FP32 cuBLAS sgemm into one reusable block buffer, then a warp per row merging the block into its top-k.
#pragma once
#include <climits>
#include <cmath>
#include <cstdint>
#include <vector>

#include "common.cuh"
#include "gcc/graph/knn.hpp"
#include "rowmajor_sgemm.cuh"

namespace gcc {
namespace cuda {
namespace impl {

constexpr int kKnnMaxK = 32;       // one list entry per lane
constexpr int kKnnUnroll = 4;      // float4 loads in flight per lane: 512 columns per step
constexpr int kKnnWarps = 8;       // rows (warps) per block

// The CPU's order (detail::TopK::better): the larger score first, then the smaller id. Empty list
// slots hold (-inf, -1), which nothing at -inf (or NaN) displaces, as on the CPU.
__device__ __forceinline__ bool knn_better(float s, int id, float s2, int id2) {
  return s > s2 || (s == s2 && id < id2);
}

// first[0] = min over non-finite elements of their flat index (ULLONG_MAX when all are finite).
template <int Unused>
__global__ void knn_first_nonfinite_kernel(const float* f /* [N*D] */, int64_t n, unsigned long long* first /* [1] */) {
  GCC_CUDA_GRID_STRIDE_LOOP(int64_t, e, n) {
    if (!::isfinite(f[e])) atomicMin(first, static_cast<unsigned long long>(e));
  }
}

// Rows i0 + r (r < bi) merge the columns j0 + c (c < bj) of the block sim[r, c] = <f_{i0+r}, f_{j0+c}>
// into their lists best_s/best_i (sorted best first; `first`: start from empty lists). One warp per
// row, lane l holding entry l (l < k). Each lane screens 4 columns per float4 against the current k-th
// entry; the few that beat it are inserted one at a time, in column order, with a warp-wide shift.
template <int Unused>
__global__ void __launch_bounds__(kKnnWarps * 32)
knn_topk_block_kernel(const float* sim /* [bi, ld] */, int64_t ld, int64_t bi, int64_t bj, int64_t i0, int64_t j0,
                      int k, bool first, float* best_s /* [N, k] */, int* best_i /* [N, k] */) {
  constexpr unsigned kFull = 0xffffffffu;
  const int lane = threadIdx.x & 31;
  const unsigned kmask = k >= 32 ? kFull : ((1u << k) - 1u);
  const int64_t wpb = blockDim.x >> 5;
  for (int64_t r = blockIdx.x * wpb + (threadIdx.x >> 5); r < bi; r += gridDim.x * wpb) {  // warp-uniform
    const int64_t row = i0 + r;
    float ms = -INFINITY;
    int mi = -1;
    if (!first && lane < k) {
      ms = best_s[row * k + lane];
      mi = best_i[row * k + lane];
    }
    float ts = __shfl_sync(kFull, ms, k - 1);  // the k-th entry: the bar a candidate must beat
    int ti = __shfl_sync(kFull, mi, k - 1);
    const float* srow = sim + r * ld;
    for (int64_t c0 = 0; c0 < bj; c0 += 128 * kKnnUnroll) {
      float v[kKnnUnroll][4];
#pragma unroll
      for (int u = 0; u < kKnnUnroll; ++u) {
        const int64_t c = c0 + u * 128 + 4 * lane;
        float4 q4 = make_float4(-INFINITY, -INFINITY, -INFINITY, -INFINITY);
        if (c < bj) q4 = *reinterpret_cast<const float4*>(srow + c);  // ld % 4 == 0: stays in the row
        v[u][0] = q4.x, v[u][1] = q4.y, v[u][2] = q4.z, v[u][3] = q4.w;
      }
#pragma unroll
      for (int u = 0; u < kKnnUnroll; ++u) {
        const int64_t c = c0 + u * 128 + 4 * lane;
        unsigned flags = 0;
#pragma unroll
        for (int q = 0; q < 4; ++q)
          if (c + q < bj && knn_better(v[u][q], static_cast<int>(j0 + c + q), ts, ti)) flags |= 1u << q;
        unsigned pending = __ballot_sync(kFull, flags != 0);
        while (pending) {  // lanes with candidates, lowest first (column order)
          const int src = __ffs(pending) - 1;
          pending &= pending - 1;
          const unsigned f = __shfl_sync(kFull, flags, src);
#pragma unroll
          for (int q = 0; q < 4; ++q) {
            const float cs = __shfl_sync(kFull, v[u][q], src);
            if (!(f & (1u << q))) continue;  // warp-uniform
            const int ci = static_cast<int>(j0 + c0 + u * 128 + 4 * src + q);
            if (!knn_better(cs, ci, ts, ti)) continue;  // an earlier insertion raised the bar
            // Entries better than the candidate are exactly lanes 0..p-1; lanes p.. shift down one.
            const int p = __popc(__ballot_sync(kFull, knn_better(ms, mi, cs, ci)) & kmask);
            const float up_s = __shfl_up_sync(kFull, ms, 1);
            const int up_i = __shfl_up_sync(kFull, mi, 1);
            if (lane == p) {
              ms = cs;
              mi = ci;
            } else if (lane > p) {
              ms = up_s;
              mi = up_i;
            }
            ts = __shfl_sync(kFull, ms, k - 1);
            ti = __shfl_sync(kFull, mi, k - 1);
          }
        }
      }
    }
    if (lane < k) {
      best_s[row * k + lane] = ms;
      best_i[row * k + lane] = mi;
    }
  }
}

}  // namespace impl

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
  if (k > impl::kKnnMaxK) return ::gcc::knn_topk_inner_product(features.to(Device::cpu()), k, block);
  GCC_CHECK(n < INT_MAX, "knn_topk_inner_product: N = ", n, " rows exceed the CUDA kernel's 32-bit ids");
  const Tensor f = features.contiguous();
  Context& ctx = context(dev);
  DeviceGuard guard(dev);
  cudaStream_t st = ctx.stream();

  // Non-finite features: find the first bad element on the device, report it like the CPU does.
  {
    const Tensor slot = Tensor::empty(Shape{2}, features.device());  // one unsigned long long
    unsigned long long* first = reinterpret_cast<unsigned long long*>(slot.data());
    GCC_CUDA_CHECK(cudaMemsetAsync(first, 0xFF, sizeof(unsigned long long), st));
    const int64_t total = n * d;
    if (total > 0) {
      impl::knn_first_nonfinite_kernel<0><<<ctx.grid_for(total), kThreadsPerBlock, 0, st>>>(f.data(), total, first);
      GCC_CUDA_LAUNCH_CHECK();
    }
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

  const int64_t bq = block < n ? block : n;
  const int64_t ld = (bq + 3) / 4 * 4;  // padded rows: float4 loads never cross into the next row
  const Tensor sim = Tensor::empty(Shape{bq, ld}, features.device());
  const Tensor best_s = Tensor::empty(Shape{n, k}, features.device());
  const Tensor best_i = Tensor::empty(Shape{n, k}, features.device());  // int32 ids in float storage
  float* simp = sim.data();
  float* bs = best_s.data();
  int* bi_ids = reinterpret_cast<int*>(best_i.data());
  const float* fp = f.data();
  const int64_t cap = static_cast<int64_t>(ctx.sm_count()) * 16;
  for (int64_t i0 = 0; i0 < n; i0 += bq) {
    const int64_t bi = n - i0 < bq ? n - i0 : bq;
    const int64_t need = (bi + impl::kKnnWarps - 1) / impl::kKnnWarps;
    const unsigned grid = static_cast<unsigned>(need < cap ? need : cap);
    for (int64_t j0 = 0; j0 < n; j0 += bq) {
      const int64_t bj = n - j0 < bq ? n - j0 : bq;
      impl::rowmajor_sgemm(ctx, false, true, bi, bj, d, 1.f, fp + i0 * d, fp + j0 * d, 0.f, simp, d, d, ld);
      impl::knn_topk_block_kernel<0><<<grid, impl::kKnnWarps * 32, 0, st>>>(
          simp, ld, bi, bj, i0, j0, static_cast<int>(k), j0 == 0, bs, bi_ids);
      GCC_CUDA_LAUNCH_CHECK();
    }
  }

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
