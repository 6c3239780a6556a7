// End-to-end trainer (train/end2end.hpp) on a few hundred Fashion-MNIST images (synthetic striped images
// when Debian's dataset-fashion-mnist is not installed): both phases, the refresh, evaluation, the loss
// going down, the NaN guard, checkpoints and resume (config keys and presets: test_config.cpp).
#include <atomic>
#include <cmath>
#include <cstdio>
#include <limits>

#include "data_test_util.hpp"
#include "gradcheck.hpp"
#include "gcc/io/checkpoint.hpp"
#include "gcc/io/json.hpp"
#include "gcc/io/npy.hpp"
#include "gcc/train/config_file.hpp"
#include "gcc/train/config_schema.hpp"
#include "gcc/train/presets.hpp"
#include "gcc/train/data.hpp"
#include "gcc/train/end2end.hpp"

using namespace gcc;
using namespace gcc::train;

namespace {

// n images 28x28 grey: Fashion-MNIST's test split when installed, else 4 kinds of noisy stripes.
std::shared_ptr<const ImageDataset> small_images(int64_t n) {
  static bool said = false;
  if (data_detail::is_file(default_fashion_mnist_root() + "/t10k-labels-idx1-ubyte.gz")) {
    const ImageDataset t = read_fashion_mnist("", "test");
    return std::make_shared<const ImageDataset>(slice(t, 0, n));
  }
  if (!said) {
    std::fprintf(stderr, "MESSAGE test_train: Fashion-MNIST not found under %s (Debian package "
                 "dataset-fashion-mnist): the trainer tests run on synthetic striped images\n",
                 default_fashion_mnist_root().c_str());
    said = true;
  }
  ImageDataset d;
  d.n = n;
  d.height = d.width = 28;
  d.channels = 1;
  d.name = "synthetic-stripes";
  d.class_names = {"h", "v", "d", "c"};
  d.pixels.resize(static_cast<std::size_t>(n * 28 * 28));
  Rng rng(7);
  for (int64_t i = 0; i < n; ++i) {
    const int c = static_cast<int>(i % 4), ph = static_cast<int>(rng.below(4));
    d.labels.push_back(c);
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) {
        int v = c == 0 ? ((y + ph) / 3) % 2 : c == 1 ? ((x + ph) / 3) % 2 : c == 2 ? ((x + y + ph) / 4) % 2 : (((x + ph) / 4) + ((y + ph) / 4)) % 2;
        const double p = v * 200 + 30 + rng.normal(0, 20);
        d.pixels[static_cast<std::size_t>((i * 28 + y) * 28 + x)] = static_cast<uint8_t>(std::min(255.0, std::max(0.0, p)));
      }
  }
  return std::make_shared<const ImageDataset>(std::move(d));
}

Config tiny_config() {
  Config c = preset("fashion-mnist");
  c.base_width = 4;
  c.batch_size = 64;
  c.epochs = 2;
  c.switch_epoch = 0;  // epoch 0: phase 1, refresh after it; epoch 1: phase 2
  c.refresh_every = 1;
  c.eval_every = 0;
  c.lr = 0.05f;
  c.loader_threads = 1;
  c.train_subset = 0;
  c.seed = 3;
  return c;
}

}  // namespace

