// k-means baseline: blob recovery up to label permutation, exact inertia, determinism, restarts, k = n,
// duplicate points (empty clusters), validation errors, a 20,000 x 64 run, pixels_as_features.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "gcc/core/rng.hpp"
#include "gcc/eval/kmeans.hpp"

namespace {

struct KMeansBlobs {
  std::vector<float> x;      // [N, D]
  std::vector<int> label;    // [N]
  std::vector<float> means;  // [K, D]
};

// K Gaussian blobs of `per_blob` points each in D dimensions, means uniform in [-scale, scale]^D.
KMeansBlobs kmeans_blobs(int64_t k, int64_t per_blob, int64_t d, double scale, double stddev, uint64_t seed) {
  gcc::Rng rng(seed);
  KMeansBlobs b;
  for (int64_t i = 0; i < k * d; ++i) b.means.push_back(static_cast<float>(rng.uniform(-scale, scale)));
  for (int64_t i = 0; i < k * per_blob; ++i) {
    const int64_t c = i % k;  // interleaved, so that blob order carries no information
    b.label.push_back(static_cast<int>(c));
    for (int64_t j = 0; j < d; ++j) b.x.push_back(static_cast<float>(b.means[c * d + j] + rng.normal(0.0, stddev)));
  }
  return b;
}

std::vector<float> kmeans_uniform(int64_t n, int64_t d, uint64_t seed) {
  gcc::Rng rng(seed);
  std::vector<float> x(static_cast<std::size_t>(n * d));
  for (float& v : x) v = static_cast<float>(rng.uniform());
  return x;
}

// True when a and b are the same partition (a bijection maps one labelling onto the other).
bool kmeans_same_partition(const std::vector<int>& a, const std::vector<int>& b) {
  if (a.size() != b.size()) return false;
  std::map<int, int> ab, ba;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ab.emplace(a[i], b[i]).first->second != b[i]) return false;
    if (ba.emplace(b[i], a[i]).first->second != a[i]) return false;
  }
  return true;
}

double kmeans_sq_dist(const float* a, const float* b, int64_t d) {
  double s = 0;
  for (int64_t j = 0; j < d; ++j) s += (static_cast<double>(a[j]) - b[j]) * (static_cast<double>(a[j]) - b[j]);
  return s;
}

double kmeans_recomputed_inertia(const std::vector<float>& x, int64_t d, const gcc::KMeansResult& r) {
  double s = 0;
  for (std::size_t i = 0; i < r.assignment.size(); ++i)
    s += kmeans_sq_dist(x.data() + static_cast<int64_t>(i) * d, r.centroids.data() + r.assignment[i] * d, d);
  return s;
}

gcc::KMeansOptions kmeans_options(int k, int restarts, uint64_t seed) {
  gcc::KMeansOptions opt;
  opt.k = k;
  opt.restarts = restarts;
  opt.seed = seed;
  return opt;
}

