// Shared entry point of gcc_train, gcc_selflabel and gcc_eval: thread settings that both OpenMP and
// OpenBLAS read at load time, and main()'s error reporting. Example plumbing, not library code.
#pragma once
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "gcc/core/error.hpp"

namespace gcc_examples {

// Idle OpenMP threads spin at barriers by default and OpenBLAS's threads spin after each GEMM; sharing two
// cores, each steals the other's time (measured: phase-1 steps 2x, evaluation 4x slower). Both libraries
// read these settings when they load, before main(), so the program re-executes itself once with them
// set (unless the user set them, or GCC_TRAIN_NO_REEXEC is set).
inline void reexec_with_thread_settings(char** argv) {
  if (std::getenv("GCC_TRAIN_NO_REEXEC") || std::getenv("GCC_TRAIN_REEXECED")) return;
  bool change = false;
  if (!std::getenv("OMP_WAIT_POLICY")) change = ::setenv("OMP_WAIT_POLICY", "passive", 1) == 0 || change;
  if (!std::getenv("OPENBLAS_THREAD_TIMEOUT")) change = ::setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1) == 0 || change;
  if (!change) return;
  ::setenv("GCC_TRAIN_REEXECED", "1", 1);
  ::execv("/proc/self/exe", argv);  // returns only on failure: then run with the settings as they are
}

// main() of a training program: thread settings, then run_main, errors printed as "<program>: ...".
inline int run_training_cli(const char* program, int argc, char** argv, int (*run_main)(int, char**)) {
  reexec_with_thread_settings(argv);
  try {
    return run_main(argc, argv);
  } catch (const gcc::Error& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
    return 1;
  }
}

}  // namespace gcc_examples
