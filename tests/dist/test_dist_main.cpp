// doctest entry point of gcc_dist_tests. The suites run on one "world" communicator: an MpiCommunicator
// when an MPI launcher started the process (tests/dist/check_dist.sh: mpirun -np 2), a SelfCommunicator
// otherwise, so the same tests check both. Every rank runs every test; rank 0 prints the summary (the
// other ranks print failures only) and the exit status is 1 on every rank when any rank failed.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <exception>
#include <memory>

#include "dist_test_world.hpp"
#ifdef GCC_WITH_MPI
#include "gcc/dist/mpi.hpp"
#endif

namespace {
gcc::dist::Communicator* g_world = nullptr;
}  // namespace

gcc::dist::Communicator& dist_test_world() { return *g_world; }

int main(int argc, char** argv) {
#ifdef GCC_WITH_MPI
  std::unique_ptr<gcc::dist::MpiSession> session;  // declared first: finalised after the communicator
#endif
  std::unique_ptr<gcc::dist::Communicator> world;
  try {
    if (gcc::dist::launched_by_mpirun()) {
#ifdef GCC_WITH_MPI
      session = std::make_unique<gcc::dist::MpiSession>(&argc, &argv);
      world = std::make_unique<gcc::dist::MpiCommunicator>();
#else
      std::fprintf(stderr, "gcc_dist_tests: started by an MPI launcher but built without MPI "
                           "(GCC_WITH_MPI=OFF); every process would be a job of its own\n");
      return 2;
#endif
    } else {
      world = std::make_unique<gcc::dist::SelfCommunicator>();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gcc_dist_tests: %s\n", e.what());
    return 2;
  }
  g_world = world.get();
  doctest::Context ctx(argc, argv);
  if (world->rank() != 0) ctx.setOption("minimal", true);
  const int rc = ctx.run();
  if (ctx.shouldExit()) return rc;  // --help, --list-test-cases: the same on every rank
  double failed_ranks = rc != 0 ? 1.0 : 0.0;
  world->all_reduce_sum(&failed_ranks, 1);
  if (world->rank() == 0)
    std::printf("gcc_dist_tests: %d rank(s), %s backend: %s (%g rank(s) failed)\n", world->size(), world->backend(),
                failed_ranks == 0 ? "passed" : "FAILED", failed_ranks);
  g_world = nullptr;
  world.reset();
  return failed_ranks == 0 ? 0 : 1;
}
