// k-means baseline reported beside every evaluation: greedy k-means++ seeding (scikit-learn's variant,
// 2 + floor(ln k) candidates per centre), Lloyd passes (an emptied cluster takes the point farthest from
// its centre), restarts keeping the lowest inertia. Distances ||x||^2 - 2 x.c + ||c||^2 go through
// OpenBLAS over blocks of rows: O(block * k + N log k) extra memory, never [N, k].
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numeric>
#include <utility>
#include <vector>

#include "../core/blas.hpp"
#include "../core/error.hpp"
#include "../core/parallel.hpp"
#include "../core/rng.hpp"

namespace gcc {

struct KMeansOptions {
  int k = 10;          // clusters, 1 <= k <= N
  int restarts = 5;    // independent seedings, the lowest inertia wins (ties: the earliest)
  int max_iter = 100;  // assignment passes per restart
  double tol = 1e-4;   // stop when inertia improves by less than tol * previous inertia
  uint64_t seed = 0;   // restart 0 uses seed itself, restart r a seed derived from (seed, r)
};

struct KMeansResult {
  std::vector<int> assignment;          // [N] nearest centroid of each point (ties: lowest index)
  std::vector<float> centroids;         // [k, D]
  double inertia = 0;                   // sum of squared distances to the assigned centroids (exact)
  int iterations = 0;                   // assignment passes of the best restart
  int best_restart = 0;
  std::vector<double> inertia_history;  // [iterations] inertia after each pass of the best restart
};

namespace detail {

// Squared norms of the rows of a [rows, d] matrix, summed in double.
inline std::vector<double> kmeans_row_sq_norms(const float* a, int64_t rows, int64_t d) {
  std::vector<double> sq(static_cast<std::size_t>(rows));  // [rows]
  parallel_for(rows, [&](int64_t i) {
    const float* r = a + i * d;
    double s = 0;
    for (int64_t j = 0; j < d; ++j) s += static_cast<double>(r[j]) * r[j];
    sq[static_cast<std::size_t>(i)] = s;
  }, 64);
  return sq;
}

// Exact squared distance between two rows of length d, summed in double.
inline double kmeans_sq_dist(const float* a, const float* b, int64_t d) {
  double s = 0;
  for (int64_t j = 0; j < d; ++j) {
    const double t = static_cast<double>(a[j]) - b[j];
    s += t * t;
  }
  return s;
}

// visit(i, dist_i) for every row i of x [N, D] (in parallel, rows independent), dist_i [k] holding
// ||x_i||^2 - 2 x_i.c + ||c||^2 (clamped at 0) for the centres c [k, D]. The products come from OpenBLAS
// over blocks of 4096 to 16384 rows (2^20 / k): 2 * block * k floats of scratch, never [N, k].
template <typename Visit>
void kmeans_distances(const float* x, const std::vector<double>& x_sq, int64_t n, int64_t d,
                      const float* centres, int64_t k, Visit&& visit) {
  const std::vector<double> c_sq = kmeans_row_sq_norms(centres, k, d);  // [k]
  const int64_t block = std::min(n, std::clamp<int64_t>((int64_t(1) << 20) / k, 4096, 16384));
  std::vector<float> dot(static_cast<std::size_t>(k * block));   // [k, block] -2 c.x
  std::vector<float> dist(static_cast<std::size_t>(block * k));  // [block, k]
  for (int64_t row0 = 0; row0 < n; row0 += block) {
    const int64_t rows = std::min(block, n - row0);
    // C X^T rather than X C^T: OpenBLAS is faster with the long side as N when k is small
    cpu::sgemm(false, true, k, rows, d, -2.f, centres, x + row0 * d, 0.f, dot.data());
    parallel_for(rows, [&](int64_t i) {
      float* di = dist.data() + i * k;
      const double xi_sq = x_sq[static_cast<std::size_t>(row0 + i)];
      for (int64_t j = 0; j < k; ++j)
        di[j] = static_cast<float>(std::max(0.0, xi_sq + dot[static_cast<std::size_t>(j * rows + i)] +
                                                     c_sq[static_cast<std::size_t>(j)]));
      visit(row0 + i, static_cast<const float*>(di));
    }, 256);
  }
}

// A point drawn with probability proportional to its weight (cumulative [N]: running sums of the
// weights); uniform when every weight is 0.
inline int64_t kmeans_draw(const std::vector<double>& cumulative, Rng& rng) {
  const int64_t n = static_cast<int64_t>(cumulative.size());
  const double total = cumulative.back();
  if (!(total > 0)) return static_cast<int64_t>(rng.below(static_cast<uint64_t>(n)));
  const double r = rng.uniform() * total;
  const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), r);  // zero weights never hit
  return std::min<int64_t>(it - cumulative.begin(), n - 1);
}

