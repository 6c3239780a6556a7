// SelfLabelTrainer: GCC's optional second stage (SPEC §5, as SCAN's selflabel_train): fine-tune the
// end-to-end model on its own confident predictions. Per batch: the weak view (= evaluation view) goes
// through the network without gradient -> softmax -> mask = max prob > threshold, target = argmax; the
// strong view (flip, crop, RandAugment, Cutout) gets the class-balanced cross-entropy on the masked
// samples; Adam (lr 5e-5, betas 0.9/0.999, weight decay added to the gradient), constant lr.
//
//   gcc::io::Checkpoint init = gcc::io::Checkpoint::load("runs/fm/checkpoint.safetensors");
//   gcc::train::SelfLabelConfig cfg = gcc::train::selflabel_preset(gcc::train::checkpoint_train_config(init));
//   gcc::train::SelfLabelTrainer t(cfg, gcc::train::load_selflabel_data(cfg.base));
//   t.load_initial_weights(init);
//   t.fit([&](const gcc::train::SelfLabelEpochReport& r) { t.save_checkpoint("out/checkpoint.safetensors"); });
//
// Departures from the release, by design:
// - A batch in which no sample passes the threshold contributes no update (the release raises an error):
//   no optimizer step, no EMA step, and the BatchNorm running statistics of its weak pass are put back;
//   its strong pass is not computed. Reports count such batches.
// - The model keeps its (untrained) contrastive head so that it stays an End2EndModel, but the head is
//   neither loaded, trained nor saved: checkpoints hold backbone.* and cluster_head.* only, which is the
//   state_dict of the release's self-labelling model.
// As the release: BatchNorm runs in training mode for both passes (the weak pass under no-grad updates
// the running statistics too); only cluster head 0 is trained; with use_ema the weights become their
// EMA after every step (shadow = a·shadow + (1-a)·w; w = shadow) and the BatchNorm buffers go back to
// their values at the start of the run (SCAN's EMA.apply_shadow loads the whole state_dict it cloned).
#pragma once
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "../autograd/tape.hpp"
#include "../data/augment.hpp"
#include "../data/loader.hpp"
#include "../data/stl10.hpp"
#include "../io/checkpoint.hpp"
#include "../io/config.hpp"
#include "../io/json.hpp"
#include "../loss/confidence_ce.hpp"
#include "../nn/end2end.hpp"
#include "../ops/softmax.hpp"
#include "../optim/optimizers.hpp"
#include "config.hpp"
#include "data.hpp"
#include "end2end.hpp"
#include "evaluate.hpp"
#include "progress.hpp"

namespace gcc {
namespace train {

struct SelfLabelConfig {
  // Model, data and views (the evaluation view is the weak view): those of the end-to-end run, normally
  // read from its checkpoint (checkpoint_train_config). Its own schedule keys are not used here.
  TrainConfig base;
  std::string preset;                 // which self-labelling preset it started from ("" = none)

  int epochs = 200;                   // 200 CIFAR, 100 STL-10 (SPEC §5)
  int64_t batch_size = 1000;          // 1000 CIFAR, 500 STL-10
  bool drop_last = false;             // keep the last partial batch
  float lr = 5e-5f;                   // Adam, constant
  float beta1 = 0.9f, beta2 = 0.999f, adam_eps = 1e-8f;
  float weight_decay = 1e-4f;         // added to the gradient (torch.optim.Adam)
  float confidence_threshold = 0.98f; // mask = max prob > this
  bool class_balancing = true;        // w_c = n / n_c over the masked targets
  bool use_ema = false;
  float ema_alpha = 0.999f;
  int strong_crop = 0;                // strong view RandomCrop; 0 = the evaluation crop (must equal it)
  int num_strong_ops = 4;             // RandAugment operations per image
  int cutout = 16;                    // Cutout length L (16 CIFAR, 32 STL); 0 = off
  int eval_every = 1;                 // evaluate after every N-th epoch (and after the last); 0 = last only
  uint64_t seed = 0;                  // shuffling and augmentation (base.seed keeps choosing the subset)

  int resolved_strong_crop() const { return strong_crop > 0 ? strong_crop : base.eval_crop; }
  data::EvalParams weak_params() const { return base.eval_params(); }
  data::StrongParams strong_params() const {
    data::StrongParams s;
    s.crop = resolved_strong_crop();
    s.num_ops = num_strong_ops;
    s.cutout = cutout;
    s.channels = base.channels;
    s.mean = base.mean;
    s.std = base.std;
    return s;
  }
  bool evaluate_after(int e) const { return e == epochs - 1 || (eval_every > 0 && (e + 1) % eval_every == 0); }

