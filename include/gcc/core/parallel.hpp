// Threading helpers for the CPU path: OpenMP when the build has it, serial otherwise.
// Ops call parallel_for over independent work items (images, channels, rows).
#pragma once
#include <cstdint>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace gcc {

inline int num_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// f(i) for i in [0, n); items must be independent. Runs serially when the work is tiny.
template <typename F>
void parallel_for(int64_t n, F&& f, int64_t min_items_per_thread = 1) {
#ifdef _OPENMP
  if (n >= 2 * min_items_per_thread && num_threads() > 1 && !omp_in_parallel()) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) f(i);
    return;
  }
#else
  (void)min_items_per_thread;
#endif
  for (int64_t i = 0; i < n; ++i) f(i);
}

}  // namespace gcc
