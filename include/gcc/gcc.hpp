// gcc-toolkit umbrella header: everything a CPU program needs.
// CUDA programs (.cu) additionally include <gcc/cuda.cuh>, which registers the CUDA op paths.
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
