// Kernel demo: the fused RGC loss on the GPU (kernels/contrastive.cuh), phase 1 (2 blocks) and phase 2
// (5 blocks), forward (sgemm + one row kernel + mean) and backward (two sgemms): time, GB/s, CPU check.
#include <cmath>
#include <cstdio>

#include "cli.hpp"
#include "cuda_timing.cuh"
#include "example_data.hpp"
#include "gcc/cuda.cuh"
#include "gcc/loss/rgc.hpp"

int main(int argc, char** argv) {
  gcc_examples::Cli cli("demo_rgc_cuda",
                        "Fused RGC loss on the GPU: phase 1 (contrast set [z; z'], 2b columns) and phase 2 (5b columns,\n"
                        "weighted neighbour blocks). Prints microseconds per call and the effective GB/s of the\n"
                        "forward (contrast read, the [b, B*b] logits written by the sgemm, read and rewritten once by\n"
                        "the row kernel) and the backward (two sgemms), and the loss next to the CPU's.");
  cli.opt("b", "256", "anchors per batch").opt("dim", "128", "embedding dimension D").opt("tau", "0.1", "temperature")
      .opt("repeat", "200", "timed calls per measurement").opt("seed", "0", "random seed");
  int code = 0;
  if (!cli.parse(argc, argv, code)) return code;
  try {
    if (!gcc_examples::gpu_usable("demo_rgc_cuda")) return 1;
    const int64_t b = cli.integer("b"), d = cli.integer("dim");
    const float tau = static_cast<float>(cli.real("tau"));
    const int repeat = static_cast<int>(cli.integer("repeat") > 0 ? cli.integer("repeat") : 1);
    gcc::Rng rng(static_cast<uint64_t>(cli.integer("seed")));
    const gcc::Device cu = gcc::Device::cuda();
    gcc::cuda::Context& ctx = gcc::cuda::context(cu.index);
    gcc_examples::EventTimer timer(ctx.stream());
    std::printf("demo_rgc_cuda: b=%lld D=%lld tau=%g, %d calls per timing\n", static_cast<long long>(b),
                static_cast<long long>(d), tau, repeat);
    for (int phase = 1; phase <= 2; ++phase) {
      const int64_t blocks = phase == 1 ? 2 : 5, m = blocks * b;
      const gcc::Tensor contrast = gcc_examples::random_unit_rows(m, d, rng);
      gcc::Tensor diag = gcc::Tensor::ones(gcc::Shape{blocks, b});
      if (phase == 2)
        for (int64_t k = 2; k < blocks; ++k)
          for (int64_t i = 0; i < b; ++i) diag.at({k, i}) = static_cast<float>(rng.uniform(0.5, 1.5));
      const bool denom_all = phase == 1;
      const gcc::Tensor cg = contrast.to(cu), wg = diag.to(cu);
      const gcc::Tensor loss = gcc::Tensor::empty(gcc::Shape{}, cu), saved = gcc::Tensor::empty(gcc::Shape{b, m}, cu);
      const gcc::Tensor grad = gcc::Tensor::empty(gcc::Shape{m, d}, cu);
      gcc::cuda::rgc_forward(cg, wg, tau, denom_all, loss, saved);  // warm-up
      gcc::cuda::rgc_backward(cg, saved, tau, 1.f, grad);
      timer.start();
      for (int r = 0; r < repeat; ++r) gcc::cuda::rgc_forward(cg, wg, tau, denom_all, loss, saved);
      const double fwd_us = timer.stop_ms() * 1e3 / repeat;
      timer.start();
      for (int r = 0; r < repeat; ++r) gcc::cuda::rgc_backward(cg, saved, tau, 1.f, grad);
      const double bwd_us = timer.stop_ms() * 1e3 / repeat;
      const double f4 = sizeof(float);
      const double fwd_bytes = f4 * (static_cast<double>(m * d) + 3.0 * static_cast<double>(b * m) + static_cast<double>(m));
      const double bwd_bytes = f4 * (2.0 * static_cast<double>(b * m) + 2.0 * static_cast<double>(m * d) +
                                     static_cast<double>(m * d) + 2.0 * static_cast<double>(b * d));
      const float gpu_loss = loss.item();
      const gcc::Tensor lc = gcc::Tensor::empty(gcc::Shape{}), sc = gcc::Tensor::empty(gcc::Shape{b, m});
      gcc::cpu::rgc_forward(contrast, diag, tau, denom_all, lc, sc);
      const float cpu_loss = lc.item();
      std::printf("  phase %d ([%lld x %lld] logits): forward %8.1f us %7.1f GB/s | backward %8.1f us %7.1f GB/s | "
                  "forward+backward %8.1f us\n",
                  phase, static_cast<long long>(b), static_cast<long long>(m), fwd_us, fwd_bytes / (fwd_us * 1e3), bwd_us,
                  bwd_bytes / (bwd_us * 1e3), fwd_us + bwd_us);
      std::printf("           loss GPU %.7f, CPU %.7f (relative difference %.2e)\n", gpu_loss, cpu_loss,
                  std::fabs(gpu_loss - cpu_loss) / std::fabs(cpu_loss));
    }
  } catch (const gcc::Error& e) {
    std::fprintf(stderr, "demo_rgc_cuda: %s\n", e.what());
    return 1;
  }
  return 0;
}