  // Throws gcc::Error naming the first bad field.
  void validate() const {
    base.validate();
    auto bad = [](const char* key, const auto& v, const char* want) {
      GCC_FAIL("SelfLabelConfig: ", key, " = ", v, " is invalid: ", want);
    };
    if (epochs < 1) bad("epochs", epochs, "must be >= 1");
    if (batch_size < 1) bad("batch_size", batch_size, "must be >= 1");
    if (!(lr > 0.f)) bad("lr", lr, "must be > 0");
    if (!(beta1 >= 0.f && beta1 < 1.f)) bad("beta1", beta1, "must be in [0, 1)");
    if (!(beta2 >= 0.f && beta2 < 1.f)) bad("beta2", beta2, "must be in [0, 1)");
    if (!(adam_eps > 0.f)) bad("adam_eps", adam_eps, "must be > 0");
    if (!(weight_decay >= 0.f)) bad("weight_decay", weight_decay, "must be >= 0");
    if (!(confidence_threshold >= 0.f && confidence_threshold < 1.f))
      bad("confidence_threshold", confidence_threshold, "must be in [0, 1)");
    if (!(ema_alpha >= 0.f && ema_alpha < 1.f)) bad("ema_alpha", ema_alpha, "must be in [0, 1)");
    if (strong_crop < 0) bad("strong_crop", strong_crop, "must be >= 0 (0 = the evaluation crop)");
    if (resolved_strong_crop() != base.eval_crop)
      bad("strong_crop", resolved_strong_crop(), "must equal the evaluation crop eval_crop (both views of a sample "
          "share one batch)");
    if (num_strong_ops < 0 || num_strong_ops > data::kMaxStrongOps) bad("num_strong_ops", num_strong_ops, "must be in 0..8");
    if (cutout < 0) bad("cutout", cutout, "must be >= 0 (0 = no Cutout)");
    if (eval_every < 0) bad("eval_every", eval_every, "must be >= 0 (0 = only after the last epoch)");
  }
};

// ---- keys --------------------------------------------------------------------------------------------
namespace detail {
// The shortest decimal text that reads back to the same float (5e-05, not 4.99999987e-05).
inline std::string fmt_shortest(double x) {
  const float f = static_cast<float>(x);
  char buf[40];
  for (int prec = 1; prec <= 9; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, static_cast<double>(f));
    if (std::strtof(buf, nullptr) == f) break;
  }
  return buf;
}
}  // namespace detail

struct SelfLabelKey {
  const char* name;
  const char* help;
  std::function<void(SelfLabelConfig&, const std::string&)> set;
  std::function<std::string(const SelfLabelConfig&)> get;
};

// The self-labelling keys; every other TrainConfig key (dataset, data_root, eval_set, eval_batch_size,
// loader_threads, device, ...) is also accepted and sets `base` (see set_selflabel_key).
inline const std::vector<SelfLabelKey>& selflabel_keys() {
  using C = SelfLabelConfig;
  using S = const std::string&;
#define GCC_SL_INT(field, help)                                                                                   \
  SelfLabelKey{#field, help, [](C& c, S v) { c.field = static_cast<decltype(c.field)>(detail::parse_int(#field, v)); }, \
               [](const C& c) { return std::to_string(c.field); }}
#define GCC_SL_REAL(field, help)                                                                                   \
  SelfLabelKey{#field, help, [](C& c, S v) { c.field = static_cast<decltype(c.field)>(detail::parse_real(#field, v)); }, \
               [](const C& c) { return detail::fmt_shortest(static_cast<double>(c.field)); }}
#define GCC_SL_BOOL(field, help)                                                        \
  SelfLabelKey{#field, help, [](C& c, S v) { c.field = detail::parse_bool(#field, v); }, \
               [](const C& c) { return std::string(c.field ? "true" : "false"); }}
  static const std::vector<SelfLabelKey> keys = {
      GCC_SL_INT(epochs, "self-labelling epochs"),
      GCC_SL_INT(batch_size, "samples per step"),
      GCC_SL_BOOL(drop_last, "drop the last partial batch"),
      GCC_SL_REAL(lr, "Adam learning rate (constant)"),
      GCC_SL_REAL(beta1, "Adam beta1"),
      GCC_SL_REAL(beta2, "Adam beta2"),
      GCC_SL_REAL(adam_eps, "Adam epsilon"),
      GCC_SL_REAL(weight_decay, "L2 weight decay added to the gradient"),
      GCC_SL_REAL(confidence_threshold, "pseudo-label mask: max probability of the weak view > this"),
      GCC_SL_BOOL(class_balancing, "class-balanced cross-entropy weights n / n_c"),
      GCC_SL_BOOL(use_ema, "replace the weights by their EMA after every step (as the release)"),
      GCC_SL_REAL(ema_alpha, "EMA decay"),
      GCC_SL_INT(strong_crop, "strong view RandomCrop size (0 = eval_crop)"),
      GCC_SL_INT(num_strong_ops, "RandAugment operations per strong view"),
      GCC_SL_INT(cutout, "strong view Cutout length L (0 = off)"),
      GCC_SL_INT(eval_every, "evaluate every N epochs (0 = only after the last)"),
      GCC_SL_INT(seed, "seed of shuffling and augmentation"),
  };
#undef GCC_SL_INT
#undef GCC_SL_REAL
#undef GCC_SL_BOOL
  return keys;
}

inline const SelfLabelKey* find_selflabel_key(const std::string& key) {
  const std::string k = normalize_key(key);
  for (const SelfLabelKey& c : selflabel_keys())
    if (k == c.name) return &c;
  return nullptr;
}
inline bool is_selflabel_or_train_key(const std::string& key) {
  return find_selflabel_key(key) != nullptr || find_config_key(key) != nullptr;
}
// A self-labelling key, or else a TrainConfig key of `base`. Unknown keys throw naming the key.
inline void set_selflabel_key(SelfLabelConfig& cfg, const std::string& key, const std::string& value) {
  if (const SelfLabelKey* k = find_selflabel_key(key)) {
    k->set(cfg, value);
    return;
  }
  if (find_config_key(key)) {
    set_config_key(cfg.base, key, value);
    return;
  }
  std::string known;
  for (const SelfLabelKey& c : selflabel_keys()) known += (known.empty() ? "" : ", ") + std::string(c.name);
  GCC_FAIL("unknown self-labelling key '", key, "'; known keys: ", known, " (and the end-to-end keys of gcc_train "
           "--list-keys for the data, views and model)");
}

// The self-labelling keys as "key: value" lines after "preset: NAME" (the base config is stored apart,
// in train_config_text's form).
inline std::string selflabel_config_text(const SelfLabelConfig& cfg) {
  std::string out = "preset: " + cfg.preset + "\n";
  for (const SelfLabelKey& k : selflabel_keys()) out += std::string(k.name) + ": " + k.get(cfg) + "\n";
  return out;
}
// Reads selflabel_config_text's form back on top of cfg (base untouched).
inline void apply_selflabel_config_text(SelfLabelConfig& cfg, const std::string& text, const std::string& source) {
  std::vector<std::pair<std::string, std::string>> kv;
  std::string bad;
  GCC_CHECK(detail::flat_pairs(text, kv, &bad), source, ": expected 'key: value' lines, got '", bad, "'");
  for (const auto& p : kv) {
    if (p.first == "preset") {
      cfg.preset = p.second;
      continue;
    }
    const SelfLabelKey* k = find_selflabel_key(p.first);
    GCC_CHECK(k != nullptr, source, ": unknown self-labelling key '", p.first, "'");
    try {
      k->set(cfg, p.second);
    } catch (const Error& e) {
      GCC_FAIL(source, ": ", e.what());
    }
  }
}

// SPEC §5's settings for the dataset of `base` (the end-to-end run's config):
//   cifar-10, cifar-20                     batch 1000, 200 epochs, Cutout 16
//   stl-10, imagenet-10, imagenet-dogs     batch 500, 100 epochs, Cutout 32
//   tiny-imagenet                          batch 500, 100 epochs, Cutout 32 (no release config; as STL)
//   fashion-mnist                          the CPU default (ours): batch 500, 5 epochs, Cutout 14
// All: Adam lr 5e-5, betas (0.9, 0.999), wd 1e-4, constant lr, threshold 0.98, class balancing, no EMA,
// 4 RandAugment ops, evaluation every epoch.
inline SelfLabelConfig selflabel_preset(const TrainConfig& base) {
  SelfLabelConfig c;
  c.base = base;
  const std::string d = canonical_dataset(base.dataset);
  c.preset = d;
  c.seed = base.seed;
  if (d == "cifar-10" || d == "cifar-20") {
    c.batch_size = 1000;
    c.epochs = 200;
    c.cutout = 16;
  } else if (d == "stl-10" || d == "imagenet-10" || d == "imagenet-dogs" || d == "tiny-imagenet") {
    c.batch_size = 500;
    c.epochs = 100;
    c.cutout = 32;
  } else if (d == "fashion-mnist") {
    c.batch_size = 500;
    c.epochs = 5;
    c.cutout = 14;
  } else {
    std::string known;
    for (const std::string& n : preset_names()) known += (known.empty() ? "" : ", ") + n;
    GCC_FAIL("selflabel_preset: unknown dataset '", base.dataset, "'; known: ", known);
  }
  return c;
}
// The same starting from train_preset(name) as the base.
inline SelfLabelConfig selflabel_preset(const std::string& name) { return selflabel_preset(train_preset(name)); }

// A release-style self-labelling YAML file (configs/selflabel/*.yml, examples/configs/selflabel_*.yml) on
// top of cfg, whose base comes from the end-to-end checkpoint: the file's dataset, K, backbone, width and
// input channels must agree with it (else a gcc::Error names both); its §5 settings, views and paths are
// taken. The release's num_workers is not used (loader_threads is).
inline void apply_selflabel_release_config(SelfLabelConfig& cfg, const io::Config& rc) {
  auto given = [&](const char* k) { return rc.given.count(k) != 0; };
  GCC_CHECK(rc.setup == "selflabel", rc.source, ": setup is '", rc.setup, "'; self-labelling needs a selflabel config "
            "(e.g. examples/configs/selflabel_cifar10.yml)");
  const std::string d = canonical_dataset(rc.train_db_name);
  GCC_CHECK(!given("train_db_name") || d == canonical_dataset(cfg.base.dataset), rc.source, ": train_db_name '",
            rc.train_db_name, "' but the end-to-end checkpoint was trained on '", cfg.base.dataset, "'");
  if (given("num_classes") || given("model_kwargs.nclusters"))
    GCC_CHECK(rc.num_clusters() == cfg.base.num_clusters, rc.source, ": num_classes K = ", rc.num_clusters(),
              " does not match the end-to-end checkpoint's K = ", cfg.base.num_clusters);
  if (given("backbone"))
    GCC_CHECK(rc.backbone_preset() == cfg.base.backbone, rc.source, ": backbone '", rc.backbone, "' (", rc.backbone_preset(),
              ") does not match the end-to-end checkpoint's ", cfg.base.backbone);
  if (given("backbone_width"))
    GCC_CHECK(rc.backbone_width == cfg.base.base_width, rc.source, ": backbone_width ", rc.backbone_width,
              " does not match the end-to-end checkpoint's width ", cfg.base.base_width);
  if (given("in_channels"))
    GCC_CHECK(rc.in_channels == cfg.base.channels, rc.source, ": in_channels ", rc.in_channels,
              " does not match the end-to-end checkpoint's ", cfg.base.channels, " input channels");
  GCC_CHECK(rc.optimizer == "adam", rc.source, ": optimizer '", rc.optimizer, "': self-labelling uses adam");
  GCC_CHECK(rc.scheduler == "constant", rc.source, ": scheduler '", rc.scheduler, "': self-labelling uses a constant lr");
  GCC_CHECK(rc.criterion == "confidence-cross-entropy", rc.source, ": criterion '", rc.criterion,
            "': self-labelling uses confidence-cross-entropy");
  const auto& cut = rc.augmentation_kwargs.cutout_kwargs;
  GCC_CHECK(cut.n_holes == 1 && cut.random, rc.source, ": augmentation_kwargs.cutout_kwargs: only one hole of random "
            "length (n_holes: 1, random: True) is implemented");
  if (given("augmentation_strategy"))
    GCC_CHECK(rc.augmentation_strategy == "ours", rc.source, ": augmentation_strategy '", rc.augmentation_strategy,
              "': self-labelling's strong view is 'ours'");
  cfg.epochs = static_cast<int>(rc.epochs);
  cfg.batch_size = rc.batch_size;
  cfg.lr = static_cast<float>(rc.optimizer_kwargs.lr);
  cfg.beta1 = static_cast<float>(rc.optimizer_kwargs.betas.at(0));
  cfg.beta2 = static_cast<float>(rc.optimizer_kwargs.betas.at(1));
  cfg.adam_eps = static_cast<float>(rc.optimizer_kwargs.eps);
  cfg.weight_decay = static_cast<float>(rc.optimizer_kwargs.weight_decay);
  cfg.confidence_threshold = static_cast<float>(rc.confidence_threshold);
  cfg.class_balancing = rc.criterion_kwargs.apply_class_balancing;
  cfg.use_ema = rc.use_ema;
  cfg.ema_alpha = static_cast<float>(rc.ema_alpha);
  cfg.num_strong_ops = static_cast<int>(rc.augmentation_kwargs.num_strong_augs);
  cfg.cutout = static_cast<int>(cut.length);
  if (given("augmentation_kwargs.crop_size")) cfg.strong_crop = static_cast<int>(rc.augmentation_kwargs.crop_size);
  if (given("transformation_kwargs.resize")) cfg.base.eval_resize = static_cast<int>(rc.transformation_kwargs.resize);
  if (given("transformation_kwargs.crop_size")) cfg.base.eval_crop = static_cast<int>(rc.transformation_kwargs.crop_size);
  if (given("transformation_kwargs.normalize.mean")) cfg.base.mean = detail::triple(rc.transformation_kwargs.normalize.mean);
  if (given("transformation_kwargs.normalize.std")) cfg.base.std = detail::triple(rc.transformation_kwargs.normalize.std);
  for (const char* k : {"mean", "std"}) {
    const std::string path = std::string("augmentation_kwargs.normalize.") + k;
    if (!rc.given.count(path)) continue;
    const std::array<float, 3> v =
        detail::triple(std::string(k) == "mean" ? rc.augmentation_kwargs.normalize.mean : rc.augmentation_kwargs.normalize.std);
    const std::array<float, 3>& have = std::string(k) == "mean" ? cfg.base.mean : cfg.base.std;
    for (int c = 0; c < cfg.base.channels; ++c)
      GCC_CHECK(std::fabs(v[static_cast<std::size_t>(c)] - have[static_cast<std::size_t>(c)]) < 1e-6f, rc.source, ": ",
                path, " differs from transformation_kwargs.normalize.", k, " (or the checkpoint's); the weak and "
                "strong views are normalised alike");
  }
  if (given("eval_period")) cfg.eval_every = static_cast<int>(rc.eval_period);
  if (given("eval_batch_size") && rc.eval_batch_size > 0) cfg.base.eval_batch_size = rc.eval_batch_size;
  if (given("subset_size")) cfg.base.train_subset = rc.subset_size;
  if (given("dataset_root")) cfg.base.data_root = rc.dataset_root;
  if (given("seed")) cfg.seed = rc.seed;
  if (given("device") && rc.device != "auto") cfg.base.device = rc.device;
}

// The images self-labelling trains on (train) and evaluates on (eval): the end-to-end run's phase-2 set
// and evaluation set. STL-10 reads only train+test (13,000), not the 113,000 images of phase 1.
inline TrainData load_selflabel_data(const TrainConfig& base) {
  if (canonical_dataset(base.dataset) == "stl-10") {
    GCC_CHECK(base.train_subset == 0, "load_selflabel_data: train_subset is not supported for stl-10; set it to 0");
    return TrainData::single(std::make_shared<const ImageDataset>(read_stl10(base.data_root, "train+test")));
  }
  return load_train_data(base);
}

// ---- the trainer -------------------------------------------------------------------------------------

struct SelfLabelEpochReport {
  int epoch = 0;
  float lr = 0;
  bool complete = true;              // false: stopped early (request_stop)
  int64_t steps = 0;                 // batches seen in this call
  int64_t updates = 0;               // batches that updated the model
  int64_t skipped = 0;               // batches without a confident sample: no update
  int64_t samples = 0, confident = 0;
  double mean_loss = 0;              // over the updating batches
  double confident_fraction = 0;     // confident / samples
  double seconds = 0, images_per_second = 0;  // images: 2 per sample (weak + strong)
  bool evaluated = false;
  EvalResult eval;
  bool best_so_far = false;          // label-selected
};

struct SelfLabelState {
  int next_epoch = 0;
  int64_t next_step = 0;             // > 0 when stopped inside next_epoch
  int64_t global_step = 0;           // batches processed
  int64_t updates = 0;               // optimizer steps taken
  int64_t skipped_batches = 0;       // batches without a confident sample, over the run
  double best_acc = -1, best_nmi = 0, best_ari = 0;
  int best_epoch = -1;
};

class SelfLabelTrainer {
 public:
  SelfLabelTrainer(SelfLabelConfig cfg, TrainData data) : cfg_(std::move(cfg)), data_(std::move(data)), progress_(stderr) {
    cfg_.validate();
    data_.validate();
    device_ = End2EndTrainer::parse_device(cfg_.base.device);
    Rng rng(cfg_.base.seed);
    model_ = std::make_unique<nn::End2EndModel>(cfg_.base.model_config(), rng);
    if (!device_.is_cpu()) model_->to(device_);
    model_->train();
    opt_ = std::make_unique<Adam>(trained_parameters(), cfg_.lr, cfg_.beta1, cfg_.beta2, cfg_.adam_eps, cfg_.weight_decay);
    if (cfg_.use_ema) reset_ema();
  }

