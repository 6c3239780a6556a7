// Kernel demo: the kNN graph on the GPU (kernels/knn.cuh) over N random unit vectors: times the blocked
// FP32 sgemm part alone and the whole top-k graph (sgemm + per-row top-k + copy to the host), in GFLOP/s.
#include <cstdio>
#include <vector>

#include "cli.hpp"
#include "cuda_timing.cuh"
#include "example_data.hpp"
#include "gcc/cuda.cuh"
#include "gcc/graph/knn.hpp"

int main(int argc, char** argv) {
  gcc_examples::Cli cli("demo_knn_cuda",
                        "kNN graph (top-k by inner product) on the GPU over N random unit vectors; prints the time and\n"
                        "GFLOP/s of the blocked sgemm alone and of the whole graph (2 N^2 D flops either way).");
  cli.opt("n", "113000", "number of vectors N").opt("dim", "128", "dimension D").opt("k", "6", "neighbours, self included (<= 32)")
      .opt("block", "2048", "rows per query / database block").opt("repeat", "3", "timed runs (the best is reported)")
      .opt("seed", "0", "random seed").opt("check", "0", "1: compare with the CPU graph (slow for large N)");
  int code = 0;
  if (!cli.parse(argc, argv, code)) return code;
  try {
    if (!gcc_examples::gpu_usable("demo_knn_cuda")) return 1;
    const int64_t n = cli.integer("n"), d = cli.integer("dim"), k = cli.integer("k"), block = cli.integer("block");
    const int repeat = static_cast<int>(cli.integer("repeat") > 0 ? cli.integer("repeat") : 1);
    gcc::Rng rng(static_cast<uint64_t>(cli.integer("seed")));
    const gcc::Tensor f = gcc_examples::random_unit_rows(n, d, rng);
    const gcc::Tensor fg = f.to(gcc::Device::cuda());
    gcc::cuda::Context& ctx = gcc::cuda::context(fg.device().index);
    const cudaStream_t stream = ctx.stream();
    const double flops = 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(d);

    // The sgemm part alone: the same blocks into the same kind of buffer, no top-k.
    const int64_t bq = block < n ? block : n, ld = (bq + 3) / 4 * 4;
    const gcc::Tensor sim = gcc::Tensor::empty(gcc::Shape{bq, ld}, fg.device());
    auto sgemm_pass = [&] {
      for (int64_t i0 = 0; i0 < n; i0 += bq)
        for (int64_t j0 = 0; j0 < n; j0 += bq)
          gcc::cuda::impl::rowmajor_sgemm(ctx, false, true, n - i0 < bq ? n - i0 : bq, n - j0 < bq ? n - j0 : bq, d,
                                          1.f, fg.data() + i0 * d, fg.data() + j0 * d, 0.f, sim.data(), d, d, ld);
    };
    gcc_examples::EventTimer timer(stream);
    sgemm_pass();  // warm-up (cuBLAS handle, kernels)
    double best_sgemm = 1e30, best_total = 1e30;
    for (int r = 0; r < repeat; ++r) {
      timer.start();
      sgemm_pass();
      const double ms = timer.stop_ms();
      best_sgemm = ms < best_sgemm ? ms : best_sgemm;
    }
    gcc::KnnGraph g = gcc::knn_topk_inner_product(fg, k, block);  // warm-up
    for (int r = 0; r < repeat; ++r) {
      timer.start();
      g = gcc::knn_topk_inner_product(fg, k, block);  // returns after the copy to the host
      const double ms = timer.stop_ms();
      best_total = ms < best_total ? ms : best_total;
    }
    int64_t self_first = 0;
    for (int64_t i = 0; i < n; ++i) self_first += g.at(i, 0) == i;
    std::printf("demo_knn_cuda: N=%lld D=%lld k=%lld block=%lld\n", static_cast<long long>(n),
                static_cast<long long>(d), static_cast<long long>(k), static_cast<long long>(bq));
    std::printf("  sgemm part : %9.2f ms  %8.1f GFLOP/s\n", best_sgemm, flops / (best_sgemm * 1e6));
    std::printf("  total      : %9.2f ms  %8.1f GFLOP/s (sgemm + top-k + copy to host)\n", best_total,
                flops / (best_total * 1e6));
    std::printf("  self ranked first for %.2f%% of rows\n", 100.0 * static_cast<double>(self_first) / static_cast<double>(n));
    if (cli.integer("check")) {
      const gcc::KnnGraph c = gcc::knn_topk_inner_product(f, k, block);
      int64_t same = 0;
      for (int64_t i = 0; i < n; ++i) {
        bool s = true;
        for (int64_t j = 0; j < k; ++j) s = s && c.at(i, j) == g.at(i, j);
        same += s;
      }
      std::printf("  CPU check  : %lld of %lld index lists identical (the rest: float near-ties)\n",
                  static_cast<long long>(same), static_cast<long long>(n));
    }
  } catch (const gcc::Error& e) {
    std::fprintf(stderr, "demo_knn_cuda: %s\n", e.what());
    return 1;
  }
  return 0;
}