// The candidate t whose choice minimises sum_i min(closest[i], cand_dist[i, t]) (ties: lowest t).
inline int64_t kmeans_best_candidate(const std::vector<float>& closest, const std::vector<float>& cand_dist,
                                     int64_t trials) {
  std::vector<double> potential(static_cast<std::size_t>(trials), 0.0);  // [trials]
  const std::size_t nt = potential.size();
  for (std::size_t i = 0; i < closest.size(); ++i)
    for (std::size_t t = 0; t < nt; ++t) potential[t] += std::min(closest[i], cand_dist[i * nt + t]);
  return std::min_element(potential.begin(), potential.end()) - potential.begin();
}

// Greedy k-means++: first centre uniform; each next one is the best (lowest potential) of 2 + floor(ln k)
// candidates drawn with probability proportional to the squared distance to the nearest chosen centre.
inline std::vector<float> kmeans_plus_plus(const float* x, const std::vector<double>& x_sq, int64_t n,
                                           int64_t d, int64_t k, Rng& rng) {
  const auto row = [&](int64_t i) { return x + i * d; };
  const int64_t trials = 2 + static_cast<int64_t>(std::log(static_cast<double>(k)));
  const std::size_t nt = static_cast<std::size_t>(trials);
  std::vector<float> centres(static_cast<std::size_t>(k * d));  // [k, D]
  std::vector<float> closest(static_cast<std::size_t>(n));      // [N] to the nearest chosen centre
  std::vector<double> cumulative(closest.size());               // [N] running sums of closest
  std::vector<float> cand(nt * static_cast<std::size_t>(d));    // [trials, D]
  std::vector<float> cand_dist(closest.size() * nt);            // [N, trials]
  std::vector<int64_t> cand_id(nt);                             // [trials]
  const int64_t first = static_cast<int64_t>(rng.below(static_cast<uint64_t>(n)));
  std::copy(row(first), row(first) + d, centres.begin());
  kmeans_distances(x, x_sq, n, d, centres.data(), 1,
                   [&](int64_t i, const float* dist) { closest[static_cast<std::size_t>(i)] = dist[0]; });
  closest[static_cast<std::size_t>(first)] = 0.f;
  for (int64_t c = 1; c < k; ++c) {
    std::partial_sum(closest.begin(), closest.end(), cumulative.begin(), std::plus<double>());
    for (std::size_t t = 0; t < nt; ++t) {
      cand_id[t] = kmeans_draw(cumulative, rng);
      std::copy(row(cand_id[t]), row(cand_id[t]) + d, cand.begin() + static_cast<int64_t>(t) * d);
    }
    kmeans_distances(x, x_sq, n, d, cand.data(), trials, [&](int64_t i, const float* dist) {
      std::copy(dist, dist + trials, cand_dist.begin() + i * trials);
    });
    const std::size_t best = static_cast<std::size_t>(kmeans_best_candidate(closest, cand_dist, trials));
    for (std::size_t i = 0; i < closest.size(); ++i)
      closest[i] = std::min(closest[i], cand_dist[i * nt + best]);
    closest[static_cast<std::size_t>(cand_id[best])] = 0.f;  // exactly 0, no rounding residue
    std::copy(row(cand_id[best]), row(cand_id[best]) + d, centres.begin() + c * d);
  }
  return centres;
}

