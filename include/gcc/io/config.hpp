// Experiment configuration: the release's YAML experiment files (configs/end2end/*.yml and
// configs/selflabel/*.yml) read as they are with yaml-cpp, the toolkit's own keys, --key.sub=value
// command-line overrides, and errors that name the file (or the override) and the key path.
#pragma once
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "../core/error.hpp"
#include "atomic_file.hpp"
#include "json.hpp"

namespace gcc {
namespace io {

// Every key the toolkit reads, with its YAML path. Defaults are SPEC §4 (CIFAR-10, end-to-end); a file
// that names another dataset or setup starts from that dataset's defaults instead (see
// Config::defaults), so a file that leaves a key out gets the release's value for its dataset.
// `config_reference()` prints this list with types, defaults and one line of documentation per key.
struct Config {
  struct Normalize {
    std::vector<double> mean = {0.4914, 0.4822, 0.4465};  // per channel
    std::vector<double> std = {0.2023, 0.1994, 0.2010};
  };
  struct ModelKwargs {
    std::string head = "mlp";      // contrastive head: Linear(f, f) -> ReLU -> Linear(f, features_dim)
    int64_t features_dim = 128;    // embedding dimension of the contrastive head
    int64_t nheads = 1;            // cluster heads
    int64_t nclusters = 10;        // K, the number of clusters (defaults to num_classes)
  };
  struct CriterionKwargs {
    double temperature = 0.1;            // tau of the RGC loss
    double entropy_weight = 2.0;         // lambda of the AGC balance term
    bool apply_class_balancing = true;   // self-labelling: class-balanced weights (SPEC §5)
  };
  struct OptimizerKwargs {
    double lr = 0.4;
    double momentum = 0.9;               // SGD
    double weight_decay = 1e-4;
    bool nesterov = false;               // SGD; only false is implemented
    std::vector<double> betas = {0.9, 0.999};  // Adam
    double eps = 1e-8;                   // Adam
  };
  struct SchedulerKwargs {
    double lr_decay_rate = 0.1;          // cosine floor = lr * lr_decay_rate^3; step: factor per milestone
    std::vector<int64_t> lr_decay_epochs;  // step schedule milestones
  };
  struct RandomResizedCrop {
    int64_t size = 32;
    std::vector<double> scale = {0.2, 1.0};
    std::vector<double> ratio = {3.0 / 4.0, 4.0 / 3.0};
  };
  struct ColorJitter {
    double brightness = 0.4, contrast = 0.4, saturation = 0.4, hue = 0.1;
  };
  struct Cutout {
    int64_t n_holes = 1;
    int64_t length = 16;
    bool random = true;
  };
  struct AugmentationKwargs {
    // "simclr" (end-to-end training views, SPEC §3)
    RandomResizedCrop random_resized_crop;
    double color_jitter_random_apply_p = 0.8;   // YAML: color_jitter_random_apply.p
    ColorJitter color_jitter;
    double random_grayscale_p = 0.2;            // YAML: random_grayscale.p
    Normalize normalize;
    // "ours" (self-labelling strong view, SPEC §3)
    int64_t crop_size = 32;
    int64_t num_strong_augs = 4;
    Cutout cutout_kwargs;
  };
  struct TransformationKwargs {  // evaluation view: resize shorter side, centre crop, normalise
    int64_t resize = 40;
    int64_t crop_size = 32;
    Normalize normalize;
  };

  // ---- the release's keys -------------------------------------------------------------------------
  std::string setup = "end2end";              // end2end | selflabel
  std::string backbone = "resnet18";          // resnet18 | resnet34 | resnet50, or a full preset name
  ModelKwargs model_kwargs;
  std::string train_db_name = "cifar-10";
  std::string val_db_name = "cifar-10";
  int64_t num_classes = 10;
  int64_t num_neighbors = 5;
  std::string criterion = "end2end";          // end2end | confidence-cross-entropy
  CriterionKwargs criterion_kwargs;
  int64_t epochs = 1000;
  std::string optimizer = "sgd";              // sgd | adam
  OptimizerKwargs optimizer_kwargs;
  std::string scheduler = "cosine";           // cosine | constant | step
  SchedulerKwargs scheduler_kwargs;
  int64_t batch_size = 256;
  int64_t num_workers = 8;
  std::string augmentation_strategy = "simclr";  // simclr | ours | standard
  AugmentationKwargs augmentation_kwargs;
  TransformationKwargs transformation_kwargs;
  // self-labelling (configs/selflabel/*.yml)
  double confidence_threshold = 0.98;
  bool use_ema = false;
  double ema_alpha = 0.999;
  int64_t num_heads = 1;

  // ---- the toolkit's own keys ---------------------------------------------------------------------
  int64_t phase_switch_epoch = 50;  // last epoch of phase 1 (SPEC: e <= 50); the first refresh ends it
  int64_t refresh_period = 5;       // kNN refresh at the end of epochs e >= switch, (e - switch) % period == 0
  int64_t memory_slots = 4;         // embeddings kept per sample in the feature memory
  double rgc_weight = 2.0;          // phase-2 loss = rgc_weight * L_RGC + agc_weight * L_AGC
  double agc_weight = 1.0;
  int64_t eval_period = 5;          // evaluate every eval_period epochs (e > 0) and after the last
  int64_t checkpoint_period = 1;    // write the resume checkpoint every N epochs (and at the end / Ctrl-C)
  int64_t eval_batch_size = 0;      // 0: batch_size
  int64_t subset_size = 0;          // 0: the whole training set; else a seeded subset of this many images
  int64_t backbone_width = 64;      // base width (stage widths w, 2w, 4w, 8w): 64 is the release
  int64_t in_channels = 3;          // 1 for (Fashion-)MNIST
  std::string dataset_root = "data";
  std::string output_dir;           // empty: output/<setup>_<train_db_name>
  std::string init_checkpoint;      // self-labelling: the end-to-end checkpoint to start from
  std::string device = "auto";      // auto | cpu | cuda | cuda:N
  uint64_t seed = 0;
  int64_t threads = 0;              // compute threads; 0: all cores

  // Where this configuration came from (file name or "(defaults)") and the key paths set explicitly
  // (by the file or an override), e.g. {"batch_size", "criterion_kwargs.temperature"}.
  std::string source = "(defaults)";
  std::set<std::string> given;

