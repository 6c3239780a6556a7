// Driver for the kNN graph of gcc/kernels/knn.cuh (the CUDA side of gcc::knn_topk_inner_product): for
// every row i of f [N, D], the k rows j (i included) with the largest <f_i, f_j>, best first, equal
// scores ranking the smaller id first. Both versions run the same pipeline: query blocks of `block` rows
// against database blocks of `block` rows, one FP32 cuBLAS sgemm per block pair into a [bq, ld] buffer
// (gcc::kernels::rowmajor_sgemm), then a merge of that block into the [N, k] lists. They differ in the merge:
//
//   v1  one thread per row keeping its sorted list in local memory and offering every column of its
//       row of the block with the CPU's insertion (detail::TopK::offer): the textbook merge. A warp
//       reads 32 rows ld floats apart (32 cache lines per step), the list lives in local memory.
//   v2  the library (gcc::kernels::knn_topk): a warp per row, lane l holding entry l in registers,
//       float4 loads of 4 x 128 consecutive columns per step, a ballot screening them against the
//       k-th entry; the rare survivors are inserted in column order with a warp-wide shift.
//
// Both are exact merges in the CPU's order, so they agree with the CPU bit for bit wherever the float
// scores do: the checks use small-integer features (every dot product exact in FP32, whatever order
// cuBLAS sums in; many exact ties, so the tie rule is exercised), then random unit features with the
// cuBLAS handle left in TF32 mode (the library must switch it to FP32 and restore it), where scores
// must agree to the sgemm's rounding bound (1e-5) and ids wherever the reference's neighbouring scores
// are more than twice that bound apart. The library keeps v2: coalesced 16-byte loads of the block
// (the merge is a pure stream over N^2 floats), the list in registers, and insertions only for the
// few columns that beat the k-th entry (after the first blocks, almost none). How far v2's merge
// hides behind the sgemm at N = 60,000 / 113,000 is what the timing sweep measures (README; the
// figures are owed to a GPU run).
//
// Build and run, in a folder holding this file, driver.cuh and a copy of kernels/gcc/ (or in kernels/dev/
// with -I.. instead of -I.); VERSION picks one version, --check skips the timing sweep:
//   nvcc -O3 -std=c++17 -arch=native -I. knn.cu -o knn -lcublas && ./knn [VERSION] [--check]
#include <cublas_v2.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <map>
#include <utility>
#include <vector>

#include "driver.cuh"
#include "gcc/kernels/knn.cuh"
#include "gcc/kernels/rowmajor_sgemm.cuh"

namespace {

using gcc::kernels::Launch;

// ---- CPU reference (gcc::knn_topk_inner_product's order, scores in double) ------------------------------
// The kk best (score, id) of each of `rows`, sorted best first; ties rank the smaller id first. Scores
// are exact double dot products (exact for integer features; for float features, the value the GPU's
// FP32 sgemm approximates). The top-k of any k <= kk is the first k entries.
struct Ref {
  int kk = 0;
  std::vector<double> sc;   // [rows, kk]
  std::vector<int64_t> id;  // [rows, kk]
};

Ref knn_cpu(const std::vector<float>& f, int64_t N, int64_t D, const std::vector<int64_t>& rows, int kk) {
  Ref ref;
  ref.kk = kk;
  ref.sc.assign(rows.size() * kk, -INFINITY);
  ref.id.assign(rows.size() * kk, -1);
  auto better = [](double s, int64_t a, double s2, int64_t b) { return s > s2 || (s == s2 && a < b); };
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const float* a = f.data() + rows[r] * D;
    double* s = ref.sc.data() + r * kk;
    int64_t* d = ref.id.data() + r * kk;
    for (int64_t j = 0; j < N; ++j) {
      const float* b = f.data() + j * D;
      double v = 0.0;
      for (int64_t c = 0; c < D; ++c) v += static_cast<double>(a[c]) * b[c];
      if (!better(v, j, s[kk - 1], d[kk - 1])) continue;  // detail::TopK::offer
      int p = kk - 1;
      while (p > 0 && better(v, j, s[p - 1], d[p - 1])) {
        s[p] = s[p - 1];
        d[p] = d[p - 1];
        --p;
      }
      s[p] = v;
      d[p] = j;
    }
  }
  return ref;
}

