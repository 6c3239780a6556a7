// Finding NaN and Inf in float buffers, for the checks that stop a run with a message naming where a
// non-finite value came from (an input batch, the feature memory, a loaded checkpoint).
#pragma once
#include <cmath>
#include <cstdint>
#include <string>

namespace gcc {

// Index of the first NaN or Inf among p[0 .. n), or -1 when all are finite.
inline int64_t first_non_finite(const float* p, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i])) return i;
  return -1;
}

// "NaN", "+Inf" or "-Inf" for a non-finite value (else its decimal text).
inline std::string non_finite_name(float v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return std::to_string(v);
}

}  // namespace gcc
