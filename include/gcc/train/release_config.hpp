// A release-style YAML experiment file (gcc::io::Config: configs/end2end/*.yml and ours in
// examples/configs/) turned into the TrainConfig of the end-to-end trainer: model, data and views via
// apply_release_config (evaluate.hpp), plus every training key. Keys the trainer cannot honour (Adam or a
// step schedule for end-to-end training, Nesterov, a selflabel file) are errors naming the key.
#pragma once
#include <string>

#include "../io/config.hpp"
#include "config.hpp"
#include "evaluate.hpp"

namespace gcc {
namespace train {

// Run-level settings of a release file that are not part of TrainConfig (the CLI uses them).
struct ReleaseRunSettings {
  std::string output_dir;     // "" unless the file sets output_dir
  int checkpoint_every = 0;   // 0 unless the file sets checkpoint_period
  int threads = 0;            // 0 unless the file sets threads
};

// Applies the keys `rc` sets explicitly (or all of them when all_keys) on top of cfg, which should be
// the preset of rc's dataset (train_preset(canonical_dataset(rc.train_db_name))).
inline ReleaseRunSettings apply_release_train_config(TrainConfig& cfg, const io::Config& rc, bool all_keys = false) {
  auto given = [&](const char* k) { return all_keys || rc.given.count(k) != 0; };
  auto fail = [&](const char* key, const std::string& what) { GCC_FAIL(rc.source, ": ", key, ": ", what); };
  if (rc.setup != "end2end")
    fail("setup", "'" + rc.setup + "' is a self-labelling file; gcc_train trains end to end (use gcc_selflabel)");
  if (rc.optimizer != "sgd") fail("optimizer", "end-to-end training uses SGD (SPEC §4), got '" + rc.optimizer + "'");
  if (rc.scheduler == "step") fail("scheduler", "the step schedule is not implemented for end-to-end training (use cosine or constant)");
  if (given("augmentation_strategy") && rc.augmentation_strategy != "simclr")
    fail("augmentation_strategy", "end-to-end training uses the simclr views, got '" + rc.augmentation_strategy + "'");
  if (given("model_kwargs.features_dim") && rc.model_kwargs.features_dim != 128)
    fail("model_kwargs.features_dim", "the trainer's embedding is 128-d (the release's), got " +
                                          std::to_string(rc.model_kwargs.features_dim));
  apply_release_config(cfg, rc);  // dataset, backbone, width, channels, K, heads, eval view, subset, root, seed
  if (given("epochs")) cfg.epochs = static_cast<int>(rc.epochs);
  if (given("batch_size")) cfg.batch_size = rc.batch_size;
  if (given("optimizer_kwargs.lr")) cfg.lr = static_cast<float>(rc.optimizer_kwargs.lr);
  if (given("optimizer_kwargs.momentum")) cfg.momentum = static_cast<float>(rc.optimizer_kwargs.momentum);
  if (given("optimizer_kwargs.weight_decay")) cfg.weight_decay = static_cast<float>(rc.optimizer_kwargs.weight_decay);
  if (given("scheduler")) cfg.cosine = rc.scheduler == "cosine";
  if (given("scheduler_kwargs.lr_decay_rate")) cfg.lr_decay_rate = static_cast<float>(rc.scheduler_kwargs.lr_decay_rate);
  if (given("criterion_kwargs.temperature")) cfg.temperature = static_cast<float>(rc.criterion_kwargs.temperature);
  if (given("criterion_kwargs.entropy_weight")) cfg.entropy_weight = static_cast<float>(rc.criterion_kwargs.entropy_weight);
  if (given("num_neighbors")) cfg.num_neighbors = static_cast<int>(rc.num_neighbors);
  const io::Config::AugmentationKwargs& a = rc.augmentation_kwargs;
  if (given("augmentation_kwargs.random_resized_crop.size")) cfg.train_size = static_cast<int>(a.random_resized_crop.size);
  if (given("augmentation_kwargs.random_resized_crop.scale")) {
    cfg.crop_scale_min = a.random_resized_crop.scale[0];
    cfg.crop_scale_max = a.random_resized_crop.scale[1];
  }
  if (given("augmentation_kwargs.random_resized_crop.ratio")) {
    cfg.crop_ratio_min = a.random_resized_crop.ratio[0];
    cfg.crop_ratio_max = a.random_resized_crop.ratio[1];
  }
  if (given("augmentation_kwargs.color_jitter_random_apply.p")) cfg.jitter_p = a.color_jitter_random_apply_p;
  if (given("augmentation_kwargs.color_jitter.brightness")) cfg.brightness = a.color_jitter.brightness;
  if (given("augmentation_kwargs.color_jitter.contrast")) cfg.contrast = a.color_jitter.contrast;
  if (given("augmentation_kwargs.color_jitter.saturation")) cfg.saturation = a.color_jitter.saturation;
  if (given("augmentation_kwargs.color_jitter.hue")) cfg.hue = a.color_jitter.hue;
  if (given("augmentation_kwargs.random_grayscale.p")) cfg.gray_p = a.random_grayscale_p;
  // One normalisation serves both views in the trainer: the training view's, when the file sets both
  // differently, is an error.
  for (const char* part : {"mean", "std"}) {
    const std::string tk = std::string("augmentation_kwargs.normalize.") + part;
    const std::string ek = std::string("transformation_kwargs.normalize.") + part;
    const std::vector<double>& tv = std::string(part) == "mean" ? a.normalize.mean : a.normalize.std;
    const std::vector<double>& ev = std::string(part) == "mean" ? rc.transformation_kwargs.normalize.mean
                                                                : rc.transformation_kwargs.normalize.std;
    if (!given(tk.c_str())) continue;
    if (given(ek.c_str()) && tv != ev)
      fail(tk.c_str(), "differs from " + ek + "; the trainer normalises both views alike");
    (std::string(part) == "mean" ? cfg.mean : cfg.std) = detail::triple(tv);
  }
  if (given("phase_switch_epoch")) cfg.switch_epoch = static_cast<int>(rc.phase_switch_epoch);
  if (given("refresh_period")) cfg.refresh_every = static_cast<int>(rc.refresh_period);
  if (given("memory_slots")) cfg.memory_slots = static_cast<int>(rc.memory_slots);
  if (given("rgc_weight")) cfg.rgc_weight = static_cast<float>(rc.rgc_weight);
  if (given("agc_weight")) cfg.agc_weight = static_cast<float>(rc.agc_weight);
  if (given("eval_period")) cfg.eval_every = static_cast<int>(rc.eval_period);
  if (given("device")) cfg.device = rc.device == "auto" ? "cpu" : rc.device;
  ReleaseRunSettings run;
  if (rc.given.count("output_dir")) run.output_dir = rc.output_dir;
  if (rc.given.count("checkpoint_period")) run.checkpoint_every = static_cast<int>(rc.checkpoint_period);
  if (rc.given.count("threads")) run.threads = static_cast<int>(rc.threads);
  cfg.validate();
  return run;
}

// Reads a release-style YAML file with `--key.sub=value` overrides into a TrainConfig (the preset of its
// train_db_name, then the file's keys).
inline TrainConfig load_release_train_config(const std::string& path, const std::vector<io::ConfigOverride>& overrides = {},
                                             ReleaseRunSettings* run = nullptr) {
  const io::Config rc = io::load_config(path, overrides);
  TrainConfig cfg = train_preset(canonical_dataset(rc.train_db_name));
  const ReleaseRunSettings r = apply_release_train_config(cfg, rc);
  if (run) *run = r;
  return cfg;
}

}  // namespace train
}  // namespace gcc
