// The CUDA backend: include this from ONE .cu file of a program (beside <gcc/gcc.hpp>'s users) and
// every op dispatches CUDA tensors to the kernels below; registration runs before main().
#pragma once

#include "gcc.hpp"
#include "cuda/check.cuh"
#include "cuda/context.cuh"
#include "cuda/memory.cuh"
#include "elementwise.cuh"  // kernels/

namespace gcc {
namespace cuda {

// Device memory, host<->device copies and gradient accumulation.
inline void register_hooks() {
  ::gcc::cuda_allocator_hook() = DeviceAllocator{&cuda::allocate, &cuda::release};
  ::gcc::cuda_copy_hook() = &cuda::copy;
  ::gcc::detail::cuda_add_inplace_hook() = &cuda::add_inplace;
  ::gcc::cuda_strided_copy_hook() = &cuda::copy_strided;
  ::gcc::cuda_fill_hook() = &cuda::fill;
}

// One function per op family: each line puts a kernel into the slot GCC_CUDA_SLOT declared for it.
inline void register_elementwise() {
  ::gcc::cuda_ops::binary_forward() = &cuda::binary_forward;
  ::gcc::cuda_ops::reduce_to_shape() = &cuda::reduce_to_shape;
  ::gcc::cuda_ops::unary_forward() = &cuda::unary_forward;
  ::gcc::cuda_ops::unary_backward() = &cuda::unary_backward;
}

// New op families add their register_<family>() call here.
inline void register_all() {
  register_hooks();
  register_elementwise();
}

namespace impl {
struct Registrar {
  Registrar() { register_all(); }
};
// Static initialiser: one instance per program however many .cu files include this header. It only
// stores function pointers; no CUDA call happens before the first CUDA tensor is made.
inline const Registrar registrar{};
}  // namespace impl

}  // namespace cuda
}  // namespace gcc
