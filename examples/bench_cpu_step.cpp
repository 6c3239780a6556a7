// Benchmark (not a test): one training step (forward, backward, SGD update) of a conv-BN-ReLU stack
// on the CPU; prints images/s and GFLOP/s. data_scripts/bench_torch_cpu.py times the same stack in PyTorch.
#include <chrono>
#include <cstdio>
#include <memory>

#include "cli.hpp"
#include "gcc/core.hpp"

int main(int argc, char** argv) {
  gcc_examples::Cli cli("bench_cpu_step",
                        "Times forward+backward+SGD of [conv3x3 -> BN -> ReLU] x depth on random data.\n"
                        "Compare with: /usr/bin/python3 data_scripts/bench_torch_cpu.py (same flags).");
  cli.opt("batch", "64", "images per step")
      .opt("in-channels", "16", "input channels")
      .opt("width", "32", "channels of every conv")
      .opt("depth", "4", "conv-BN-ReLU layers")
      .opt("size", "28", "image height and width")
      .opt("steps", "10", "timed steps")
      .opt("warmup", "2", "untimed steps first");
  int code = 0;
  if (!cli.parse(argc, argv, code)) return code;
  try {
    const int64_t batch = cli.integer("batch"), cin = cli.integer("in-channels"), width = cli.integer("width");
    const int depth = static_cast<int>(cli.integer("depth")), size = static_cast<int>(cli.integer("size"));
    gcc::Rng rng(0);
    gcc::nn::Sequential net;
    int64_t c = cin;
    double macs = 0;
    for (int l = 0; l < depth; ++l) {
      net.add(std::make_shared<gcc::nn::Conv2d>(c, width, 3, 1, 1, false, rng));
      net.add(std::make_shared<gcc::nn::BatchNorm2d>(width));
      net.add(std::make_shared<gcc::nn::ReLU>());
      macs += static_cast<double>(c * width * 9) * size * size;
      c = width;
    }
    gcc::SGD opt(net.named_parameters(), 0.01f, 0.9f);
    gcc::Tensor x = gcc::Tensor::empty(gcc::Shape{batch, cin, size, size});
    gcc::Tensor r = gcc::Tensor::empty(gcc::Shape{batch, width, size, size});
    rng.fill_normal(x, 0, 1);
    rng.fill_normal(r, 0, 1);
    const float inv = 1.f / static_cast<float>(r.numel());
    auto step = [&] {
      opt.zero_grad();
      gcc::Tensor y = net.forward(x);
      gcc::Tensor loss = gcc::mul_scalar(gcc::sum_all(gcc::mul(y, r)), inv);  // mean(y * r)
      loss.backward();
      opt.step();
    };
    for (long i = 0; i < cli.integer("warmup"); ++i) step();
    const long steps = cli.integer("steps");
    auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < steps; ++i) step();
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / steps;
    const double flops = 3 * 2 * macs * static_cast<double>(batch);
    std::printf("OpenBLAS: %s (core %s)\n", openblas_get_config(), openblas_get_corename());
    std::printf("gcc-toolkit threads=%d: step %.1f ms, %.1f images/s, %.1f GFLOP/s (conv FLOPs x3)\n",
                gcc::num_threads(), dt * 1e3, static_cast<double>(batch) / dt, flops / dt / 1e9);
  } catch (const gcc::Error& e) {
    std::fprintf(stderr, "bench_cpu_step: %s\n", e.what());
    return 1;
  }
  return 0;
}