  // ---- access --------------------------------------------------------------------------------------
  const SelfLabelConfig& config() const { return cfg_; }
  const TrainData& data() const { return data_; }
  nn::End2EndModel& model() { return *model_; }
  Adam& optimizer() { return *opt_; }
  const SelfLabelState& state() const { return st_; }
  int next_epoch() const { return st_.next_epoch; }
  int64_t next_step() const { return st_.next_step; }
  bool finished() const { return st_.next_epoch >= cfg_.epochs; }
  ProgressLine& progress() { return progress_; }
  void set_progress_output(FILE* out) { progress_.set_output(out); }
  void set_stop_flag(const std::atomic<bool>* flag) { stop_flag_ = flag; }
  void set_state(const SelfLabelState& s) {
    GCC_CHECK(s.next_epoch >= 0 && s.next_step >= 0, "SelfLabelTrainer::set_state: bad position (epoch ", s.next_epoch,
              ", step ", s.next_step, ")");
    st_ = s;
  }

  // The parameters self-labelling trains: the backbone and cluster head 0.
  std::vector<NamedTensor> trained_parameters() const {
    std::vector<NamedTensor> out;
    for (const NamedTensor& p : model_->named_parameters())
      if (p.name.rfind("backbone.", 0) == 0 || p.name.rfind("cluster_head.0.", 0) == 0) out.push_back(p);
    return out;
  }

