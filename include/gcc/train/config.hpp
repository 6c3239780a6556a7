// Config: every setting of a GCC run in one struct -- data, views, model, the end-to-end schedule
// (SPEC §3-§4), the self-labelling stage (SPEC §5, the `selflabel` section) and the run (device,
// threads, checkpoints). Plain data: its keys, checks and help text are the table in config_schema.hpp,
// the presets are in presets.hpp, and config_file.hpp reads and writes it as YAML.
//
//   gcc::train::Config cfg = gcc::train::preset("cifar-10");
//   cfg.lr = 0.2f;
//   gcc::train::validate(cfg);              // config_schema.hpp: throws naming the first bad key
#pragma once
#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <string>

#include "../data/augment.hpp"
#include "../nn/end2end.hpp"

namespace gcc {
namespace train {

// The self-labelling stage (SPEC §5; key prefix "selflabel.").
struct SelfLabelSettings {
  int epochs = 200;                   // 200 CIFAR, 100 STL-10
  int64_t batch_size = 1000;          // 1000 CIFAR, 500 STL-10
  bool drop_last = false;
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
  uint64_t seed = 0;                  // shuffling and augmentation of self-labelling
};

struct Config {
  std::string preset;                 // the preset it started from ("" = none)

  bool auto_plan = false;             // plan the data-dependent keys when the run starts (train/auto_plan.hpp)
  double minutes = 10;                // the time budget of that plan

  // ---- data ----
  std::string dataset = "cifar-10";   // canonical name (canonical_dataset), or folder / list / idx / npy
  std::string data_root;              // "" = the reader's default folder; the path of a user's images
  std::string labels_file;            // idx / npy labels ("" = unlabelled)
  bool unlabelled = false;            // ignore the labels of a user's images
  int image_size = 0;                 // a user's images resized to S x S (0 = as stored)
  bool data_stats = false;            // mean / std from the training images at the start (then stored)
  int64_t train_subset = 0;           // > 0: train on a seeded random subset of this many images
  std::string eval_set = "train";     // "train": the training images; "all": every image; "test": the test split
  int64_t eval_batch_size = 512;
  int64_t eval_knn_max = 10000;       // evaluation reports the embeddings' kNN accuracy up to this many images
  int loader_threads = 2;             // augmentation threads

  // ---- views (SPEC §3) ----
  int channels = 3;                   // network input channels (1 = grey)
  int train_size = 32;                // SimCLR view size S
  int eval_resize = 40, eval_crop = 32;
  std::array<float, 3> mean{{0.4914f, 0.4822f, 0.4465f}}, std{{0.2023f, 0.1994f, 0.2010f}};
  double crop_scale_min = 0.2, crop_scale_max = 1.0;
  double crop_ratio_min = 3.0 / 4.0, crop_ratio_max = 4.0 / 3.0;
  double flip_p = 0.5, jitter_p = 0.8, gray_p = 0.2;
  double brightness = 0.4, contrast = 0.4, saturation = 0.4, hue = 0.1;

  // ---- model (SPEC §2) ----
  std::string backbone = "resnet18-cifar";  // or "resnet18"/"resnet34": -cifar or -stl by dataset (resolved_backbone)
  int64_t base_width = 64;            // stage widths base, 2x, 4x, 8x (64 in the release)
  int stem_maxpool = -1;              // -1 = as the backbone variant; 0/1 forces the stem max-pool off/on
  int final_avgpool = -1;             // -1 = as the variant; 0 = global average pooling
  int64_t num_clusters = 10;          // K
  int nheads = 1;

  // ---- end-to-end schedule and losses (SPEC §4) ----
  int epochs = 1000;
  int switch_epoch = 50;              // phase 1 for e <= switch_epoch, phase 2 after
  int refresh_every = 5;              // refresh after epochs e >= switch_epoch, (e - switch_epoch) % refresh_every == 0
  int num_neighbors = 5;              // mined neighbours (the kNN list holds num_neighbors + 1 incl. self)
  int memory_slots = 4;               // embeddings kept per sample
  int64_t batch_size = 256;
  bool drop_last = false;             // the release keeps the last partial batch
  float lr = 0.4f, momentum = 0.9f, weight_decay = 1e-4f;
  float lr_decay_rate = 0.1f;         // cosine floor lr · rate³
  bool cosine = true;                 // false: constant lr
  float temperature = 0.1f;           // τ
  float entropy_weight = 2.0f;        // λ of the AGC balance term
  float rgc_weight = 2.0f;            // loss = rgc_weight·RGC + agc_weight·AGC
  float agc_weight = 1.0f;
  bool phase1_agc = false;            // extension (not the release): also AGC between the two views in phase 1
  int eval_every = 5;                 // evaluate after epoch e > 0 with e % eval_every == 0, and after the last
  uint64_t seed = 0;                  // model init, subset choice, shuffling and augmentation