  // ---- derived values -----------------------------------------------------------------------------
  // K: clusters of the model's cluster head(s).
  int64_t num_clusters() const { return setup == "selflabel" ? num_classes : model_kwargs.nclusters; }
  // Cluster heads: model_kwargs.nheads (end-to-end) or num_heads (self-labelling).
  int64_t heads() const { return setup == "selflabel" ? num_heads : model_kwargs.nheads; }
  // The nn::ResNetConfig::preset name: "resnet18" + "-cifar" for CIFAR / (Fashion-)MNIST, "-stl" for the
  // 96/64-pixel datasets, as the release's get_model chooses; a name with a '-' is taken as it is.
  std::string backbone_preset() const {
    if (backbone.find('-') != std::string::npos) return backbone;
    const bool small = train_db_name == "cifar-10" || train_db_name == "cifar-20" || train_db_name == "fashion-mnist" ||
                       train_db_name == "mnist";
    return backbone + (small ? "-cifar" : "-stl");
  }
  std::string resolved_output_dir() const { return output_dir.empty() ? "output/" + setup + "_" + train_db_name : output_dir; }
  int64_t resolved_eval_batch_size() const { return eval_batch_size > 0 ? eval_batch_size : batch_size; }

  // Defaults for a dataset and setup (SPEC §3-§5 and the release's configs): K, batch size, crop and
  // resize sizes, normalisation, backbone, epochs; self-labelling: Adam 5e-5, constant lr, "ours"
  // augmentation, Cutout length. Unknown dataset or setup: gcc::Error listing the known ones.
  static Config defaults(const std::string& train_db_name = "cifar-10", const std::string& setup = "end2end");

