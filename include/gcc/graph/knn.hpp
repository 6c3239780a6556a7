// kNN graph over embeddings (SPEC §4): top-k by inner product against all samples without an N×N
// matrix (blocked sgemm over the upper triangle + per-row top-k), symmetric degree weights, kNN accuracy.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "../core/blas.hpp"
#include "../core/parallel.hpp"
#include "../core/tensor.hpp"

namespace gcc {

struct KnnGraph {
  int64_t n = 0, k = 0;
  std::vector<int64_t> index;   // [n, k] neighbour ids, best first
  std::vector<float> score;     // [n, k] inner products
  int64_t at(int64_t i, int64_t j) const { return index[static_cast<std::size_t>(i * k + j)]; }
};

namespace detail {
// Keeps the k best (score, id) pairs of one row, sorted best first. Ties: the smaller id ranks first.
struct TopK {
  static bool better(float s, int64_t id, float s2, int64_t id2) { return s > s2 || (s == s2 && id < id2); }
  static void offer(float* sc, int64_t* id, int64_t k, float s, int64_t j) {
    if (!better(s, j, sc[k - 1], id[k - 1])) return;
    int64_t p = k - 1;
    while (p > 0 && better(s, j, sc[p - 1], id[p - 1])) {
      sc[p] = sc[p - 1];
      id[p] = id[p - 1];
      --p;
    }
    sc[p] = s;
    id[p] = j;
  }
};
}  // namespace detail

// The CUDA path for features on a CUDA device (kernels/knn.cuh), put here by <gcc/cuda.cuh>'s
// registration so that this header needs no nvcc; null in CPU-only programs.
using KnnTopkFn = KnnGraph (*)(const Tensor& features, int64_t k, int64_t block);
inline KnnTopkFn& cuda_knn_topk_hook() {
  static KnnTopkFn fn = nullptr;
  return fn;
}

// For every row i of `features`, the k rows j (i itself included) with the largest <f_i, f_j>, best
// first; equal scores rank the smaller index first. Blocks of `block` rows: only blocks (I, J) with
// I <= J are multiplied (the matrix is symmetric), each updating the rows of I and of J.
// Memory: block² floats (16 MiB at the default) plus the n·k result.
inline KnnGraph knn_topk_inner_product(const Tensor& features /* [N, D] */, int64_t k, int64_t block = 2048) {
  check_dims("knn_topk_inner_product", features, 2, "[N, D]");
  if (features.device().is_cuda()) {
    const KnnTopkFn fn = cuda_knn_topk_hook();
    GCC_CHECK(fn != nullptr, "knn_topk_inner_product: no CUDA backend in this build for features on ",
              features.device().str(), "; include <gcc/cuda.cuh> in a .cu file or move them to the CPU");
    return fn(features, k, block);
  }
  const Tensor f = features.to(Device::cpu()).contiguous();
  const int64_t n = f.size(0), d = f.size(1);
  GCC_CHECK(k >= 1 && k <= n, "knn_topk_inner_product: k = ", k, " must be in [1, N = ", n, "]");
  GCC_CHECK(block >= 1, "knn_topk_inner_product: block must be positive");
  const float* fp = f.data();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < d; ++c)
      GCC_CHECK(std::isfinite(fp[i * d + c]), "knn_topk_inner_product: feature row ", i, " holds a non-finite "
                "value (", fp[i * d + c], " at column ", c, "); the model has diverged (NaN/Inf weights?)");
  KnnGraph g;
  g.n = n;
  g.k = k;
  g.index.assign(static_cast<std::size_t>(n * k), -1);
  g.score.assign(static_cast<std::size_t>(n * k), -INFINITY);
  std::vector<float> sim(static_cast<std::size_t>(block * block));
  // One OpenMP region per block pair: every thread multiplies its own strip of rows with a
  // single-threaded sgemm (no OpenBLAS pool competing with OpenMP's threads), then updates the top-k
  // lists it owns: first its rows of block I, then (I != J) its slice of block J's rows, read as
  // contiguous row segments of the similarity block.
  detail::BlasSingleThread single_threaded_blas;
  for (int64_t i0 = 0; i0 < n; i0 += block) {
    const int64_t bi = std::min(block, n - i0);
    for (int64_t j0 = i0; j0 < n; j0 += block) {
      const int64_t bj = std::min(block, n - j0);
      float* s = sim.data();
#pragma omp parallel
      {
#ifdef _OPENMP
        const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
#else
        const int64_t nt = 1, t = 0;
#endif
        const int64_t r0 = bi * t / nt, r1 = bi * (t + 1) / nt;
        if (r1 > r0) cpu::sgemm(false, true, r1 - r0, bj, d, 1.f, fp + (i0 + r0) * d, fp + j0 * d, 0.f, s + r0 * bj);
        for (int64_t r = r0; r < r1; ++r) {  // rows of block I against the columns of block J
          float* sc = g.score.data() + (i0 + r) * k;
          int64_t* id = g.index.data() + (i0 + r) * k;
          const float* row = s + r * bj;
          for (int64_t c = 0; c < bj; ++c) detail::TopK::offer(sc, id, k, row[c], j0 + c);
        }
        if (j0 != i0) {
#pragma omp barrier
          const int64_t c0 = bj * t / nt, c1 = bj * (t + 1) / nt;  // rows of block J this thread owns
          for (int64_t r = 0; r < bi; ++r) {
            const float* row = s + r * bj;
            for (int64_t c = c0; c < c1; ++c)
              detail::TopK::offer(g.score.data() + (j0 + c) * k, g.index.data() + (j0 + c) * k, k, row[c], i0 + r);
          }
        }
      }
    }
  }
  return g;
}

