// gcc_selflabel with the CUDA backend (built when GCC_WITH_CUDA=ON): the same program as gcc_selflabel.cpp,
// compiled with <gcc/cuda.cuh> so that --device cuda[:N] self-labels on a GPU, e.g.
//   ./build/examples/gcc_selflabel_cuda --checkpoint runs/fmnist-gpu/checkpoint.safetensors --device cuda
#include "gcc/cuda.cuh"

#include "gcc_selflabel.cpp"
