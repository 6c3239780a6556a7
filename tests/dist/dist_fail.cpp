// A tiny data-parallel loop for tests/dist/check_dist.sh: every step all-reduces one value per rank.
// With --fail-rank R --fail-step S, rank R throws at step S while the others wait in that step's
// reduction; run_rank_guarded must end the whole job (non-zero exit, "rank R of N: ..." on stderr)
// instead of letting it hang. Without them it prints the sum of every step's reduction.
// Usage: gcc_dist_fail [--steps N] [--fail-rank R --fail-step S]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>

#include "gcc/dist/communicator.hpp"
#include "gcc/dist/guard.hpp"
#include "gcc/dist/mpi.hpp"  // JobWorld (MPI itself only in a GCC_WITH_MPI build)

int main(int argc, char** argv) {
  int steps = 5, fail_rank = -1, fail_step = -1;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (has_value && std::strcmp(argv[i], "--steps") == 0) {
      steps = std::atoi(argv[++i]);
    } else if (has_value && std::strcmp(argv[i], "--fail-rank") == 0) {
      fail_rank = std::atoi(argv[++i]);
    } else if (has_value && std::strcmp(argv[i], "--fail-step") == 0) {
      fail_step = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: gcc_dist_fail [--steps N] [--fail-rank R --fail-step S]\n");
      return 2;
    }
  }
  try {
    gcc::dist::JobWorld world(&argc, &argv, "gcc_dist_fail");
    gcc::dist::Communicator& comm = world.comm();
    const double sum = gcc::dist::run_rank_guarded(comm, [&] {
      double total = 0;
      for (int step = 1; step <= steps; ++step) {
        if (comm.rank() == fail_rank && step == fail_step) GCC_FAIL("injected failure at step ", step);
        double v = comm.rank() + step;
        comm.all_reduce_sum(&v, 1);
        total += v;
      }
      return total;
    });
    if (comm.rank() == 0) std::printf("gcc_dist_fail: %d rank(s), %d steps, sum %g\n", comm.size(), steps, sum);
    return 0;
  } catch (const std::exception& e) {  // one rank: run_rank_guarded rethrows
    std::fprintf(stderr, "gcc_dist_fail: %s\n", e.what());
    return 1;
  }
}
