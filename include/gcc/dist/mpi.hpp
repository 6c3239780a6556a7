// MPI backend of gcc::dist: MpiSession (MPI_Init_thread / MPI_Finalize, RAII) and MpiCommunicator (its own
// duplicate of MPI_COMM_WORLD; MPI_Allreduce, MPI_Allgatherv, MPI_Bcast, MPI_Barrier, MPI_Abort) on host
// memory. Programs link gcc::dist_mpi (CMake option GCC_WITH_MPI) and run under `mpirun -np N`.
#pragma once
// The C API only: no C++ bindings library (libmpi_cxx) needed.
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif

#include <algorithm>
#include <climits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "communicator.hpp"

#if defined(GCC_WITH_MPI) || __has_include(<mpi.h>)
#include <mpi.h>

namespace gcc {
namespace dist {
namespace detail {

inline std::string mpi_error_text(int code) {
  char buf[MPI_MAX_ERROR_STRING] = {0};
  int len = 0;
  if (MPI_Error_string(code, buf, &len) != MPI_SUCCESS) return "MPI error code " + std::to_string(code);
  return std::string(buf, static_cast<std::size_t>(len));
}
// MPI_Init has run and MPI_Finalize has not.
inline bool mpi_running() {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  return init != 0 && fin == 0;
}
constexpr const char* kCollectiveHint =
    "; every rank must make the same collective calls in the same order with the same sizes";

}  // namespace detail
}  // namespace dist
}  // namespace gcc

// GCC_MPI_CHECK(where, MPI_Xxx(...), hint) throws gcc::Error "MPI call `MPI_Xxx(...)` failed on <where>:
// <MPI's message><hint> [file:line]" when the call does not return MPI_SUCCESS.
#define GCC_MPI_CHECK(where, call, hint)                                                               \
  do {                                                                                                 \
    const int gcc_mpi_rc_ = (call);                                                                    \
    if (gcc_mpi_rc_ != MPI_SUCCESS)                                                                    \
      ::gcc::detail::throw_error(__FILE__, __LINE__, "MPI call `" #call "` failed on ", where, ": ",   \
                                 ::gcc::dist::detail::mpi_error_text(gcc_mpi_rc_), hint);              \
  } while (0)

namespace gcc {
namespace dist {

// Initialises MPI (thread level FUNNELED: only the main thread calls MPI; OpenMP threads never do) and
// finalises it when destroyed. Create one in main before any MpiCommunicator and keep it longer than all
// of them. When MPI is already initialised (by the program), it does nothing and finalises nothing.
class MpiSession {
 public:
  MpiSession() : MpiSession(nullptr, nullptr) {}
  MpiSession(int* argc, char*** argv) {
    int init = 0;
    MPI_Initialized(&init);
    if (init != 0) return;
    int provided = 0;
    GCC_MPI_CHECK("this process", MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided),
                  "; check the MPI installation (mpirun --version) and start the program with mpirun -np N");
    if (provided < MPI_THREAD_FUNNELED) {
      MPI_Finalize();
      GCC_FAIL("MpiSession: the MPI library provides thread level ", provided, ", below MPI_THREAD_FUNNELED (",
               MPI_THREAD_FUNNELED, ") which OpenMP programs need; use an MPI built with thread support");
    }
    owns_ = true;
  }
  ~MpiSession() {
    if (owns_ && detail::mpi_running()) MPI_Finalize();
  }
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  // Whether this session initialised MPI (and so finalises it).
  bool owns() const { return owns_; }

