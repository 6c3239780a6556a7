// Benchmark (not a test): one GCC phase-2 training step (SPEC §4, §7) on the GPU -- five forward passes
// ([x; x'], v0, v1, v2, u: six images per sample), 2·RGC + AGC, backward, SGD -- timed with CUDA events,
// plus the kNN graph (top-6 by inner product) over 113,000 x 128 features. Compare with
// data_scripts/bench_torch_gcc_step.py (same flags), the same step in PyTorch eager.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "cli.hpp"
#include "cuda_timing.cuh"
#include "gcc/cuda.cuh"
#include "gcc/cuda/math_mode.cuh"
#include "gcc/graph/knn.hpp"
#include "gcc/nn/end2end.hpp"
#include "gcc/ops/normalize.hpp"
#include "gcc/ops/shape.hpp"
#include "gcc/optim/optimizers.hpp"
#include "gcc/train/step_losses.hpp"

namespace {

using gcc::Device;
using gcc_examples::EventTimer;
using gcc::Shape;
using gcc::Tensor;

// Counter-based random numbers on the device (splitmix64 of seed + index): normal(mean, std) through
// Box-Muller, or uniform in [lo, hi) when `uniform`. Inputs are generated once, in place.
__device__ inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
__global__ void fill_random_kernel(float* out /* [n] */, int64_t n, uint64_t seed, bool uniform, float a, float b) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const uint64_t r = splitmix64(seed * 0x100000001B3ull + static_cast<uint64_t>(i));
    const float u1 = (static_cast<float>(r >> 40) + 0.5f) * (1.f / 16777216.f);  // (0, 1)
    if (uniform) {
      out[i] = a + (b - a) * u1;
    } else {
      const float u2 = static_cast<float>((r >> 16) & 0xFFFFFF) * (1.f / 16777216.f);
      out[i] = a + b * sqrtf(-2.f * logf(u1)) * cospif(2.f * u2);
    }
  }
}
Tensor device_random(const Shape& s, Device dev, uint64_t seed, bool uniform, float a, float b) {
  Tensor t = Tensor::empty(s, dev);
  gcc::cuda::Context& ctx = gcc::cuda::context(dev.index);
  const int64_t n = t.numel();
  fill_random_kernel<<<ctx.grid_for(n), gcc::cuda::kThreadsPerBlock, 0, ctx.stream()>>>(t.data(), n, seed, uniform,
                                                                                        a, b);
  GCC_CUDA_CHECK(cudaGetLastError());
  return t;
}

struct Inputs {
  std::array<Tensor, 6> views;  // 6 x [b, 3, S, S]: x, x', v_0, v_1, v_2, u (train/step_losses.hpp)
  std::array<Tensor, 3> w;      // 3 x [b]: node weights w_{n_k(i)} = sqrt(3 / d), d in [6, 12]
};

// The parts of one step (train/step_losses.hpp: the trainer's maths); `timer` (optional) gets events 0..4
// around forward / loss / backward / SGD.
void step(gcc::nn::End2EndModel& model, gcc::SGD& opt, const Inputs& in, const gcc::train::StepLossSettings& o,
          EventTimer* timer) {
  if (timer) timer->record(0);
  opt.zero_grad();
  const gcc::train::Phase2Outputs f = gcc::train::phase2_forward(model, in.views, o.batched_passes);
  if (timer) timer->record(1);
  const gcc::train::StepLosses l = gcc::train::phase2_loss(f, in.w, o);
  if (timer) timer->record(2);
  l.loss.backward();
  if (timer) timer->record(3);
  opt.step();
  if (timer) timer->record(4);
}

double gib(std::size_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0); }