TEST_CASE("train: one tiny epoch of each phase runs end to end") {
  const auto imgs = small_images(256);
  Config cfg = tiny_config();
  End2EndTrainer t(cfg, TrainData::single(imgs));
  t.set_progress_output(nullptr);
  std::vector<EpochReport> reps;
  t.fit([&](const EpochReport& r) { reps.push_back(r); });
  REQUIRE(reps.size() == 2);
  CHECK(t.finished());
  CHECK(reps[0].phase == 1);
  CHECK(reps[0].steps == 4);
  CHECK(reps[0].images == 2 * 256);
  CHECK(reps[0].refreshed);
  CHECK(reps[0].knn_accuracy >= 0.0);
  CHECK(reps[0].knn_accuracy <= 1.0);
  CHECK(reps[1].phase == 2);
  CHECK(reps[1].images == 6 * 256);
  CHECK(std::isfinite(reps[1].mean.agc));
  CHECK(reps[1].mean.agc_entropy >= 0.0);
  for (const EpochReport& r : reps) {
    CHECK(std::isfinite(r.mean.loss));
    CHECK(std::isfinite(r.mean.rgc));
    CHECK(r.complete);
  }
  REQUIRE(reps[1].evaluated);
  const ClusteringMetrics& m = reps[1].eval.metrics;
  CHECK(reps[1].eval.evaluated == 256);
  CHECK(m.acc > 0.0);
  CHECK(m.acc <= 1.0);
  CHECK(m.nmi >= 0.0);
  CHECK(m.nmi <= 1.0);
  CHECK(std::isfinite(m.ari));
  CHECK(m.top5 >= m.acc);
  // the graph: k = 6 lists (self usually first), weights sqrt(3 / d) with 6 <= d <= n
  REQUIRE(t.has_graph());
  CHECK(t.state().neighbour_k == 6);
  CHECK(t.state().neighbours.size() == 256u * 6u);
  for (float w : t.state().node_weights) {
    CHECK(w <= std::sqrt(3.f / 6.f) + 1e-6f);
    CHECK(w > 0.f);
  }
  // the feature memory got the second view of every sample once per epoch
  CHECK(t.memory().samples_never_pushed() == 0);
  CHECK(t.memory().stored(0) == 2);
}

TEST_CASE("train: the phase-1 loss falls over a few steps") {
  const auto imgs = small_images(256);
  Config cfg = tiny_config();
  cfg.epochs = 5;
  cfg.switch_epoch = 10;  // phase 1 throughout
  cfg.cosine = false;
  cfg.lr = 0.1f;
  End2EndTrainer t(cfg, TrainData::single(imgs));
  t.set_progress_output(nullptr);
  std::vector<double> loss;
  t.fit([&](const EpochReport& r) { loss.push_back(r.mean.loss); });
  REQUIRE(loss.size() == 5);
  MESSAGE("phase-1 loss per epoch: ", loss[0], " ", loss[1], " ", loss[2], " ", loss[3], " ", loss[4]);
  CHECK(loss[4] < loss[0] - 0.1);
}

TEST_CASE("train: a NaN loss stops with a message naming epoch and step, nothing applied") {
  const auto imgs = small_images(128);
  Config cfg = tiny_config();
  End2EndTrainer t(cfg, TrainData::single(imgs));
  t.set_progress_output(nullptr);
  // poison one weight of the contrastive head: the embedding and hence the loss become NaN
  Tensor w;
  for (auto& p : t.model().named_parameters())
    if (p.name == "contrastive_head.2.weight") w = p.tensor;
  REQUIRE(w.defined());
  w.data()[0] = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> before = t.model().named_parameters()[0].tensor.to_vector();
  bool thrown = false;
  try {
    t.train_epoch();
  } catch (const TrainingDiverged& e) {
    thrown = true;
    const std::string m = e.what();
    CHECK(m.find("non-finite loss at epoch 1/2") != std::string::npos);
    CHECK(m.find("step 0") != std::string::npos);
    CHECK(e.epoch() == 0);
    CHECK(e.step() == 0);
  }
  CHECK(thrown);
  CHECK(t.model().named_parameters()[0].tensor.to_vector() == before);
  CHECK(t.memory().samples_never_pushed() == 128);
  CHECK(t.next_epoch() == 0);
}

