// Benchmark (not a test): one full GCC training step on the CPU -- phase 1 (one pass over [x; x'],
// 2·RGC) or phase 2 (passes [x; x'], v_0, v_1, v_2, u with BatchNorm per pass, 2·RGC + AGC) -- forward,
// loss, backward and SGD on random images, with the model of a preset or given shapes. Prints images/s,
// the time of each phase of the step and, with --profile 1, the time of every op (core/op_profile.hpp).
// data_scripts/bench_torch_gcc_step.py --device cpu times the same step in PyTorch;
// data_scripts/bench_cpu_compare.sh runs both side by side.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "cli.hpp"
#include "gcc/core/op_profile.hpp"
#include "gcc/optim/optimizers.hpp"
#include "gcc/train/presets.hpp"
#include "gcc/train/step_losses.hpp"
#include "run_cli.hpp"

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The model of --preset, with the shapes given on the command line where they are not "preset".
gcc::train::Config bench_config(const gcc_examples::Cli& cli) {
  gcc::train::Config c = gcc::train::preset(cli.str("preset"));
  auto given = [&](const char* n) { return cli.str(n) != "preset"; };
  if (given("batch")) c.batch_size = static_cast<int>(cli.integer("batch"));
  if (given("width")) c.base_width = static_cast<int>(cli.integer("width"));
  if (given("in-channels")) c.channels = static_cast<int>(cli.integer("in-channels"));
  if (given("size")) c.train_size = static_cast<int>(cli.integer("size"));
  if (given("stem-maxpool")) c.stem_maxpool = static_cast<int>(cli.integer("stem-maxpool"));
  if (given("backbone")) c.backbone = cli.str("backbone");
  if (given("phase1-agc")) c.phase1_agc = cli.integer("phase1-agc") != 0;
  c.batched_passes = cli.integer("batched") != 0;
  return c;
}