std::string kmeans_error_of(const float* x, int64_t n, int64_t d, const gcc::KMeansOptions& opt) {
  try {
    gcc::kmeans(x, n, d, opt);
  } catch (const gcc::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("kmeans recovers well separated blobs up to label permutation") {
  const KMeansBlobs b = kmeans_blobs(3, 100, 5, 10.0, 0.5, 7);
  for (uint64_t seed = 0; seed < 4; ++seed) {
    const gcc::KMeansResult r = gcc::kmeans(b.x.data(), 300, 5, kmeans_options(3, 3, seed));
    CHECK(kmeans_same_partition(r.assignment, b.label));
    REQUIRE(r.centroids.size() == 15);
    for (int i = 0; i < 300; i += 100) {  // each centroid sits near its blob's mean
      const int c = r.assignment[static_cast<std::size_t>(i)], truth = b.label[static_cast<std::size_t>(i)];
      CHECK(kmeans_sq_dist(r.centroids.data() + c * 5, b.means.data() + truth * 5, 5) < 0.1);
    }
  }
}

TEST_CASE("kmeans inertia equals the recomputed sum of squared distances") {
  const int64_t n = 500, d = 8;
  const std::vector<float> x = kmeans_uniform(n, d, 3);
  const gcc::KMeansResult r = gcc::kmeans(x.data(), n, d, kmeans_options(7, 2, 11));
  CHECK(r.inertia == doctest::Approx(kmeans_recomputed_inertia(x, d, r)).epsilon(1e-12));
  REQUIRE(r.inertia_history.size() == static_cast<std::size_t>(r.iterations));
  CHECK(r.inertia_history.back() == r.inertia);
  for (std::size_t i = 1; i < r.inertia_history.size(); ++i)
    CHECK(r.inertia_history[i] <= r.inertia_history[i - 1] * (1 + 1e-6));
  for (int64_t i = 0; i < n; ++i) {  // every label is the nearest centroid (float distances: small slack)
    const float* xi = x.data() + i * d;
    const double own = kmeans_sq_dist(xi, r.centroids.data() + r.assignment[static_cast<std::size_t>(i)] * d, d);
    for (int64_t c = 0; c < 7; ++c) CHECK(own <= kmeans_sq_dist(xi, r.centroids.data() + c * d, d) + 1e-5);
  }
}

TEST_CASE("kmeans is deterministic for a given seed") {
  const std::vector<float> x = kmeans_uniform(800, 6, 5);
  const gcc::KMeansResult a = gcc::kmeans(x.data(), 800, 6, kmeans_options(9, 3, 42));
  const gcc::KMeansResult b = gcc::kmeans(x.data(), 800, 6, kmeans_options(9, 3, 42));
  CHECK(a.assignment == b.assignment);
  CHECK(a.centroids == b.centroids);
  CHECK(a.inertia == b.inertia);
  CHECK(a.iterations == b.iterations);
  CHECK(a.best_restart == b.best_restart);
}

TEST_CASE("kmeans restarts never do worse than a single run with the same first seed") {
  const std::vector<float> x = kmeans_uniform(600, 4, 9);
  for (uint64_t seed = 0; seed < 5; ++seed) {
    const gcc::KMeansResult one = gcc::kmeans(x.data(), 600, 4, kmeans_options(12, 1, seed));
    const gcc::KMeansResult five = gcc::kmeans(x.data(), 600, 4, kmeans_options(12, 5, seed));
    CHECK(one.best_restart == 0);
    CHECK(five.inertia <= one.inertia);
    if (five.best_restart == 0) CHECK(five.assignment == one.assignment);
  }
}

TEST_CASE("kmeans with k = n gives zero inertia and one point per cluster") {
  const std::vector<float> x = kmeans_uniform(20, 3, 1);
  const gcc::KMeansResult r = gcc::kmeans(x.data(), 20, 3, kmeans_options(20, 2, 0));
  CHECK(r.inertia == 0.0);
  std::vector<int> seen(20, 0);
  for (const int a : r.assignment) ++seen[static_cast<std::size_t>(a)];
  for (const int s : seen) CHECK(s == 1);
}

TEST_CASE("kmeans with k = 1 gives the mean; duplicate points re-seed empty clusters") {
  const std::vector<float> x = {0, 0, 2, 0, 0, 4, 2, 4};  // [4, 2]
  const gcc::KMeansResult one = gcc::kmeans(x.data(), 4, 2, kmeans_options(1, 1, 0));
  CHECK(one.centroids == std::vector<float>{1, 2});
  CHECK(one.inertia == doctest::Approx(20.0));
  const std::vector<float> dup = {1, 1, 1, 1, 1, 1, 5, 5, 5, 5, 5, 5};  // [6, 2], two distinct points
  const gcc::KMeansResult r = gcc::kmeans(dup.data(), 6, 2, kmeans_options(3, 2, 4));
  CHECK(r.inertia == 0.0);
  for (const int a : r.assignment) CHECK((a >= 0 && a < 3));
  CHECK(r.assignment[0] != r.assignment[5]);
}

TEST_CASE("kmeans rejects bad sizes and non-finite input with clear errors") {
  std::vector<float> x = kmeans_uniform(12, 2, 0);
  const std::string too_many = kmeans_error_of(x.data(), 12, 2, kmeans_options(20, 1, 0));
  CHECK(too_many.find("K = 20 is larger than the number of points (12)") != std::string::npos);
  CHECK(kmeans_error_of(x.data(), 12, 2, kmeans_options(0, 1, 0)).find("K = 0") != std::string::npos);
  CHECK(kmeans_error_of(x.data(), 0, 2, kmeans_options(1, 1, 0)).find("N = 0") != std::string::npos);
  CHECK(kmeans_error_of(x.data(), 12, 0, kmeans_options(1, 1, 0)).find("D = 0") != std::string::npos);
  CHECK(kmeans_error_of(x.data(), 12, 2, kmeans_options(2, 0, 0)).find("restarts = 0") != std::string::npos);
  x[7] = std::numeric_limits<float>::quiet_NaN();  // row 3
  CHECK(kmeans_error_of(x.data(), 12, 2, kmeans_options(2, 1, 0)).find("row 3 ") != std::string::npos);
  x[7] = 0.f;
  x[22] = std::numeric_limits<float>::infinity();  // row 11
  CHECK(kmeans_error_of(x.data(), 12, 2, kmeans_options(2, 1, 0)).find("row 11 ") != std::string::npos);
}

TEST_CASE("kmeans on 20,000 x 64: sane result, non-increasing inertia, max_iter respected") {
  const int64_t n = 20000, d = 64;
  const std::vector<float> x = kmeans_uniform(n, d, 21);  // no cluster structure: many Lloyd passes
  const auto t0 = std::chrono::steady_clock::now();
  const gcc::KMeansResult r = gcc::kmeans(x.data(), n, d, kmeans_options(10, 2, 1));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("kmeans 20000 x 64, k = 10, 2 restarts: %.3f s, %d passes, inertia %.1f\n", secs, r.iterations,
              r.inertia);
  REQUIRE(r.assignment.size() == 20000);
  std::vector<int64_t> size(10, 0);
  for (const int a : r.assignment) ++size[static_cast<std::size_t>(a)];
  for (const int64_t s : size) CHECK(s > 0);
  CHECK(r.inertia == doctest::Approx(kmeans_recomputed_inertia(x, d, r)).epsilon(1e-9));
  CHECK(r.iterations >= 3);
  for (std::size_t i = 1; i < r.inertia_history.size(); ++i)
    CHECK(r.inertia_history[i] <= r.inertia_history[i - 1] * (1 + 1e-6));
  CHECK(r.inertia < 0.98 * static_cast<double>(n * d) / 12.0);  // below the k = 1 inertia (variance 1/12)
  gcc::KMeansOptions short_run = kmeans_options(10, 1, 1);
  short_run.max_iter = 2;
  const gcc::KMeansResult two = gcc::kmeans(x.data(), n, d, short_run);
  CHECK(two.iterations == 2);
  CHECK(two.inertia == doctest::Approx(kmeans_recomputed_inertia(x, d, two)).epsilon(1e-9));
}

TEST_CASE("kmeans pixels_as_features scales bytes to [0, 1]") {
  const std::vector<uint8_t> px = {0, 51, 255, 102, 204, 1};  // 2 images of 3 bytes
  const std::vector<float> f = gcc::pixels_as_features(px.data(), 2, 3);
  REQUIRE(f.size() == 6);
  CHECK(f[0] == 0.f);
  CHECK(f[1] == doctest::Approx(0.2));
  CHECK(f[2] == 1.f);
  CHECK(f[4] == doctest::Approx(0.8));
  CHECK_THROWS_AS(gcc::pixels_as_features(px.data(), 2, 0), gcc::Error);
}
