// The release's experiment-file keys (configs/end2end/*.yml, configs/selflabel/*.yml; ours in
// examples/configs/) mapped onto gcc::train::Config, in one table. A key the toolkit spells the same
// (epochs, batch_size, num_neighbors, seed, confidence_threshold, use_ema, ...) needs no entry: the
// schema takes it, and with `setup: selflabel` a bare schedule key is the selflabel one. Keys the
// trainers cannot honour (a step schedule, Nesterov, Adam end to end, several Cutout holes) are errors
// naming the key; keys with no effect here (num_workers) are accepted and said so in their doc.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config_schema.hpp"

namespace gcc {
namespace train {

// What a release key may do: set keys of the schema (by their bare name, resolved for the stage) or
// refuse the value with a reason.
struct ReleaseTarget {
  Stage stage;
  std::function<void(const std::string& key, const YAML::Node& value)> set;
  std::function<void(const std::string& why)> refuse;  // throws, naming the file, key and line
};

struct ReleaseKey {
  std::string path;  // "optimizer_kwargs.lr"
  std::string doc;   // what it maps to
  std::function<void(const ReleaseTarget&, const YAML::Node&)> apply;
};

namespace detail {
inline ReleaseKey rename(const char* path, const char* key) {
  return {path, std::string("-> ") + key, [key](const ReleaseTarget& t, const YAML::Node& v) { t.set(key, v); }};
}
// [lo, hi] -> two keys.
inline ReleaseKey pair(const char* path, const char* lo, const char* hi) {
  return {path, std::string("-> ") + lo + ", " + hi, [lo, hi](const ReleaseTarget& t, const YAML::Node& v) {
            if (!v.IsSequence() || v.size() != 2) t.refuse("expected a list of two numbers [lo, hi]");
            t.set(lo, v[0]);
            t.set(hi, v[1]);
          }};
}
inline std::string scalar(const YAML::Node& v) { return v.IsScalar() ? v.Scalar() : std::string("(not a value)"); }
// A value the toolkit does not change: only `want` (per stage) is accepted.
inline ReleaseKey must(const char* path, const char* end2end, const char* selflabel, const char* why) {
  return {path, std::string("must be ") + end2end + (std::string(end2end) == selflabel ? "" : std::string(" / ") + selflabel),
          [end2end, selflabel, why](const ReleaseTarget& t, const YAML::Node& v) {
            const char* want = t.stage == Stage::SelfLabel ? selflabel : end2end;
            std::string s = scalar(v);
            for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (s != want) t.refuse("'" + scalar(v) + "' is not supported: " + why + " (expected " + want + ")");
          }};
}
}  // namespace detail

inline const std::vector<ReleaseKey>& release_keys() {
  using namespace detail;
  static const std::vector<ReleaseKey> keys = {
      rename("model_kwargs.nclusters", "num_clusters"),
      rename("num_classes", "num_clusters"),
      rename("model_kwargs.nheads", "nheads"),
      rename("num_heads", "nheads"),
      must("model_kwargs.head", "mlp", "mlp", "the contrastive head is Linear-ReLU-Linear"),
      must("model_kwargs.features_dim", "128", "128", "the embedding is 128-d (the release's)"),
      must("criterion", "end2end", "confidence-cross-entropy", "the loss follows the setup"),
      rename("criterion_kwargs.temperature", "temperature"),
      rename("criterion_kwargs.entropy_weight", "entropy_weight"),
      rename("criterion_kwargs.apply_class_balancing", "class_balancing"),
      must("optimizer", "sgd", "adam", "end-to-end training uses SGD, self-labelling Adam (SPEC §4-§5)"),
      rename("optimizer_kwargs.lr", "lr"),
      rename("optimizer_kwargs.momentum", "momentum"),
      rename("optimizer_kwargs.weight_decay", "weight_decay"),
      must("optimizer_kwargs.nesterov", "false", "false", "Nesterov momentum is not implemented"),
      pair("optimizer_kwargs.betas", "beta1", "beta2"),
      rename("optimizer_kwargs.eps", "adam_eps"),
      {"scheduler", "cosine -> cosine: true; constant -> cosine: false (self-labelling: constant only)",
       [](const ReleaseTarget& t, const YAML::Node& v) {
         const std::string s = scalar(v);
         if (t.stage == Stage::SelfLabel && s != "constant") t.refuse("'" + s + "': self-labelling uses a constant lr");
         if (s != "cosine" && s != "constant")
           t.refuse("'" + s + "' is not implemented (use cosine or constant)");
         if (t.stage == Stage::End2End) t.set("cosine", YAML::Node(s == "cosine" ? "true" : "false"));
       }},
      rename("scheduler_kwargs.lr_decay_rate", "lr_decay_rate"),
      {"scheduler_kwargs.lr_decay_epochs", "refused: the step schedule is not implemented",
       [](const ReleaseTarget& t, const YAML::Node&) { t.refuse("the step schedule is not implemented"); }},
      {"num_workers", "accepted, no effect (loader_threads sets the augmentation threads)",
       [](const ReleaseTarget&, const YAML::Node&) {}},
      must("augmentation_strategy", "simclr", "ours", "the training views follow the setup (SPEC §3)"),
      rename("augmentation_kwargs.random_resized_crop.size", "train_size"),
      pair("augmentation_kwargs.random_resized_crop.scale", "crop_scale_min", "crop_scale_max"),
      pair("augmentation_kwargs.random_resized_crop.ratio", "crop_ratio_min", "crop_ratio_max"),
      rename("augmentation_kwargs.color_jitter_random_apply.p", "jitter_p"),
      rename("augmentation_kwargs.color_jitter.brightness", "brightness"),
      rename("augmentation_kwargs.color_jitter.contrast", "contrast"),
      rename("augmentation_kwargs.color_jitter.saturation", "saturation"),
      rename("augmentation_kwargs.color_jitter.hue", "hue"),
      rename("augmentation_kwargs.random_grayscale.p", "gray_p"),
      rename("augmentation_kwargs.normalize.mean", "mean"),  // both views are normalised alike: the two
      rename("augmentation_kwargs.normalize.std", "std"),    // normalize entries must agree
      rename("augmentation_kwargs.crop_size", "selflabel.strong_crop"),
      rename("augmentation_kwargs.num_strong_augs", "selflabel.num_strong_ops"),
      must("augmentation_kwargs.cutout_kwargs.n_holes", "1", "1", "one Cutout hole is implemented"),
      rename("augmentation_kwargs.cutout_kwargs.length", "selflabel.cutout"),
      must("augmentation_kwargs.cutout_kwargs.random", "true", "true", "the Cutout side is drawn in 1..L"),
      rename("transformation_kwargs.resize", "eval_resize"),
      rename("transformation_kwargs.crop_size", "eval_crop"),
      rename("transformation_kwargs.normalize.mean", "mean"),
      rename("transformation_kwargs.normalize.std", "std"),
      // the toolkit's own keys of the first examples/configs files
      rename("phase_switch_epoch", "switch_epoch"),
      rename("refresh_period", "refresh_every"),
      rename("eval_period", "eval_every"),
      rename("checkpoint_period", "checkpoint_every"),
      rename("subset_size", "train_subset"),
      rename("backbone_width", "base_width"),
      rename("in_channels", "channels"),
      rename("dataset_root", "data_root"),
  };
  return keys;
}

inline const ReleaseKey* find_release_key(const std::string& path) {
  for (const ReleaseKey& k : release_keys())
    if (k.path == path) return &k;
  return nullptr;
}

}  // namespace train
}  // namespace gcc