  // The whole configuration as YAML (every key, the release's layout), which load_config_string reads
  // back to an equal Config. Stored in checkpoints.
  std::string to_yaml() const;
};

// Dataset names the toolkit knows (the release's spelling); aliases such as "imagenet-10" are accepted
// and canonicalised.
inline const std::vector<std::string>& config_datasets() {
  static const std::vector<std::string> d = {"cifar-10", "cifar-20", "stl-10", "imagenet10", "imagenet_dogs",
                                             "tiny_imagenet", "fashion-mnist", "mnist"};
  return d;
}
inline std::string canonical_dataset(const std::string& s) {
  static const std::map<std::string, std::string> alias = {
      {"cifar10", "cifar-10"},       {"cifar20", "cifar-20"},          {"cifar-100-20", "cifar-20"},
      {"stl10", "stl-10"},           {"imagenet-10", "imagenet10"},    {"imagenet_10", "imagenet10"},
      {"imagenet-dogs", "imagenet_dogs"}, {"imagenetdogs", "imagenet_dogs"}, {"tiny-imagenet", "tiny_imagenet"},
      {"tinyimagenet", "tiny_imagenet"},  {"fashion_mnist", "fashion-mnist"}, {"fashionmnist", "fashion-mnist"}};
  auto it = alias.find(s);
  return it == alias.end() ? s : it->second;
}

inline Config Config::defaults(const std::string& db_in, const std::string& setup_in) {
  const std::string db = canonical_dataset(db_in);
  bool known = false;
  for (const std::string& d : config_datasets()) known = known || d == db;
  std::string list;
  for (const std::string& d : config_datasets()) list += (list.empty() ? "" : ", ") + d;
  GCC_CHECK(known, "Config: unknown dataset '", db_in, "' (known: ", list, ")");
  GCC_CHECK(setup_in == "end2end" || setup_in == "selflabel", "Config: unknown setup '", setup_in,
            "' (known: end2end, selflabel)");
  Config c;
  c.setup = setup_in;
  c.train_db_name = c.val_db_name = db;
  const std::vector<double> imagenet_mean = {0.485, 0.456, 0.406}, imagenet_std = {0.229, 0.224, 0.225};
  const bool selflabel = setup_in == "selflabel";
  int64_t crop = 32, resize = 40, k = 10, batch = 256, sl_batch = 1000, sl_epochs = 200, cut = 16;
  std::vector<double> mean = {0.4914, 0.4822, 0.4465}, stdv = {0.2023, 0.1994, 0.2010};
  if (db == "cifar-20") {
    k = 20;
    // SPEC §3: CIFAR-20 uses CIFAR-10's normalisation. (Some copies of the release's cifar-20 config are
    // remembered with CIFAR-100's statistics, 0.5071/0.2675...; the SPEC is the reference here. Override
    // augmentation_kwargs.normalize.* to use those.)
  } else if (db == "stl-10" || db == "imagenet10" || db == "imagenet_dogs") {
    crop = 96;
    resize = 112;
    k = db == "imagenet_dogs" ? 15 : 10;
    batch = 96;
    sl_batch = 500;
    sl_epochs = 100;
    cut = 32;
    mean = imagenet_mean;
    stdv = imagenet_std;
  } else if (db == "tiny_imagenet") {
    crop = 64;
    resize = 80;
    k = 200;
    batch = 128;
    sl_batch = 500;
    sl_epochs = 100;
    cut = 32;
    mean = imagenet_mean;
    stdv = imagenet_std;
    c.backbone = "resnet34";
  } else if (db == "fashion-mnist" || db == "mnist") {  // the toolkit's CPU datasets (no release config)
    crop = resize = 28;
    cut = 14;
    c.in_channels = 1;
    c.backbone_width = 16;
    mean = {db == "mnist" ? 0.1307 : 0.2860};
    stdv = {db == "mnist" ? 0.3081 : 0.3530};
  }
  c.num_classes = k;
  c.model_kwargs.nclusters = k;
  c.batch_size = selflabel ? sl_batch : batch;
  c.augmentation_kwargs.random_resized_crop.size = crop;
  c.augmentation_kwargs.crop_size = crop;
  c.augmentation_kwargs.cutout_kwargs.length = cut;
  c.augmentation_kwargs.normalize = Normalize{mean, stdv};
  c.transformation_kwargs.resize = resize;
  c.transformation_kwargs.crop_size = crop;
  c.transformation_kwargs.normalize = Normalize{mean, stdv};
  if (selflabel) {
    c.criterion = "confidence-cross-entropy";
    c.epochs = sl_epochs;
    c.optimizer = "adam";
    c.optimizer_kwargs.lr = 5e-5;
    c.optimizer_kwargs.weight_decay = 1e-4;
    c.scheduler = "constant";
    c.augmentation_strategy = "ours";
  }
  c.source = "(defaults for " + db + ", " + setup_in + ")";
  return c;
}

// ---- the key table ---------------------------------------------------------------------------------
enum class ConfigType { Int, UInt, Double, Bool, String, DoubleList, IntList };
struct ConfigField {
  const char* path;
  ConfigType type;
  void* (*get)(Config&);
  const char* doc;
};

template <ConfigType T> struct ConfigCType;
template <> struct ConfigCType<ConfigType::Int> { using type = int64_t; };
template <> struct ConfigCType<ConfigType::UInt> { using type = uint64_t; };
template <> struct ConfigCType<ConfigType::Double> { using type = double; };
template <> struct ConfigCType<ConfigType::Bool> { using type = bool; };
template <> struct ConfigCType<ConfigType::String> { using type = std::string; };
template <> struct ConfigCType<ConfigType::DoubleList> { using type = std::vector<double>; };
template <> struct ConfigCType<ConfigType::IntList> { using type = std::vector<int64_t>; };

// The member's C++ type is checked against the declared YAML type at compile time.
#define GCC_CONFIG_FIELD(path, ytype, member, doc)                                                       \
  ConfigField {                                                                                         \
    path, ConfigType::ytype,                                                                            \
        [](Config& c) -> void* {                                                                        \
          static_assert(std::is_same<decltype(c.member), ConfigCType<ConfigType::ytype>::type>::value,  \
                        "config field " path ": member type does not match its ConfigType");             \
          return &c.member;                                                                             \
        },                                                                                              \
        doc                                                                                             \
  }


inline const std::vector<ConfigField>& config_fields() {
  static const std::vector<ConfigField> f = {
      GCC_CONFIG_FIELD("setup", String, setup, "end2end (SPEC §4) or selflabel (SPEC §5)"),
      GCC_CONFIG_FIELD("backbone", String, backbone,
                       "resnet18 | resnet34 | resnet50 (-cifar for CIFAR/MNIST, -stl otherwise, as the release "
                       "chooses) or a full name: resnet18-cifar, resnet34-cifar, resnet50-cifar, resnet18-stl, resnet34-stl"),
      GCC_CONFIG_FIELD("model_kwargs.head", String, model_kwargs.head, "contrastive head: mlp (Linear-ReLU-Linear)"),
      GCC_CONFIG_FIELD("model_kwargs.features_dim", Int, model_kwargs.features_dim, "embedding dimension (128)"),
      GCC_CONFIG_FIELD("model_kwargs.nheads", Int, model_kwargs.nheads, "cluster heads of the end-to-end model"),
      GCC_CONFIG_FIELD("model_kwargs.nclusters", Int, model_kwargs.nclusters, "K, clusters per head (default: num_classes)"),
      GCC_CONFIG_FIELD("train_db_name", String, train_db_name,
                       "cifar-10 | cifar-20 | stl-10 | imagenet10 | imagenet_dogs | tiny_imagenet | fashion-mnist | mnist"),
      GCC_CONFIG_FIELD("val_db_name", String, val_db_name, "evaluation dataset (default: train_db_name)"),
      GCC_CONFIG_FIELD("num_classes", Int, num_classes, "classes of the labels (evaluation only; K of self-labelling)"),
      GCC_CONFIG_FIELD("num_neighbors", Int, num_neighbors, "neighbours mined per sample (the list holds it + 1 with itself)"),
      GCC_CONFIG_FIELD("criterion", String, criterion, "end2end (RGC + AGC) or confidence-cross-entropy (self-labelling)"),
      GCC_CONFIG_FIELD("criterion_kwargs.temperature", Double, criterion_kwargs.temperature, "RGC temperature tau"),
      GCC_CONFIG_FIELD("criterion_kwargs.entropy_weight", Double, criterion_kwargs.entropy_weight,
                       "AGC balance (entropy) weight lambda"),
      GCC_CONFIG_FIELD("criterion_kwargs.apply_class_balancing", Bool, criterion_kwargs.apply_class_balancing,
                       "self-labelling: class-balanced cross-entropy weights"),
      GCC_CONFIG_FIELD("epochs", Int, epochs, "training epochs E (also the cosine schedule's length)"),
      GCC_CONFIG_FIELD("optimizer", String, optimizer, "sgd | adam"),
      GCC_CONFIG_FIELD("optimizer_kwargs.lr", Double, optimizer_kwargs.lr, "base learning rate"),
      GCC_CONFIG_FIELD("optimizer_kwargs.momentum", Double, optimizer_kwargs.momentum, "SGD momentum"),
      GCC_CONFIG_FIELD("optimizer_kwargs.weight_decay", Double, optimizer_kwargs.weight_decay,
                       "L2 weight decay added to the gradient (as torch.optim does)"),
      GCC_CONFIG_FIELD("optimizer_kwargs.nesterov", Bool, optimizer_kwargs.nesterov, "SGD Nesterov momentum (only false)"),
      GCC_CONFIG_FIELD("optimizer_kwargs.betas", DoubleList, optimizer_kwargs.betas, "Adam betas [beta1, beta2]"),
      GCC_CONFIG_FIELD("optimizer_kwargs.eps", Double, optimizer_kwargs.eps, "Adam epsilon"),
      GCC_CONFIG_FIELD("scheduler", String, scheduler, "cosine (per epoch, SPEC §4) | constant | step"),
      GCC_CONFIG_FIELD("scheduler_kwargs.lr_decay_rate", Double, scheduler_kwargs.lr_decay_rate,
                       "cosine: floor lr * rate^3; step: factor per milestone"),
      GCC_CONFIG_FIELD("scheduler_kwargs.lr_decay_epochs", IntList, scheduler_kwargs.lr_decay_epochs,
                       "step: the milestone epochs"),
      GCC_CONFIG_FIELD("batch_size", Int, batch_size, "samples per step (last partial batch kept)"),
      GCC_CONFIG_FIELD("num_workers", Int, num_workers, "data-loading threads"),
      GCC_CONFIG_FIELD("augmentation_strategy", String, augmentation_strategy,
                       "simclr (training views) | ours (self-labelling strong view) | standard (crop + flip)"),
      GCC_CONFIG_FIELD("augmentation_kwargs.random_resized_crop.size", Int, augmentation_kwargs.random_resized_crop.size,
                       "RandomResizedCrop output size S"),
      GCC_CONFIG_FIELD("augmentation_kwargs.random_resized_crop.scale", DoubleList,
                       augmentation_kwargs.random_resized_crop.scale, "RandomResizedCrop area range [lo, hi]"),
      GCC_CONFIG_FIELD("augmentation_kwargs.random_resized_crop.ratio", DoubleList,
                       augmentation_kwargs.random_resized_crop.ratio, "RandomResizedCrop aspect range [lo, hi]"),
      GCC_CONFIG_FIELD("augmentation_kwargs.color_jitter_random_apply.p", Double,
                       augmentation_kwargs.color_jitter_random_apply_p, "probability of the colour jitter"),
      GCC_CONFIG_FIELD("augmentation_kwargs.color_jitter.brightness", Double, augmentation_kwargs.color_jitter.brightness,
                       "jitter strength"),
      GCC_CONFIG_FIELD("augmentation_kwargs.color_jitter.contrast", Double, augmentation_kwargs.color_jitter.contrast,
                       "jitter strength"),
      GCC_CONFIG_FIELD("augmentation_kwargs.color_jitter.saturation", Double, augmentation_kwargs.color_jitter.saturation,
                       "jitter strength"),
      GCC_CONFIG_FIELD("augmentation_kwargs.color_jitter.hue", Double, augmentation_kwargs.color_jitter.hue,
                       "jitter strength (<= 0.5)"),
      GCC_CONFIG_FIELD("augmentation_kwargs.random_grayscale.p", Double, augmentation_kwargs.random_grayscale_p,
                       "probability of grayscale"),
      GCC_CONFIG_FIELD("augmentation_kwargs.normalize.mean", DoubleList, augmentation_kwargs.normalize.mean,
                       "per-channel mean of the training views"),
      GCC_CONFIG_FIELD("augmentation_kwargs.normalize.std", DoubleList, augmentation_kwargs.normalize.std,
                       "per-channel std of the training views"),
      GCC_CONFIG_FIELD("augmentation_kwargs.crop_size", Int, augmentation_kwargs.crop_size, "strong view: random crop size"),
      GCC_CONFIG_FIELD("augmentation_kwargs.num_strong_augs", Int, augmentation_kwargs.num_strong_augs,
                       "strong view: RandAugment ops per image"),
      GCC_CONFIG_FIELD("augmentation_kwargs.cutout_kwargs.n_holes", Int, augmentation_kwargs.cutout_kwargs.n_holes,
                       "strong view: Cutout holes"),
      GCC_CONFIG_FIELD("augmentation_kwargs.cutout_kwargs.length", Int, augmentation_kwargs.cutout_kwargs.length,
                       "strong view: Cutout side L (random side in 1..L)"),
      GCC_CONFIG_FIELD("augmentation_kwargs.cutout_kwargs.random", Bool, augmentation_kwargs.cutout_kwargs.random,
                       "strong view: Cutout side drawn in 1..L (true) or fixed L"),
      GCC_CONFIG_FIELD("transformation_kwargs.resize", Int, transformation_kwargs.resize,
                       "evaluation view: resize the shorter side to R"),
      GCC_CONFIG_FIELD("transformation_kwargs.crop_size", Int, transformation_kwargs.crop_size,
                       "evaluation view: centre crop C"),
      GCC_CONFIG_FIELD("transformation_kwargs.normalize.mean", DoubleList, transformation_kwargs.normalize.mean,
                       "evaluation view: per-channel mean"),
      GCC_CONFIG_FIELD("transformation_kwargs.normalize.std", DoubleList, transformation_kwargs.normalize.std,
                       "evaluation view: per-channel std"),
      GCC_CONFIG_FIELD("confidence_threshold", Double, confidence_threshold, "self-labelling: mask = max prob > this"),
      GCC_CONFIG_FIELD("use_ema", Bool, use_ema, "self-labelling: keep an EMA of the weights"),
      GCC_CONFIG_FIELD("ema_alpha", Double, ema_alpha, "self-labelling: EMA decay"),
      GCC_CONFIG_FIELD("num_heads", Int, num_heads, "self-labelling: cluster heads (1)"),
      GCC_CONFIG_FIELD("phase_switch_epoch", Int, phase_switch_epoch,
                       "toolkit: last epoch of phase 1; the first kNN refresh runs at its end (SPEC: 50)"),
      GCC_CONFIG_FIELD("refresh_period", Int, refresh_period,
                       "toolkit: kNN refresh at the end of epochs e >= phase_switch_epoch with "
                       "(e - phase_switch_epoch) % refresh_period == 0 (SPEC: 5)"),
      GCC_CONFIG_FIELD("memory_slots", Int, memory_slots, "toolkit: embeddings kept per sample in the feature memory (4)"),
      GCC_CONFIG_FIELD("rgc_weight", Double, rgc_weight, "toolkit: weight of L_RGC in the loss (SPEC: 2)"),
      GCC_CONFIG_FIELD("agc_weight", Double, agc_weight, "toolkit: weight of L_AGC in phase 2 (SPEC: 1)"),
      GCC_CONFIG_FIELD("eval_period", Int, eval_period, "toolkit: evaluate every N epochs and after the last (SPEC: 5)"),
      GCC_CONFIG_FIELD("checkpoint_period", Int, checkpoint_period,
                       "toolkit: write the resume checkpoint every N epochs (and at the end, and on Ctrl-C)"),
      GCC_CONFIG_FIELD("eval_batch_size", Int, eval_batch_size, "toolkit: evaluation batch size (0: batch_size)"),
      GCC_CONFIG_FIELD("subset_size", Int, subset_size,
                       "toolkit: train on a seeded subset of this many images (0: all)"),
      GCC_CONFIG_FIELD("backbone_width", Int, backbone_width,
                       "toolkit: base width w, stages w-2w-4w-8w (64 = the release)"),
      GCC_CONFIG_FIELD("in_channels", Int, in_channels, "toolkit: image channels (3; 1 for (Fashion-)MNIST)"),
      GCC_CONFIG_FIELD("dataset_root", String, dataset_root, "toolkit: directory holding the datasets"),
      GCC_CONFIG_FIELD("output_dir", String, output_dir,
                       "toolkit: checkpoints, metrics and exports (empty: output/<setup>_<train_db_name>)"),
      GCC_CONFIG_FIELD("init_checkpoint", String, init_checkpoint,
                       "toolkit: self-labelling starts from this end-to-end checkpoint"),
      GCC_CONFIG_FIELD("device", String, device, "toolkit: auto | cpu | cuda | cuda:N"),
      GCC_CONFIG_FIELD("seed", UInt, seed, "toolkit: seed of every random stream"),
      GCC_CONFIG_FIELD("threads", Int, threads, "toolkit: compute threads (0: all cores)"),
  };
  return f;
}
#undef GCC_CONFIG_FIELD

namespace config_detail {

inline std::string fmt_double(double v) { return json_number(v); }

// YAML text of one value as to_yaml writes it.
inline std::string yaml_value(Config& c, const ConfigField& f) {
  void* p = f.get(c);
  switch (f.type) {
    case ConfigType::Int: return std::to_string(*static_cast<int64_t*>(p));
    case ConfigType::UInt: return std::to_string(*static_cast<uint64_t*>(p));
    case ConfigType::Double: return fmt_double(*static_cast<double*>(p));
    case ConfigType::Bool: return *static_cast<bool*>(p) ? "true" : "false";
    case ConfigType::String: return json_quote(*static_cast<std::string*>(p));  // YAML double-quoted == JSON
    case ConfigType::DoubleList: {
      std::string s = "[";
      const auto& v = *static_cast<std::vector<double>*>(p);
      for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + fmt_double(v[i]);
      return s + "]";
    }
    case ConfigType::IntList: {
      std::string s = "[";
      const auto& v = *static_cast<std::vector<int64_t>*>(p);
      for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
      return s + "]";
    }
  }
  return "";
}

inline const char* type_name(ConfigType t) {
  switch (t) {
    case ConfigType::Int: return "integer";
    case ConfigType::UInt: return "non-negative integer";
    case ConfigType::Double: return "number";
    case ConfigType::Bool: return "boolean";
    case ConfigType::String: return "string";
    case ConfigType::DoubleList: return "list of numbers";
    case ConfigType::IntList: return "list of integers";
  }
  return "?";
}

inline std::vector<std::string> split_path(const std::string& p) {
  std::vector<std::string> out;
  std::size_t b = 0;
  for (;;) {
    const std::size_t e = p.find('.', b);
    out.push_back(p.substr(b, e == std::string::npos ? std::string::npos : e - b));
    if (e == std::string::npos) break;
    b = e + 1;
  }
  return out;
}

// Schema: leaf paths and the mapping paths above them.
struct Schema {
  std::map<std::string, const ConfigField*> leaves;
  std::map<std::string, std::vector<std::string>> children;  // "" is the root; ordered as in the table
  Schema() {
    for (const ConfigField& f : config_fields()) {
      leaves[f.path] = &f;
      const std::vector<std::string> parts = split_path(f.path);
      std::string parent;
      for (const std::string& part : parts) {
        auto& ch = children[parent];
        if (std::find(ch.begin(), ch.end(), part) == ch.end()) ch.push_back(part);
        parent = parent.empty() ? part : parent + "." + part;
      }
    }
  }
  bool is_map(const std::string& path) const { return children.count(path) != 0 && !leaves.count(path); }
};
inline const Schema& schema() {
  static const Schema s;
  return s;
}

// Who set a key: the file (with its line) or a command-line override.
struct Origins {
  std::string file;                                   // e.g. "config.yml"
  std::map<std::string, std::string> overrides;       // path -> "--path=value"
  std::string where(const std::string& path) const {
    for (const auto& o : overrides) {
      const std::string& p = o.first;
      if (path == p || (path.size() > p.size() && path.compare(0, p.size(), p) == 0 && path[p.size()] == '.'))
        return "command line (" + o.second + ")";
    }
    return file;
  }
  std::string line(const std::string& path, const YAML::Node* node) const {
    if (!node || where(path) != file) return "";
    const YAML::Mark m = node->Mark();
    if (m.line < 0) return "";
    return " (line " + std::to_string(m.line + 1) + ")";
  }
};

[[noreturn]] inline void fail(const Origins& o, const std::string& path, const YAML::Node* node, const std::string& msg) {
  GCC_FAIL(o.where(path), ": ", path, ": ", msg, o.line(path, node));
}

inline std::string describe(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "nothing (null)";
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a mapping";
  if (n.Tag() == "!") return "the quoted string '" + n.Scalar() + "'";
  return "'" + n.Scalar() + "'";
}

inline bool plain_scalar(const YAML::Node& n) { return n.IsScalar() && n.Tag() != "!"; }

inline bool parse_int(const std::string& s, int64_t* v) {
  const char* b = s.data();
  const char* e = b + s.size();
  if (b != e && *b == '+') ++b;
  const auto r = std::from_chars(b, e, *v);
  return b != e && r.ec == std::errc() && r.ptr == e;
}
inline bool parse_double(const std::string& s, double* v) {
  if (s.empty()) return false;
  std::size_t used = 0;
  try {
    *v = std::stod(s, &used);
  } catch (...) {
    return false;
  }
  return used == s.size() && std::isfinite(*v);
}

inline void read_value(const Origins& o, const std::string& path, const YAML::Node& n, const ConfigField& f, Config& c) {
  void* p = f.get(c);
  auto expected = [&](const char* what) { fail(o, path, &n, std::string("expected ") + what + ", got " + describe(n)); };
  switch (f.type) {
    case ConfigType::Int: {
      int64_t v;
      if (!plain_scalar(n) || !parse_int(n.Scalar(), &v)) expected("an integer");
      *static_cast<int64_t*>(p) = v;
      break;
    }
    case ConfigType::UInt: {
      int64_t v;
      if (!plain_scalar(n) || !parse_int(n.Scalar(), &v) || v < 0) expected("a non-negative integer");
      *static_cast<uint64_t*>(p) = static_cast<uint64_t>(v);
      break;
    }
    case ConfigType::Double: {
      double v;
      if (!plain_scalar(n) || !parse_double(n.Scalar(), &v)) expected("a number");
      *static_cast<double*>(p) = v;
      break;
    }
    case ConfigType::Bool: {
      bool v = false;
      if (!plain_scalar(n) || !YAML::convert<bool>::decode(n, v)) expected("true or false");
      *static_cast<bool*>(p) = v;
      break;
    }
    case ConfigType::String: {
      if (!n.IsScalar()) expected("a string");
      *static_cast<std::string*>(p) = n.Scalar();
      break;
    }
    case ConfigType::DoubleList: {
      if (!n.IsSequence()) expected("a list of numbers such as [0.5, 0.5]");
      std::vector<double> v;
      for (std::size_t i = 0; i < n.size(); ++i) {
        double d;
        if (!plain_scalar(n[i]) || !parse_double(n[i].Scalar(), &d))
          fail(o, path, &n, "entry " + std::to_string(i) + ": expected a number, got " + describe(n[i]));
        v.push_back(d);
      }
      *static_cast<std::vector<double>*>(p) = v;
      break;
    }
    case ConfigType::IntList: {
      if (!n.IsSequence()) expected("a list of integers such as [100, 200]");
      std::vector<int64_t> v;
      for (std::size_t i = 0; i < n.size(); ++i) {
        int64_t d;
        if (!plain_scalar(n[i]) || !parse_int(n[i].Scalar(), &d))
          fail(o, path, &n, "entry " + std::to_string(i) + ": expected an integer, got " + describe(n[i]));
        v.push_back(d);
      }
      *static_cast<std::vector<int64_t>*>(p) = v;
      break;
    }
  }
}

// Checks every key of the tree against the schema (unknown and duplicate keys, mappings where values
// belong and values where mappings belong) and collects the leaves present.
inline void walk(const Origins& o, const YAML::Node& map, const std::string& prefix,
                 std::vector<std::pair<std::string, YAML::Node>>& leaves) {
  const Schema& s = schema();
  std::set<std::string> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!it->first.IsScalar())
      fail(o, prefix.empty() ? std::string("(top level)") : prefix, &it->first, "a key must be a plain name");
    const std::string key = it->first.Scalar();
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    if (!seen.insert(key).second) fail(o, path, &it->first, "duplicate key");
    const YAML::Node value = it->second;
    if (s.leaves.count(path)) {
      leaves.emplace_back(path, value);
      continue;
    }
    if (s.is_map(path)) {
      if (!value.IsMap()) fail(o, path, &value, "expected a mapping of " + [&] {
        std::string k;
        for (const std::string& c : s.children.at(path)) k += (k.empty() ? "" : ", ") + c;
        return k;
      }() + ", got " + describe(value));
      walk(o, value, path, leaves);
      continue;
    }
    std::string known;
    for (const std::string& c : s.children.at(prefix)) known += (known.empty() ? "" : ", ") + c;
    fail(o, path, &it->first, "unknown key '" + key + "' (known keys " +
                                  (prefix.empty() ? std::string("at the top level") : "under " + prefix) + ": " + known + ")");
  }
}

inline std::string string_at(const Origins& o, const YAML::Node& root, const std::string& key, const std::string& def) {
  if (!root.IsMap() || !root[key]) return def;  // const operator[]: looks up, never inserts
  const YAML::Node n = root[key];
  if (!n.IsScalar()) fail(o, key, &n, "expected a string, got " + describe(n));
  return n.Scalar();
}

// Sets root[path] = value (creating mappings on the way); errors if the path crosses a non-mapping.
inline void set_path(const Origins& o, YAML::Node node, const std::vector<std::string>& parts, std::size_t i,
                     const YAML::Node& value, const std::string& full) {
  if (i + 1 == parts.size()) {
    node[parts[i]] = value;
    return;
  }
  const YAML::Node& lookup = node;  // const operator[]: looks up, never inserts
  const YAML::Node child = lookup[parts[i]];
  if (!child.IsDefined() || child.IsNull()) {
    node[parts[i]] = YAML::Node(YAML::NodeType::Map);
  } else if (!child.IsMap()) {
    std::string sub;
    for (std::size_t k = 0; k <= i; ++k) sub += (k ? "." : "") + parts[k];
    fail(o, full, nullptr, sub + " is " + describe(child) + ", not a mapping");
  }
  set_path(o, node[parts[i]], parts, i + 1, value, full);
}

}  // namespace config_detail

