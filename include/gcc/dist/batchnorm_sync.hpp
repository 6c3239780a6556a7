// BatchNormCommSync: synchronised BatchNorm over a Communicator -- the BatchNormSync of ops/batchnorm.hpp
// (a sum of doubles over the ranks) implemented with Communicator::all_reduce_sum.
//
//   gcc::dist::BatchNormCommSync sync(comm);
//   gcc::nn::set_batchnorm_sync(model, &sync);   // every BatchNorm2d: statistics over all ranks' rows
#pragma once
#include <cstdint>

#include "../ops/batchnorm.hpp"
#include "communicator.hpp"

namespace gcc {
namespace dist {

// The statistics travel in host memory: a communicator of host buffers (MPI, Self). Synchronised BatchNorm
// is not yet on CUDA (NCCL): the constructor says so.
class BatchNormCommSync final : public BatchNormSync {
 public:
  explicit BatchNormCommSync(Communicator& comm) : comm_(comm) {
    GCC_CHECK(comm.device().is_cpu(), "dist::BatchNormCommSync: synchronised BatchNorm is not yet on CUDA (the '",
              comm.backend(), "' communicator moves ", comm.device().str(), " memory); train with "
              "sync_batchnorm: false (per-rank statistics) or on the CPU with MPI");
  }
  void all_reduce_sum(double* data, int64_t n) override { comm_.all_reduce_sum(data, n); }
  Communicator& communicator() const { return comm_; }

 private:
  Communicator& comm_;
};

}  // namespace dist
}  // namespace gcc