 private:
  bool owns_ = false;
};

// The ranks of `parent` (default: MPI_COMM_WORLD) through a private duplicate of it, so the toolkit's
// messages never match the program's own. Errors of every call come back as gcc::Error naming the call
// and the rank (MPI_ERRORS_RETURN). Host memory only; counts above 2^31 are sent in pieces.
class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(MPI_Comm parent = MPI_COMM_WORLD) {
    GCC_CHECK(detail::mpi_running(), "MpiCommunicator: MPI is not initialised (or already finalised); create a "
              "gcc::dist::MpiSession in main first and keep it alive longer than every communicator");
    GCC_MPI_CHECK("this process", MPI_Comm_dup(parent, &comm_), "; is MPI initialised on every rank?");
    GCC_MPI_CHECK("this process", MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "");
    GCC_MPI_CHECK("this process", MPI_Comm_rank(comm_, &rank_), "");
    GCC_MPI_CHECK("this process", MPI_Comm_size(comm_, &size_), "");
  }
  ~MpiCommunicator() override {
    if (comm_ != MPI_COMM_NULL && detail::mpi_running()) MPI_Comm_free(&comm_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  Device device() const override { return Device::cpu(); }
  const char* backend() const override { return "mpi"; }
  MPI_Comm handle() const { return comm_; }

  void all_reduce_sum(float* data, int64_t n) override { all_reduce_pieces(data, n, MPI_FLOAT); }
  void all_reduce_sum(double* data, int64_t n) override { all_reduce_pieces(data, n, MPI_DOUBLE); }

  void all_gather_rows(const float* send, float* recv, const std::vector<int64_t>& rows_per_rank,
                       int64_t row_size) override {
    const int64_t total = check_rows("all_gather_rows", rows_per_rank, row_size);
    if (total == 0 || row_size == 0) return;  // the same on every rank: rows_per_rank is
    GCC_CHECK(row_size <= INT_MAX && total <= INT_MAX, "dist::all_gather_rows: ", total, " rows of ", row_size,
              " floats on rank ", rank_, " of ", size_, "; MPI counts rows and row sizes in int (at most ",
              INT_MAX, "): gather fewer rows per call");
    std::vector<int> counts(static_cast<std::size_t>(size_)), displs(static_cast<std::size_t>(size_));
    int64_t off = 0;
    for (int r = 0; r < size_; ++r) {
      counts[static_cast<std::size_t>(r)] = static_cast<int>(rows_per_rank[static_cast<std::size_t>(r)]);
      displs[static_cast<std::size_t>(r)] = static_cast<int>(off);
      off += rows_per_rank[static_cast<std::size_t>(r)];
    }
    RowType row(static_cast<int>(row_size), where());  // one row = row_size floats: counts in rows
    GCC_MPI_CHECK(where(), MPI_Allgatherv(send, counts[static_cast<std::size_t>(rank_)], row.type, recv,
                                          counts.data(), displs.data(), row.type, comm_),
                  detail::kCollectiveHint);
  }

  void broadcast(float* data, int64_t n, int root) override { broadcast_pieces(data, n, MPI_FLOAT, root); }
  void broadcast(int64_t* data, int64_t n, int root) override { broadcast_pieces(data, n, MPI_INT64_T, root); }
  void broadcast_bytes(void* data, int64_t bytes, int root) override {
    broadcast_pieces(static_cast<char*>(data), bytes, MPI_BYTE, root);
  }

  void all_gather_host(const int64_t* send, int64_t n, int64_t* recv) override {
    check_count("all_gather_host", n);
    if (n == 0) return;
    GCC_CHECK(n <= INT_MAX, "dist::all_gather_host: ", n, " values per rank; at most ", INT_MAX);
    GCC_MPI_CHECK(where(), MPI_Allgather(send, static_cast<int>(n), MPI_INT64_T, recv, static_cast<int>(n),
                                         MPI_INT64_T, comm_),
                  detail::kCollectiveHint);
  }
  void barrier() override { GCC_MPI_CHECK(where(), MPI_Barrier(comm_), detail::kCollectiveHint); }


 protected:
  // MPI_Abort: mpirun ends every rank and exits non-zero.
  void abort_job() override {
    if (detail::mpi_running()) MPI_Abort(comm_ != MPI_COMM_NULL ? comm_ : MPI_COMM_WORLD, 1);
  }

 private:
  static constexpr int64_t kPiece = int64_t{1} << 30;  // elements per MPI call (MPI counts are int)

  std::string where() const { return "rank " + std::to_string(rank_) + " of " + std::to_string(size_); }

  template <typename T>
  void all_reduce_pieces(T* data, int64_t n, MPI_Datatype type) {
    check_count("all_reduce_sum", n);
    for (int64_t off = 0; off < n; off += kPiece) {
      const int c = static_cast<int>(std::min(kPiece, n - off));
      GCC_MPI_CHECK(where(), MPI_Allreduce(MPI_IN_PLACE, data + off, c, type, MPI_SUM, comm_),
                    detail::kCollectiveHint);
    }
  }
  template <typename T>
  void broadcast_pieces(T* data, int64_t n, MPI_Datatype type, int root) {
    check_count("broadcast", n);
    check_root("broadcast", root);
    for (int64_t off = 0; off < n; off += kPiece) {
      const int c = static_cast<int>(std::min(kPiece, n - off));
      GCC_MPI_CHECK(where(), MPI_Bcast(data + off, c, type, root, comm_), detail::kCollectiveHint);
    }
  }
  // A committed contiguous datatype of `floats` floats, freed on scope exit.
  struct RowType {
    MPI_Datatype type = MPI_DATATYPE_NULL;
    RowType(int floats, const std::string& where) {
      GCC_MPI_CHECK(where, MPI_Type_contiguous(floats, MPI_FLOAT, &type), "");
      GCC_MPI_CHECK(where, MPI_Type_commit(&type), "");
    }
    ~RowType() {
      if (type != MPI_DATATYPE_NULL && detail::mpi_running()) MPI_Type_free(&type);
    }
    RowType(const RowType&) = delete;
    RowType& operator=(const RowType&) = delete;
  };

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
};

}  // namespace dist
}  // namespace gcc