// One command-line override "--key.sub=value": the value is YAML ("0.1", "true", "[0.5, 0.5, 0.5]",
// "cifar-20").
struct ConfigOverride {
  std::string path;   // "criterion_kwargs.temperature"
  std::string value;  // "0.5"
  std::string text;   // the argument as given, for messages
};
inline ConfigOverride parse_override(const std::string& arg) {
  GCC_CHECK(arg.size() > 2 && arg.compare(0, 2, "--") == 0 && arg.find('=') != std::string::npos && arg[2] != '=',
            "config override '", arg, "': expected --key.sub=value, e.g. --criterion_kwargs.temperature=0.5");
  const std::size_t eq = arg.find('=');
  ConfigOverride o{arg.substr(2, eq - 2), arg.substr(eq + 1), arg};
  for (const std::string& part : config_detail::split_path(o.path))
    GCC_CHECK(!part.empty(), "config override '", arg, "': empty component in the key '", o.path, "'");
  return o;
}
// Splits command-line arguments into config overrides (--<config key>[.sub]=value whose first component
// is a top-level config key) and the rest, in order (program flags such as --config, --resume).
inline std::vector<ConfigOverride> split_config_overrides(const std::vector<std::string>& args,
                                                          std::vector<std::string>* rest) {
  std::vector<ConfigOverride> out;
  const auto& top = config_detail::schema().children.at("");
  for (const std::string& a : args) {
    const std::size_t eq = a.find('=');
    if (a.compare(0, 2, "--") == 0 && eq != std::string::npos) {
      const std::string key = a.substr(2, eq - 2);
      const std::string first = key.substr(0, key.find('.'));
      if (std::find(top.begin(), top.end(), first) != top.end()) {
        out.push_back(parse_override(a));
        continue;
      }
    }
    if (rest) rest->push_back(a);
  }
  return out;
}