TEST_CASE("train: a NaN or Inf in an input batch stops the run naming epoch, step, view and image") {
  const auto imgs = small_images(128);
  Config cfg = tiny_config();
  cfg.std = {1e-40f, 1e-40f, 1e-40f};  // valid (> 0) but (x - mean) / std overflows to +-Inf
  End2EndTrainer t(cfg, TrainData::single(imgs));
  t.set_progress_output(nullptr);
  const std::vector<float> before = t.model().named_parameters()[0].tensor.to_vector();
  CHECK_THROWS_WITH_AS(t.train_epoch(), doctest::Contains("input batch of epoch 1 step 0: view 0 of image #"), gcc::Error);
  CHECK_THROWS_WITH_AS(t.train_epoch(), doctest::Contains("Inf at value"), gcc::Error);
  CHECK(t.model().named_parameters()[0].tensor.to_vector() == before);
}

TEST_CASE("train: a non-finite embedding in the feature memory stops the graph refresh naming the image") {
  const auto imgs = small_images(128);
  End2EndTrainer t(tiny_config(), TrainData::single(imgs));
  t.set_progress_output(nullptr);
  t.train_epoch();  // phase 1 and the refresh after it
  REQUIRE(t.has_graph());
  const std::vector<int64_t> graph = t.state().neighbours;
  Tensor nan_row = Tensor::full(Shape{1, t.memory().dim()}, std::numeric_limits<float>::quiet_NaN());
  t.memory().push({5}, nan_row);
  CHECK_THROWS_WITH_AS(t.refresh_neighbours(1), doctest::Contains("embedding of training image #5 holds NaN"),
                       TrainingDiverged);
  CHECK(t.state().neighbours == graph);  // no graph was built
}

TEST_CASE("train: a stop request ends the epoch after the current step; the run continues from there") {
  const auto imgs = small_images(256);
  Config cfg = tiny_config();
  End2EndTrainer t(cfg, TrainData::single(imgs));
  t.set_progress_output(nullptr);
  std::atomic<bool> stop{true};
  t.set_stop_flag(&stop);
  EpochReport r = t.train_epoch();
  CHECK_FALSE(r.complete);
  CHECK(r.steps == 1);
  CHECK(t.next_epoch() == 0);
  CHECK(t.next_step() == 1);
  stop = false;
  r = t.train_epoch();
  CHECK(r.complete);
  CHECK(r.steps == 3);
  CHECK(t.next_epoch() == 1);
  CHECK(t.next_step() == 0);
}

// ---- checkpoints and resume ----------------------------------------------------------------------

#include <filesystem>

#include "gcc/train/end2end_checkpoint.hpp"

