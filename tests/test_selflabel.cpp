// Self-labelling (train/selflabel.hpp) and checkpoint evaluation (train/checkpoint_model.hpp) on a few hundred
// Fashion-MNIST images (synthetic striped images when Debian's dataset-fashion-mnist is not installed),
// starting from a tiny End2EndModel checkpoint written here: masks, the no-confident-batch rule, finite
// losses, the NaN guard, EMA, checkpoints and bit-identical resume, gcc_eval's core
// and its errors (corrupt / truncated checkpoint, K mismatch, unknown dataset).
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>
#include <limits>
#include <memory>
#include <string>

#include "data_test_util.hpp"
#include "gradcheck.hpp"
#include "gcc/io/checkpoint.hpp"
#include "gcc/io/npy.hpp"
#include "gcc/train/checkpoint_model.hpp"
#include "gcc/train/config_file.hpp"
#include "gcc/train/config_schema.hpp"
#include "gcc/train/presets.hpp"
#include "gcc/train/data.hpp"
#include "gcc/train/evaluate.hpp"
#include "gcc/train/selflabel.hpp"
#include "gcc/train/selflabel_checkpoint.hpp"

using namespace gcc;
using namespace gcc::train;

namespace {

struct SlTempDir {
  std::string path;
  SlTempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "gcc_selflabel_test_XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    REQUIRE(p != nullptr);
    path = p;
  }
  ~SlTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& rel) const { return path + "/" + rel; }
};

// n images 28x28 grey: Fashion-MNIST's test split when installed, else 4 kinds of noisy stripes
// (GCC_TEST_SYNTHETIC=1 in the environment forces the stripes, to check that path on a machine with the data).
std::shared_ptr<const ImageDataset> small_images(int64_t n) {
  static bool said = false;
  if (!std::getenv("GCC_TEST_SYNTHETIC") && data_detail::is_file(default_fashion_mnist_root() + "/t10k-labels-idx1-ubyte.gz")) {
    static const ImageDataset t = read_fashion_mnist("", "test");
    return std::make_shared<const ImageDataset>(slice(t, 0, n));
  }
  if (!said) {
    MESSAGE("test_selflabel: Fashion-MNIST not found under ", default_fashion_mnist_root(),
            " (Debian package dataset-fashion-mnist) or GCC_TEST_SYNTHETIC set: the self-labelling tests run on "
            "synthetic striped images");
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
        const int v = c == 0   ? ((y + ph) / 3) % 2
                      : c == 1 ? ((x + ph) / 3) % 2
                      : c == 2 ? ((x + y + ph) / 4) % 2
                               : (((x + ph) / 4) + ((y + ph) / 4)) % 2;
        const double p = v * 200 + 30 + rng.normal(0, 20);
        d.pixels[static_cast<std::size_t>((i * 28 + y) * 28 + x)] = static_cast<uint8_t>(std::min(255.0, std::max(0.0, p)));
      }
  }
  return std::make_shared<const ImageDataset>(std::move(d));
}

// The end-to-end config of the tiny model: Fashion-MNIST preset, width 4.
Config tiny_base() {
  Config c = preset("fashion-mnist");
  c.base_width = 4;
  c.train_subset = 0;
  c.eval_set = "train";
  c.loader_threads = 1;
  c.eval_batch_size = 128;
  c.seed = 5;
  return c;
}

// Writes a tiny "end-to-end" checkpoint (random weights, cluster head scaled so that the softmax is
// peaked and some samples pass a high threshold) as gcc_train would: model + config text.
void write_e2e_checkpoint(const std::string& path, const Config& base, float head_scale = 10.f) {
  Rng rng(base.seed);
  nn::End2EndModel m(base.model_config(), rng);
  for (const NamedTensor& p : m.named_parameters())
    if (p.name.rfind("cluster_head.", 0) == 0) {
      float* d = p.tensor.data();
      for (int64_t i = 0; i < p.tensor.numel(); ++i) d[i] *= head_scale;
    }
  io::CheckpointContents c;
  c.model = &m;
  c.epoch = 2;
  c.config = config_yaml(base, "test end-to-end run");
  io::save_checkpoint(path, c);
}

Config tiny_selflabel(const Config& base) {
  Config c = base;
  c.selflabel.batch_size = 100;
  c.selflabel.epochs = 2;
  c.selflabel.confidence_threshold = 0.9f;
  c.selflabel.lr = 1e-3f;
  c.selflabel.seed = 11;
  return c;
}

