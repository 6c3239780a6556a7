// The kNN graph on the GPU (kernels/knn.cuh) against the CPU's gcc::knn_topk_inner_product: identical
// index lists where the scores are exact (ties from duplicated rows included), the non-finite error.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <sstream>
#include <vector>

#include "gcc/cuda.cuh"
#include "gcc/graph/knn.hpp"
#include "gradcheck.hpp"

using gcc::Device;
using gcc::KnnGraph;
using gcc::Shape;
using gcc::Tensor;

namespace {

// Features on a grid of quarters in [-1, 1]: every product is a multiple of 1/16 and every partial
// sum of 32 of them is exact in float, so cuBLAS and OpenBLAS give the same scores whatever their
// order of additions. Ties abound (small grid), and rows 3i+1 copy rows 3i (exact duplicates).
Tensor grid_features(int64_t n, int64_t d, uint64_t seed) {
  gcc::Rng rng(seed);
  Tensor t = Tensor::empty(Shape{n, d});
  float* p = t.data();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < d; ++c) {
      if (i % 3 == 1) {
        p[i * d + c] = p[(i - 1) * d + c];
      } else {
        p[i * d + c] = static_cast<float>(static_cast<int>(rng.below(9)) - 4) * 0.25f;
      }
    }
  return t;
}

void check_identical(const KnnGraph& cpu, const KnnGraph& gpu, const char* what) {
  INFO(what);
  REQUIRE(gpu.n == cpu.n);
  REQUIRE(gpu.k == cpu.k);
  REQUIRE(gpu.index.size() == cpu.index.size());
  REQUIRE(gpu.score.size() == cpu.score.size());
  int64_t bad_rows = 0, first_bad = -1;
  for (int64_t i = 0; i < cpu.n; ++i) {
    bool ok = true;
    for (int64_t j = 0; j < cpu.k; ++j) {
      const std::size_t e = static_cast<std::size_t>(i * cpu.k + j);
      ok = ok && cpu.index[e] == gpu.index[e] && std::memcmp(&cpu.score[e], &gpu.score[e], sizeof(float)) == 0;
    }
    if (!ok) {
      ++bad_rows;
      if (first_bad < 0) first_bad = i;
    }
  }
  if (bad_rows > 0) {
    std::ostringstream os;
    for (int64_t j = 0; j < cpu.k; ++j)
      os << " (" << cpu.at(first_bad, j) << " " << cpu.score[static_cast<std::size_t>(first_bad * cpu.k + j)] << " | "
         << gpu.at(first_bad, j) << " " << gpu.score[static_cast<std::size_t>(first_bad * cpu.k + j)] << ")";
    FAIL_CHECK(bad_rows << " of " << cpu.n << " rows differ; first: row " << first_bad << " (CPU | GPU):" << os.str());
  }
}

}  // namespace

