// gcc_predict with the CUDA backend (built when GCC_WITH_CUDA=ON): the same program as gcc_predict.cpp,
// compiled with <gcc/cuda.cuh> so that --device cuda[:N] runs the batch inference on a GPU, e.g.
//   ./build/examples/gcc_predict_cuda --run runs/<run> --dataset folder --data-root ~/new_images --device cuda
#include "gcc/cuda.cuh"

#include "gcc_predict.cpp"
