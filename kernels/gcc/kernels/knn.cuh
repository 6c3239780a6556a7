// The kNN graph on raw device pointers (the CUDA side of gcc/graph/knn.hpp's knn_topk_inner_product):
// blocked FP32 cuBLAS sgemm into one reusable block buffer, then a warp per row merging the block into
// its top-k; plus the scan for the first non-finite feature. Needs the CUDA runtime and cuBLAS (link
// -lcublas). Driver: kernels/dev/knn.cu.
#pragma once
#include <climits>
#include <cmath>
#include <cstdint>

#include "common.cuh"
#include "rowmajor_sgemm.cuh"

namespace gcc {
namespace kernels {

constexpr int kKnnMaxK = 32;       // one list entry per lane
constexpr int kKnnUnroll = 4;      // float4 loads in flight per lane: 512 columns per step
constexpr int kKnnWarps = 8;       // rows (warps) per block

// The CPU's order (detail::TopK::better): the larger score first, then the smaller id. Empty list
// slots hold (-inf, -1), which nothing at -inf (or NaN) displaces, as on the CPU.
__device__ __forceinline__ bool knn_better(float s, int id, float s2, int id2) {
  return s > s2 || (s == s2 && id < id2);
}

// first[0] = min over non-finite elements of their flat index (ULLONG_MAX when all are finite).
GCC_HEADER_KERNEL void knn_first_nonfinite_kernel(const float* f /* [N*D] */, int64_t n,
                                                  unsigned long long* first /* [1] */) {
  GCC_CUDA_GRID_STRIDE_LOOP(int64_t, e, n) {
    if (!::isfinite(f[e])) atomicMin(first, static_cast<unsigned long long>(e));
  }
}

// Rows i0 + r (r < bi) merge the columns j0 + c (c < bj) of the block sim[r, c] = <f_{i0+r}, f_{j0+c}>
// into their lists best_s/best_i (sorted best first; `first`: start from empty lists). One warp per
// row, lane l holding entry l (l < k). Each lane screens 4 columns per float4 against the current k-th
// entry; the few that beat it are inserted one at a time, in column order, with a warp-wide shift.
GCC_HEADER_KERNEL void __launch_bounds__(kKnnWarps * 32)
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

// first[0] = the smallest flat index e < n with f[e] NaN or +-Inf, ULLONG_MAX when every element is
// finite (first is set on l.stream before the scan; the caller copies it back and synchronises).
inline Status first_non_finite(const Launch& l, const float* f /* [n] */, int64_t n,
                               unsigned long long* first /* [1] device */) {
  GCC_KERNELS_TRY(status_of(cudaMemsetAsync(first, 0xFF, sizeof(unsigned long long), l.stream), "cudaMemsetAsync"));
  if (n == 0) return Status{};
  knn_first_nonfinite_kernel<<<l.grid_for(n), l.threads, 0, l.stream>>>(f, n, first);
  return launched("knn_first_nonfinite_kernel");
}

// Geometry of the similarity block buffer for N rows in blocks of `block` rows: bq = min(block, N)
// rows of ld = bq rounded up to a multiple of 4 floats (float4 loads never cross into the next row).
inline int64_t knn_block_rows(int64_t N, int64_t block) { return block < N ? block : N; }
inline int64_t knn_sim_ld(int64_t N, int64_t block) { return (knn_block_rows(N, block) + 3) / 4 * 4; }
// Floats of the `sim` scratch knn_topk needs: [bq, ld] (4 Mi floats = 16 MiB at block 2048).
inline int64_t knn_sim_floats(int64_t N, int64_t block) { return knn_block_rows(N, block) * knn_sim_ld(N, block); }

// For every row i of f, the k rows j (i itself included) with the largest <f_i, f_j>, best first,
// equal scores ranking the smaller index first (the CPU's order). Query blocks of `block` rows against
// database blocks of `block` rows through the [bq, ld] buffer `sim`; never an N x N matrix. Needs
// 1 <= k <= min(kKnnMaxK, N), block >= 1, N < INT_MAX (cudaErrorInvalidValue otherwise) and finite
// features (see first_non_finite). `h` must be bound to l.stream by the caller. best_s / best_i are
// left on the device.
inline Status knn_topk(cublasHandle_t h, const Launch& l, const float* f /* [N, D] */, int64_t N, int64_t D, int k,
                       int64_t block, float* sim /* [bq, ld] scratch, knn_sim_floats(N, block) */,
                       float* best_s /* [N, k] */, int* best_i /* [N, k] */) {
  if (!(k >= 1 && k <= kKnnMaxK && k <= N && block >= 1 && N < INT_MAX))
    return status_of(cudaErrorInvalidValue, "knn_topk: needs 1 <= k <= min(32, N), block >= 1, N < INT_MAX");
  const int64_t bq = knn_block_rows(N, block);
  const int64_t ld = knn_sim_ld(N, block);
  for (int64_t i0 = 0; i0 < N; i0 += bq) {
    const int64_t bi = N - i0 < bq ? N - i0 : bq;
    const unsigned grid = l.capped((bi + kKnnWarps - 1) / kKnnWarps, 16);
    for (int64_t j0 = 0; j0 < N; j0 += bq) {
      const int64_t bj = N - j0 < bq ? N - j0 : bq;
      GCC_KERNELS_TRY(rowmajor_sgemm(h, l, false, true, bi, bj, D, 1.f, f + i0 * D, f + j0 * D, 0.f, sim, D, D, ld));
      knn_topk_block_kernel<<<grid, kKnnWarps * 32, 0, l.stream>>>(sim, ld, bi, bj, i0, j0, k, j0 == 0, best_s,
                                                                    best_i);
      GCC_KERNELS_TRY(launched("knn_topk_block_kernel"));
    }
  }
  return Status{};
}

}  // namespace kernels
}  // namespace gcc