// Nearest centre of every point (ties: lowest index) and its exact squared distance dist [N].
// Returns how many assignments changed.
inline int64_t kmeans_assign(const float* x, const std::vector<double>& x_sq, int64_t n, int64_t d,
                             const float* centres, int64_t k, std::vector<int>& assignment,
                             std::vector<double>& dist) {
  std::vector<char> changed(static_cast<std::size_t>(n), 0);  // [N]
  kmeans_distances(x, x_sq, n, d, centres, k, [&](int64_t i, const float* dist_i) {
    const int best = static_cast<int>(std::min_element(dist_i, dist_i + k) - dist_i);  // the first minimum
    const std::size_t si = static_cast<std::size_t>(i);
    changed[si] = assignment[si] != best;
    assignment[si] = best;
    dist[si] = kmeans_sq_dist(x + i * d, centres + best * d, d);
  });
  return std::count(changed.begin(), changed.end(), char(1));
}

// Centres [k, D] <- the means of their points, summed in double over column chunks (each column in point
// order: the same sums for any thread count). Empty clusters keep their centre here; returns sizes [k].
inline std::vector<int64_t> kmeans_update(const float* x, int64_t n, int64_t d,
                                          const std::vector<int>& assignment, int64_t k, float* centres) {
  std::vector<int64_t> count(static_cast<std::size_t>(k), 0);  // [k]
  for (const int a : assignment) ++count[static_cast<std::size_t>(a)];
  const int64_t width = std::clamp<int64_t>((d + 2 * num_threads() - 1) / (2 * num_threads()), 64, 256);
  parallel_for((d + width - 1) / width, [&](int64_t chunk) {
    const int64_t j0 = chunk * width, w = std::min(width, d - j0);
    std::vector<double> sum(static_cast<std::size_t>(k * w), 0.0);  // [k, w]
    for (int64_t i = 0; i < n; ++i) {
      const float* xi = x + i * d + j0;
      double* s = sum.data() + assignment[static_cast<std::size_t>(i)] * w;
      for (int64_t j = 0; j < w; ++j) s[j] += xi[j];
    }
    for (int64_t c = 0; c < k; ++c) {
      const double size = static_cast<double>(count[static_cast<std::size_t>(c)]);
      if (size == 0) continue;
      const double* s = sum.data() + c * w;
      for (int64_t j = 0; j < w; ++j) centres[c * d + j0 + j] = static_cast<float>(s[j] / size);
    }
  });
  return count;
}

// Every empty cluster is re-seeded with the point farthest from its centre (ties: lowest index), whose
// distance then drops to 0 so that the next empty cluster takes another point.
inline void kmeans_reseed_empty(const float* x, int64_t d, const std::vector<int64_t>& count,
                                std::vector<double>& dist, float* centres) {
  for (std::size_t c = 0; c < count.size(); ++c) {
    if (count[c] != 0) continue;
    const int64_t far = std::max_element(dist.begin(), dist.end()) - dist.begin();
    std::copy(x + far * d, x + (far + 1) * d, centres + static_cast<int64_t>(c) * d);
    dist[static_cast<std::size_t>(far)] = 0.0;
  }
}

