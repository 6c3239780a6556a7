// doctest entry point for the CPU test binary.
// Prints the thread count so a slow run can be told apart from a serial one.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "gcc/core/parallel.hpp"

int main(int argc, char** argv) {
  std::printf("gcc_tests: %d OpenMP threads\n", gcc::num_threads());
  doctest::Context ctx(argc, argv);
  return ctx.run();
}
