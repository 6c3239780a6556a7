// NCCL backend of gcc::dist: NcclCommunicator moves GPU buffers on the device's Context stream
// (gcc/cuda/context.cuh): ncclAllReduce, ncclAllGather (grouped ncclBroadcasts when shards differ in
// size), ncclBroadcast. Bootstrapped over an MpiCommunicator; programs link NCCL (-lnccl) and gcc::dist_mpi.
#pragma once
#include <nccl.h>

#include <string>
#include <vector>

#include "../cuda/context.cuh"
#include "communicator.hpp"
#include "mpi.hpp"

// GCC_NCCL_CHECK(where, ncclXxx(...)) throws gcc::Error "NCCL call `ncclXxx(...)` failed on <where>:
// <NCCL's message>; ... [file:line]" when the call does not return ncclSuccess.
#define GCC_NCCL_CHECK(where, call)                                                                    \
  do {                                                                                                 \
    const ncclResult_t gcc_nccl_rc_ = (call);                                                          \
    if (gcc_nccl_rc_ != ncclSuccess)                                                                   \
      ::gcc::detail::throw_error(__FILE__, __LINE__, "NCCL call `" #call "` failed on ", where, ": ",  \
                                 ncclGetErrorString(gcc_nccl_rc_),                                     \
                                 "; every rank must make the same collective calls in the same order " \
                                 "with the same sizes (NCCL_DEBUG=WARN says more)");                   \
  } while (0)

namespace gcc {
namespace dist {

// The ranks of `bootstrap`, one GPU each. Rank 0 creates the NCCL id, bootstrap broadcasts it, every rank
// joins with ncclCommInitRank (collective: construct it on every rank, inside run_rank_guarded). Host
// metadata, barrier() and abort() go through `bootstrap`, which must outlive this communicator. The
// operations are queued on the Context stream of `device`, in order with the toolkit's kernels; they
// return before the data has moved (a copy to the host or cuda::synchronize() waits for it).
class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(MpiCommunicator& bootstrap, int device) : boot_(bootstrap), device_(device) {
    ncclUniqueId id{};
    if (boot_.rank() == 0) GCC_NCCL_CHECK(where(), ncclGetUniqueId(&id));
    boot_.broadcast_bytes(&id, static_cast<int64_t>(sizeof(id)), 0);
    cuda::DeviceGuard guard(device_);
    (void)cuda::context(device_);  // the stream the operations run on
    GCC_NCCL_CHECK(where(), ncclCommInitRank(&comm_, boot_.size(), id, boot_.rank()));
  }
  ~NcclCommunicator() override {
    if (comm_ != nullptr) (void)ncclCommDestroy(comm_);
  }

  int rank() const override { return boot_.rank(); }
  int size() const override { return boot_.size(); }
  Device device() const override { return Device::cuda(device_); }
  const char* backend() const override { return "nccl"; }
  ncclComm_t handle() const { return comm_; }

  void all_reduce_sum(float* data, int64_t n) override { all_reduce(data, n, ncclFloat); }
  void all_reduce_sum(double* data, int64_t n) override { all_reduce(data, n, ncclDouble); }

  void all_gather_rows(const float* send, float* recv, const std::vector<int64_t>& rows_per_rank,
                       int64_t row_size) override {
    const int64_t total = check_rows("all_gather_rows", rows_per_rank, row_size);
    if (total == 0 || row_size == 0) return;  // the same on every rank: rows_per_rank is
    bool equal = true;
    for (int64_t r : rows_per_rank) equal = equal && r == rows_per_rank[0];
    if (equal) {
      GCC_NCCL_CHECK(where(), ncclAllGather(send, recv, static_cast<size_t>(rows_per_rank[0] * row_size), ncclFloat,
                                            comm_, stream()));
      return;
    }
    // Unequal shards (the last partial batch): one broadcast per rank straight into its rows, grouped.
    GCC_NCCL_CHECK(where(), ncclGroupStart());
    ncclResult_t rc = ncclSuccess;
    int failed = -1;  // the rank whose broadcast failed to queue
    int64_t off = 0;
    for (int r = 0; r < size() && failed < 0; ++r) {
      const int64_t n = rows_per_rank[static_cast<std::size_t>(r)] * row_size;
      float* dst = recv + off * row_size;
      if (n > 0) rc = ncclBroadcast(r == rank() ? send : dst, dst, static_cast<size_t>(n), ncclFloat, r, comm_, stream());
      if (rc != ncclSuccess) failed = r;
      off += rows_per_rank[static_cast<std::size_t>(r)];
    }
    const ncclResult_t end_rc = ncclGroupEnd();
    GCC_CHECK(failed < 0, "NCCL call `ncclBroadcast` (the rows of rank ", failed, ", grouped) failed on ", where(),
              ": ", ncclGetErrorString(rc), "; every rank must gather the same row counts");
    GCC_CHECK(end_rc == ncclSuccess, "NCCL call `ncclGroupEnd()` after the row broadcasts failed on ", where(),
              ": ", ncclGetErrorString(end_rc), "; every rank must gather the same row counts");
  }

  void broadcast(float* data, int64_t n, int root) override { bcast(data, n, ncclFloat, root); }
  void broadcast(int64_t* data, int64_t n, int root) override { bcast(data, n, ncclInt64, root); }
  void broadcast_bytes(void* data, int64_t bytes, int root) override { bcast(data, bytes, ncclUint8, root); }

  void all_gather_host(const int64_t* send, int64_t n, int64_t* recv) override {
    boot_.all_gather_host(send, n, recv);
  }
  void barrier() override {
    cuda::context(device_).synchronize();
    boot_.barrier();
  }

 protected:
  // Abandons the NCCL operations in flight, then MPI_Abort over the bootstrap's ranks.
  void abort_job() override {
    if (comm_ != nullptr) (void)ncclCommAbort(comm_);
    comm_ = nullptr;
    if (detail::mpi_running()) MPI_Abort(boot_.handle(), 1);
  }

 private:
  std::string where() const {
    return "rank " + std::to_string(boot_.rank()) + " of " + std::to_string(boot_.size()) + " (cuda:" +
           std::to_string(device_) + ")";
  }
  cudaStream_t stream() const { return cuda::context(device_).stream(); }
  void all_reduce(void* data, int64_t n, ncclDataType_t type) {
    check_count("all_reduce_sum", n);
    if (n == 0) return;
    GCC_NCCL_CHECK(where(), ncclAllReduce(data, data, static_cast<size_t>(n), type, ncclSum, comm_, stream()));
  }
  void bcast(void* data, int64_t n, ncclDataType_t type, int root) {
    check_count("broadcast", n);
    check_root("broadcast", root);
    if (n == 0) return;
    GCC_NCCL_CHECK(where(), ncclBroadcast(data, data, static_cast<size_t>(n), type, root, comm_, stream()));
  }

  MpiCommunicator& boot_;
  int device_ = 0;
  ncclComm_t comm_ = nullptr;
};

}  // namespace dist
}  // namespace gcc