  // Loads the end-to-end run's weights (its contrastive head, if any, is ignored). Throws naming both K
  // when the checkpoint's cluster head does not have this config's K.
  void load_initial_weights(const io::Checkpoint& ck) {
    check_checkpoint_clusters(ck, cfg_.base.num_clusters, "the self-labelling config (num_clusters)");
    ck.load_model(*model_, io::ModelLoadOptions::without_contrastive_head());
    if (cfg_.use_ema) reset_ema();
  }

  // Writes a resumable checkpoint atomically (refused, keeping the previous file, if a weight is not
  // finite): backbone.* and cluster_head.* (release names), Adam's moments, epoch and step, the base
  // config ("config", train_config_text's form) and the self-labelling config ("selflabel.config").
  void save_checkpoint(const std::string& path, const std::map<std::string, std::string>& extra_metadata = {}) const {
    io::CheckpointContents c;
    c.model = model_.get();
    c.optimizer = opt_.get();
    c.epoch = st_.next_epoch;
    c.global_step = st_.global_step;
    c.config = train_config_text(cfg_.base, "model, data and views of the end-to-end run (gcc_selflabel)");
    c.metadata = extra_metadata;
    c.metadata["setup"] = "selflabel";
    c.metadata["selflabel.config"] = selflabel_config_text(cfg_);
    c.metadata["next_step"] = std::to_string(st_.next_step);
    c.metadata["updates"] = std::to_string(st_.updates);
    c.metadata["skipped_batches"] = std::to_string(st_.skipped_batches);
    c.metadata["best_epoch"] = std::to_string(st_.best_epoch);
    c.metadata["best_acc"] = io::json_number(st_.best_acc);
    c.metadata["best_nmi"] = io::json_number(st_.best_nmi);
    c.metadata["best_ari"] = io::json_number(st_.best_ari);
    io::Safetensors st = io::checkpoint_safetensors(c);
    const std::vector<std::string> names = st.names();
    for (const std::string& n : names)
      if (n.rfind("contrastive_head.", 0) == 0) st.remove(n);
    st.set_metadata("model_modules", "backbone,cluster_head");
    st.save(path, "SelfLabelTrainer::save_checkpoint");
  }

