// Random inputs shared by the example programs, benchmarks and CUDA tests (CPU and CUDA alike): rows
// of unit L2 norm, scaled by 1 / sqrt of the row's sum of squares accumulated in double.
#pragma once
#include <cmath>
#include <cstdint>

#include "gcc/core/rng.hpp"
#include "gcc/core/tensor.hpp"

namespace gcc_examples {

// Scales every row of a contiguous host tensor to unit L2 norm, in place.
inline void normalize_rows(const gcc::Tensor& t /* [n, d] */) {
  const int64_t n = t.size(0), d = t.size(1);
  float* p = t.data();
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int64_t j = 0; j < d; ++j) s += static_cast<double>(p[i * d + j]) * p[i * d + j];
    const float inv = static_cast<float>(1.0 / std::sqrt(s));
    for (int64_t j = 0; j < d; ++j) p[i * d + j] *= inv;
  }
}

// n random unit vectors of dimension d on the host: normal(0, 1) draws from rng, then normalize_rows.
inline gcc::Tensor random_unit_rows(int64_t n, int64_t d, gcc::Rng& rng) {
  gcc::Tensor t = gcc::Tensor::empty(gcc::Shape{n, d});
  rng.fill_normal(t, 0, 1);
  normalize_rows(t);
  return t;
}

}  // namespace gcc_examples