// gcc_eval's path: the checkpoint, its config (or a preset), command-line keys, then the evaluation.
CheckpointEvaluation eval_checkpoint(const std::string& path, std::shared_ptr<const ImageDataset> imgs,
                                     const std::string& preset_name = "",
                                     const std::vector<std::pair<std::string, std::string>>& overrides = {},
                                     const CheckpointEvalOptions& o = {}) {
  const io::Checkpoint ck = io::Checkpoint::load(path);
  Config cfg = checkpoint_config(ck, preset_name);
  for (const auto& kv : overrides) apply_override(cfg, kv.first, kv.second);
  return evaluate_checkpoint(ck, cfg, o, imgs);
}

std::vector<std::vector<float>> snapshot(const std::vector<NamedTensor>& ts) {
  std::vector<std::vector<float>> out;
  for (const NamedTensor& t : ts) out.push_back(t.tensor.to_vector());
  return out;
}

using gcc_test::error_of;

}  // namespace

TEST_CASE("selflabel: a tiny run from an end-to-end checkpoint: masks, finite loss, evaluation each epoch") {
  SlTempDir dir;
  const Config base = tiny_base();
  write_e2e_checkpoint(dir / "e2e.safetensors", base);
  const io::Checkpoint init = io::Checkpoint::load(dir / "e2e.safetensors");
  const Config read = checkpoint_config(init);
  CHECK(config_yaml(read) == config_yaml(base));
  const auto imgs = small_images(300);
  SelfLabelTrainer t(tiny_selflabel(read), TrainData::single(imgs));
  t.set_progress_output(nullptr);
  t.load_initial_weights(init);
  std::vector<NamedTensor> contrastive;
  for (const NamedTensor& p : t.model().named_parameters())
    if (p.name.rfind("contrastive_head.", 0) == 0) contrastive.push_back(p);
  const auto head_before = snapshot(contrastive);
  const auto trained_before = snapshot(t.trained_parameters());
  std::vector<SelfLabelEpochReport> reps;
  t.fit([&](const SelfLabelEpochReport& r) { reps.push_back(r); });
  REQUIRE(reps.size() == 2);
  CHECK(t.finished());
  for (const SelfLabelEpochReport& r : reps) {
    CHECK(r.complete);
    CHECK(r.steps == 3);
    CHECK(r.samples == 300);
    CHECK(r.updates + r.skipped == r.steps);
    CHECK(r.confident > 0);
    CHECK(r.confident < r.samples);  // the mask keeps some samples and drops others
    CHECK(r.confident_fraction == doctest::Approx(static_cast<double>(r.confident) / 300.0));
    CHECK(std::isfinite(r.mean_loss));
    CHECK(r.mean_loss >= 0.0);
    REQUIRE(r.evaluated);  // eval_every 1
    CHECK(r.eval.evaluated == 300);
    CHECK(r.eval.metrics.acc > 0.0);
    CHECK(r.eval.metrics.acc <= 1.0);
    CHECK(r.eval.metrics.nmi >= 0.0);
    CHECK(std::isfinite(r.eval.metrics.ari));
    CHECK(r.eval.metrics.top5 >= r.eval.metrics.acc);
    CHECK(r.eval.knn_accuracy == -1.0);  // no embeddings in self-labelling
    MESSAGE("selflabel epoch ", r.epoch, ": loss ", r.mean_loss, ", confident ", r.confident, "/", r.samples,
            ", updates ", r.updates, ", ACC ", r.eval.metrics.acc);
  }
  CHECK(t.state().updates > 0);
  CHECK(t.state().global_step == 6);
  CHECK(snapshot(contrastive) == head_before);            // not trained
  CHECK(snapshot(t.trained_parameters()) != trained_before);  // trained
  CHECK(t.optimizer().steps()[0] == t.state().updates);
}

TEST_CASE("selflabel: a batch without a confident sample makes no update at all") {
  SlTempDir dir;
  const Config base = tiny_base();
  write_e2e_checkpoint(dir / "e2e.safetensors", base, 1.f);  // unscaled head: probabilities near 1/K
  const io::Checkpoint init = io::Checkpoint::load(dir / "e2e.safetensors");
  Config cfg = tiny_selflabel(base);
  cfg.selflabel.epochs = 1;
  cfg.selflabel.confidence_threshold = 0.98f;
  cfg.selflabel.eval_every = 0;
  SelfLabelTrainer t(cfg, TrainData::single(small_images(200)));
  t.set_progress_output(nullptr);
  t.load_initial_weights(init);
  const auto state_before = snapshot(t.model().state_dict());
  const SelfLabelEpochReport r = t.train_epoch();
  CHECK(r.steps == 2);
  CHECK(r.skipped == 2);
  CHECK(r.updates == 0);
  CHECK(r.confident == 0);
  CHECK(r.mean_loss == 0.0);
  CHECK(t.state().skipped_batches == 2);
  CHECK(t.state().updates == 0);
  CHECK(t.optimizer().steps()[0] == 0);
  // weights and BatchNorm running statistics (updated by the weak pass, then put back) unchanged
  CHECK(snapshot(t.model().state_dict()) == state_before);
  CHECK(t.finished());
}