  // Restores weights, Adam state and position from a checkpoint written by save_checkpoint.
  void resume_from(const io::Checkpoint& ck) {
    GCC_CHECK(ck.file().has_metadata("setup") && ck.file().metadata("setup") == "selflabel", "SelfLabelTrainer: '",
              ck.path(), "' is not a self-labelling checkpoint (start from it with load_initial_weights instead)");
    check_checkpoint_clusters(ck, cfg_.base.num_clusters, "the self-labelling config (num_clusters)");
    ck.load_model(*model_, io::ModelLoadOptions::without_contrastive_head());
    ck.load_optimizer(*opt_);
    SelfLabelState s;
    s.next_epoch = static_cast<int>(ck.epoch());
    s.global_step = ck.global_step();
    auto meta_int = [&](const char* k) -> int64_t {
      const std::string& v = ck.file().metadata(k);
      try {
        return std::stoll(v);
      } catch (const std::exception&) {
        GCC_FAIL("SelfLabelTrainer: '", ck.path(), "': metadata ", k, " = '", v, "' is not an integer");
      }
    };
    auto meta_real = [&](const char* k) -> double {
      const std::string& v = ck.file().metadata(k);
      if (v == "null") return -1.0;
      try {
        return std::stod(v);
      } catch (const std::exception&) {
        GCC_FAIL("SelfLabelTrainer: '", ck.path(), "': metadata ", k, " = '", v, "' is not a number");
      }
    };
    s.next_step = meta_int("next_step");
    s.updates = meta_int("updates");
    s.skipped_batches = meta_int("skipped_batches");
    s.best_epoch = static_cast<int>(meta_int("best_epoch"));
    s.best_acc = meta_real("best_acc");
    s.best_nmi = meta_real("best_nmi");
    s.best_ari = meta_real("best_ari");
    set_state(s);
    if (cfg_.use_ema) reset_ema();  // the weights are the EMA (see the header comment)
  }