// ---- v1: one thread per row, the CPU's insertion --------------------------------------------------------
__global__ void knn_merge_v1(const float* sim /* [bi, ld] */, int64_t ld, int64_t bi, int64_t bj, int64_t i0,
                             int64_t j0, int k, bool first, float* best_s /* [N, k] */, int* best_i /* [N, k] */) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= bi) return;
  const int64_t row = i0 + r;
  float sc[gcc::kernels::kKnnMaxK];
  int id[gcc::kernels::kKnnMaxK];
  for (int t = 0; t < k; ++t) {
    sc[t] = first ? -INFINITY : best_s[row * k + t];
    id[t] = first ? -1 : best_i[row * k + t];
  }
  const float* srow = sim + r * ld;
  for (int64_t c = 0; c < bj; ++c) {
    const float s = srow[c];
    const int j = static_cast<int>(j0 + c);
    if (!gcc::kernels::knn_better(s, j, sc[k - 1], id[k - 1])) continue;
    int p = k - 1;
    while (p > 0 && gcc::kernels::knn_better(s, j, sc[p - 1], id[p - 1])) {
      sc[p] = sc[p - 1];
      id[p] = id[p - 1];
      --p;
    }
    sc[p] = s;
    id[p] = j;
  }
  for (int t = 0; t < k; ++t) {
    best_s[row * k + t] = sc[t];
    best_i[row * k + t] = id[t];
  }
}

// The whole graph with version v; v1 runs `threads` threads per block.
void run_knn(int v, cublasHandle_t h, const Launch& l, int threads, const float* f, int64_t N, int64_t D, int k,
             int64_t block, float* sim, float* bs, int* bi_ids) {
  if (v == 2) {
    driver::check(gcc::kernels::knn_topk(h, l, f, N, D, k, block, sim, bs, bi_ids), "knn v2");
    return;
  }
  const int64_t bq = gcc::kernels::knn_block_rows(N, block), ld = gcc::kernels::knn_sim_ld(N, block);
  for (int64_t i0 = 0; i0 < N; i0 += bq) {
    const int64_t bi = std::min(bq, N - i0);
    for (int64_t j0 = 0; j0 < N; j0 += bq) {
      const int64_t bj = std::min(bq, N - j0);
      driver::check(gcc::kernels::rowmajor_sgemm(h, l, false, true, bi, bj, D, 1.f, f + i0 * D, f + j0 * D, 0.f, sim,
                                                 D, D, ld), "knn v1 sgemm");
      knn_merge_v1<<<static_cast<unsigned>((bi + threads - 1) / threads), threads, 0, l.stream>>>(
          sim, ld, bi, bj, i0, j0, k, j0 == 0, bs, bi_ids);
      driver::check(gcc::kernels::launched("knn_merge_v1"), "knn v1");
    }
  }
}

// Features: small integers in [-2, 2] (every dot exact, many ties), or random unit rows.
std::vector<float> int_features(int64_t N, int64_t D, uint64_t seed) {
  driver::Rng rng(seed);
  std::vector<float> f(static_cast<std::size_t>(N * D));
  for (float& x : f) x = static_cast<float>(static_cast<int>(rng.next() % 5) - 2);
  if (N > 3)  // an exact duplicate row: its own score ties with its twin's
    for (int64_t c = 0; c < D; ++c) f[static_cast<std::size_t>(3 * D + c)] = f[static_cast<std::size_t>(1 * D + c)];
  return f;
}
std::vector<float> unit_features(int64_t N, int64_t D, uint64_t seed) {
  driver::Rng rng(seed);
  std::vector<float> f = driver::random_vector(static_cast<std::size_t>(N * D), rng);
  for (int64_t i = 0; i < N; ++i) {
    double n2 = 0.0;
    for (int64_t c = 0; c < D; ++c) n2 += static_cast<double>(f[i * D + c]) * f[i * D + c];
    const double inv = n2 > 0.0 ? 1.0 / std::sqrt(n2) : 0.0;
    for (int64_t c = 0; c < D; ++c) f[i * D + c] = static_cast<float>(f[i * D + c] * inv);
  }
  return f;
}