// Reads YAML text (`source` names it in messages, e.g. the file name), applies the overrides, checks
// every key and type, starts from Config::defaults(train_db_name, setup) and sets what is given.
// Errors: gcc::Error "<source>: <key.path>: <what>" (plus the line), or "command line (--k=v): ...".
inline Config load_config_string(const std::string& yaml_text, const std::string& source,
                                 const std::vector<ConfigOverride>& overrides = {}) {
  using namespace config_detail;
  Origins o;
  o.file = source;
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    GCC_FAIL(source, ": YAML syntax error at line ", e.mark.line + 1, ", column ", e.mark.column + 1, ": ", e.msg);
  }
  if (!root.IsDefined() || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  GCC_CHECK(root.IsMap(), source, ": expected a mapping of keys at the top level, got ", describe(root));
  for (const ConfigOverride& ov : overrides) {
    YAML::Node value;
    try {
      value = YAML::Load(ov.value);
    } catch (const YAML::Exception& e) {
      GCC_FAIL("command line (", ov.text, "): ", ov.path, ": the value is not valid YAML: ", e.msg);
    }
    o.overrides[ov.path] = ov.text;
    set_path(o, root, split_path(ov.path), 0, value, ov.path);
  }
  std::vector<std::pair<std::string, YAML::Node>> leaves;
  walk(o, root, "", leaves);

  const std::string setup = string_at(o, root, "setup", "end2end");
  const std::string db_given = string_at(o, root, "train_db_name", "cifar-10");
  const std::string db = canonical_dataset(db_given);
  {
    bool known = false;
    std::string list;
    for (const std::string& d : config_datasets()) {
      known = known || d == db;
      list += (list.empty() ? "" : ", ") + d;
    }
    if (!known) {
      const YAML::Node& croot = root;
      const YAML::Node n = croot["train_db_name"];
      fail(o, "train_db_name", &n, "unknown dataset '" + db_given + "' (known: " + list + ")");
    }
    if (setup != "end2end" && setup != "selflabel") {
      const YAML::Node& croot = root;
      const YAML::Node n = croot["setup"];
      fail(o, "setup", &n, "unknown setup '" + setup + "' (known: end2end, selflabel)");
    }
  }
  Config c = Config::defaults(db, setup);
  c.source = source;
  for (const auto& leaf : leaves) {
    read_value(o, leaf.first, leaf.second, *schema().leaves.at(leaf.first), c);
    c.given.insert(leaf.first);
  }
  c.train_db_name = canonical_dataset(c.train_db_name);
  c.val_db_name = c.given.count("val_db_name") ? canonical_dataset(c.val_db_name) : c.train_db_name;
  if (!c.given.count("model_kwargs.nclusters")) c.model_kwargs.nclusters = c.num_classes;

  // ---- values ----
  auto node_of = [&](const std::string& path) -> YAML::Node {
    YAML::Node n;
    n.reset(root);
    for (const std::string& part : split_path(path)) {
      const YAML::Node& cn = n;
      if (!cn.IsMap() || !cn[part]) return YAML::Node();
      const YAML::Node next = cn[part];
      n.reset(next);
    }
    return n;
  };
  auto bad = [&](const std::string& path, const std::string& msg) {
    const YAML::Node n = node_of(path);
    fail(o, path, n.IsDefined() ? &n : nullptr, msg);
  };
  auto one_of = [&](const std::string& path, const std::string& v, std::initializer_list<const char*> allowed) {
    std::string list;
    for (const char* a : allowed) {
      if (v == a) return;
      list += (list.empty() ? "" : ", ") + std::string(a);
    }
    bad(path, "unknown value '" + v + "' (expected one of: " + list + ")");
  };
  auto positive = [&](const std::string& path, double v) {
    if (!(v > 0)) bad(path, "must be positive, got " + fmt_double(v));
  };
  auto non_negative = [&](const std::string& path, double v) {
    if (!(v >= 0)) bad(path, "must be >= 0, got " + fmt_double(v));
  };
  auto prob = [&](const std::string& path, double v) {
    if (!(v >= 0 && v <= 1)) bad(path, "must be a probability in [0, 1], got " + fmt_double(v));
  };
  {
    bool known = false;
    for (const std::string& d : config_datasets()) known = known || d == c.val_db_name;
    if (!known) bad("val_db_name", "unknown dataset '" + c.val_db_name + "'");
  }
  one_of("backbone", c.backbone,
         {"resnet18", "resnet34", "resnet50", "resnet18-cifar", "resnet34-cifar", "resnet50-cifar", "resnet18-stl",
          "resnet34-stl"});
  if (c.backbone_preset() == "resnet50-stl")
    bad("backbone", "resnet50 for " + c.train_db_name + " would be resnet50-stl, which the toolkit does not have "
                    "(use resnet18 or resnet34)");
  one_of("model_kwargs.head", c.model_kwargs.head, {"mlp"});
  positive("model_kwargs.features_dim", static_cast<double>(c.model_kwargs.features_dim));
  positive("model_kwargs.nheads", static_cast<double>(c.model_kwargs.nheads));
  if (c.model_kwargs.nclusters < 2)
    bad("model_kwargs.nclusters", "K must be at least 2, got " + std::to_string(c.model_kwargs.nclusters));
  if (c.num_classes < 2) bad("num_classes", "must be at least 2, got " + std::to_string(c.num_classes));
  positive("num_neighbors", static_cast<double>(c.num_neighbors));
  one_of("criterion", c.criterion, {"end2end", "confidence-cross-entropy"});
  if ((c.setup == "end2end") != (c.criterion == "end2end"))
    bad("criterion", "criterion '" + c.criterion + "' does not go with setup '" + c.setup +
                         "' (end2end uses end2end, selflabel uses confidence-cross-entropy)");
  positive("criterion_kwargs.temperature", c.criterion_kwargs.temperature);
  non_negative("criterion_kwargs.entropy_weight", c.criterion_kwargs.entropy_weight);
  positive("epochs", static_cast<double>(c.epochs));
  one_of("optimizer", c.optimizer, {"sgd", "adam"});
  positive("optimizer_kwargs.lr", c.optimizer_kwargs.lr);
  if (!(c.optimizer_kwargs.momentum >= 0 && c.optimizer_kwargs.momentum < 1))
    bad("optimizer_kwargs.momentum", "must be in [0, 1), got " + fmt_double(c.optimizer_kwargs.momentum));
  non_negative("optimizer_kwargs.weight_decay", c.optimizer_kwargs.weight_decay);
  if (c.optimizer_kwargs.nesterov) bad("optimizer_kwargs.nesterov", "Nesterov momentum is not implemented (set it to False)");
  if (c.optimizer_kwargs.betas.size() != 2 || !(c.optimizer_kwargs.betas[0] >= 0 && c.optimizer_kwargs.betas[0] < 1) ||
      !(c.optimizer_kwargs.betas[1] >= 0 && c.optimizer_kwargs.betas[1] < 1))
    bad("optimizer_kwargs.betas", "expected two numbers in [0, 1)");
  positive("optimizer_kwargs.eps", c.optimizer_kwargs.eps);
  one_of("scheduler", c.scheduler, {"cosine", "constant", "step"});
  positive("scheduler_kwargs.lr_decay_rate", c.scheduler_kwargs.lr_decay_rate);
  if (c.scheduler == "step" && c.scheduler_kwargs.lr_decay_epochs.empty())
    bad("scheduler_kwargs.lr_decay_epochs", "the step schedule needs its milestone epochs");
  positive("batch_size", static_cast<double>(c.batch_size));
  non_negative("num_workers", static_cast<double>(c.num_workers));
  one_of("augmentation_strategy", c.augmentation_strategy, {"simclr", "ours", "standard"});
  const auto& ak = c.augmentation_kwargs;
  positive("augmentation_kwargs.random_resized_crop.size", static_cast<double>(ak.random_resized_crop.size));
  for (const char* k : {"scale", "ratio"}) {
    const auto& v = std::string(k) == "scale" ? ak.random_resized_crop.scale : ak.random_resized_crop.ratio;
    const std::string path = std::string("augmentation_kwargs.random_resized_crop.") + k;
    if (v.size() != 2 || !(v[0] > 0 && v[0] <= v[1])) bad(path, "expected [lo, hi] with 0 < lo <= hi");
  }
  prob("augmentation_kwargs.color_jitter_random_apply.p", ak.color_jitter_random_apply_p);
  non_negative("augmentation_kwargs.color_jitter.brightness", ak.color_jitter.brightness);
  non_negative("augmentation_kwargs.color_jitter.contrast", ak.color_jitter.contrast);
  non_negative("augmentation_kwargs.color_jitter.saturation", ak.color_jitter.saturation);
  if (!(ak.color_jitter.hue >= 0 && ak.color_jitter.hue <= 0.5))
    bad("augmentation_kwargs.color_jitter.hue", "must be in [0, 0.5], got " + fmt_double(ak.color_jitter.hue));
  prob("augmentation_kwargs.random_grayscale.p", ak.random_grayscale_p);
  positive("augmentation_kwargs.crop_size", static_cast<double>(ak.crop_size));
  non_negative("augmentation_kwargs.num_strong_augs", static_cast<double>(ak.num_strong_augs));
  non_negative("augmentation_kwargs.cutout_kwargs.n_holes", static_cast<double>(ak.cutout_kwargs.n_holes));
  positive("augmentation_kwargs.cutout_kwargs.length", static_cast<double>(ak.cutout_kwargs.length));
  positive("transformation_kwargs.resize", static_cast<double>(c.transformation_kwargs.resize));
  positive("transformation_kwargs.crop_size", static_cast<double>(c.transformation_kwargs.crop_size));
  if (c.transformation_kwargs.crop_size > c.transformation_kwargs.resize)
    bad("transformation_kwargs.crop_size", "centre crop " + std::to_string(c.transformation_kwargs.crop_size) +
                                               " is larger than the resize " + std::to_string(c.transformation_kwargs.resize));
  positive("in_channels", static_cast<double>(c.in_channels));
  for (const char* base : {"augmentation_kwargs.normalize", "transformation_kwargs.normalize"}) {
    const Config::Normalize& nz =
        std::string(base) == "augmentation_kwargs.normalize" ? ak.normalize : c.transformation_kwargs.normalize;
    if (static_cast<int64_t>(nz.mean.size()) != c.in_channels)
      bad(std::string(base) + ".mean", std::to_string(nz.mean.size()) + " values for " + std::to_string(c.in_channels) +
                                           " image channel(s) (in_channels)");
    if (static_cast<int64_t>(nz.std.size()) != c.in_channels)
      bad(std::string(base) + ".std", std::to_string(nz.std.size()) + " values for " + std::to_string(c.in_channels) +
                                          " image channel(s) (in_channels)");
    for (double s : nz.std)
      if (!(s > 0)) bad(std::string(base) + ".std", "every std must be positive");
  }
  if (!(c.confidence_threshold > 0 && c.confidence_threshold < 1))
    bad("confidence_threshold", "must be in (0, 1), got " + fmt_double(c.confidence_threshold));
  if (!(c.ema_alpha >= 0 && c.ema_alpha < 1)) bad("ema_alpha", "must be in [0, 1), got " + fmt_double(c.ema_alpha));
  positive("num_heads", static_cast<double>(c.num_heads));
  non_negative("phase_switch_epoch", static_cast<double>(c.phase_switch_epoch));
  positive("refresh_period", static_cast<double>(c.refresh_period));
  positive("memory_slots", static_cast<double>(c.memory_slots));
  non_negative("rgc_weight", c.rgc_weight);
  non_negative("agc_weight", c.agc_weight);
  positive("eval_period", static_cast<double>(c.eval_period));
  positive("checkpoint_period", static_cast<double>(c.checkpoint_period));
  non_negative("eval_batch_size", static_cast<double>(c.eval_batch_size));
  non_negative("subset_size", static_cast<double>(c.subset_size));
  positive("backbone_width", static_cast<double>(c.backbone_width));
  non_negative("threads", static_cast<double>(c.threads));
  if (!(c.device == "auto" || c.device == "cpu" || c.device == "cuda" ||
        (c.device.compare(0, 5, "cuda:") == 0 && c.device.size() > 5 &&
         c.device.find_first_not_of("0123456789", 5) == std::string::npos)))
    bad("device", "unknown device '" + c.device + "' (expected auto, cpu, cuda or cuda:N)");
  return c;
}

