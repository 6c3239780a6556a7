// Kernel demo: softmax / log_softmax rows on the GPU (kernels/softmax.cuh), forward and backward:
// microseconds per call and effective GB/s (each element read and written once per pass), CPU check.
#include <cmath>
#include <cstdio>

#include "cli.hpp"
#include "cuda_timing.cuh"
#include "gcc/cuda.cuh"

int main(int argc, char** argv) {
  gcc_examples::Cli cli("demo_softmax_cuda",
                        "softmax (or log_softmax) of a [rows, cols] matrix along dim on the GPU: microseconds per call\n"
                        "and GB/s counting one read and one write per element (forward) or two reads and one write\n"
                        "(backward), and the largest difference from the CPU.");
  cli.opt("rows", "65536", "rows").opt("cols", "1000", "columns").opt("dim", "1", "dimension: 1 (rows) or 0 (columns)")
      .opt("log", "0", "1: log_softmax").opt("repeat", "50", "timed calls").opt("seed", "0", "random seed");
  int code = 0;
  if (!cli.parse(argc, argv, code)) return code;
  try {
    if (!gcc_examples::gpu_usable("demo_softmax_cuda")) return 1;
    const int64_t rows = cli.integer("rows"), cols = cli.integer("cols");
    const int dim = static_cast<int>(cli.integer("dim"));
    const bool lg = cli.integer("log") != 0;
    const int repeat = static_cast<int>(cli.integer("repeat") > 0 ? cli.integer("repeat") : 1);
    if (dim != 0 && dim != 1) {
      std::fprintf(stderr, "demo_softmax_cuda: --dim must be 0 or 1\n");
      return 2;
    }
    gcc::Rng rng(static_cast<uint64_t>(cli.integer("seed")));
    const gcc::Tensor x = gcc::Tensor::empty(gcc::Shape{rows, cols});
    rng.fill_uniform(x, -4, 4);
    const gcc::Device cu = gcc::Device::cuda();
    const gcc::Tensor xg = x.to(cu), y = gcc::Tensor::empty(x.shape(), cu), gy = gcc::Tensor::ones(x.shape(), cu),
                      gx = gcc::Tensor::empty(x.shape(), cu);
    gcc::cuda::Context& ctx = gcc::cuda::context(cu.index);
    gcc::cuda::softmax_forward(xg, dim, lg, y);  // warm-up
    gcc::cuda::softmax_backward(y, gy, dim, lg, gx);
    gcc_examples::EventTimer timer(ctx.stream());
    timer.start();
    for (int r = 0; r < repeat; ++r) gcc::cuda::softmax_forward(xg, dim, lg, y);
    const double fwd_us = timer.stop_ms() * 1e3 / repeat;
    timer.start();
    for (int r = 0; r < repeat; ++r) gcc::cuda::softmax_backward(y, gy, dim, lg, gx);
    const double bwd_us = timer.stop_ms() * 1e3 / repeat;
    const double bytes = 4.0 * static_cast<double>(rows * cols);
    const gcc::Tensor yc = gcc::Tensor::empty(x.shape());
    gcc::cpu::softmax_forward(x, dim, lg, yc);
    const std::vector<float> a = yc.to_vector(), b = y.to_vector();
    double worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i) worst = std::fmax(worst, std::fabs(static_cast<double>(a[i]) - b[i]));
    std::printf("demo_softmax_cuda: %s of [%lld, %lld] along dim %d\n", lg ? "log_softmax" : "softmax",
                static_cast<long long>(rows), static_cast<long long>(cols), dim);
    std::printf("  forward : %9.1f us  %7.1f GB/s\n", fwd_us, 2.0 * bytes / (fwd_us * 1e3));
    std::printf("  backward: %9.1f us  %7.1f GB/s\n", bwd_us, 3.0 * bytes / (bwd_us * 1e3));
    std::printf("  largest |GPU - CPU| of the forward: %.3g\n", worst);
  } catch (const gcc::Error& e) {
    std::fprintf(stderr, "demo_softmax_cuda: %s\n", e.what());
    return 1;
  }
  return 0;
}