int run(int argc, char** argv) {
  gcc_examples::Cli cli("bench_cpu_gcc_step",
                        "Times one full GCC training step (forward, 2*RGC [+ AGC], backward, SGD) on the CPU.\n"
                        "Compare: /usr/bin/python3 data_scripts/bench_torch_gcc_step.py --device cpu (same shapes);\n"
                        "side by side: sh data_scripts/bench_cpu_compare.sh.");
  cli.opt("phase", "2", "1: two views, one pass; 2: six views, five passes (BatchNorm per pass)")
      .opt("preset", "fashion-mnist", "model and batch of this preset (gcc_train --list-presets)")
      .opt("batch", "preset", "samples per step (2 or 6 images each)")
      .opt("width", "preset", "ResNet base width")
      .opt("in-channels", "preset", "image channels")
      .opt("size", "preset", "view height and width")
      .opt("stem-maxpool", "preset", "1: max-pool after the stem, 0: none")
      .opt("backbone", "preset", "resnet18-cifar, resnet34-cifar, ...")
      .opt("phase1-agc", "preset", "phase 1: 1 = also AGC between the two views, 0 = RGC only")
      .opt("batched", "1", "phase 2: 1 = one batched pass, BatchNorm per pass (gcc_train's default); 0 = five passes")
      .opt("steps", "5", "timed steps")
      .opt("warmup", "2", "untimed steps first")
      .opt("profile", "0", "1: also print the time of every op over the timed steps");
  int code = 0;
  if (!cli.parse(argc, argv, code)) return code;
  const int phase = static_cast<int>(cli.integer("phase"));
  GCC_CHECK(phase == 1 || phase == 2, "bench_cpu_gcc_step: --phase must be 1 or 2, got ", phase);
  const gcc::train::Config cfg = bench_config(cli);
  const int64_t m = cfg.batch_size, S = cfg.train_size;
  gcc::Rng rng(cfg.seed);
  gcc::nn::End2EndModel model(cfg.model_config(), rng);
  model.train();
  gcc::SGD opt(model.named_parameters(), cfg.lr, cfg.momentum, cfg.weight_decay);
  gcc::train::StepLossSettings o;
  o.temperature = cfg.temperature;
  o.entropy_weight = cfg.entropy_weight;
  o.rgc_weight = cfg.rgc_weight;
  o.agc_weight = cfg.agc_weight;
  o.phase1_agc = cfg.phase1_agc;
  o.batched_passes = cfg.batched_passes;
  std::array<gcc::Tensor, 6> views;  // [m, C, S, S] each: x, x', v_0, v_1, v_2, u
  for (gcc::Tensor& v : views) {
    v = gcc::Tensor::empty(gcc::Shape{m, cfg.channels, S, S});
    rng.fill_normal(v, 0, 1);
  }
  std::array<gcc::Tensor, 3> w;  // [m] node weights in [sqrt(3/12), sqrt(3/6)]
  for (gcc::Tensor& t : w) {
    t = gcc::Tensor::empty(gcc::Shape{m});
    rng.fill_uniform(t, 0.5, 0.7071);
  }
  const int images = phase == 1 ? 2 : 6;
  std::printf("model: %s width %d, %d channel(s), %lldx%lld, stem max-pool %d, %lld parameters; phase %d, batch %lld "
              "(%lld images per step%s); %d OpenMP threads; OpenBLAS %s (core %s)\n",
              cfg.resolved_backbone().c_str(), static_cast<int>(cfg.base_width), cfg.channels, static_cast<long long>(S),
              static_cast<long long>(S), cfg.stem_maxpool, static_cast<long long>(model.parameter_count()), phase,
              static_cast<long long>(m), static_cast<long long>(images * m),
              phase == 2 ? (o.batched_passes ? ", one batched pass" : ", five passes") : "", gcc::num_threads(),
              openblas_get_config(), openblas_get_corename());

  std::array<double, 4> part{};  // forward + loss, backward, optimiser, (total)
  auto step = [&](bool timed) {
    const Clock::time_point t0 = Clock::now();
    opt.zero_grad();
    const gcc::train::StepLosses s = phase == 1 ? gcc::train::phase1_losses(model, views[0], views[1], o)
                                                : gcc::train::phase2_losses(model, views, w, o);
    const float loss = s.loss.item();
    const double t1 = since(t0);
    s.loss.backward();
    const double t2 = since(t0);
    opt.step();
    const double t3 = since(t0);
    if (timed) {
      part[0] += t1;
      part[1] += t2 - t1;
      part[2] += t3 - t2;
      part[3] += t3;
    }
    return loss;
  };
  for (long i = 0; i < cli.integer("warmup"); ++i) step(false);
  const long steps = std::max(1L, cli.integer("steps"));
  gcc::OpProfile prof;
  if (cli.integer("profile") == 0) prof.stop();
  std::vector<double> each;
  float loss = 0;
  for (long i = 0; i < steps; ++i) {
    const double before = part[3];
    loss = step(true);
    each.push_back(part[3] - before);
  }
  prof.stop();
  std::sort(each.begin(), each.end());
  const double med = each[each.size() / 2];
  std::printf("timed %ld steps: median %.1f ms/step, %.1f images/s; mean forward+loss %.1f ms, backward %.1f ms, "
              "SGD %.1f ms; last loss %.4f\n", steps, med * 1e3, static_cast<double>(images * m) / med,
              part[0] / steps * 1e3, part[1] / steps * 1e3, part[2] / steps * 1e3, loss);
  if (cli.integer("profile") != 0) {
    const double total = part[3];
    std::printf("%-32s %8s %10s %7s\n", "op (CPU, per step)", "calls", "ms", "share");
    double in_ops = 0;
    for (const gcc::OpProfile::Row& r : prof.rows()) {
      in_ops += r.seconds;
      std::printf("%-32s %8.1f %10.2f %6.1f%%\n", r.op, static_cast<double>(r.calls) / steps, r.seconds / steps * 1e3,
                  100 * r.seconds / total);
    }
    std::printf("%-32s %8s %10.2f %6.1f%%\n", "outside ops (autograd, copies)", "", (total - in_ops) / steps * 1e3,
                100 * (total - in_ops) / total);
  }
  std::printf("RESULT gcc_step phase=%d images_per_s=%.1f ms_per_step=%.2f batch=%lld width=%d size=%lld\n", phase,
              static_cast<double>(images * m) / med, med * 1e3, static_cast<long long>(m), static_cast<int>(cfg.base_width),
              static_cast<long long>(S));
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return gcc_examples::run_cli("bench_cpu_gcc_step", argc, argv, run); }
