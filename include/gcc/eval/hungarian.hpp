// Exact linear sum assignment (Hungarian method, shortest augmenting paths with dual potentials,
// Jonker-Volgenant style, O(min(R,C)^2 * max(R,C))) for rectangular cost matrices, double or int64 costs.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "../core/error.hpp"

namespace gcc {

// The optimal assignment of an R x C cost matrix: min(R, C) pairs (row, col), each row and each column
// used at most once. Entries that take part in no pair are -1.
template <typename T>
struct LinearAssignment {
  std::vector<int> row_to_col;  // [R] column of each row, -1 if the row is unassigned (only when R > C)
  std::vector<int> col_to_row;  // [C] row of each column, -1 if the column is unassigned (only when C > R)
  T total = 0;                  // sum of cost[r, row_to_col[r]] over assigned rows (original signs)
};

namespace detail {

// Shortest augmenting path over an n x m problem, n <= m, a(i, j) = sign * cost[i*rs + j*cs].
// Returns assign[i] = column of row i. Potentials u (rows) and v (columns) keep the reduced costs
// a(i, j) - u[i] - v[j] >= 0; each row is added by one Dijkstra-like search over the columns.
// Ties: the first column (lowest index) reaching the smallest reduced distance is taken, so the
// result is deterministic.
template <typename T>
std::vector<int> lsa_shortest_path(const T* cost, int64_t n, int64_t m, int64_t rs, int64_t cs, T sign) {
  const T inf = std::numeric_limits<T>::max();
  // 1-based columns; column 0 is the virtual start of each search, p[j] is the (1-based) row of column j.
  std::vector<T> u(static_cast<std::size_t>(n + 1), T(0)), v(static_cast<std::size_t>(m + 1), T(0));
  std::vector<T> minv(static_cast<std::size_t>(m + 1));
  std::vector<int64_t> p(static_cast<std::size_t>(m + 1), 0), way(static_cast<std::size_t>(m + 1), 0);
  std::vector<char> used(static_cast<std::size_t>(m + 1));
  for (int64_t i = 1; i <= n; ++i) {
    p[0] = i;
    int64_t j0 = 0;
    std::fill(minv.begin(), minv.end(), inf);
    std::fill(used.begin(), used.end(), char(0));
    do {
      used[static_cast<std::size_t>(j0)] = 1;
      const int64_t i0 = p[static_cast<std::size_t>(j0)];
      const T* row = cost + (i0 - 1) * rs;
      const T ui0 = u[static_cast<std::size_t>(i0)];
      T delta = inf;
      int64_t j1 = 0;
      for (int64_t j = 1; j <= m; ++j) {
        const std::size_t sj = static_cast<std::size_t>(j);
        if (used[sj]) continue;
        const T cur = sign * row[(j - 1) * cs] - ui0 - v[sj];
        if (cur < minv[sj]) {
          minv[sj] = cur;
          way[sj] = j0;
        }
        if (minv[sj] < delta) {
          delta = minv[sj];
          j1 = j;
        }
      }
      // n <= m guarantees an unused column here; finite costs guarantee a finite delta.
      for (int64_t j = 0; j <= m; ++j) {
        const std::size_t sj = static_cast<std::size_t>(j);
        if (used[sj]) {
          u[static_cast<std::size_t>(p[sj])] += delta;
          v[sj] -= delta;
        } else {
          minv[sj] -= delta;
        }
      }
      j0 = j1;
    } while (p[static_cast<std::size_t>(j0)] != 0);
    do {  // augment along the path back to the virtual column
      const int64_t j1 = way[static_cast<std::size_t>(j0)];
      p[static_cast<std::size_t>(j0)] = p[static_cast<std::size_t>(j1)];
      j0 = j1;
    } while (j0 != 0);
  }
  std::vector<int> assign(static_cast<std::size_t>(n), -1);
  for (int64_t j = 1; j <= m; ++j)
    if (p[static_cast<std::size_t>(j)] != 0) assign[static_cast<std::size_t>(p[static_cast<std::size_t>(j)] - 1)] = static_cast<int>(j - 1);
  return assign;
}

}  // namespace detail

// Exact minimum- (or, with maximize, maximum-) cost assignment of a row-major [rows, cols] matrix,
// as scipy.optimize.linear_sum_assignment: rectangular matrices assign min(rows, cols) pairs.
// T is double or int64_t. Costs must be finite; int64 costs must satisfy |cost| <= 2^40 so that the
// dual potentials cannot overflow (ample for counts). Where several assignments are optimal, the one
// returned is deterministic but may differ from scipy's; the total is the same.
// Maximisation of matches, e.g. for cluster -> class mapping: maximize = true on the counts.
template <typename T>
LinearAssignment<T> linear_sum_assignment(const T* cost, int64_t rows, int64_t cols, bool maximize = false) {
  static_assert(std::is_same<T, double>::value || std::is_same<T, int64_t>::value,
                "linear_sum_assignment: costs must be double or int64_t");
  GCC_CHECK(rows >= 0 && cols >= 0, "linear_sum_assignment: bad matrix shape [", rows, ", ", cols, "]");
  GCC_CHECK(rows <= std::numeric_limits<int>::max() && cols <= std::numeric_limits<int>::max(),
            "linear_sum_assignment: matrix [", rows, ", ", cols, "] too large");
  GCC_CHECK(rows * cols == 0 || cost != nullptr, "linear_sum_assignment: null cost matrix [", rows, ", ", cols, "]");
  for (int64_t idx = 0; idx < rows * cols; ++idx) {
    const T c = cost[idx];
    if constexpr (std::is_floating_point<T>::value) {
      GCC_CHECK(std::isfinite(c), "linear_sum_assignment: cost[", idx / cols, ", ", idx % cols, "] = ", c,
                " is not finite (matrix [", rows, ", ", cols, "])");
    } else {
      const T lim = T(1) << 40;
      GCC_CHECK(c >= -lim && c <= lim, "linear_sum_assignment: cost[", idx / cols, ", ", idx % cols, "] = ", c,
                " exceeds 2^40 in magnitude (matrix [", rows, ", ", cols, "])");
    }
  }
  LinearAssignment<T> out;
  out.row_to_col.assign(static_cast<std::size_t>(rows), -1);
  out.col_to_row.assign(static_cast<std::size_t>(cols), -1);
  if (rows == 0 || cols == 0) return out;
  const T sign = maximize ? T(-1) : T(1);
  if (rows <= cols) {
    const std::vector<int> a = detail::lsa_shortest_path(cost, rows, cols, cols, 1, sign);
    for (int64_t r = 0; r < rows; ++r) {
      const int c = a[static_cast<std::size_t>(r)];
      out.row_to_col[static_cast<std::size_t>(r)] = c;
      out.col_to_row[static_cast<std::size_t>(c)] = static_cast<int>(r);
    }
  } else {  // more rows than columns: solve the transposed problem (columns assigned to rows)
    const std::vector<int> a = detail::lsa_shortest_path(cost, cols, rows, 1, cols, sign);
    for (int64_t c = 0; c < cols; ++c) {
      const int r = a[static_cast<std::size_t>(c)];
      out.col_to_row[static_cast<std::size_t>(c)] = r;
      out.row_to_col[static_cast<std::size_t>(r)] = static_cast<int>(c);
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    const int c = out.row_to_col[static_cast<std::size_t>(r)];
    if (c >= 0) out.total += cost[r * cols + c];
  }
  return out;
}

template <typename T>
LinearAssignment<T> linear_sum_assignment(const std::vector<T>& cost, int64_t rows, int64_t cols,
                                          bool maximize = false) {
  GCC_CHECK(rows >= 0 && cols >= 0 && static_cast<int64_t>(cost.size()) == rows * cols,
            "linear_sum_assignment: ", cost.size(), " costs for a matrix [", rows, ", ", cols, "]");
  return linear_sum_assignment(cost.data(), rows, cols, maximize);
}

}  // namespace gcc
