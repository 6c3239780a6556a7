// Data parallelism's one interface: a Communicator moves buffers between the ranks of a job (sum, gather
// rows, broadcast, barrier, abort). Backends: SelfCommunicator (here; one process, no MPI), MpiCommunicator
// (gcc/dist/mpi.hpp; host memory) and NcclCommunicator (gcc/dist/nccl.cuh; GPU memory). No MPI header here.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "../core/device.hpp"
#include "../core/error.hpp"

namespace gcc {
namespace dist {

// Every operation except rank(), size(), device() and backend() is collective: every rank of the job
// makes the same calls in the same order with the same sizes (roots, row counts), or the job hangs or
// fails. Buffers of the data operations live in device() memory: host pointers for MPI and Self, device
// pointers for NCCL. The host operations (all_gather_host) take host memory whatever the backend.
class Communicator {
 public:
  virtual ~Communicator() = default;
  Communicator() = default;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Where the buffers of the data operations live: Device::cpu() (Self, MPI) or the rank's GPU (NCCL).
  virtual Device device() const = 0;
  // "self", "mpi" or "nccl", for messages.
  virtual const char* backend() const = 0;

  // ---- data operations (buffers in device() memory) ----
  // data[i] = sum over the ranks of their data[i], in place on every rank.
  virtual void all_reduce_sum(float* data /* [n] */, int64_t n) = 0;
  virtual void all_reduce_sum(double* data /* [n] */, int64_t n) = 0;
  // recv = rank 0's rows, then rank 1's, ... (rank order). A row is `row_size` floats; rows_per_rank has
  // size() entries and is the same on every rank (all_gather_host gives it); shards may differ in size
  // (the last partial batch). send and recv must not overlap.
  virtual void all_gather_rows(const float* send /* [rows_per_rank[rank()], row_size] */,
                               float* recv /* [sum(rows_per_rank), row_size] */,
                               const std::vector<int64_t>& rows_per_rank, int64_t row_size) = 0;
  // Every rank's data = root's data.
  virtual void broadcast(float* data /* [n] */, int64_t n, int root) = 0;
  virtual void broadcast(int64_t* data /* [n] */, int64_t n, int root) = 0;
  virtual void broadcast_bytes(void* data /* [bytes] */, int64_t bytes, int root) = 0;

  // ---- host operations (host memory whatever the backend) ----
  // recv = every rank's send, in rank order (sizes, shapes, flags: metadata before a data operation).
  virtual void all_gather_host(const int64_t* send /* [n] */, int64_t n, int64_t* recv /* [size() * n] */) = 0;
  // Returns when every rank has called it (and, for NCCL, when this rank's queued operations finished).
  virtual void barrier() = 0;
  // Stops every rank of the job now: prints `why` (one line) to stderr, then ends this process and the
  // others (MPI_Abort) with exit status 1. The one place where the library ends processes: a rank that
  // fails while the others wait in a collective would otherwise hang the job (see gcc/dist/guard.hpp).
  [[noreturn]] void abort(const std::string& why) {
    std::fprintf(stderr, "%s\n", why.c_str());
    std::fflush(nullptr);
    abort_job();
    std::_Exit(1);  // this process at least, should a backend's abort_job() return
  }

  // One value per rank, in rank order (e.g. every rank's shard size).
  std::vector<int64_t> all_gather_value(int64_t value) {
    std::vector<int64_t> out(static_cast<std::size_t>(size()));
    all_gather_host(&value, 1, out.data());
    return out;
  }

 protected:
  // The backend's part of abort(): end every rank of the job (it need not return).
  virtual void abort_job() = 0;

  // Argument checks shared by the backends; messages name the operation, the rank and the fix.
  void check_count(const char* op, int64_t n) const {
    GCC_CHECK(n >= 0, "dist::", op, ": negative element count ", n, " on rank ", rank(), " of ", size());
  }
  void check_root(const char* op, int root) const {
    GCC_CHECK(root >= 0 && root < size(), "dist::", op, ": root ", root, " is not a rank of this job (",
              size(), " ranks, ", backend(), "); pass a root in [0, ", size() - 1, "]");
  }
  // Total rows of the gather; checks the per-rank counts.
  int64_t check_rows(const char* op, const std::vector<int64_t>& rows_per_rank, int64_t row_size) const {
    GCC_CHECK(static_cast<int64_t>(rows_per_rank.size()) == size(), "dist::", op, ": rows_per_rank has ",
              rows_per_rank.size(), " entries on rank ", rank(), ", the job has ", size(),
              " ranks; pass one row count per rank (Communicator::all_gather_value)");
    GCC_CHECK(row_size >= 0, "dist::", op, ": negative row size ", row_size, " on rank ", rank());
    int64_t total = 0;
    for (std::size_t r = 0; r < rows_per_rank.size(); ++r) {
      GCC_CHECK(rows_per_rank[r] >= 0, "dist::", op, ": negative row count ", rows_per_rank[r], " for rank ", r);
      total += rows_per_rank[r];
    }
    return total;
  }
};

// A job of one process: rank 0 of 1, every operation is the identity (or a copy), no MPI needed. Code
// written against Communicator runs unchanged in a single-process build.
class SelfCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  Device device() const override { return Device::cpu(); }
  const char* backend() const override { return "self"; }