struct Gpu {
  cublasHandle_t h = nullptr;
  Gpu() {
    if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS || cublasSetStream(h, nullptr) != CUBLAS_STATUS_SUCCESS) {
      std::fprintf(stderr, "knn: cuBLAS initialisation failed\n");
      std::exit(1);
    }
  }
  ~Gpu() { cublasDestroy(h); }
};

// Runs version v on f for every k of ks and appends (ids as floats, then scores) of `rows` to got.
void gpu_lists(int v, const Gpu& g, const Launch& l, int threads, const driver::Buffer<float>& df, int64_t N,
               int64_t D, int k, int64_t block, const std::vector<int64_t>& rows, std::vector<float>& ids,
               std::vector<float>& scores) {
  driver::Buffer<float> sim(static_cast<std::size_t>(gcc::kernels::knn_sim_floats(N, block)));
  driver::Buffer<float> bs(static_cast<std::size_t>(N * k));
  driver::Buffer<int> bi(static_cast<std::size_t>(N * k));
  DRIVER_CUDA_CHECK(cudaMemset(sim.get(), 0xFF, sim.size() * sizeof(float)));  // NaN garbage: must be overwritten
  run_knn(v, g.h, l, threads, df.get(), N, D, k, block, sim.get(), bs.get(), bi.get());
  const std::vector<float> s = bs.download();
  const std::vector<int> i = bi.download();
  for (int64_t r : rows)
    for (int t = 0; t < k; ++t) {
      ids.push_back(static_cast<float>(i[static_cast<std::size_t>(r * k + t)]));
      scores.push_back(s[static_cast<std::size_t>(r * k + t)]);
    }
}

// Integer features: every k of ks, ids and scores bit for bit against the CPU.
bool check_exact(int v, const Gpu& g, const Launch& l, int threads, int64_t N, int64_t D, int64_t block) {
  const std::vector<float> f = int_features(N, D, 100 + static_cast<uint64_t>(N * 7 + D));
  driver::Buffer<float> df(f);
  std::vector<int64_t> rows(static_cast<std::size_t>(N));
  for (int64_t i = 0; i < N; ++i) rows[static_cast<std::size_t>(i)] = i;
  static std::map<std::pair<int64_t, int64_t>, Ref> cache;  // the CPU reference of each (N, D), once
  auto it = cache.find({N, D});
  if (it == cache.end())
    it = cache.emplace(std::make_pair(N, D), knn_cpu(f, N, D, rows, static_cast<int>(std::min<int64_t>(32, N)))).first;
  const Ref& cpu = it->second;
  const int kmax = cpu.kk;
  std::vector<float> ref, got;
  for (int k : {1, 5, 10, 20, 32}) {
    if (k > N) continue;
    std::vector<float> ids, scores;
    gpu_lists(v, g, l, threads, df, N, D, k, block, rows, ids, scores);
    got.insert(got.end(), ids.begin(), ids.end());
    got.insert(got.end(), scores.begin(), scores.end());
    for (int64_t r = 0; r < N; ++r)
      for (int t = 0; t < k; ++t) ref.push_back(static_cast<float>(cpu.id[static_cast<std::size_t>(r * kmax + t)]));
    for (int64_t r = 0; r < N; ++r)
      for (int t = 0; t < k; ++t) ref.push_back(static_cast<float>(cpu.sc[static_cast<std::size_t>(r * kmax + t)]));
  }
  char what[96];
  std::snprintf(what, sizeof what, "v%d %s N %lld D %lld block %lld, k 1..32", v,
                v == 1 ? (threads == 64 ? "t64" : "t256") : (l.sm_count == 1 ? "1 SM" : "all SMs"),
                static_cast<long long>(N), static_cast<long long>(D), static_cast<long long>(block));
  return driver::compare(what, ref, got, 0.0, 0.0);
}