// Node weights w_i = sqrt(3 / d_i), d_i = |N_i ∪ {j : i ∈ N_j}| (symmetric graph with the self-loop
// that i's own list normally holds).
inline std::vector<float> degree_weights(const KnnGraph& g) {
  std::vector<std::vector<int64_t>> adj(static_cast<std::size_t>(g.n));
  for (int64_t i = 0; i < g.n; ++i)
    for (int64_t j = 0; j < g.k; ++j) {
      const int64_t nb = g.at(i, j);
      GCC_CHECK(nb >= 0 && nb < g.n, "degree_weights: neighbour ", j, " of sample ", i, " is ", nb,
                ", outside [0, ", g.n, ")");
      adj[static_cast<std::size_t>(i)].push_back(nb);
      adj[static_cast<std::size_t>(nb)].push_back(i);
    }
  std::vector<float> w(static_cast<std::size_t>(g.n));
  parallel_for(g.n, [&](int64_t i) {
    auto& a = adj[static_cast<std::size_t>(i)];
    std::sort(a.begin(), a.end());
    const auto deg = std::unique(a.begin(), a.end()) - a.begin();
    w[static_cast<std::size_t>(i)] = static_cast<float>(std::sqrt(3.0 / static_cast<double>(deg)));
  }, 1024);
  return w;
}

// Share of neighbours in columns 1..k-1 (column 0 is normally the sample itself, as the release
// skips it) whose label equals the anchor's. Diagnostics only: the method never reads labels.
inline double knn_label_accuracy(const KnnGraph& g, const std::vector<int>& labels) {
  GCC_CHECK(static_cast<int64_t>(labels.size()) == g.n, "knn_label_accuracy: ", labels.size(),
            " labels for a graph of ", g.n, " samples");
  GCC_CHECK(g.k >= 2, "knn_label_accuracy: needs k >= 2 (self + neighbours), k = ", g.k);
  int64_t hit = 0;
  for (int64_t i = 0; i < g.n; ++i)
    for (int64_t j = 1; j < g.k; ++j) hit += labels[static_cast<std::size_t>(g.at(i, j))] == labels[static_cast<std::size_t>(i)];
  return static_cast<double>(hit) / static_cast<double>(g.n * (g.k - 1));
}

}  // namespace gcc