TEST_CASE("selflabel: checkpoints hold the release's self-labelling model and resume bit-identically") {
  SlTempDir dir;
  const Config base = tiny_base();
  write_e2e_checkpoint(dir / "e2e.safetensors", base);
  const io::Checkpoint init = io::Checkpoint::load(dir / "e2e.safetensors");
  const auto imgs = small_images(300);
  Config cfg = tiny_selflabel(base);
  cfg.selflabel.eval_every = 0;  // evaluate after the last epoch only

  SelfLabelTrainer straight(cfg, TrainData::single(imgs));
  straight.set_progress_output(nullptr);
  straight.load_initial_weights(init);
  straight.fit();

  SelfLabelTrainer first(cfg, TrainData::single(imgs));
  first.set_progress_output(nullptr);
  first.load_initial_weights(init);
  const SelfLabelEpochReport r0 = first.train_epoch();
  CHECK_FALSE(r0.evaluated);
  const std::string p = dir / "sl.safetensors";
  save_selflabel_checkpoint(p, first, {{"init_checkpoint", dir / "e2e.safetensors"}});

  const io::Checkpoint ck = io::Checkpoint::load(p);
  for (const std::string& n : ck.file().names()) CHECK(n.rfind("contrastive_head.", 0) != 0);
  CHECK(ck.file().metadata("model_modules") == "backbone,cluster_head");
  CHECK(ck.file().metadata("setup") == "selflabel");
  CHECK(ck.file().metadata("init_checkpoint") == dir / "e2e.safetensors");
  CHECK(ck.optimizer_kind() == "adam");
  CHECK(ck.epoch() == 1);
  CHECK(ck.global_step() == 3);
  CHECK_FALSE(checkpoint_has_contrastive_head(ck));
  // the stored config reads back to the same one, its selflabel section included
  const Config back = checkpoint_config(ck);
  CHECK(config_yaml(back) == config_yaml(cfg));

  SelfLabelTrainer resumed(back, TrainData::single(imgs));
  resumed.set_progress_output(nullptr);
  load_selflabel_checkpoint(ck, resumed);
  CHECK(resumed.next_epoch() == 1);
  CHECK(resumed.state().global_step == 3);
  std::vector<SelfLabelEpochReport> reps;
  resumed.fit([&](const SelfLabelEpochReport& r) { reps.push_back(r); });
  REQUIRE(reps.size() == 1);
  CHECK(reps[0].evaluated);
  CHECK(resumed.finished());
  const auto a = straight.model().state_dict(), b = resumed.model().state_dict();
  REQUIRE(a.size() == b.size());
  int compared = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].name.rfind("contrastive_head.", 0) == 0) continue;
    CAPTURE(a[i].name);
    CHECK(a[i].tensor.to_vector() == b[i].tensor.to_vector());
    ++compared;
  }
  CHECK(compared > 20);
  CHECK(resumed.state().updates == straight.state().updates);
  // an end-to-end checkpoint is a start for load_initial_weights, not one to resume
  CHECK_THROWS_WITH_AS(load_selflabel_checkpoint(init, resumed), doctest::Contains("is not a self-labelling checkpoint"), gcc::Error);
}