TEST_SUITE("cuda") {
  TEST_CASE("knn graph on the GPU: identical to the CPU (N=3000, D=32, k=6, ties from duplicated rows)") {
    const int64_t n = 3000, d = 32;
    const Tensor f = grid_features(n, d, 11);
    const Tensor fg = f.to(Device::cuda());
    const KnnGraph cpu = gcc::knn_topk_inner_product(f, 6);
    // Through the dispatching gcc:: function (the hook filled by <gcc/cuda.cuh>), default block.
    check_identical(cpu, gcc::knn_topk_inner_product(fg, 6), "k=6, default block (2048: a partial block)");
    // Several blocks, a last partial one, and a block size that is not a multiple of 4 (padded rows).
    check_identical(cpu, gcc::cuda::knn_topk_inner_product(fg, 6, 512), "k=6, block 512");
    check_identical(cpu, gcc::cuda::knn_topk_inner_product(fg, 6, 999), "k=6, block 999");
    check_identical(cpu, gcc::cuda::knn_topk_inner_product(fg, 6, 3000), "k=6, one block");
    // Duplicated rows tie: row 3i and 3i+1 hold the same vector, the smaller index ranks first.
    int64_t tie_rows = 0;
    const KnnGraph g = gcc::cuda::knn_topk_inner_product(fg, 6, 512);
    for (int64_t i = 0; i + 1 < n; i += 3) {
      bool a = false, b = false;
      int64_t pa = -1, pb = -1;
      for (int64_t j = 0; j < 6; ++j) {
        if (g.at(i, j) == i) a = true, pa = j;
        if (g.at(i, j) == i + 1) b = true, pb = j;
      }
      if (a && b) {
        ++tie_rows;
        CHECK(pa < pb);
      }
    }
    MESSAGE(tie_rows, " rows list both copies of a duplicated vector");
    CHECK(tie_rows > 0);
    // k = 1 and the kernel's largest k.
    check_identical(gcc::knn_topk_inner_product(f, 1), gcc::cuda::knn_topk_inner_product(fg, 1, 700), "k=1");
    check_identical(gcc::knn_topk_inner_product(f, 32), gcc::cuda::knn_topk_inner_product(fg, 32, 700), "k=32");
    // Above 32 the CUDA entry point falls back to the CPU: still the same graph.
    check_identical(gcc::knn_topk_inner_product(f, 33), gcc::knn_topk_inner_product(fg, 33), "k=33 (CPU fallback)");
  }

  TEST_CASE("knn graph on the GPU: random unit vectors agree with the CPU up to float near-ties") {
    const int64_t n = 3000, d = 32, k = 6;
    Tensor f = gcc_test::rand_tensor(Shape{n, d}, 5);
    float* p = f.data();
    for (int64_t i = 0; i < n; ++i) {
      double ss = 0;
      for (int64_t c = 0; c < d; ++c) ss += static_cast<double>(p[i * d + c]) * p[i * d + c];
      for (int64_t c = 0; c < d; ++c) p[i * d + c] = static_cast<float>(p[i * d + c] / std::sqrt(ss));
    }
    const KnnGraph cpu = gcc::knn_topk_inner_product(f, k);
    const KnnGraph gpu = gcc::knn_topk_inner_product(f.to(Device::cuda()), k);
    int64_t same_rows = 0;
    for (int64_t i = 0; i < n; ++i) {
      bool same = true;
      for (int64_t j = 0; j < k; ++j) {
        const std::size_t e = static_cast<std::size_t>(i * k + j);
        // The sorted score lists agree to float rounding; each GPU neighbour's exact score is that.
        CHECK(std::fabs(gpu.score[e] - cpu.score[e]) <= 1e-5f);
        const int64_t nb = gpu.index[e];
        REQUIRE(nb >= 0);
        REQUIRE(nb < n);
        double dot = 0;
        for (int64_t c = 0; c < d; ++c) dot += static_cast<double>(p[i * d + c]) * p[nb * d + c];
        CHECK(std::fabs(dot - cpu.score[e]) <= 1e-5);
        same = same && nb == cpu.index[e];
      }
      same_rows += same;
      CHECK(gpu.at(i, 0) == i);  // a unit vector is its own best match
    }
    MESSAGE(same_rows, " of ", n, " index lists identical (the rest differ only among near-ties)");
    CHECK(same_rows >= n - n / 100);
  }

  TEST_CASE("knn graph on the GPU: non-finite features name the first bad row; argument checks") {
    Tensor f = grid_features(500, 16, 3);
    f.at({321, 5}) = NAN;
    CHECK_THROWS_WITH_AS(gcc::knn_topk_inner_product(f.to(Device::cuda()), 6),
                         doctest::Contains("feature row 321 holds a non-finite value (nan at column 5)"), gcc::Error);
    f.at({17, 15}) = INFINITY;
    CHECK_THROWS_WITH_AS(gcc::cuda::knn_topk_inner_product(f.to(Device::cuda()), 6, 128),
                         doctest::Contains("feature row 17 holds a non-finite value (inf at column 15)"), gcc::Error);
    const Tensor ok = grid_features(10, 4, 1).to(Device::cuda());
    CHECK_THROWS_WITH_AS(gcc::knn_topk_inner_product(ok, 11), doctest::Contains("k = 11 must be in [1, N = 10]"),
                         gcc::Error);
    CHECK_THROWS_WITH_AS(gcc::knn_topk_inner_product(ok, 2, 0), doctest::Contains("block must be positive"),
                         gcc::Error);
    // The device still works after the errors.
    CHECK(gcc::knn_topk_inner_product(ok, 3).index.size() == 30u);
  }
}
