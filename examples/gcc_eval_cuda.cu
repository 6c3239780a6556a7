// gcc_eval with the CUDA backend (built when GCC_WITH_CUDA=ON): the same program as gcc_eval.cpp, compiled
// with <gcc/cuda.cuh> so that --device cuda[:N] evaluates a checkpoint on a GPU, e.g.
//   ./build/examples/gcc_eval_cuda --checkpoint runs/fmnist-gpu/checkpoint.safetensors --device cuda
#include "gcc/cuda.cuh"

#include "gcc_eval.cpp"
