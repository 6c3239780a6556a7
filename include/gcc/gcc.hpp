// gcc-toolkit umbrella header (CMake target gcc::toolkit: gcc::core + yaml-cpp, zlib, stb): everything in
// <gcc/core.hpp> plus datasets, loader and augmentations, checkpoints (safetensors), JSON, .npy, metrics
// logs and PNG files. CUDA programs (.cu) also include <gcc/cuda.cuh> once.
#pragma once

#include "core.hpp"

#include "data/dataset.hpp"
#include "data/cifar.hpp"
#include "data/stl10.hpp"
#include "data/idx.hpp"
#include "data/image_folder.hpp"
#include "data/user_images.hpp"
#include "data/imagenet_subset.hpp"
#include "data/tiny_imagenet.hpp"
#include "data/loader.hpp"
#include "data/augment.hpp"

#include "io/atomic_file.hpp"
#include "io/json.hpp"
#include "io/safetensors.hpp"
#include "io/checkpoint.hpp"
#include "io/npy.hpp"
#include "io/metrics_log.hpp"
#include "io/png.hpp"
#include "io/raster.hpp"
#include "io/plot_png.hpp"
#include "io/gallery_png.hpp"
