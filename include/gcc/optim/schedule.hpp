// Learning-rate schedules of SPEC §4/§5: cosine per epoch with floor lr·decay_rate³, and constant.
// Pure functions of the epoch, so a resumed run gets the same rate.
#pragma once
#include <cmath>

#include "../core/error.hpp"

namespace gcc {

// lr_e = m + (lr - m)(1 + cos(π e / E)) / 2, m = lr · decay_rate³ (decay_rate 0.1 in the release).
inline float cosine_lr(float lr, int epoch, int total_epochs, float decay_rate = 0.1f) {
  GCC_CHECK(total_epochs > 0, "cosine_lr: total_epochs must be positive, got ", total_epochs);
  const double m = static_cast<double>(lr) * std::pow(static_cast<double>(decay_rate), 3.0);
  const double pi = 3.14159265358979323846;
  return static_cast<float>(m + (lr - m) * (1.0 + std::cos(pi * epoch / total_epochs)) / 2.0);
}

inline float constant_lr(float lr, int /*epoch*/, int /*total_epochs*/) { return lr; }

}  // namespace gcc