TEST_CASE("selflabel: a stop request ends the epoch after the current step; a resumed run continues bit-identically") {
  SlTempDir dir;
  const Config base = tiny_base();
  write_e2e_checkpoint(dir / "e2e.safetensors", base);
  const io::Checkpoint init = io::Checkpoint::load(dir / "e2e.safetensors");
  const auto imgs = small_images(300);
  Config cfg = tiny_selflabel(base);
  cfg.selflabel.epochs = 1;
  SelfLabelTrainer straight(cfg, TrainData::single(imgs));
  straight.set_progress_output(nullptr);
  straight.load_initial_weights(init);
  straight.fit();
  SelfLabelTrainer first(cfg, TrainData::single(imgs));
  first.set_progress_output(nullptr);
  first.load_initial_weights(init);
  std::atomic<bool> stop{true};
  first.set_stop_flag(&stop);
  std::vector<SelfLabelEpochReport> reps;
  first.fit([&](const SelfLabelEpochReport& r) { reps.push_back(r); });
  REQUIRE(reps.size() == 1);
  CHECK_FALSE(reps[0].complete);
  CHECK_FALSE(reps[0].evaluated);
  CHECK(reps[0].steps == 1);
  CHECK(first.next_epoch() == 0);
  CHECK(first.next_step() == 1);
  save_selflabel_checkpoint(dir / "stopped.safetensors", first);
  SelfLabelTrainer resumed(cfg, TrainData::single(imgs));
  resumed.set_progress_output(nullptr);
  load_selflabel_checkpoint(io::Checkpoint::load(dir / "stopped.safetensors"), resumed);
  CHECK(resumed.next_step() == 1);
  const SelfLabelEpochReport r = resumed.train_epoch();
  CHECK(r.complete);
  CHECK(r.steps == 2);
  CHECK(r.evaluated);
  CHECK(resumed.finished());
  CHECK(r.eval.predictions == straight.evaluate().predictions);
  CHECK(snapshot(resumed.trained_parameters()) == snapshot(straight.trained_parameters()));
  CHECK(snapshot(resumed.model().named_buffers()) == snapshot(straight.model().named_buffers()));
}

TEST_CASE("selflabel: a NaN stops with a message, nothing of the step applied") {
  SlTempDir dir;
  const Config base = tiny_base();
  write_e2e_checkpoint(dir / "e2e.safetensors", base);
  Config cfg = tiny_selflabel(base);
  SelfLabelTrainer t(cfg, TrainData::single(small_images(100)));
  t.set_progress_output(nullptr);
  t.load_initial_weights(io::Checkpoint::load(dir / "e2e.safetensors"));
  Tensor w;
  for (const NamedTensor& p : t.model().named_parameters())
    if (p.name == "cluster_head.0.bias") w = p.tensor;
  REQUIRE(w.defined());
  w.data()[0] = std::numeric_limits<float>::quiet_NaN();
  const auto before = snapshot(t.model().named_buffers());
  const auto conv = t.model().named_parameters()[0].tensor.to_vector();
  bool thrown = false;
  try {
    t.train_epoch();
  } catch (const TrainingDiverged& e) {
    thrown = true;
    const std::string m = e.what();
    CHECK(m.find("self-labelling diverged at epoch 1/2") != std::string::npos);
    CHECK(m.find("step 0") != std::string::npos);
    CHECK(m.find("not finite") != std::string::npos);
  }
  CHECK(thrown);
  CHECK(snapshot(t.model().named_buffers()) == before);
  CHECK(t.model().named_parameters()[0].tensor.to_vector() == conv);
  CHECK(t.state().updates == 0);
  // save refuses a non-finite model, keeping the previous file
  CHECK_THROWS_WITH_AS(save_selflabel_checkpoint(dir / "bad.safetensors", t), doctest::Contains("refusing to save"), gcc::Error);
  CHECK_FALSE(std::filesystem::exists(dir / "bad.safetensors"));
}

TEST_CASE("selflabel: EMA as the release (weights = their EMA after each step, BatchNorm buffers as at the start)") {
  SlTempDir dir;
  const Config base = tiny_base();
  write_e2e_checkpoint(dir / "e2e.safetensors", base);
  const io::Checkpoint init = io::Checkpoint::load(dir / "e2e.safetensors");
  const auto imgs = small_images(200);
  Config cfg = tiny_selflabel(base);
  cfg.selflabel.epochs = 1;
  cfg.selflabel.eval_every = 0;
  SelfLabelTrainer plain(cfg, TrainData::single(imgs));
  cfg.selflabel.use_ema = true;
  cfg.selflabel.ema_alpha = 0.f;  // shadow = weights: the same weights as without EMA
  SelfLabelTrainer ema0(cfg, TrainData::single(imgs));
  cfg.selflabel.ema_alpha = 0.9f;
  SelfLabelTrainer ema9(cfg, TrainData::single(imgs));
  for (SelfLabelTrainer* t : {&plain, &ema0, &ema9}) {
    t->set_progress_output(nullptr);
    t->load_initial_weights(init);
  }
  const auto buffers0 = snapshot(plain.model().named_buffers());
  const auto params0 = snapshot(plain.trained_parameters());
  for (SelfLabelTrainer* t : {&plain, &ema0, &ema9}) {
    const SelfLabelEpochReport r = t->train_epoch();
    REQUIRE(r.updates > 0);
  }
  CHECK(snapshot(ema0.trained_parameters()) == snapshot(plain.trained_parameters()));
  CHECK(snapshot(ema0.model().named_buffers()) == buffers0);
  CHECK(snapshot(plain.model().named_buffers()) != buffers0);
  CHECK(snapshot(ema9.model().named_buffers()) == buffers0);
  // with alpha 0.9 the weights move less than without EMA
  double d_plain = 0, d_ema = 0;
  const auto pp = snapshot(plain.trained_parameters()), pe = snapshot(ema9.trained_parameters());
  for (std::size_t i = 0; i < params0.size(); ++i)
    for (std::size_t j = 0; j < params0[i].size(); ++j) {
      d_plain += std::fabs(pp[i][j] - params0[i][j]);
      d_ema += std::fabs(pe[i][j] - params0[i][j]);
    }
  CHECK(d_ema > 0.0);
  CHECK(d_ema < d_plain);
}

