// The op table's perf mode (ggml test-backend-ops "perf"): the same rows as the correctness table, each
// timed on the GPU (forward + backward through autograd, median of repeats), then one real GCC phase-2
// step (ResNet-18-cifar, batch 256, six views, 2·RGC + AGC, SGD) with every op slot timed, printing each
// op's share of the step. Skipped in normal runs (it checks nothing new and takes a few seconds); run:
//   build/tests/gcc_cuda_tests -ts="cuda perf" --no-skip
// Environment: GCC_PERF_WIDTH (backbone width, default 64), GCC_PERF_BATCH (b, default 256),
// GCC_PERF_REPEAT (timed repeats, default 5).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "gcc/cuda.cuh"
#include "op_profile.hpp"
#include "op_table.hpp"
#include "phase2_step.hpp"

namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  const int n = v ? std::atoi(v) : 0;
  return n > 0 ? n : fallback;
}

// Median of `repeat` GPU timings of fn (milliseconds, CUDA events on the context stream).
template <typename F>
double median_ms(int repeat, F&& fn) {
  const cudaStream_t s = gcc::cuda::context().stream();
  cudaEvent_t a, b;
  GCC_CUDA_CHECK(cudaEventCreate(&a));
  GCC_CUDA_CHECK(cudaEventCreate(&b));
  std::vector<double> t;
  for (int r = 0; r < repeat; ++r) {
    GCC_CUDA_CHECK(cudaEventRecord(a, s));
    fn();
    GCC_CUDA_CHECK(cudaEventRecord(b, s));
    GCC_CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0.f;
    GCC_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Forward + backward of one op-table row on the GPU, median milliseconds.
double time_row(const gcc_op_table::OpRow& row, uint64_t seed, int repeat) {
  using namespace gcc_op_table;
  Inputs in;
  for (std::size_t k = 0; k < row.shapes.size(); ++k)
    in.push_back(make_input(row.shapes[k], k < row.ranges.size() ? row.ranges[k] : Range{-1.f, 1.f}, row.integers,
                            seed * 101 + k)
                     .to(Device::cuda())
                     .set_requires_grad(true));
  Tensor probe = row.build(in, row.params);
  const Tensor r = make_input(probe.shape(), Range{-1.f, 1.f}, false, seed * 7 + 1).to(Device::cuda());
  probe.backward(r);  // warm-up (cuDNN plans, allocator)
  return median_ms(repeat, [&] { row.build(in, row.params).backward(r); });
}

}  // namespace

TEST_SUITE("cuda perf") {
  TEST_CASE("op table perf mode: every row timed, and each op's share of a GCC phase-2 step" * doctest::skip()) {
    const int repeat = env_int("GCC_PERF_REPEAT", 5);
    // ---- the rows ----
    std::printf("op table perf mode: %d repeats per figure (median)\n%-64s %12s\n", repeat, "row (forward + backward)",
                "us");
    uint64_t seed = 1;
    std::size_t rows_timed = 0;
    for (const auto& family : gcc_op_table::op_families()) {
      for (const gcc_op_table::OpRow& row : family.second()) {
        const double ms = time_row(row, seed++, repeat);
        std::printf("%-64s %12.1f\n", (family.first + "/" + row.name).c_str(), ms * 1e3);
        ++rows_timed;
      }
    }
    CHECK(rows_timed > 0);

    // ---- one phase-2 step at GCC's shapes, op by op ----
    const int64_t b = env_int("GCC_PERF_BATCH", 256), width = env_int("GCC_PERF_WIDTH", 64), clusters = 10;
    const Device gpu = Device::cuda();
    gcc::nn::End2EndConfig cfg;
    cfg.backbone = gcc::nn::ResNetConfig::preset("resnet18-cifar");
    cfg.backbone.base_width = width;
    cfg.num_clusters = clusters;
    gcc::Rng rng(5);
    gcc::nn::End2EndModel model(cfg, rng);
    model.to(gpu);
    model.train();
    gcc::SGD opt(model.named_parameters(), 0.4f, 0.9f, 1e-4f);
    gcc_cuda_test::StepInputs host;
    const gcc::Shape images{b, 3, 32, 32};
    host.x = gcc_test::rand_tensor(images, 1, -2.f, 2.f);
    host.x2 = gcc_test::rand_tensor(images, 2, -2.f, 2.f);
    host.u = gcc_test::rand_tensor(images, 3, -2.f, 2.f);
    for (std::size_t k = 0; k < 3; ++k) {
      host.v[k] = gcc_test::rand_tensor(images, 4 + k, -2.f, 2.f);
      host.w[k] = gcc_test::rand_tensor(gcc::Shape{b}, 8 + k, 0.5f, 1.5f);
    }
    const gcc_cuda_test::StepInputs in = host.to(gpu);
    auto step = [&] {
      gcc_cuda_test::phase2_step(model, opt, in, 0.1f, 2.0f, /*batched=*/true);  // as gcc_train runs it
      opt.step();
    };
    step();
    step();  // warm-up: cuDNN algorithm choice, allocator cache
    const double step_ms = median_ms(repeat, step);
    std::vector<gcc_op_table::OpTime> per_op;
    {
      gcc_op_table::OpProfile profile;
      step();
      profile.reset();
      for (int r = 0; r < repeat; ++r) step();
      per_op = profile.collect();
    }
    for (gcc_op_table::OpTime& o : per_op) {
      o.ms /= repeat;
      o.calls /= repeat;
    }
    char title[160];
    std::snprintf(title, sizeof title,
                  "one phase-2 step (resnet18-cifar width %lld, b = %lld, six views, 2 RGC + AGC, SGD): "
                  "%.2f ms = %.0f images/s; per op, mean of %d steps:",
                  static_cast<long long>(width), static_cast<long long>(b), step_ms, 6.0 * b / (step_ms * 1e-3), repeat);
    gcc_op_table::print_op_times(per_op, step_ms, title);
    CHECK(step_ms > 0.0);
    CHECK(!per_op.empty());
  }
}