  void all_reduce_sum(float*, int64_t n) override { check_count("all_reduce_sum", n); }
  void all_reduce_sum(double*, int64_t n) override { check_count("all_reduce_sum", n); }
  void all_gather_rows(const float* send, float* recv, const std::vector<int64_t>& rows_per_rank,
                       int64_t row_size) override {
    const int64_t n = check_rows("all_gather_rows", rows_per_rank, row_size) * row_size;
    if (n > 0 && send != recv) std::memmove(recv, send, static_cast<std::size_t>(n) * sizeof(float));
  }
  void broadcast(float*, int64_t n, int root) override { check_bcast(n, root); }
  void broadcast(int64_t*, int64_t n, int root) override { check_bcast(n, root); }
  void broadcast_bytes(void*, int64_t bytes, int root) override { check_bcast(bytes, root); }
  void all_gather_host(const int64_t* send, int64_t n, int64_t* recv) override {
    check_count("all_gather_host", n);
    if (n > 0 && send != recv) std::memmove(recv, send, static_cast<std::size_t>(n) * sizeof(int64_t));
  }
  void barrier() override {}

 protected:
  void abort_job() override {}  // the only rank: abort() ends this process

 private:
  void check_bcast(int64_t n, int root) const {
    check_count("broadcast", n);
    check_root("broadcast", root);
  }
};

namespace detail {
// The first of `vars` set to an integer in [min, 2^24), else -1.
inline int launcher_env_int(std::initializer_list<const char*> vars, long min) {
  for (const char* var : vars) {
    const char* v = std::getenv(var);
    if (v == nullptr || *v == '\0') continue;
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    if (end != nullptr && *end == '\0' && n >= min && n < (1L << 24)) return static_cast<int>(n);
  }
  return -1;
}
}  // namespace detail

// World size announced by an MPI launcher in the environment (Open MPI's mpirun: OMPI_COMM_WORLD_SIZE;
// MPICH/Hydra, Intel MPI, Slurm's PMI: PMI_SIZE); 0 when this process was not started by one.
inline int mpi_launcher_world_size() {
  const int n = detail::launcher_env_int({"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}, 1);
  return n > 0 ? n : 0;
}
// This process's index among the ranks on its machine, and their count, as the launcher announces them
// (Open MPI: OMPI_COMM_WORLD_LOCAL_RANK / _LOCAL_SIZE; MPICH/Hydra: MPI_LOCALRANKID / MPI_LOCALNRANKS;
// Slurm: SLURM_LOCALID / SLURM_NTASKS_PER_NODE): the GPU a rank takes, the cores it shares. -1 / 0 unknown.
inline int mpi_launcher_local_rank() {
  return detail::launcher_env_int({"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"}, 0);
}
inline int mpi_launcher_local_size() {
  const int n = detail::launcher_env_int({"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"}, 1);
  return n > 0 ? n : 0;
}
// Whether an MPI launcher (mpirun, mpiexec, srun) started this process, even with -np 1: a CLI decides
// with it between MpiCommunicator and SelfCommunicator (and, built without MPI, can say so).
inline bool launched_by_mpirun() { return mpi_launcher_world_size() > 0; }

// Rows [begin, end) of a global batch of `total` rows that rank `rank` of `size` takes: contiguous
// shards in rank order whose sizes differ by at most one (the first total % size ranks get one more).
struct RowRange {
  int64_t begin = 0, end = 0;
  int64_t rows() const { return end - begin; }
};
inline RowRange shard_rows(int64_t total, int rank, int size) {
  GCC_CHECK(size > 0 && rank >= 0 && rank < size && total >= 0, "dist::shard_rows: rank ", rank, " of ",
            size, " ranks, ", total, " rows; need 0 <= rank < size and total >= 0");
  const int64_t base = total / size, extra = total % size;
  RowRange r;
  r.begin = rank * base + (rank < extra ? rank : extra);
  r.end = r.begin + base + (rank < extra ? 1 : 0);
  return r;
}

}  // namespace dist
}  // namespace gcc