TEST_CASE("eval: evaluate_checkpoint on tiny checkpoints (end-to-end with embeddings, self-labelling without)") {
  SlTempDir dir;
  const Config base = tiny_base();
  const std::string e2e = dir / "e2e.safetensors";
  write_e2e_checkpoint(e2e, base);
  const auto imgs = small_images(120);
  CheckpointEvalOptions o;
  o.backbone_features = true;
  const CheckpointEvaluation r = eval_checkpoint(e2e, imgs, "", {}, o);
  CHECK(r.has_contrastive_head);
  CHECK(r.epoch == 2);
  CHECK(r.config.base_width == 4);
  CHECK(r.eval.evaluated == 120);
  CHECK(r.eval.predictions.size() == 120u);
  CHECK(r.eval.probabilities.shape() == Shape{120, 10});
  CHECK(r.eval.embeddings.shape() == Shape{120, 128});
  CHECK(r.backbone_features.shape() == Shape{120, 32});  // 8 x width 4
  CHECK(r.eval.knn_accuracy >= 0.0);
  CHECK(r.eval.knn_accuracy <= 1.0);
  CHECK(r.eval.metrics.acc > 0.0);
  CHECK(r.eval.metrics.top5 >= r.eval.metrics.acc);
  // the same numbers as the model's own forward pass in eval mode (first batch of 8 images)
  {
    const io::Checkpoint ck = io::Checkpoint::load(e2e);
    CheckpointModel m = load_checkpoint_model(ck, r.config);
    REQUIRE(m.has_contrastive_head);
    m.model->eval();
    const data::EvalView view(r.config.eval_params());
    Tensor x = Tensor::empty(Shape{8, 1, 28, 28});
    Rng unused(0);
    for (int i = 0; i < 8; ++i) view(imgs->image(i), 28, 28, 1, unused, x.data() + i * 28 * 28);
    NoGrad ng;
    const nn::End2EndOutput out = m.model->forward(x);
    const Tensor p = softmax(out.logits[0], 1);
    for (int64_t i = 0; i < 8; ++i) {
      for (int64_t k = 0; k < 10; ++k) CHECK(r.eval.probabilities.data()[i * 10 + k] == doctest::Approx(p.data()[i * 10 + k]).epsilon(1e-5));
      for (int64_t k = 0; k < 128; ++k)
        CHECK(r.eval.embeddings.data()[i * 128 + k] == doctest::Approx(out.embedding.data()[i * 128 + k]).epsilon(1e-4));
    }
  }
  // outputs
  const std::vector<std::string> files = write_eval_outputs(dir.path, r.eval, r.class_names, r.backbone_features);
  for (const char* f : {"predictions.npy", "targets.npy", "probabilities.npy", "features.npy", "backbone_features.npy",
                        "confusion.csv", "confusion.png"}) {
    CAPTURE(f);
    CHECK(std::find(files.begin(), files.end(), f) != files.end());
    CHECK(std::filesystem::exists(dir / f));
  }
  CHECK(io::read_npy(dir / "features.npy").shape == std::vector<int64_t>{120, 128});
  CHECK(io::read_npy(dir / "predictions.npy").shape == std::vector<int64_t>{120});
  CHECK(eval_json(r.eval).str().find("\"knn_accuracy\":") != std::string::npos);

  // a self-labelling checkpoint: no contrastive head -> backbone features, no kNN accuracy
  Config cfg = tiny_selflabel(base);
  cfg.selflabel.epochs = 1;
  cfg.selflabel.eval_every = 0;
  SelfLabelTrainer t(cfg, TrainData::single(imgs));
  t.set_progress_output(nullptr);
  t.load_initial_weights(io::Checkpoint::load(e2e));
  t.train_epoch();
  save_selflabel_checkpoint(dir / "sl.safetensors", t);
  const CheckpointEvaluation s = eval_checkpoint(dir / "sl.safetensors", imgs);
  CHECK_FALSE(s.has_contrastive_head);
  CHECK(s.setup == "selflabel");
  CHECK_FALSE(s.eval.embeddings.defined());
  CHECK(s.backbone_features.shape() == Shape{120, 32});
  CHECK(s.eval.knn_accuracy == -1.0);
  const EvalResult direct = t.evaluate();
  CHECK(direct.predictions == s.eval.predictions);
  CHECK(direct.metrics.acc == s.eval.metrics.acc);

  // a model-only file (no config, e.g. converted from the release): preset + shapes
  {
    Rng rng(1);
    Config other = tiny_base();
    other.base_width = 2;
    other.num_clusters = 6;
    nn::End2EndModel mm(other.model_config(), rng);
    io::save_model(dir / "plain.safetensors", mm);
    CHECK_THROWS_WITH_AS(eval_checkpoint(dir / "plain.safetensors", imgs), doctest::Contains("stores no configuration"),
                         gcc::Error);
    const CheckpointEvaluation pr = eval_checkpoint(dir / "plain.safetensors", imgs, "fashion-mnist");
    CHECK(pr.config.base_width == 2);
    CHECK(pr.config.num_clusters == 6);
    CHECK(pr.eval.probabilities.shape() == Shape{120, 6});
  }
}

