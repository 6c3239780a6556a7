// run_rank_guarded: a rank that fails brings the whole job down with a clear message instead of leaving
// the other ranks waiting forever in their next collective.
#pragma once
#include <exception>
#include <string>
#include <utility>

#include "communicator.hpp"

namespace gcc {
namespace dist {

// Runs fn() and returns its result. When fn throws and the job has more than one rank, the message
// "rank R of N: <what()>" goes to stderr and comm.abort() stops every rank (MPI_Abort: mpirun exits
// non-zero). With one rank nobody can hang, so the exception is rethrown for the caller to handle
// (checkpoint, exit status) as a single-process program would.
template <typename Fn>
auto run_rank_guarded(Communicator& comm, Fn&& fn) -> decltype(std::forward<Fn>(fn)()) {
  std::string what;
  try {
    return std::forward<Fn>(fn)();
  } catch (const std::exception& e) {
    if (comm.size() == 1) throw;
    what = e.what();
  } catch (...) {
    if (comm.size() == 1) throw;
    what = "unknown exception (not derived from std::exception)";
  }
  comm.abort("rank " + std::to_string(comm.rank()) + " of " + std::to_string(comm.size()) + ": " + what);
}

}  // namespace dist
}  // namespace gcc