#else  // no <mpi.h> for this compiler

namespace gcc {
namespace dist {
namespace detail {
template <typename... Args>
struct mpi_unavailable : std::false_type {};
}  // namespace detail

// This translation unit sees no <mpi.h>: the MPI backend is not compiled, and using it stops the build
// with the message below (the header itself still compiles, so a CPU-only build includes it freely).
class MpiSession {
 public:
  template <typename... Args>
  explicit MpiSession(Args&&...) {
    static_assert(detail::mpi_unavailable<Args...>::value,
                  "gcc::dist::MpiSession needs MPI: link the CMake target gcc::dist_mpi (configure with "
                  "-DGCC_WITH_MPI=ON; Debian: apt-get install openmpi-bin libopenmpi-dev)");
  }
};
class MpiCommunicator {
 public:
  template <typename... Args>
  explicit MpiCommunicator(Args&&...) {
    static_assert(detail::mpi_unavailable<Args...>::value,
                  "gcc::dist::MpiCommunicator needs MPI: link the CMake target gcc::dist_mpi (configure with "
                  "-DGCC_WITH_MPI=ON; Debian: apt-get install openmpi-bin libopenmpi-dev)");
  }
};

}  // namespace dist
}  // namespace gcc

#endif

namespace gcc {
namespace dist {

// The communicator of this process's job: an MpiCommunicator over every rank when an MPI launcher
// started the program (MPI is initialised here and finalised when the JobWorld dies), else a
// SelfCommunicator. Launched by mpirun in a build without GCC_WITH_MPI, it throws: every process would
// otherwise run alone. `program` names the caller in that message.
class JobWorld {
 public:
  JobWorld(int* argc, char*** argv, const char* program) {
    if (!launched_by_mpirun()) {
      comm_ = std::make_unique<SelfCommunicator>();
      return;
    }
#ifdef GCC_WITH_MPI
    (void)program;
    session_ = std::make_unique<MpiSession>(argc, argv);
    comm_ = std::make_unique<MpiCommunicator>();
#else
    (void)argc;
    (void)argv;
    GCC_FAIL(program, ": started by an MPI launcher (", mpi_launcher_world_size(), " processes) but built without "
             "MPI: every process would run alone. Configure with -DGCC_WITH_MPI=ON (Debian: apt-get install "
             "openmpi-bin libopenmpi-dev) and build again, or run it without mpirun");
#endif
  }
  ~JobWorld() { comm_.reset(); }  // the communicator before MPI_Finalize
  JobWorld(const JobWorld&) = delete;
  JobWorld& operator=(const JobWorld&) = delete;
  Communicator& comm() { return *comm_; }

 private:
#ifdef GCC_WITH_MPI
  std::unique_ptr<MpiSession> session_;
#endif
  std::unique_ptr<Communicator> comm_;
};

}  // namespace dist
}  // namespace gcc