  // ---- training --------------------------------------------------------------------------------------
  void fit(const std::function<void(const SelfLabelEpochReport&)>& on_epoch = nullptr) {
    while (!finished()) {
      SelfLabelEpochReport r = train_epoch();
      if (on_epoch) on_epoch(r);
      if (!r.complete || (stop_flag_ && stop_flag_->load())) return;
    }
  }

  // One epoch from next_step(); evaluates when the schedule says so. Throws TrainingDiverged on a
  // non-finite loss or weak-view output (nothing of that step is applied).
  SelfLabelEpochReport train_epoch() {
    GCC_CHECK(!finished(), "SelfLabelTrainer::train_epoch: all ", cfg_.epochs, " epochs are done");
    const int e = st_.next_epoch;
    SelfLabelEpochReport rep;
    rep.epoch = e;
    rep.lr = cfg_.lr;
    opt_->set_lr(cfg_.lr);
    model_->train();
    Loader& loader = this->loader();
    const int64_t nsteps = loader.batches_per_epoch();
    loader.start_epoch(e);
    Batch b;
    for (int64_t s = 0; s < st_.next_step; ++s)
      GCC_CHECK(loader.next(b), "SelfLabelTrainer: cannot skip to step ", st_.next_step, " of ", nsteps);
    const auto t0 = std::chrono::steady_clock::now();
    double loss_sum = 0;
    int64_t step = st_.next_step;
    bool stopped = false;
    while (loader.next(b)) {
      const StepResult r = train_step(b, e, step);
      ++step;
      st_.next_step = step;
      ++st_.global_step;
      ++rep.steps;
      rep.samples += b.size();
      rep.confident += r.confident;
      if (r.applied) {
        ++rep.updates;
        ++st_.updates;
        loss_sum += r.loss;
      } else {
        ++rep.skipped;
        ++st_.skipped_batches;
      }
      const double dt = seconds_since(t0);
      progress_.bar(step == nsteps, "selflabel epoch %d/%d step %lld/%lld  loss %.4f  confident %.1f%%  no-confident batches %lld  lr %.3g  %.0f img/s",
                    e + 1, cfg_.epochs, static_cast<long long>(step), static_cast<long long>(nsteps), r.loss,
                    100.0 * static_cast<double>(r.confident) / static_cast<double>(std::max<int64_t>(1, b.size())),
                    static_cast<long long>(rep.skipped), static_cast<double>(cfg_.lr),
                    dt > 0 ? 2.0 * static_cast<double>(rep.samples) / dt : 0.0);
      if (stop_flag_ && stop_flag_->load()) {
        stopped = step < nsteps;
        break;
      }
    }
    rep.seconds = seconds_since(t0);
    rep.images_per_second = rep.seconds > 0 ? 2.0 * static_cast<double>(rep.samples) / rep.seconds : 0;
    rep.mean_loss = rep.updates > 0 ? loss_sum / static_cast<double>(rep.updates) : 0;
    rep.confident_fraction = rep.samples > 0 ? static_cast<double>(rep.confident) / static_cast<double>(rep.samples) : 0;
    if (stopped) {
      rep.complete = false;
      progress_.line("selflabel epoch %d/%d stopped after step %lld of %lld", e + 1, cfg_.epochs,
                     static_cast<long long>(st_.next_step), static_cast<long long>(nsteps));
      return rep;
    }
    st_.next_epoch = e + 1;
    st_.next_step = 0;
    if (cfg_.evaluate_after(e)) {
      rep.evaluated = true;
      rep.eval = evaluate(e);
      if (rep.eval.metrics.acc > st_.best_acc) {
        st_.best_acc = rep.eval.metrics.acc;
        st_.best_nmi = rep.eval.metrics.nmi;
        st_.best_ari = rep.eval.metrics.ari;
        st_.best_epoch = e;
        rep.best_so_far = true;
      }
    }
    summary_line(rep);
    return rep;
  }