// Reads a YAML file (see load_config_string); messages name the file as given.
inline Config load_config(const std::string& path, const std::vector<ConfigOverride>& overrides = {}) {
  return load_config_string(read_file(path, "load_config"), path, overrides);
}

inline std::string Config::to_yaml() const {
  Config c = *this;  // the field table hands out mutable pointers
  const auto& s = config_detail::schema();
  std::ostringstream os;
  os << "# gcc-toolkit configuration (" << json_quote(source) << ")\n";
  // Depth-first over the schema so that mappings come out nested, in table order.
  struct Emit {
    static void run(std::ostringstream& os, Config& c, const config_detail::Schema& s, const std::string& prefix, int indent) {
      for (const std::string& key : s.children.at(prefix)) {
        const std::string path = prefix.empty() ? key : prefix + "." + key;
        os << std::string(static_cast<std::size_t>(indent), ' ') << key << ":";
        auto leaf = s.leaves.find(path);
        if (leaf != s.leaves.end()) {
          os << " " << config_detail::yaml_value(c, *leaf->second) << "\n";
        } else {
          os << "\n";
          run(os, c, s, path, indent + 2);
        }
      }
    }
  };
  Emit::run(os, c, s, "", 0);
  return os.str();
}

// Every key with its type, default (SPEC §4, CIFAR-10 end-to-end) and meaning, one per line.
inline std::string config_reference() {
  Config c;
  std::string out;
  for (const ConfigField& f : config_fields()) {
    out += std::string(f.path) + " (" + config_detail::type_name(f.type) + ", default " +
           config_detail::yaml_value(c, f) + "): " + f.doc + "\n";
  }
  return out;
}

}  // namespace io
}  // namespace gcc
