// The CUDA backend: include this from ONE .cu file of a program (it brings <gcc/core.hpp>; CMake target
// gcc::cuda) and every op dispatches CUDA tensors to the kernels below; registration runs before main().
#pragma once

#include "core.hpp"
#include "cuda/check.cuh"
#include "cuda/context.cuh"
#include "cuda/memory.cuh"
// The Tensor-level wrappers of include/gcc/cuda/: argument checks, then the raw-pointer launchers of
// gcc/kernels/ (kernels/gcc/kernels/, one header per kernel family, each usable without this library).
#include "cuda/elementwise.cuh"  // binary / unary ops, reduce_to_shape, y += x, strided copy, fill
#include "cuda/reduce.cuh"       // sum / max along a dimension
#include "cuda/softmax.cuh"      // softmax, l2_normalize, cross_entropy
#include "cuda/contrastive.cuh"  // fused RGC loss, xlogx (AGC)
#include "cuda/knn.cuh"          // kNN graph
#include "cuda/math_mode.cuh"    // set_allow_tf32 (strict FP32 by default)
#include "cuda/linear.cuh"       // matmul / linear on cuBLAS
#include "cuda/conv.cuh"         // conv2d on cuDNN
#include "cuda/shape.cuh"        // copy_rows (concat0 / slice0)
#include "cuda/batchnorm.cuh"    // batch norm
#include "cuda/pool.cuh"         // max / avg / global avg pooling
#include "cuda/activation.cuh"   // relu
#include "cuda/optim.cuh"        // SGD, Adam, EMA updates

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

// Reductions along a dimension and the row-normalising ops: sum/mean/max, softmax, L2
// normalisation, cross-entropy (cuda/reduce.cuh, cuda/softmax.cuh).
inline void register_reductions() {
  ::gcc::cuda_ops::sum_dim_forward() = &cuda::sum_dim_forward;
  ::gcc::cuda_ops::sum_dim_backward() = &cuda::sum_dim_backward;
  ::gcc::cuda_ops::max_dim_forward() = &cuda::max_dim_forward;
  ::gcc::cuda_ops::max_dim_backward() = &cuda::max_dim_backward;
  ::gcc::cuda_ops::softmax_forward() = &cuda::softmax_forward;
  ::gcc::cuda_ops::softmax_backward() = &cuda::softmax_backward;
  ::gcc::cuda_ops::l2_normalize_forward() = &cuda::l2_normalize_forward;
  ::gcc::cuda_ops::l2_normalize_backward() = &cuda::l2_normalize_backward;
  ::gcc::cuda_ops::cross_entropy_forward() = &cuda::cross_entropy_forward;
  ::gcc::cuda_ops::cross_entropy_backward() = &cuda::cross_entropy_backward;
}

// The contrastive losses' kernels (cuda/contrastive.cuh) and the kNN graph (cuda/knn.cuh).
inline void register_losses() {
  ::gcc::cuda_ops::xlogx_forward() = &cuda::xlogx_forward;
  ::gcc::cuda_ops::xlogx_backward() = &cuda::xlogx_backward;
  ::gcc::cuda_ops::rgc_forward() = &cuda::rgc_forward;
  ::gcc::cuda_ops::rgc_backward() = &cuda::rgc_backward;
  ::gcc::cuda_knn_topk_hook() = &cuda::knn_topk_inner_product;
}

// Layers (cuda/linear.cuh, conv.cuh, shape.cuh, batchnorm.cuh, pool.cuh, activation.cuh) and the
// optimiser updates (cuda/optim.cuh).
inline void register_matmul() { ::gcc::cuda_ops::gemm_forward() = &cuda::gemm_forward; }
inline void register_linear() {
  ::gcc::cuda_ops::linear_forward() = &cuda::linear_forward;
  ::gcc::cuda_ops::linear_backward() = &cuda::linear_backward;
}
inline void register_shape() { ::gcc::cuda_ops::copy_rows() = &cuda::copy_rows; }
inline void register_batchnorm() {
  ::gcc::cuda_ops::batchnorm2d_forward_train() = &cuda::batchnorm2d_forward_train;
  ::gcc::cuda_ops::batchnorm2d_forward_eval() = &cuda::batchnorm2d_forward_eval;
  ::gcc::cuda_ops::batchnorm2d_backward() = &cuda::batchnorm2d_backward;
}
inline void register_conv() {
  ::gcc::cuda_ops::conv2d_forward() = &cuda::conv2d_forward;
  ::gcc::cuda_ops::conv2d_backward_data() = &cuda::conv2d_backward_data;
  ::gcc::cuda_ops::conv2d_backward_weight() = &cuda::conv2d_backward_weight;
}
inline void register_pool() {
  ::gcc::cuda_ops::max_pool2d_forward() = &cuda::max_pool2d_forward;
  ::gcc::cuda_ops::max_pool2d_backward() = &cuda::max_pool2d_backward;
  ::gcc::cuda_ops::avg_pool2d_forward() = &cuda::avg_pool2d_forward;
  ::gcc::cuda_ops::avg_pool2d_backward() = &cuda::avg_pool2d_backward;
  ::gcc::cuda_ops::global_avg_pool2d_forward() = &cuda::global_avg_pool2d_forward;
  ::gcc::cuda_ops::global_avg_pool2d_backward() = &cuda::global_avg_pool2d_backward;
}
inline void register_activation() {
  ::gcc::cuda_ops::relu_forward() = &cuda::relu_forward;
  ::gcc::cuda_ops::relu_backward() = &cuda::relu_backward;
}
inline void register_optim() {
  ::gcc::cuda_ops::sgd_update() = &cuda::sgd_update;
  ::gcc::cuda_ops::adam_update() = &cuda::adam_update;
  ::gcc::cuda_ops::ema_update() = &cuda::ema_update;
}

// New op families add their register_<family>() call here.
inline void register_all() {
  ::gcc::cuda_available_hook() = [] { return device_status().usable; };
  register_hooks();
  register_elementwise();
  register_reductions();
  register_losses();
  register_matmul();
  register_linear();
  register_shape();
  register_batchnorm();
  register_conv();
  register_pool();
  register_activation();
  register_optim();
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