  // Cluster-head argmax over the evaluation set (evaluation views, BatchNorm in eval mode).
  EvalResult evaluate(int epoch = -1) {
    EvalOptions o = eval_options(cfg_.base);
    o.embeddings = false;  // the contrastive head is not part of self-labelling
    o.progress = &progress_;
    EvalResult r = evaluate_model(*model_, *data_.eval, o);
    r.epoch = epoch;
    return r;
  }

  struct StepResult {
    double loss = 0;        // 0 when not applied
    int64_t confident = 0;  // samples above the threshold
    bool applied = false;   // false: no confident sample, nothing changed
  };

  // One batch: views[0] weak, views[1] strong.
  StepResult train_step(const Batch& b, int e, int64_t step) {
    GCC_CHECK(b.views.size() == 2, "SelfLabelTrainer::train_step: expected 2 views (weak, strong), got ", b.views.size());
    const std::vector<NamedTensor> buffers = model_->named_buffers();
    std::vector<Tensor> saved;
    saved.reserve(buffers.size());
    for (const NamedTensor& t : buffers) saved.push_back(t.tensor.clone());
    auto put_back_buffers = [&] {
      for (std::size_t i = 0; i < buffers.size(); ++i) buffers[i].tensor.copy_from(saved[i]);
    };
    StepResult r;
    Tensor weak;
    {
      NoGrad ng;
      weak = model_->head(0).forward(model_->features(on_device(b.views[0]))).detach();
      const Tensor p = softmax(weak, 1).to(Device::cpu()).contiguous();
      const int64_t n = p.size(0), K = p.size(1);
      for (int64_t i = 0; i < n; ++i) {
        const float* row = p.data() + i * K;
        float best = row[0];
        bool finite = std::isfinite(row[0]);
        for (int64_t k = 1; k < K; ++k) {
          finite = finite && std::isfinite(row[k]);
          best = std::max(best, row[k]);
        }
        if (!finite) {
          put_back_buffers();
          diverged(e, step, "the weak view's cluster probabilities are not finite");
        }
        r.confident += best > cfg_.confidence_threshold;
      }
    }
    if (r.confident == 0) {  // no pseudo-label: no update at all (the release raises an error here)
      put_back_buffers();
      return r;
    }
    const Tensor strong = model_->head(0).forward(model_->features(on_device(b.views[1])));
    const ConfidenceCeLoss c = confidence_ce_loss(weak, strong, cfg_.confidence_threshold, cfg_.class_balancing);
    GCC_CHECK(c.masked == r.confident, "SelfLabelTrainer: mask count ", c.masked, " differs from ", r.confident);
    r.loss = c.loss.item();
    if (!std::isfinite(r.loss)) {
      put_back_buffers();
      diverged(e, step, "loss " + std::to_string(r.loss) + " over " + std::to_string(c.masked) + " confident samples");
    }
    opt_->zero_grad();
    c.loss.backward();
    opt_->step();
    opt_->zero_grad();
    if (ema_) {
      ema_->update();
      const std::vector<NamedTensor>& sh = ema_->shadow();
      const std::vector<NamedTensor>& ps = opt_->params();
      for (std::size_t i = 0; i < ps.size(); ++i) ps[i].tensor.detach().copy_from(sh[i].tensor);
      for (std::size_t i = 0; i < buffers.size(); ++i) buffers[i].tensor.copy_from(ema_buffers_[i]);
    }
    r.applied = true;
    return r;
  }

