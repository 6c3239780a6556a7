// Benchmark (not a test): the kNN graph (top-k by inner product, degree weights) on N random
// L2-normalised vectors. --save writes the vectors and neighbours for data_scripts/bench_knn_faiss.py.
#include <chrono>
#include <cstdio>
#include <fstream>

#include "cli.hpp"
#include "example_data.hpp"
#include "gcc/core.hpp"
#include "gcc/graph/knn.hpp"

int main(int argc, char** argv) {
  gcc_examples::Cli cli("bench_knn", "Times knn_topk_inner_product + degree_weights on random unit vectors.");
  cli.opt("n", "60000", "number of vectors").opt("dim", "128", "dimension").opt("k", "6", "neighbours (self included)")
      .opt("block", "2048", "rows per block").opt("seed", "0", "random seed")
      .opt("save", "", "prefix: write <prefix>.features.f32 [n, dim] and <prefix>.knn.i64 [n, k]");
  int code = 0;
  if (!cli.parse(argc, argv, code)) return code;
  try {
    const int64_t n = cli.integer("n"), d = cli.integer("dim"), k = cli.integer("k");
    gcc::Rng rng(static_cast<uint64_t>(cli.integer("seed")));
    const gcc::Tensor f = gcc_examples::random_unit_rows(n, d, rng);
    auto t0 = std::chrono::steady_clock::now();
    gcc::KnnGraph g = gcc::knn_topk_inner_product(f, k, cli.integer("block"));
    auto t1 = std::chrono::steady_clock::now();
    std::vector<float> w = gcc::degree_weights(g);
    auto t2 = std::chrono::steady_clock::now();
    int64_t self_first = 0;
    for (int64_t i = 0; i < n; ++i) self_first += g.at(i, 0) == i;
    std::printf("gcc-toolkit knn: N=%lld D=%lld k=%lld threads=%d: top-k %.2f s, degree weights %.3f s, "
                "self ranked first for %.2f%% of rows\n",
                static_cast<long long>(n), static_cast<long long>(d), static_cast<long long>(k), gcc::num_threads(),
                std::chrono::duration<double>(t1 - t0).count(), std::chrono::duration<double>(t2 - t1).count(),
                100.0 * static_cast<double>(self_first) / static_cast<double>(n));
    const std::string prefix = cli.str("save");
    if (!prefix.empty()) {
      std::ofstream(prefix + ".features.f32", std::ios::binary)
          .write(reinterpret_cast<const char*>(f.data()), static_cast<std::streamsize>(n * d * sizeof(float)));
      std::ofstream(prefix + ".knn.i64", std::ios::binary)
          .write(reinterpret_cast<const char*>(g.index.data()), static_cast<std::streamsize>(g.index.size() * 8));
    }
  } catch (const gcc::Error& e) {
    std::fprintf(stderr, "bench_knn: %s\n", e.what());
    return 1;
  }
  return 0;
}
