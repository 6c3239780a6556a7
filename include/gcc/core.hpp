// gcc-toolkit core umbrella header (CMake target gcc::core: OpenBLAS + OpenMP, nothing else): tensors,
// autograd, CPU ops, networks, losses, kNN graph, optimisers, evaluation maths (Hungarian, ACC/NMI/ARI,
// confusion matrix + CSV). Datasets, checkpoints and PNG files are in <gcc/gcc.hpp> (gcc::toolkit).
// CUDA programs (.cu) also include <gcc/cuda.cuh> once.
#pragma once

#include "core/error.hpp"
#include "core/device.hpp"
#include "core/tensor.hpp"
#include "core/rng.hpp"
#include "core/parallel.hpp"
#include "core/blas.hpp"
#include "autograd/tape.hpp"
#include "autograd/parameters.hpp"

#include "ops/dispatch.hpp"
#include "ops/elementwise.hpp"
#include "ops/activation.hpp"
#include "ops/conv.hpp"
#include "ops/batchnorm.hpp"
#include "ops/pool.hpp"
#include "ops/linear.hpp"
#include "ops/matmul.hpp"
#include "ops/shape.hpp"
#include "ops/reduce.hpp"
#include "ops/softmax.hpp"
#include "ops/normalize.hpp"
#include "ops/cross_entropy.hpp"

#include "nn/module.hpp"
#include "nn/layers.hpp"
#include "nn/resnet.hpp"
#include "nn/end2end.hpp"

#include "loss/rgc.hpp"
#include "loss/agc.hpp"
#include "loss/confidence_ce.hpp"

#include "graph/knn.hpp"
#include "graph/feature_memory.hpp"

#include "optim/optimizers.hpp"
#include "optim/schedule.hpp"

#include "eval/hungarian.hpp"
#include "eval/metrics.hpp"
#include "eval/confusion.hpp"
#include "eval/kmeans.hpp"