// One restart: seeding, then Lloyd passes until no assignment changes, the inertia improves by less than
// tol (relative) or max_iter passes. The result ends on an assignment pass: labels match the centroids.
inline KMeansResult kmeans_run(const float* x, const std::vector<double>& x_sq, int64_t n, int64_t d,
                               const KMeansOptions& opt, uint64_t seed) {
  Rng rng(seed);
  KMeansResult r;
  r.centroids = kmeans_plus_plus(x, x_sq, n, d, opt.k, rng);
  r.assignment.assign(static_cast<std::size_t>(n), -1);
  std::vector<double> dist(static_cast<std::size_t>(n));  // [N] exact squared distance to the own centre
  for (int pass = 1; pass <= opt.max_iter; ++pass) {
    const int64_t changed = kmeans_assign(x, x_sq, n, d, r.centroids.data(), opt.k, r.assignment, dist);
    const double inertia = std::accumulate(dist.begin(), dist.end(), 0.0);
    const bool converged = changed == 0 || (pass > 1 && r.inertia - inertia < opt.tol * r.inertia);
    r.inertia = inertia;
    r.iterations = pass;
    r.inertia_history.push_back(inertia);
    if (converged || pass == opt.max_iter) break;
    const std::vector<int64_t> count = kmeans_update(x, n, d, r.assignment, opt.k, r.centroids.data());
    kmeans_reseed_empty(x, d, count, dist, r.centroids.data());
  }
  return r;
}

inline void kmeans_validate(const float* x, int64_t n, int64_t d, const KMeansOptions& opt) {
  GCC_CHECK(n >= 1 && d >= 1, "kmeans: the input is [N = ", n, ", D = ", d, "]; expected N >= 1 and D >= 1");
  GCC_CHECK(x != nullptr, "kmeans: the input pointer is null; expected [N, D] row-major floats");
  GCC_CHECK(opt.k >= 1, "kmeans: K = ", opt.k, " clusters; expected at least 1");
  GCC_CHECK(opt.k <= n, "kmeans: K = ", opt.k, " is larger than the number of points (", n,
            "); expected 1 <= K <= N");
  GCC_CHECK(opt.restarts >= 1, "kmeans: restarts = ", opt.restarts, "; expected at least 1");
  GCC_CHECK(opt.max_iter >= 1, "kmeans: max_iter = ", opt.max_iter, "; expected at least 1");
  GCC_CHECK(opt.tol >= 0, "kmeans: tol = ", opt.tol, "; expected tol >= 0");
}

}  // namespace detail

// k-means of x [N, D] row-major; see KMeansOptions. Deterministic for a given seed and thread count.
inline KMeansResult kmeans(const float* x, int64_t n, int64_t d, const KMeansOptions& opt) {
  detail::kmeans_validate(x, n, d, opt);
  const std::vector<double> x_sq = detail::kmeans_row_sq_norms(x, n, d);  // [N], finite iff the row is
  const auto bad = std::find_if(x_sq.begin(), x_sq.end(), [](double s) { return !std::isfinite(s); });
  if (bad != x_sq.end())
    GCC_FAIL("kmeans: row ", bad - x_sq.begin(), " of the input holds a non-finite value (NaN or Inf); "
             "expected finite features");
  KMeansResult best;
  for (int r = 0; r < opt.restarts; ++r) {
    const uint64_t seed = opt.seed + static_cast<uint64_t>(r) * 0xD1B54A32D192ED03ULL;
    KMeansResult run = detail::kmeans_run(x, x_sq, n, d, opt, seed);
    run.best_restart = r;
    if (r == 0 || run.inertia < best.inertia) best = std::move(run);
  }
  return best;
}

// Raw pixels [N, bytes_per_image] as features [N, bytes_per_image] scaled to [0, 1] (k-means on pixels).
inline std::vector<float> pixels_as_features(const uint8_t* pixels, int64_t n, int64_t bytes_per_image) {
  GCC_CHECK(n >= 0 && bytes_per_image >= 1, "pixels_as_features: ", n, " images of ", bytes_per_image,
            " bytes; expected N >= 0 and at least 1 byte per image");
  GCC_CHECK(pixels != nullptr || n == 0, "pixels_as_features: the pixel pointer is null for N = ", n);
  std::vector<float> features(static_cast<std::size_t>(n * bytes_per_image));  // [N, bytes]
  parallel_for(n, [&](int64_t i) {
    for (int64_t j = i * bytes_per_image; j < (i + 1) * bytes_per_image; ++j)
      features[static_cast<std::size_t>(j)] = static_cast<float>(pixels[j]) / 255.f;
  }, 256);
  return features;
}

}  // namespace gcc