// Float unit features of the reference's rows: scores within tol_s of the exact ones (the k-th largest
// moves by at most the largest score error); ids equal wherever the exact score at that rank is more
// than 2 tol_s away from its neighbours' (elsewhere a near-tie may swap). cpu.kk > k, or cpu.kk == N.
bool check_float(const char* label, const Ref& cpu, int64_t N, int k, const std::vector<float>& ids,
                 const std::vector<float>& scores, double tol_s) {
  const int kk = cpu.kk;
  const std::size_t n_rows = cpu.sc.size() / static_cast<std::size_t>(kk);
  std::vector<float> ref_i, ref_s;
  int64_t ambiguous = 0;
  for (std::size_t r = 0; r < n_rows; ++r)
    for (int t = 0; t < k; ++t) {
      const double* s = cpu.sc.data() + r * kk;
      const bool last = t + 1 >= kk || t + 1 >= N;  // no (k+1)-th row to confuse it with
      const bool clear = (t == 0 || s[t - 1] - s[t] > 2 * tol_s) && (last || s[t] - s[t + 1] > 2 * tol_s);
      ambiguous += !clear;
      ref_i.push_back(clear ? static_cast<float>(cpu.id[r * kk + t]) : ids[r * k + t]);
      ref_s.push_back(static_cast<float>(s[t]));
    }
  char what[192];
  std::snprintf(what, sizeof what, "%s ids (%lld near-ties skipped)", label, static_cast<long long>(ambiguous));
  const bool a = driver::compare(what, ref_i, ids, 0.0, 0.0);
  std::snprintf(what, sizeof what, "%s scores", label);
  return driver::compare(what, ref_s, scores, tol_s, 0.0) && a;
}

// The non-finite scan and the argument checks of the launchers.
bool check_statuses(const Launch& l, const Gpu& g) {
  bool ok = true;
  std::vector<float> ref, got;
  driver::Buffer<unsigned long long> first(1);
  auto scan = [&](const std::vector<float>& f, int64_t n) {
    driver::Buffer<float> df(f);
    driver::check(gcc::kernels::first_non_finite(l, df.get(), n, first.get()), "first_non_finite");
    const unsigned long long r = first.download()[0];
    return r == ~0ull ? -1.f : static_cast<float>(r);
  };
  std::vector<float> f(37 * 5, 0.5f);
  ref.push_back(-1.f), got.push_back(scan(f, 37 * 5));  // all finite
  ref.push_back(-1.f), got.push_back(scan(f, 0));       // nothing to scan
  f[7 * 5 + 0] = INFINITY;
  f[3 * 5 + 4] = NAN;
  f[30 * 5 + 2] = -INFINITY;
  ref.push_back(3 * 5 + 4), got.push_back(scan(f, 37 * 5));
  ok = driver::compare("first_non_finite (none, n 0, NaN before Inf)", ref, got, 0.0, 0.0) && ok;

  // Invalid arguments come back as cudaErrorInvalidValue, launching nothing.
  ref.assign(4, static_cast<float>(cudaErrorInvalidValue));
  got.clear();
  driver::Buffer<float> df(f), sim(64), bs(64);
  driver::Buffer<int> bi(64);
  got.push_back(gcc::kernels::knn_topk(g.h, l, df.get(), 37, 5, 33, 8, sim.get(), bs.get(), bi.get()).cuda);
  got.push_back(gcc::kernels::knn_topk(g.h, l, df.get(), 3, 5, 4, 8, sim.get(), bs.get(), bi.get()).cuda);
  got.push_back(gcc::kernels::knn_topk(g.h, l, df.get(), 37, 5, 5, 0, sim.get(), bs.get(), bi.get()).cuda);
  got.push_back(gcc::kernels::rowmajor_sgemm(g.h, l, false, true, -1, 4, 4, 1.f, df.get(), df.get(), 0.f, sim.get()).cuda);
  return driver::compare("invalid arguments -> cudaErrorInvalidValue", ref, got, 0.0, 0.0) && ok;
}