TEST_CASE("eval: corrupt or truncated checkpoints, K mismatches and unknown datasets get clear errors") {
  SlTempDir dir;
  const Config base = tiny_base();
  const std::string e2e = dir / "e2e.safetensors";
  write_e2e_checkpoint(e2e, base);
  const auto imgs = small_images(40);
  const std::string good = io::read_file(e2e);
  auto put = [&](const std::string& p, const std::string& bytes) {
    std::ofstream f(p, std::ios::binary);
    f << bytes;
  };
  const std::string cut = dir / "cut.safetensors";
  put(cut, good.substr(0, good.size() / 2));
  std::string msg = error_of([&] { eval_checkpoint(cut, imgs); });
  CHECK(msg.find(cut) != std::string::npos);
  CHECK(msg.find("truncated") != std::string::npos);
  const std::string junk = dir / "junk.safetensors";
  put(junk, "this is not a checkpoint at all");
  msg = error_of([&] { eval_checkpoint(junk, imgs); });
  CHECK(msg.find(junk) != std::string::npos);
  CHECK(error_of([&] { eval_checkpoint(dir / "missing.safetensors", imgs); })
            .find("No such file or directory") != std::string::npos);
  // K
  msg = error_of([&] { eval_checkpoint(e2e, imgs, "", {{"num_clusters", "7"}}); });
  CHECK(msg.find("has K = 10 clusters") != std::string::npos);
  CHECK(msg.find("asks for K = 7") != std::string::npos);
  {
    Config cfg = tiny_selflabel(base);
    cfg.num_clusters = 4;
    SelfLabelTrainer t(cfg, TrainData::single(imgs));
    CHECK_THROWS_WITH_AS(t.load_initial_weights(io::Checkpoint::load(e2e)), doctest::Contains("has K = 10 clusters"),
                         gcc::Error);
  }
  // unknown dataset
  CHECK_THROWS_WITH_AS(eval_checkpoint(e2e, nullptr, "", {{"dataset", "mnist-xl"}}),
                       doctest::Contains("unknown dataset 'mnist-xl'"), gcc::Error);
  // a stored config with an unknown key
  {
    Rng rng(1);
    nn::End2EndModel m(base.model_config(), rng);
    io::CheckpointContents c;
    c.model = &m;
    c.config = "preset: fashion-mnist\nbase_width: 4\nlearning_rate: 3\n";
    io::save_checkpoint(dir / "badcfg.safetensors", c);
    CHECK_THROWS_WITH_AS(eval_checkpoint(dir / "badcfg.safetensors", imgs),
                         doctest::Contains("badcfg.safetensors (stored config): learning_rate: unknown key"), gcc::Error);
  }
}