  // ---- self-labelling (SPEC §5) ----
  SelfLabelSettings selflabel;

  // ---- run ----
  std::string device = "cpu";         // cpu, cuda[:N] or auto (CUDA needs a program built with nvcc)
  int threads = 0;                    // compute threads (OpenMP/OpenBLAS); 0 = all cores
  bool batched_passes = true;         // a step's forward passes as one batch, BatchNorm per pass (same maths)
  bool sync_batchnorm = false;        // several processes (mpirun): BatchNorm statistics over all ranks' rows
  int checkpoint_every = 1;           // write the resume checkpoint every N epochs (and at the end / Ctrl-C)

  // "resnet18-cifar" etc.: a short name takes -cifar for the 32/28-pixel datasets, else -stl (as the
  // release's get_model chooses).
  std::string resolved_backbone() const {
    if (backbone.find('-') != std::string::npos) return backbone;
    const bool small = dataset == "cifar-10" || dataset == "cifar-20" || dataset == "fashion-mnist";
    return backbone + (small ? "-cifar" : "-stl");
  }
  nn::End2EndConfig model_config() const {
    nn::End2EndConfig m;
    m.backbone = nn::ResNetConfig::preset(resolved_backbone());
    m.backbone.base_width = base_width;
    m.backbone.in_channels = channels;
    if (stem_maxpool >= 0) m.backbone.stem_maxpool = stem_maxpool != 0;
    if (final_avgpool >= 0) m.backbone.final_avgpool = final_avgpool;
    m.num_clusters = num_clusters;
    m.nheads = nheads;
    return m;
  }
  data::SimclrParams simclr_params() const {
    data::SimclrParams s;
    s.size = train_size;
    s.scale_lo = crop_scale_min;
    s.scale_hi = crop_scale_max;
    s.ratio_lo = crop_ratio_min;
    s.ratio_hi = crop_ratio_max;
    s.flip_p = flip_p;
    s.jitter_p = jitter_p;
    s.gray_p = gray_p;
    s.brightness = brightness;
    s.contrast = contrast;
    s.saturation = saturation;
    s.hue = hue;
    s.channels = channels;
    s.mean = mean;
    s.std = std;
    return s;
  }
  // The evaluation view; self-labelling's weak view.
  data::EvalParams eval_params() const {
    data::EvalParams e;
    e.resize = eval_resize;
    e.crop = eval_crop;
    e.channels = channels;
    e.mean = mean;
    e.std = std;
    return e;
  }
  int resolved_strong_crop() const { return selflabel.strong_crop > 0 ? selflabel.strong_crop : eval_crop; }
  data::StrongParams strong_params() const {
    data::StrongParams s;
    s.crop = resolved_strong_crop();
    s.num_ops = selflabel.num_strong_ops;
    s.cutout = selflabel.cutout;
    s.channels = channels;
    s.mean = mean;
    s.std = std;
    return s;
  }
  // Phase of epoch e (1 or 2); whether the neighbours are refreshed / the model evaluated at its end.
  int phase_of(int e) const { return e <= switch_epoch ? 1 : 2; }
  // (With the release's 50 and 5: after epochs 50, 55, 60, ... as SPEC §4's "e >= 50, e % 5 == 0".)
  bool refresh_after(int e) const { return e >= switch_epoch && (e - switch_epoch) % refresh_every == 0; }
  bool evaluate_after(int e) const { return e == epochs - 1 || (eval_every > 0 && e > 0 && e % eval_every == 0); }
  bool selflabel_evaluate_after(int e) const {
    return e == selflabel.epochs - 1 || (selflabel.eval_every > 0 && (e + 1) % selflabel.eval_every == 0);
  }
};

// The one dataset-name normaliser: lower case, '_' -> '-', the release's and common spellings folded
// (cifar10, imagenet10, imagenet_dogs, tiny_imagenet, fmnist ... -> cifar-10, imagenet-10, ...).
// Names it does not know come back lower-cased with '-' (a reader then says what it accepts).
inline std::string canonical_dataset(const std::string& name) {
  std::string s = name;
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(c == '_' ? '-' : std::tolower(c)); });
  if (s == "cifar10") return "cifar-10";
  if (s == "cifar20" || s == "cifar-100" || s == "cifar100" || s == "cifar-100-20") return "cifar-20";
  if (s == "stl10") return "stl-10";
  if (s == "imagenet10") return "imagenet-10";
  if (s == "imagenetdogs" || s == "dogs") return "imagenet-dogs";
  if (s == "tinyimagenet" || s == "tiny") return "tiny-imagenet";
  if (s == "fashionmnist" || s == "fmnist") return "fashion-mnist";
  return s;
}

}  // namespace train
}  // namespace gcc
