// Benchmark (not a test): images/s of the augmentation views (include/gcc/data/augment.hpp) per
// thread, on random smooth images of the training size: SimCLR views at 32x32 (CIFAR preset) and
// 96x96 (STL preset), plus the evaluation and strong views. Compare with
// data_scripts/bench_augment_torchvision.py, which times torchvision's transforms on PIL images.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "cli.hpp"
#include "gcc/core/parallel.hpp"
#include "gcc/data/augment.hpp"

namespace {

std::vector<uint8_t> make_images(int count, int size, uint64_t seed) {
  gcc::Rng rng(seed);
  std::vector<uint8_t> px(static_cast<std::size_t>(count) * size * size * 3);
  for (int i = 0; i < count; ++i) {
    const double fx = rng.uniform(0.05, 0.4), fy = rng.uniform(0.05, 0.4), ph = rng.uniform(0, 6.3);
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x)
        for (int c = 0; c < 3; ++c) {
          const double v = 128 + 80 * std::sin(fx * x + ph + c) * std::cos(fy * y - c) + 15 * rng.normal();
          px[((static_cast<std::size_t>(i) * size + y) * size + x) * 3 + c] = static_cast<uint8_t>(v < 0     ? 0
                                                                                                   : v > 255 ? 255
                                                                                                             : v);
        }
  }
  return px;
}

// Runs `view` over the pool for about `seconds` on `threads` threads; returns images/s per thread.
template <typename View>
double time_view(const View& view, const std::vector<uint8_t>& pool, int count, int size, double seconds, int threads) {
  const int64_t img_bytes = static_cast<int64_t>(size) * size * 3;
  std::vector<std::vector<float>> out(static_cast<std::size_t>(threads),
                                      std::vector<float>(static_cast<std::size_t>(view.out_numel())));
  auto run = [&](int64_t n_per_thread) {
    gcc::parallel_for(threads, [&](int64_t t) {
      gcc::Rng rng(static_cast<uint64_t>(1234 + t));
      float* o = out[static_cast<std::size_t>(t)].data();
      for (int64_t i = 0; i < n_per_thread; ++i) {
        const uint8_t* img = pool.data() + ((i + t * 7) % count) * img_bytes;
        view(img, size, size, 3, rng, o);
      }
    });
  };
  run(200);  // warm up (scratch buffers)
  int64_t n = 1000;
  for (;;) {
    const auto t0 = std::chrono::steady_clock::now();
    run(n);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (dt >= seconds || n > (int64_t(1) << 30)) return static_cast<double>(n) / dt;
    n = static_cast<int64_t>(static_cast<double>(n) * std::min(10.0, 1.2 * seconds / std::max(dt, 1e-3)));
  }
}

}  // namespace

int main(int argc, char** argv) {
  gcc_examples::Cli cli("bench_augment",
                        "Images/s per thread of the SimCLR view (32x32 CIFAR, 96x96 STL presets), the evaluation view "
                        "and the strong view, on random images of the training size.");
  cli.opt("threads", "1", "threads running views at once (images/s is reported per thread)")
      .opt("seconds", "1.0", "time per measurement")
      .opt("pool", "256", "distinct source images per size");
  int code = 0;
  if (!cli.parse(argc, argv, code)) return code;
  try {
    const int threads = static_cast<int>(cli.integer("threads"));
    const double seconds = cli.real("seconds");
    const int pool = static_cast<int>(cli.integer("pool"));
    GCC_CHECK(threads >= 1 && pool >= 1 && seconds > 0, "bench_augment: --threads, --pool, --seconds must be positive");
#ifdef _OPENMP
    omp_set_num_threads(threads);
#else
    GCC_CHECK(threads == 1, "bench_augment: built without OpenMP, only --threads 1");
#endif
    std::printf("gcc-toolkit augmentation, %d thread(s), images/s per thread:\n", threads);
    for (const char* family : {"cifar", "stl"}) {
      const gcc::data::ViewPreset p = gcc::data::view_preset(family);
      const int S = p.train_size;
      const std::vector<uint8_t> imgs = make_images(pool, S, 7);
      const double simclr = time_view(gcc::data::SimclrView(p), imgs, pool, S, seconds, threads);
      const double eval = time_view(gcc::data::EvalView(p), imgs, pool, S, seconds, threads);
      const double strong = time_view(gcc::data::StrongView(p), imgs, pool, S, seconds, threads);
      std::printf("  %-5s %3dx%-3d  SimCLR view %9.0f   eval view (%d->%d) %9.0f   strong view %9.0f\n", family, S, S,
                  simclr, p.eval_resize, p.eval_crop, eval, strong);
    }
  } catch (const gcc::Error& e) {
    std::fprintf(stderr, "bench_augment: %s\n", e.what());
    return 1;
  }
  return 0;
}