 private:
  static double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  Tensor on_device(const Tensor& t) const { return device_.is_cpu() ? t : t.to(device_); }

  void reset_ema() {
    ema_ = std::make_unique<Ema>(opt_->params(), cfg_.ema_alpha);
    ema_buffers_.clear();
    for (const NamedTensor& t : model_->named_buffers()) ema_buffers_.push_back(t.tensor.clone());
  }

  [[noreturn]] void diverged(int e, int64_t step, const std::string& what) const {
    throw TrainingDiverged("self-labelling diverged at epoch " + std::to_string(e + 1) + "/" +
                               std::to_string(cfg_.epochs) + " (0-based " + std::to_string(e) + "), step " +
                               std::to_string(step) + ": " + what +
                               ". The step was not applied; the last checkpoint is the last good state. Try a lower "
                               "lr (now " + detail::fmt_shortest(cfg_.lr) + ").",
                           e, step);
  }

  Loader& loader() {
    if (loader_) return *loader_;
    LoaderOptions o;
    o.batch_size = cfg_.batch_size;
    o.views = 2;
    o.channels = cfg_.base.channels;
    o.size = cfg_.base.eval_crop;
    o.shuffle = true;
    o.drop_last = cfg_.drop_last;
    o.seed = cfg_.seed;
    o.threads = cfg_.base.loader_threads;
    const data::EvalView weak(cfg_.weak_params());
    const data::StrongView strong(cfg_.strong_params());
    const ImageDataset& d = *data_.phase2;
    GCC_CHECK(!cfg_.drop_last || cfg_.batch_size <= d.n, "SelfLabelTrainer: drop_last with batch ", cfg_.batch_size,
              " leaves no batch of the ", d.n, " images");
    loader_ = std::make_unique<Loader>(d, std::vector<ViewFn>{ViewFn(weak), ViewFn(strong)}, o);
    return *loader_;
  }

  void summary_line(const SelfLabelEpochReport& r) {
    char extra[256] = "";
    if (r.evaluated)
      std::snprintf(extra, sizeof extra, "  | ACC %.4f NMI %.4f ARI %.4f top-5 %.4f (%.0f s)", r.eval.metrics.acc,
                    r.eval.metrics.nmi, r.eval.metrics.ari, r.eval.metrics.top5, r.eval.seconds);
    progress_.line("selflabel epoch %d/%d  loss %.4f  confident %.1f%%  updates %lld  no-confident batches %lld  "
                   "lr %.3g  %.0f img/s  %.1f s%s",
                   r.epoch + 1, cfg_.epochs, r.mean_loss, 100.0 * r.confident_fraction, static_cast<long long>(r.updates),
                   static_cast<long long>(r.skipped), static_cast<double>(r.lr), r.images_per_second, r.seconds, extra);
  }

  SelfLabelConfig cfg_;
  TrainData data_;
  Device device_;
  std::unique_ptr<nn::End2EndModel> model_;
  std::unique_ptr<Adam> opt_;
  std::unique_ptr<Ema> ema_;
  std::vector<Tensor> ema_buffers_;  // BatchNorm buffers at the start (restored after each EMA step)
  std::unique_ptr<Loader> loader_;
  SelfLabelState st_;
  const std::atomic<bool>* stop_flag_ = nullptr;
  ProgressLine progress_;
};

}  // namespace train
}  // namespace gcc
