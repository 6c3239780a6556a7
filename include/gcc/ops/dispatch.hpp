// One dispatch point per op: CPU tensors run gcc::cpu::<op>, CUDA tensors run the function that the
// CUDA backend (<gcc/cuda.cuh>, compiled by nvcc) registered under the same name and signature.
#pragma once
#include "../autograd/tape.hpp"
#include "../core/op_profile.hpp"
#include "../core/parallel.hpp"
#include "../core/tensor.hpp"

// Declares the CUDA slot of an op: gcc::cuda_ops::NAME() is a function pointer with the CPU
// function's signature, null until the CUDA backend registers its implementation.
#define GCC_CUDA_SLOT(NAME, ...)                                  \
  namespace cuda_ops {                                            \
  inline auto& NAME() {                                           \
    static void (*fn)(__VA_ARGS__) = nullptr;                     \
    return fn;                                                    \
  }                                                               \
  }

// Runs cpu::NAME(args...) or the registered CUDA version, chosen by `device`. CPU calls are timed
// under NAME while an OpProfile records (core/op_profile.hpp).
#define GCC_DISPATCH(NAME, device, ...)                                                          \
  do {                                                                                           \
    if ((device).is_cpu()) {                                                                     \
      const ::gcc::OpProfile::Scope gcc_op_scope_(#NAME);                                        \
      ::gcc::cpu::NAME(__VA_ARGS__);                                                             \
    } else {                                                                                     \
      auto gcc_fn_ = ::gcc::cuda_ops::NAME();                                                    \
      GCC_CHECK(gcc_fn_ != nullptr, #NAME ": no CUDA implementation in this build for device ",  \
                (device).str(), "; build with GCC_WITH_CUDA=ON and include <gcc/cuda.cuh> in a " \
                ".cu file");                                                                     \
      gcc_fn_(__VA_ARGS__);                                                                      \
    }                                                                                            \
  } while (0)
