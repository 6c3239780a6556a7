// TrainingDiverged: thrown by both trainers when a loss or an output turns NaN or Inf. The step is not
// applied (weights, optimiser, memory unchanged), so the last checkpoint is the last good state.
#pragma once
#include <cstdint>
#include <string>

#include "../core/error.hpp"

namespace gcc {
namespace train {

class TrainingDiverged : public Error {
 public:
  TrainingDiverged(const std::string& what, int epoch, int64_t step) : Error(what), epoch_(epoch), step_(step) {}
  int epoch() const { return epoch_; }
  int64_t step() const { return step_; }

 private:
  int epoch_;
  int64_t step_;
};

}  // namespace train
}  // namespace gcc