namespace {

struct TmpDir {
  std::string path;
  TmpDir() {
    std::string t = (std::filesystem::temp_directory_path() / "gcc_train_test_XXXXXX").string();
    REQUIRE(::mkdtemp(t.data()) != nullptr);
    path = t;
  }
  ~TmpDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// Every tensor of the model and the optimiser's momentum, and the feature memory, as raw bytes.
std::vector<float> full_state(End2EndTrainer& t) {
  std::vector<float> out;
  for (const NamedTensor& p : t.model().state_dict()) {
    const std::vector<float> v = p.tensor.to_vector();
    out.insert(out.end(), v.begin(), v.end());
  }
  for (const Tensor& m : t.optimizer().momentum_buffers()) {
    const std::vector<float> v = m.to_vector();
    out.insert(out.end(), v.begin(), v.end());
  }
  out.insert(out.end(), t.memory().raw().begin(), t.memory().raw().end());
  for (float w : t.state().node_weights) out.push_back(w);
  for (int64_t n : t.state().neighbours) out.push_back(static_cast<float>(n));
  return out;
}

bool bit_identical(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

Config resume_config() {
  Config c = tiny_config();
  c.epochs = 3;  // epoch 0: phase 1 + refresh; epochs 1, 2: phase 2 (+ refresh after each)
  c.eval_every = 0;
  return c;
}

}  // namespace

TEST_CASE("train: N epochs straight and N-1 + checkpoint + resume are bit-identical") {
  const auto imgs = small_images(128);
  TmpDir dir;
  const std::string ck = dir.path + "/checkpoint.safetensors";
  End2EndTrainer a(resume_config(), TrainData::single(imgs));
  a.set_progress_output(nullptr);
  a.fit();
  const std::vector<float> straight = full_state(a);
  {
    End2EndTrainer b(resume_config(), TrainData::single(imgs));
    b.set_progress_output(nullptr);
    b.train_epoch();
    b.train_epoch();
    save_end2end_checkpoint(ck, b);
  }
  End2EndTrainer c(resume_config(), TrainData::single(imgs));
  c.set_progress_output(nullptr);
  load_end2end_checkpoint(ck, c);
  CHECK(c.next_epoch() == 2);
  CHECK(c.has_graph());
  c.fit();
  CHECK(c.finished());
  CHECK(c.state().global_step == a.state().global_step);
  CHECK(bit_identical(full_state(c), straight));
}

TEST_CASE("train: a run stopped inside an epoch resumes bit-identically from its checkpoint") {
  const auto imgs = small_images(128);
  TmpDir dir;
  const std::string ck = dir.path + "/checkpoint.safetensors";
  End2EndTrainer a(resume_config(), TrainData::single(imgs));
  a.set_progress_output(nullptr);
  a.fit();
  {
    End2EndTrainer b(resume_config(), TrainData::single(imgs));
    b.set_progress_output(nullptr);
    b.train_epoch();
    std::atomic<bool> stop{true};  // stop after the first step of epoch 1 (phase 2), as Ctrl-C does
    b.set_stop_flag(&stop);
    b.fit();
    REQUIRE(b.next_epoch() == 1);
    REQUIRE(b.next_step() == 1);
    save_end2end_checkpoint(ck, b);
  }
  End2EndTrainer c(resume_config(), TrainData::single(imgs));
  c.set_progress_output(nullptr);
  load_end2end_checkpoint(ck, c);
  CHECK(c.next_epoch() == 1);
  CHECK(c.next_step() == 1);
  c.fit();
  CHECK(bit_identical(full_state(c), full_state(a)));
}

TEST_CASE("train: NaN weights are never checkpointed; the last good checkpoint stays loadable") {
  const auto imgs = small_images(128);
  TmpDir dir;
  const std::string ck = dir.path + "/checkpoint.safetensors";
  Config cfg = tiny_config();
  End2EndTrainer t(cfg, TrainData::single(imgs));
  t.set_progress_output(nullptr);
  t.train_epoch();
  save_end2end_checkpoint(ck, t);
  for (auto& p : t.model().named_parameters())
    if (p.name == "contrastive_head.2.weight") p.tensor.data()[3] = std::numeric_limits<float>::infinity();
  CHECK_THROWS_AS(t.train_epoch(), TrainingDiverged);
  CHECK_THROWS_WITH_AS(save_end2end_checkpoint(ck, t), doctest::Contains("non-finite"), gcc::Error);
  End2EndTrainer r(cfg, TrainData::single(imgs));
  r.set_progress_output(nullptr);
  CHECK_NOTHROW(load_end2end_checkpoint(ck, r));
  CHECK(r.next_epoch() == 1);
}

TEST_CASE("train: resuming into a different model or dataset fails with a clear message") {
  const auto imgs = small_images(128);
  TmpDir dir;
  const std::string ck = dir.path + "/checkpoint.safetensors";
  Config cfg = tiny_config();
  {
    End2EndTrainer t(cfg, TrainData::single(imgs));
    t.set_progress_output(nullptr);
    t.train_epoch();
    save_end2end_checkpoint(ck, t);
  }
  Config k5 = cfg;
  k5.num_clusters = 5;
  End2EndTrainer a(k5, TrainData::single(imgs));
  CHECK_THROWS_WITH_AS(load_end2end_checkpoint(ck, a), doctest::Contains("K = 10"), gcc::Error);
  End2EndTrainer b(cfg, TrainData::single(small_images(96)));
  CHECK_THROWS_WITH_AS(load_end2end_checkpoint(ck, b), doctest::Contains("96"), gcc::Error);
  // the stored configuration reads back to the same one
  const Config back = checkpoint_config(io::Checkpoint::load(ck));
  CHECK(config_yaml(back) == config_yaml(cfg));
}

TEST_CASE("train: --dump-steps writes the first step of each phase; its losses come back from its files") {
  gcc_test::TempDir tmp;
  Config cfg = tiny_config();
  cfg.train_subset = 100;
  const auto all = small_images(160);
  const TrainData data = train_data_from(cfg, all);
  // the dumped training ids are the images random_subset kept
  REQUIRE(data.phase1_source.size() == 100u);
  for (int64_t i = 0; i < 100; ++i) {
    const int64_t src = data.phase1_source[static_cast<std::size_t>(i)];
    CHECK(std::equal(data.phase1->image(i), data.phase1->image(i) + data.phase1->image_bytes(), all->image(src)));
  }
  End2EndTrainer t(cfg, data);
  t.set_progress_output(nullptr);
  t.dump_first_steps(tmp / "dump");
  t.fit([](const EpochReport&) {});
  const io::NpyArray ids = io::read_npy(tmp / "dump/train_ids.npy");
  CHECK(ids.i64() == data.phase1_source);
  Config back = preset("cifar-10");
  apply_config_file(back, tmp / "dump/config.yaml");
  CHECK(back.train_subset == 100);
  for (int phase = 1; phase <= 2; ++phase) {
    CAPTURE(phase);
    const std::string dir = tmp / ("dump/phase" + std::to_string(phase));
    const io::NpyArray views = io::read_npy(dir + "/views.npy");
    const int64_t V = phase == 1 ? 2 : 6, m = cfg.batch_size;
    REQUIRE(views.shape == std::vector<int64_t>{V, m, 1, 28, 28});
    const io::Json losses = io::Json::parse(io::read_file(dir + "/losses.json"));
    auto term = [&](const char* k) { return losses.find(k)->number(); };
    CHECK(term("step") == 0);
    CHECK(term("epoch") == phase - 1);
    // Recompute the step from the files alone: the model before the step, the views, the weights.
    Rng rng(1);
    nn::End2EndModel model(cfg.model_config(), rng);
    io::Checkpoint::load(dir + "/model.safetensors").load_model(model);
    model.train();
    const std::vector<float> v = views.f32();
    auto view = [&](int64_t k) {
      return Tensor::from_vector(std::vector<float>(v.begin() + k * m * 784, v.begin() + (k + 1) * m * 784),
                                 Shape{m, 1, 28, 28});
    };
    const nn::End2EndOutput out = model.forward(concat0({view(0), view(1)}));
    const Tensor z = slice0(out.embedding, 0, m), z2 = slice0(out.embedding, m, 2 * m);
    Tensor rgc;
    AgcLoss agc;
    if (phase == 1) {
      rgc = rgc_loss(z, z2, cfg.temperature);
      agc = agc_loss(slice0(out.logits[0], 0, m), slice0(out.logits[0], m, 2 * m), cfg.entropy_weight);
    } else {
      const io::NpyArray wn = io::read_npy(dir + "/weights.npy");
      REQUIRE(wn.shape == std::vector<int64_t>{3, m});
      const std::vector<float> wv = wn.f32();
      std::array<Tensor, 3> e, w;
      for (int k = 0; k < 3; ++k) {
        e[static_cast<std::size_t>(k)] = model.forward(view(2 + k)).embedding;
        w[static_cast<std::size_t>(k)] =
            Tensor::from_vector(std::vector<float>(wv.begin() + k * m, wv.begin() + (k + 1) * m), Shape{m});
        for (int64_t i = 0; i < m; ++i) CHECK(wv[static_cast<std::size_t>(k * m + i)] > 0.f);
      }
      const nn::End2EndOutput ou = model.forward(view(5));
      rgc = rgc_loss(z, z2, e, w, cfg.temperature);
      agc = agc_loss(slice0(out.logits[0], 0, m), ou.logits[0], cfg.entropy_weight);
    }
    CHECK(rgc.item() == doctest::Approx(term("rgc")).epsilon(1e-6));
    CHECK(agc.total.item() == doctest::Approx(term("agc")).epsilon(1e-6));
    CHECK(agc.entropy.item() == doctest::Approx(term("agc_entropy")).epsilon(1e-5));
    CHECK(term("loss") == doctest::Approx(cfg.rgc_weight * term("rgc") + cfg.agc_weight * term("agc")).epsilon(1e-6));
  }
}

TEST_CASE("train: phase 2 as one batched pass (BatchNorm per pass) equals five passes") {
  // 128 images, batch 64: one phase-1 epoch (2 steps), the refresh, one phase-2 epoch (2 steps). On the
  // im2col convolution, whose sums do not depend on the batch size; oneDNN picks kernels (and summation
  // orders) by shape, which moves conv1's weights by ~1e-4 after 2 steps either way.
  struct Im2colConv {  // restored however the test ends
    gcc::CpuConv before = gcc::cpu_conv();
    Im2colConv() { gcc::set_cpu_conv(gcc::CpuConv::Im2col); }
    ~Im2colConv() { gcc::set_cpu_conv(before); }
  } use_im2col;
  const auto imgs = small_images(128);
  std::vector<std::vector<float>> before, after[2];  // state before phase 2 / after it, per mode
  std::vector<std::string> names;
  LossTerms mean[2];
  for (int batched = 0; batched < 2; ++batched) {
    Config cfg = tiny_config();
    cfg.batched_passes = batched == 1;
    End2EndTrainer t(cfg, TrainData::single(imgs));
    t.set_progress_output(nullptr);
    std::vector<EpochReport> reps;
    t.fit([&](const EpochReport& r) {
      reps.push_back(r);
      if (r.phase == 1 && batched == 0)  // the state phase 2 starts from
        for (const NamedTensor& p : t.model().state_dict()) before.push_back(p.tensor.to_vector());
    });
    REQUIRE(reps.size() == 2);
    REQUIRE(reps[1].phase == 2);
    REQUIRE(reps[1].steps == 2);
    mean[batched] = reps[1].mean;
    for (const NamedTensor& p : t.model().state_dict()) {
      after[batched].push_back(p.tensor.to_vector());
      if (batched) names.push_back(p.name);
    }
  }
  CHECK(mean[1].loss == doctest::Approx(mean[0].loss).epsilon(1e-6));
  CHECK(mean[1].rgc == doctest::Approx(mean[0].rgc).epsilon(1e-6));
  CHECK(mean[1].agc == doctest::Approx(mean[0].agc).epsilon(1e-6));
  // Every weight, buffer and running statistic within 1e-5. (Over more steps the two drift apart as fast as
  // the same run does on 1 vs 2 threads: summation order, amplified by near-constant BatchNorm channels.)
  REQUIRE(after[0].size() == after[1].size());
  REQUIRE(before.size() == after[0].size());
  double worst = 0, moved = 0;
  std::string where;
  for (std::size_t i = 0; i < names.size(); ++i)
    for (std::size_t j = 0; j < after[0][i].size(); ++j) {
      if (names[i].find("num_batches_tracked") == std::string::npos)
        moved = std::max(moved, static_cast<double>(std::fabs(after[0][i][j] - before[i][j])));
      const double d = std::fabs(after[1][i][j] - after[0][i][j]);
      if (d > worst) {
        worst = d;
        where = names[i];
      }
    }
  MESSAGE("batched vs per-pass phase 2 after 2 steps: largest difference ", worst, " (in ", where,
          "); the steps moved a value by up to ", moved);
  CHECK(moved > 1e-3);  // the steps did change the model
  CHECK(worst <= 1e-5);
}
