// Compile-only check of the NCCL backend (built by the CUDA + MPI configurations, never run): gcc/dist/
// nccl.cuh and the collectives and guard over it compile with nvcc and the project's warnings.
#include "gcc/dist/collectives.hpp"
#include "gcc/dist/guard.hpp"
#include "gcc/dist/nccl.cuh"

// Joins a job's NCCL communicator and gathers x over it (what the trainer will do per step).
gcc::Tensor gcc_dist_nccl_compile_check(gcc::dist::MpiCommunicator& bootstrap, int device, const gcc::Tensor& x) {
  gcc::dist::NcclCommunicator nccl(bootstrap, device);
  return gcc::dist::run_rank_guarded(nccl, [&] {
    gcc::dist::all_reduce_sum_(nccl, x);
    return gcc::dist::all_gather0(nccl, x);
  });
}
