// gcc_train with the CUDA backend (built when GCC_WITH_CUDA=ON): the same program as gcc_train.cpp,
// compiled with <gcc/cuda.cuh> so that --device cuda[:N] trains on a GPU, e.g.
//   ./build/examples/gcc_train_cuda --preset cifar-10 --data-root ~/data/cifar10 --device cuda
#include "gcc/cuda.cuh"

#include "gcc_train.cpp"