int run(const gcc_examples::Cli& cli) {
  const int dev_index = static_cast<int>(cli.integer("device"));
  const Device dev = Device::cuda(dev_index);
  const int64_t b = cli.integer("batch"), size = cli.integer("size"), width = cli.integer("width");
  const long warmup = cli.integer("warmup"), steps = cli.integer("steps");
  const double time_limit = cli.real("time-limit");
  const bool breakdown = cli.integer("breakdown") != 0;
  GCC_CHECK(b >= 2 && size >= 8 && width >= 1 && steps >= 1 && warmup >= 1,
            "bench_gcc_step: needs --batch >= 2, --size >= 8, --width >= 1, --steps >= 1, --warmup >= 1");
  gcc::cuda::set_allow_tf32(cli.integer("tf32") != 0);
  gcc::cuda::set_deterministic(cli.integer("deterministic") != 0);

  cudaDeviceProp prop{};
  GCC_CUDA_CHECK(cudaGetDeviceProperties(&prop, dev_index));
  GCC_CUDA_CHECK(cudaSetDevice(dev_index));
  gcc::cuda::Context& ctx = gcc::cuda::context(dev_index);
  std::printf("device: %s (cuda:%d, %d SMs, %.1f GiB), cuDNN %zu, TF32 %s, cuDNN algorithms %s, OpenMP "
              "threads %d\n",
              prop.name, dev_index, prop.multiProcessorCount, gib(prop.totalGlobalMem), cudnnGetVersion(),
              gcc::cuda::allow_tf32() ? "on" : "off (strict FP32)",
              gcc::cuda::deterministic() ? "deterministic" : "nondeterministic allowed", gcc::num_threads());

  int status = 0;
  if (cli.integer("step") != 0) {
    // ---- model, optimiser, inputs (generated once, on the device) ----
    gcc::nn::End2EndConfig cfg;
    cfg.backbone = gcc::nn::ResNetConfig::preset(cli.str("backbone"));
    cfg.backbone.base_width = width;
    cfg.num_clusters = cli.integer("clusters");
    gcc::Rng rng(static_cast<uint64_t>(cli.integer("seed")));
    gcc::nn::End2EndModel model(cfg, rng);
    model.to(dev);
    model.train();
    gcc::SGD opt(model.named_parameters(), 0.4f, 0.9f, 1e-4f);
    Inputs in;
    const uint64_t seed = static_cast<uint64_t>(cli.integer("seed"));
    for (std::size_t v = 0; v < 6; ++v)
      in.views[v] = device_random(Shape{b, 3, size, size}, dev, seed + 1 + v, false, 0.f, 1.f);
    for (std::size_t k = 0; k < 3; ++k)
      in.w[k] = device_random(Shape{b}, dev, seed + 7 + k, true, std::sqrt(3.f / 12.f), std::sqrt(3.f / 6.f));
    gcc::train::StepLossSettings o;  // SPEC §4: tau 0.1, lambda 2, loss = 2 RGC + AGC
    o.batched_passes = cli.integer("batched") != 0;
    std::printf("model: %s, base width %lld, K %lld, %lld parameters; batch %lld, %lldx%lld, six views: %lld "
                "images forward+backward per step, %s\n",
                cli.str("backbone").c_str(), static_cast<long long>(width),
                static_cast<long long>(cfg.num_clusters), static_cast<long long>(model.parameter_count()),
                static_cast<long long>(b), static_cast<long long>(size), static_cast<long long>(size),
                static_cast<long long>(6 * b),
                o.batched_passes ? "one batched pass (BatchNorm per pass)" : "five passes");

    // ---- warmup (cuDNN algorithm measurement, allocator and workspace growth) ----
    auto w0 = std::chrono::steady_clock::now();
    for (long i = 0; i < warmup; ++i) step(model, opt, in, o, nullptr);
    gcc::cuda::synchronize();
    const double warm_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
    const gcc::cuda::MemoryStats before = gcc::cuda::memory_stats(dev_index);
    const std::size_t ws_before = ctx.workspace_size();
    std::printf("warmup: %ld steps in %.2f s; after warmup: %zu cudaMalloc calls, %.2f GiB in use (peak %.2f), "
                "%.2f GiB cached, workspace %.1f MiB\n",
                warmup, warm_s, before.cuda_malloc_count, gib(before.bytes_in_use), gib(before.peak_bytes_in_use),
                gib(before.bytes_cached), static_cast<double>(ws_before) / (1024.0 * 1024.0));

    // ---- timed steps: events around the whole loop (stops early past --time-limit seconds) ----
    EventTimer total(ctx.stream());
    auto h0 = std::chrono::steady_clock::now();
    total.start();
    long done = 0;
    while (done < steps) {
      step(model, opt, in, o, nullptr);
      ++done;
      if (std::chrono::duration<double>(std::chrono::steady_clock::now() - h0).count() > time_limit) break;
    }
    const double ms = total.stop_ms() / static_cast<double>(done);
    const double host_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - h0).count() / static_cast<double>(done);
    gcc::cuda::synchronize();
    const gcc::cuda::MemoryStats after = gcc::cuda::memory_stats(dev_index);
    const double ips = 6.0 * static_cast<double>(b) * 1e3 / ms;
    std::printf("timed: %ld steps%s: %.2f ms/step (CUDA events; host clock %.2f ms/step), %.1f images/s "
                "(6 x %lld images per step)\n",
                done, done < steps ? " (stopped early at --time-limit)" : "", ms, host_ms, ips,
                static_cast<long long>(b));
    if (cli.str("backbone") == "resnet18-cifar" && width == 64 && size == 32) {
      // SPEC §7: 0.56 GMAC forward per 32x32 image, a training step ≈ 3x forward.
      const double tflops = 6.0 * static_cast<double>(b) * 0.56e9 * 2.0 * 3.0 / (ms * 1e-3) / 1e12;
      std::printf("        ≈ %.1f TFLOP/s by SPEC §7's estimate (0.56 GMAC/image forward, step = 3x forward)\n",
                  tflops);
    }
    const std::size_t grew = after.cuda_malloc_count - before.cuda_malloc_count;
    const std::size_t ws_after = ctx.workspace_size();
    std::printf("allocator: cudaMalloc calls %zu after warmup, %zu after the timed steps (growth %zu%s); "
                "%.1f allocations/step served from the cache; peak %.2f GiB in use; workspace %.1f -> %.1f MiB\n",
                before.cuda_malloc_count, after.cuda_malloc_count, grew, grew == 0 ? ", OK" : ", MUST BE 0",
                static_cast<double>(after.allocations - before.allocations) / static_cast<double>(done),
                gib(after.peak_bytes_in_use), static_cast<double>(ws_before) / (1024.0 * 1024.0),
                static_cast<double>(ws_after) / (1024.0 * 1024.0));
    std::printf("RESULT gcc_step images_per_s=%.1f ms_per_step=%.2f batch=%lld width=%lld batched=%d tf32=%d "
                "deterministic=%d steps=%ld malloc_growth=%zu workspace_growth=%d\n",
                ips, ms, static_cast<long long>(b), static_cast<long long>(width), o.batched_passes ? 1 : 0,
                gcc::cuda::allow_tf32() ? 1 : 0,
                gcc::cuda::deterministic() ? 1 : 0, done, grew, ws_after != ws_before ? 1 : 0);

    // ---- breakdown: the same steps again with events between the parts ----
    if (breakdown) {
      EventTimer parts(ctx.stream(), 5);
      double acc[4] = {0, 0, 0, 0}, whole = 0;
      long n = 0;
      auto p0 = std::chrono::steady_clock::now();
      while (n < steps) {
        step(model, opt, in, o, &parts);
        for (int p = 0; p < 4; ++p) acc[p] += parts.ms(p, p + 1);
        whole += parts.ms(0, 4);
        ++n;
        if (std::chrono::duration<double>(std::chrono::steady_clock::now() - p0).count() > time_limit) break;
      }
      const char* names[4] = {"forward (5 passes)", "loss (RGC + AGC)", "backward", "optimiser (SGD)"};
      std::printf("breakdown over %ld steps (events between the parts; a part that waits on the host, e.g. a "
                  "device-to-host copy, includes that wait):\n", n);
      for (int p = 0; p < 4; ++p)
        std::printf("  %-20s %9.2f ms/step  %5.1f%%\n", names[p], acc[p] / n, 100.0 * acc[p] / whole);
      std::printf("  %-20s %9.2f ms/step\n", "total", whole / n);
      std::printf("RESULT gcc_breakdown forward_ms=%.2f loss_ms=%.2f backward_ms=%.2f optimizer_ms=%.2f\n",
                  acc[0] / n, acc[1] / n, acc[2] / n, acc[3] / n);
    }
    if (grew != 0) {
      std::fprintf(stderr, "bench_gcc_step: the caching allocator called cudaMalloc %zu more times during the "
                           "timed steps: a steady-state training step must allocate nothing new\n", grew);
      status = 3;
    }
  }

  // ---- kNN graph over N x D features on the device ----
  const int64_t kn = cli.integer("knn-n"), kd = cli.integer("knn-dim"), kk = cli.integer("knn-k");
  if (kn > 0) {
    const Tensor f = gcc::l2_normalize(device_random(Shape{kn, kd}, dev, 99, false, 0.f, 1.f), 1);
    gcc::cuda::synchronize();
    auto t0 = std::chrono::steady_clock::now();
    const gcc::KnnGraph g = gcc::knn_topk_inner_product(f, kk);
    gcc::cuda::synchronize();
    auto t1 = std::chrono::steady_clock::now();
    const std::vector<float> w = gcc::degree_weights(g);
    auto t2 = std::chrono::steady_clock::now();
    int64_t self_first = 0;
    for (int64_t i = 0; i < g.n; ++i) self_first += g.at(i, 0) == i;
    const double knn_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    const double deg_ms = std::chrono::duration<double, std::milli>(t2 - t1).count();
    std::printf("kNN: %lld x %lld features on %s, top-%lld by inner product: %.1f ms; degree weights %.1f ms; "
                "%.4f of the rows list themselves first; w[0] = %.4f\n",
                static_cast<long long>(kn), static_cast<long long>(kd), f.device().str().c_str(),
                static_cast<long long>(kk), knn_ms, deg_ms,
                static_cast<double>(self_first) / static_cast<double>(g.n), static_cast<double>(w[0]));
    std::printf("RESULT gcc_knn n=%lld dim=%lld k=%lld knn_ms=%.1f degree_ms=%.1f\n", static_cast<long long>(kn),
                static_cast<long long>(kd), static_cast<long long>(kk), knn_ms, deg_ms);
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  gcc_examples::Cli cli("bench_gcc_step",
                        "Times one GCC phase-2 training step on the GPU (SPEC §4/§7): forward passes [x; x'] (2b),\n"
                        "v0, v1, v2, u (b each), loss 2*RGC + AGC, backward, SGD(0.4, momentum 0.9, wd 1e-4);\n"
                        "random inputs generated once on the device; warmup steps, then timed steps with CUDA\n"
                        "events (images/s counts 6*b images per step). Also times the kNN graph (top-k by inner\n"
                        "product) over --knn-n x --knn-dim features on the device, and reports the caching\n"
                        "allocator's cudaMalloc count, which must not grow during the timed steps (exit 3 if it does).\n"
                        "Exit 77 when no usable GPU. Compare with: python3 data_scripts/bench_torch_gcc_step.py");
  cli.opt("batch", "256", "anchors per step (b); 6*b images per step")
      .opt("size", "32", "image height and width")
      .opt("backbone", "resnet18-cifar", "ResNetConfig preset")
      .opt("width", "64", "base width (64 = the published ResNet-18)")
      .opt("clusters", "10", "K, cluster-head outputs")
      .opt("warmup", "3", "untimed steps first")
      .opt("steps", "10", "timed steps")
      .opt("time-limit", "40", "stop the timed loop after this many seconds")
      .opt("breakdown", "0", "1: time forward / loss / backward / optimiser separately (a second run)")
      .opt("batched", "1", "1: the five passes as one batch with BatchNorm per pass (gcc_train's default); 0: five")
      .opt("tf32", "0", "1: allow TF32 tensor-core math in cuBLAS/cuDNN (gcc::cuda::set_allow_tf32)")
      .opt("deterministic", "1",
           "0: let cuDNN convolutions use nondeterministic algorithms when faster (gcc::cuda::set_deterministic)")
      .opt("step", "1", "0: skip the training-step benchmark")
      .opt("knn-n", "113000", "kNN benchmark: samples (0 skips it)")
      .opt("knn-dim", "128", "kNN benchmark: feature dimension")
      .opt("knn-k", "6", "kNN benchmark: neighbours per row (self included)")
      .opt("seed", "0", "seed of the weights and inputs")
      .opt("device", "0", "CUDA device index");
  int code = 0;
  if (!cli.parse(argc, argv, code)) return code;
  const gcc::cuda::DeviceStatus st = gcc::cuda::device_status();
  if (!st.usable) {
    std::printf("bench_gcc_step: SKIPPED -- no usable GPU: %s\n", st.reason.c_str());
    return 77;
  }
  try {
    return run(cli);
  } catch (const std::exception& e) {  // gcc::Error included
    std::fprintf(stderr, "bench_gcc_step: %s\n", e.what());
    return 1;
  }
}