// The handle's math and pointer modes after a library call equal those set before it.
bool check_modes_restored(const Gpu& g, cublasMath_t m, cublasPointerMode_t p) {
  cublasMath_t m2 = CUBLAS_DEFAULT_MATH;
  cublasPointerMode_t p2 = CUBLAS_POINTER_MODE_HOST;
  cublasGetMathMode(g.h, &m2);
  cublasGetPointerMode(g.h, &p2);
  return driver::compare("cuBLAS math / pointer modes restored", {static_cast<float>(m), static_cast<float>(p)},
                         {static_cast<float>(m2), static_cast<float>(p2)}, 0.0, 0.0);
}

}  // namespace

int main(int argc, char** argv) {
  const driver::Args args = driver::parse_args(argc, argv, 2,
      "knn: the kNN top-k graph (gcc/kernels/knn.cuh): blocked FP32 sgemm + per-row top-k merge, versions 1-2\n"
      "of the merge checked against the CPU and timed at N = 60,000 / 113,000, D = 128, k = 5/10/20");
  if (!driver::gpu_present("knn")) return 1;
  const driver::Card card = driver::card();
  driver::print_card(card, "knn");
  const Gpu g;
  const Launch lib = gcc::kernels::launch_on(nullptr);
  Launch one_sm = lib;
  one_sm.sm_count = 1;  // grids capped at 16 blocks: every warp loops over many rows
  bool ok = true;

  std::printf("correctness, integer features (exact: ids and scores bit for bit):\n");
  struct Size {
    int64_t N, D;
  };
  const Size sizes[] = {{1, 128}, {5, 128}, {37, 128}, {37, 3}, {37, 0}, {1000, 1}, {1000, 128}, {4099, 128}};
  for (int v = 1; v <= 2; ++v) {
    if (!driver::wanted(args, v)) continue;
    for (const Size& s : sizes)
      for (int64_t block : {int64_t{7}, int64_t{512}, int64_t{2048}, int64_t{4096}}) {
        if (block == 7 && s.N > 1000) continue;
        if (block > 512 && block >= 2 * s.N) continue;  // the same single block as 512
        if (v == 1) {
          for (int threads : {64, 256}) ok = check_exact(1, g, lib, threads, s.N, s.D, block) && ok;
        } else {
          for (const Launch& l : {lib, one_sm}) ok = check_exact(2, g, l, 256, s.N, s.D, block) && ok;
        }
      }
  }

  std::printf("correctness, unit features, handle left in TF32 + device-pointer mode (scores to 1e-5):\n");
  {
    const int64_t N = 3001, D = 128;
    const std::vector<float> f = unit_features(N, D, 5);
    driver::Buffer<float> df(f);
    std::vector<int64_t> rows(static_cast<std::size_t>(N));
    for (int64_t i = 0; i < N; ++i) rows[static_cast<std::size_t>(i)] = i;
    const Ref cpu = knn_cpu(f, N, D, rows, 21);
    cublasSetMathMode(g.h, CUBLAS_TF32_TENSOR_OP_MATH);
    cublasSetPointerMode(g.h, CUBLAS_POINTER_MODE_DEVICE);
    for (int v = 1; v <= 2; ++v) {
      if (!driver::wanted(args, v)) continue;
      for (int64_t block : {int64_t{1024}, int64_t{4096}})
        for (int k : {5, 20}) {
          std::vector<float> ids, scores;
          gpu_lists(v, g, lib, 256, df, N, D, k, block, rows, ids, scores);
          char label[64];
          std::snprintf(label, sizeof label, "v%d N %lld block %lld k %d", v, static_cast<long long>(N),
                        static_cast<long long>(block), k);
          ok = check_float(label, cpu, N, k, ids, scores, 1e-5) && ok;
        }
    }
    ok = check_modes_restored(g, CUBLAS_TF32_TENSOR_OP_MATH, CUBLAS_POINTER_MODE_DEVICE) && ok;
    cublasSetMathMode(g.h, CUBLAS_DEFAULT_MATH);
    cublasSetPointerMode(g.h, CUBLAS_POINTER_MODE_HOST);
  }
  ok = check_statuses(lib, g) && ok;

  if (!args.check_only) {
    const int repeat = std::min(args.repeat, 5);  // one call is 0.1-1 s at these N
    std::printf("timing (median of %d calls; 2 N^2 D flops; the merge streams 4 N^2 bytes of sim blocks):\n", repeat);
    for (int64_t N : {int64_t{8192}, int64_t{60000}, int64_t{113000}}) {
      const int64_t D = 128;
      const std::vector<float> f = unit_features(N, D, 9);
      driver::Buffer<float> df(f);
      const double flops = 2.0 * N * N * D, bytes = 4.0 * N * N;
      std::vector<int64_t> sample;  // 16 rows spread over the set, checked against the CPU
      for (int64_t i = 0; i < 16; ++i) sample.push_back(i * (N - 1) / 15);
      const Ref cpu = knn_cpu(f, N, D, sample, 21);
      for (int64_t block : {int64_t{2048}, int64_t{4096}}) {
        const int64_t bq = gcc::kernels::knn_block_rows(N, block), ld = gcc::kernels::knn_sim_ld(N, block);
        driver::Buffer<float> sim(static_cast<std::size_t>(gcc::kernels::knn_sim_floats(N, block)));
        char shape[64];
        std::snprintf(shape, sizeof shape, "N %lld D %lld block %lld", static_cast<long long>(N),
                      static_cast<long long>(D), static_cast<long long>(block));
        const double ms_gemm = driver::time_ms(nullptr, repeat, [&] {
          for (int64_t i0 = 0; i0 < N; i0 += bq)
            for (int64_t j0 = 0; j0 < N; j0 += bq)
              driver::check(gcc::kernels::rowmajor_sgemm(g.h, lib, false, true, std::min(bq, N - i0),
                                                         std::min(bq, N - j0), D, 1.f, df.get() + i0 * D,
                                                         df.get() + j0 * D, 0.f, sim.get(), D, D, ld), "sgemm");
        });
        driver::print_timing(card, "sgemm blocks only", shape, ms_gemm, 0.0, flops);
        for (int k : {5, 10, 20}) {
          driver::Buffer<float> bs(static_cast<std::size_t>(N * k));
          driver::Buffer<int> bi(static_cast<std::size_t>(N * k));
          for (int v = 1; v <= 2; ++v) {
            if (!driver::wanted(args, v)) continue;
            const double ms = driver::time_ms(nullptr, repeat, [&] {
              run_knn(v, g.h, lib, 256, df.get(), N, D, k, block, sim.get(), bs.get(), bi.get());
            });
            char version[32], shape_k[80];
            std::snprintf(version, sizeof version, "v%d whole graph", v);
            std::snprintf(shape_k, sizeof shape_k, "%s k %d", shape, k);
            driver::print_timing(card, version, shape_k, ms, 0.0, flops);
            std::snprintf(version, sizeof version, "v%d merge (- sgemm)", v);
            if (ms > ms_gemm) driver::print_timing(card, version, shape_k, ms - ms_gemm, bytes, 0.0);
            const std::vector<float> s = bs.download();
            const std::vector<int> i = bi.download();
            std::vector<float> ids, scores;
            for (int64_t r : sample)
              for (int t = 0; t < k; ++t) {
                ids.push_back(static_cast<float>(i[static_cast<std::size_t>(r * k + t)]));
                scores.push_back(s[static_cast<std::size_t>(r * k + t)]);
              }
            char label[128];
            std::snprintf(label, sizeof label, "v%d %s 16 rows", v, shape_k);
            ok = check_float(label, cpu, N, k, ids, scores, 1e-5) && ok;
          }
        }
      }
    }
  }
  std::printf(ok ? "knn: every check passed\n" : "knn: CHECKS FAILED\n");
  return ok ? 0 : 1;
}
