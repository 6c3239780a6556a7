// TrainConfig: every number of the end-to-end GCC trainer (SPEC §3-§4) in one struct, with presets for
// the release's six datasets and the small CPU default "fashion-mnist" (our own, tuned: see README).
#pragma once
#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <type_traits>
#include <cstdint>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../data/augment.hpp"
#include "../nn/end2end.hpp"

namespace gcc {
namespace train {

struct TrainConfig {
  std::string preset;                 // which preset it started from ("" = none)

  // ---- data ----
  std::string dataset = "cifar-10";   // cifar-10, cifar-20, stl-10, imagenet-10, imagenet-dogs, tiny-imagenet,
                                      // fashion-mnist
  std::string data_root;              // "" = the reader's default folder
  int64_t train_subset = 0;           // > 0: train on this many images (a seeded random subset); 0 = all
  std::string eval_set = "train";     // "train": evaluate on the training images; "all": on every image of
                                      // the dataset (the 70,000 of Fashion-MNIST when training on a subset)
  int64_t eval_batch_size = 512;
  int64_t eval_knn_max = 10000;       // evaluation also reports the embeddings' kNN accuracy up to this many images

  // ---- views (SPEC §3) ----
  std::string view_family = "cifar";  // gcc::data::view_preset name: cifar, stl, tiny, fashion-mnist
  int channels = 3;                   // network input channels (1 = grey)
  int train_size = 32;                // SimCLR view size S
  int eval_resize = 40, eval_crop = 32;
  std::array<float, 3> mean{{0.4914f, 0.4822f, 0.4465f}}, std{{0.2023f, 0.1994f, 0.2010f}};
  double crop_scale_min = 0.2, crop_scale_max = 1.0;
  double crop_ratio_min = 3.0 / 4.0, crop_ratio_max = 4.0 / 3.0;
  double flip_p = 0.5, jitter_p = 0.8, gray_p = 0.2;
  double brightness = 0.4, contrast = 0.4, saturation = 0.4, hue = 0.1;

  // ---- model (SPEC §2) ----
  std::string backbone = "resnet18-cifar";  // resnet18-cifar, resnet34-cifar, resnet18-stl, resnet34-stl
  int64_t base_width = 64;            // stage widths base, 2x, 4x, 8x (64 in the release)
  int stem_maxpool = -1;              // -1 = as the backbone variant; 0/1 forces the stem max-pool off/on
  int final_avgpool = -1;             // -1 = as the variant; 0 = global average pooling
  int64_t num_clusters = 10;          // K
  int nheads = 1;

  // ---- schedule (SPEC §4) ----
  int epochs = 1000;
  int switch_epoch = 50;              // phase 1 for e <= switch_epoch, phase 2 after
  int refresh_every = 5;              // neighbour refresh after epochs e >= switch_epoch, (e - switch_epoch) % refresh_every == 0
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

  // ---- evaluation, run ----
  int eval_every = 5;                 // evaluate after epoch e > 0 with e % eval_every == 0, and after the last
  uint64_t seed = 0;
  int loader_threads = 2;             // augmentation threads
  std::string device = "cpu";         // cpu or cuda[:n] (CUDA needs a program built with nvcc)

  // The model config this describes.
  nn::End2EndConfig model_config() const {
    nn::End2EndConfig m;
    m.backbone = nn::ResNetConfig::preset(backbone);
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
  data::EvalParams eval_params() const {
    data::EvalParams e;
    e.resize = eval_resize;
    e.crop = eval_crop;
    e.channels = channels;
    e.mean = mean;
    e.std = std;
    return e;
  }
  // Phase of epoch e (1 or 2) and whether the neighbours are refreshed at its end.
  int phase_of(int e) const { return e <= switch_epoch ? 1 : 2; }
  // (With the release's 50 and 5: after epochs 50, 55, 60, ... as SPEC §4's "e >= 50, e % 5 == 0".)
  bool refresh_after(int e) const { return e >= switch_epoch && (e - switch_epoch) % refresh_every == 0; }
  bool evaluate_after(int e) const {
    return e == epochs - 1 || (eval_every > 0 && e > 0 && e % eval_every == 0);
  }
  // Throws gcc::Error naming the first bad field.
  void validate() const {
    auto bad = [](const char* key, const auto& v, const char* want) {
      GCC_FAIL("TrainConfig: ", key, " = ", v, " is invalid: ", want);
    };
    if (epochs < 1) bad("epochs", epochs, "must be >= 1");
    if (switch_epoch < 0) bad("switch_epoch", switch_epoch, "must be >= 0 (phase 2 needs the neighbours of a refresh)");
    if (refresh_every < 1) bad("refresh_every", refresh_every, "must be >= 1");
    if (num_neighbors < 1) bad("num_neighbors", num_neighbors, "must be >= 1");
    if (memory_slots < 1) bad("memory_slots", memory_slots, "must be >= 1");
    if (batch_size < 2) bad("batch_size", batch_size, "must be >= 2");
    if (eval_batch_size < 1) bad("eval_batch_size", eval_batch_size, "must be >= 1");
    if (!(lr > 0.f)) bad("lr", lr, "must be > 0");
    if (!(momentum >= 0.f && momentum < 1.f)) bad("momentum", momentum, "must be in [0, 1)");
    if (!(weight_decay >= 0.f)) bad("weight_decay", weight_decay, "must be >= 0");
    if (!(temperature > 0.f)) bad("temperature", temperature, "must be > 0");
    if (!(entropy_weight >= 0.f)) bad("entropy_weight", entropy_weight, "must be >= 0");
    if (num_clusters < 2) bad("num_clusters", num_clusters, "must be >= 2");
    if (nheads < 1) bad("nheads", nheads, "must be >= 1");
    if (base_width < 1) bad("base_width", base_width, "must be >= 1");
    if (channels != 1 && channels != 3) bad("channels", channels, "must be 1 or 3");
    if (train_size < 1) bad("train_size", train_size, "must be >= 1");
    if (eval_crop < 1 || eval_resize < eval_crop) bad("eval_crop", eval_crop, "must be in [1, eval_resize]");
    if (!(crop_scale_min > 0 && crop_scale_min <= crop_scale_max && crop_scale_max <= 1))
      bad("crop_scale_min", crop_scale_min, "need 0 < crop_scale_min <= crop_scale_max <= 1");
    if (!(crop_ratio_min > 0 && crop_ratio_min <= crop_ratio_max))
      bad("crop_ratio_min", crop_ratio_min, "need 0 < crop_ratio_min <= crop_ratio_max");
    for (double p : {flip_p, jitter_p, gray_p})
      if (!(p >= 0 && p <= 1)) bad("flip_p/jitter_p/gray_p", p, "must be a probability in [0, 1]");
    if (!(hue >= 0 && hue <= 0.5)) bad("hue", hue, "must be in [0, 0.5]");
    if (!(brightness >= 0 && contrast >= 0 && saturation >= 0))
      bad("brightness/contrast/saturation", std::min(brightness, std::min(contrast, saturation)), "must be >= 0");
    if (train_subset < 0) bad("train_subset", train_subset, "must be >= 0 (0 = all images)");
    if (eval_set != "train" && eval_set != "all") bad("eval_set", eval_set, "must be train or all");
    if (loader_threads < 0) bad("loader_threads", loader_threads, "must be >= 0");
    if (eval_every < 0) bad("eval_every", eval_every, "must be >= 0 (0 = only after the last epoch)");
    for (int c = 0; c < channels; ++c)
      if (!(std[static_cast<std::size_t>(c)] > 0.f)) bad("std", std[static_cast<std::size_t>(c)], "must be > 0");
  }
};

// ---- keys: every TrainConfig field by name, for command-line overrides and config files ----------
struct ConfigKey {
  const char* name;
  const char* help;
  std::function<void(TrainConfig&, const std::string&)> set;  // parses and stores; throws on a bad value
  std::function<std::string(const TrainConfig&)> get;        // the value as text
};

namespace detail {
[[noreturn]] inline void bad_value(const std::string& key, const std::string& v, const char* want) {
  GCC_FAIL("config key '", key, "': value '", v, "' is not ", want);
}
inline int64_t parse_int(const std::string& key, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0) bad_value(key, v, "an integer");
  return x;
}
// T = float parses with strtof (not strtod then a cast), so fmt_real's text reads back exactly.
template <typename T = double>
T parse_real(const std::string& key, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  const T x = std::is_same<T, float>::value ? static_cast<T>(std::strtof(v.c_str(), &end)) : static_cast<T>(std::strtod(v.c_str(), &end));
  if (v.empty() || *end != '\0' || errno != 0 || !std::isfinite(x)) bad_value(key, v, "a finite number");
  return x;
}
inline bool parse_bool(const std::string& key, const std::string& v) {
  std::string s = v;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (s == "1" || s == "true" || s == "yes" || s == "on") return true;
  if (s == "0" || s == "false" || s == "no" || s == "off") return false;
  bad_value(key, v, "a boolean (true/false, yes/no, 1/0)");
}
// The shortest text that reads back as the same value (so a config written and read back -- e.g. by
// --resume -- reproduces the run bit for bit).
template <typename T>
std::string fmt_real(T x) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, x);
  return std::string(buf, r.ptr);
}
// "a,b,c" or "[a, b, c]" -> up to 3 numbers (one number fills all three).
inline std::array<float, 3> parse_triple(const std::string& key, const std::string& v) {
  std::string s;
  for (char c : v)
    if (c != '[' && c != ']' && c != ' ') s += c;
  std::vector<float> xs;
  std::size_t start = 0;
  while (start <= s.size()) {
    const std::size_t comma = s.find(',', start);
    xs.push_back(parse_real<float>(key, s.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (xs.size() != 1 && xs.size() != 3) bad_value(key, v, "one number or three comma-separated numbers");
  std::array<float, 3> out{};
  for (int i = 0; i < 3; ++i) out[static_cast<std::size_t>(i)] = xs[xs.size() == 1 ? 0 : static_cast<std::size_t>(i)];
  return out;
}
}  // namespace detail

// The table of keys (names as on the command line: --epochs 20, --lr 0.1 ...).
inline const std::vector<ConfigKey>& config_keys() {
  using C = TrainConfig;
  using S = const std::string&;
#define GCC_KEY_STR(field, help)                                                       \
  ConfigKey{#field, help, [](C& c, S v) { c.field = v; }, [](const C& c) { return c.field; }}
#define GCC_KEY_INT(field, help)                                                                          \
  ConfigKey{#field, help, [](C& c, S v) { c.field = static_cast<decltype(c.field)>(detail::parse_int(#field, v)); }, \
            [](const C& c) { return std::to_string(c.field); }}
#define GCC_KEY_REAL(field, help)                                                                          \
  ConfigKey{#field, help, [](C& c, S v) { c.field = detail::parse_real<decltype(c.field)>(#field, v); }, \
            [](const C& c) { return detail::fmt_real(c.field); }}
#define GCC_KEY_BOOL(field, help)                                                       \
  ConfigKey{#field, help, [](C& c, S v) { c.field = detail::parse_bool(#field, v); }, \
            [](const C& c) { return std::string(c.field ? "true" : "false"); }}
#define GCC_KEY_TRIPLE(field, help)                                                       \
  ConfigKey{#field, help, [](C& c, S v) { c.field = detail::parse_triple(#field, v); }, \
            [](const C& c) {                                                              \
              return detail::fmt_real(c.field[0]) + "," + detail::fmt_real(c.field[1]) + "," + \
                     detail::fmt_real(c.field[2]);                                        \
            }}
  static const std::vector<ConfigKey> keys = {
      GCC_KEY_STR(dataset, "cifar-10, cifar-20, stl-10, imagenet-10, imagenet-dogs, tiny-imagenet, fashion-mnist"),
      GCC_KEY_STR(data_root, "dataset folder (empty: the reader's default)"),
      GCC_KEY_INT(train_subset, "train on this many images (seeded random subset); 0 = all"),
      GCC_KEY_STR(eval_set, "train (evaluate on the training images) or all (every image of the dataset)"),
      GCC_KEY_INT(eval_batch_size, "images per evaluation batch"),
      GCC_KEY_INT(eval_knn_max, "evaluation reports the embeddings' 5-NN accuracy on sets up to this size"),
      GCC_KEY_INT(channels, "network input channels, 1 or 3"),
      GCC_KEY_INT(train_size, "SimCLR view size S"),
      GCC_KEY_INT(eval_resize, "evaluation view: shorter side resized to this"),
      GCC_KEY_INT(eval_crop, "evaluation view: centre crop"),
      GCC_KEY_TRIPLE(mean, "normalisation mean per channel"),
      GCC_KEY_TRIPLE(std, "normalisation std per channel"),
      GCC_KEY_REAL(crop_scale_min, "RandomResizedCrop scale lower bound"),
      GCC_KEY_REAL(crop_scale_max, "RandomResizedCrop scale upper bound"),
      GCC_KEY_REAL(crop_ratio_min, "RandomResizedCrop aspect-ratio lower bound"),
      GCC_KEY_REAL(crop_ratio_max, "RandomResizedCrop aspect-ratio upper bound"),
      GCC_KEY_REAL(flip_p, "horizontal flip probability"),
      GCC_KEY_REAL(jitter_p, "colour jitter probability"),
      GCC_KEY_REAL(gray_p, "random grayscale probability"),
      GCC_KEY_REAL(brightness, "colour jitter brightness"),
      GCC_KEY_REAL(contrast, "colour jitter contrast"),
      GCC_KEY_REAL(saturation, "colour jitter saturation"),
      GCC_KEY_REAL(hue, "colour jitter hue"),
      GCC_KEY_STR(backbone, "resnet18-cifar, resnet34-cifar, resnet18-stl, resnet34-stl"),
      GCC_KEY_INT(base_width, "ResNet base width (stage widths w, 2w, 4w, 8w; 64 in the release)"),
      GCC_KEY_INT(stem_maxpool, "-1 = as the backbone, 0/1 = stem max-pool off/on"),
      GCC_KEY_INT(final_avgpool, "-1 = as the backbone, 0 = global average pooling, else the AvgPool kernel"),
      GCC_KEY_INT(num_clusters, "K"),
      GCC_KEY_INT(nheads, "cluster heads (evaluation uses head 0)"),
      GCC_KEY_INT(epochs, "epochs"),
      GCC_KEY_INT(switch_epoch, "phase 1 for epochs <= this, phase 2 after"),
      GCC_KEY_INT(refresh_every, "neighbour refresh period (epochs) after the switch"),
      GCC_KEY_INT(num_neighbors, "neighbours mined per sample"),
      GCC_KEY_INT(memory_slots, "embeddings kept per sample in the feature memory"),
      GCC_KEY_INT(batch_size, "samples per step"),
      GCC_KEY_BOOL(drop_last, "drop the last partial batch"),
      GCC_KEY_REAL(lr, "SGD learning rate"),
      GCC_KEY_REAL(momentum, "SGD momentum"),
      GCC_KEY_REAL(weight_decay, "SGD weight decay"),
      GCC_KEY_REAL(lr_decay_rate, "cosine floor = lr * rate^3"),
      GCC_KEY_BOOL(cosine, "cosine schedule (false: constant lr)"),
      GCC_KEY_REAL(temperature, "contrastive temperature tau"),
      GCC_KEY_REAL(entropy_weight, "lambda: weight of the AGC cluster-balance term"),
      GCC_KEY_REAL(rgc_weight, "weight of the RGC loss"),
      GCC_KEY_REAL(agc_weight, "weight of the AGC loss"),
      GCC_KEY_BOOL(phase1_agc, "also AGC between the two views in phase 1 (extension)"),
      GCC_KEY_INT(eval_every, "evaluate every N epochs (0 = only after the last)"),
      GCC_KEY_INT(seed, "random seed"),
      GCC_KEY_INT(loader_threads, "augmentation threads"),
      GCC_KEY_STR(device, "cpu or cuda[:N]"),
  };
#undef GCC_KEY_STR
#undef GCC_KEY_INT
#undef GCC_KEY_REAL
#undef GCC_KEY_BOOL
#undef GCC_KEY_TRIPLE
  return keys;
}

// Key names are matched with '-' and '_' equivalent. Unknown keys throw naming the key.
inline std::string normalize_key(const std::string& key) {
  std::string k = key;
  for (char& c : k)
    if (c == '-') c = '_';
  return k;
}
inline const ConfigKey* find_config_key(const std::string& key) {
  const std::string k = normalize_key(key);
  for (const ConfigKey& c : config_keys())
    if (k == c.name) return &c;
  return nullptr;
}
inline void set_config_key(TrainConfig& cfg, const std::string& key, const std::string& value) {
  const ConfigKey* k = find_config_key(key);
  if (!k) {
    std::string known;
    for (const ConfigKey& c : config_keys()) known += (known.empty() ? "" : ", ") + std::string(c.name);
    GCC_FAIL("unknown config key '", key, "'; known keys: ", known);
  }
  k->set(cfg, value);
}
// Every key with its value, one "key: value" per line (YAML-compatible for the plain values).
inline std::string config_to_text(const TrainConfig& cfg) {
  std::string out = "preset: " + cfg.preset + "\n";
  for (const ConfigKey& k : config_keys()) out += std::string(k.name) + ": " + k.get(cfg) + "\n";
  return out;
}

// Canonical dataset name: lower case, '_' -> '-', aliases folded (cifar10 -> cifar-10, ...).
inline std::string canonical_dataset(const std::string& name) {
  std::string s = name;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(c == '_' ? '-' : std::tolower(c)); });
  if (s == "cifar10") return "cifar-10";
  if (s == "cifar20" || s == "cifar-100" || s == "cifar100" || s == "cifar-100-20") return "cifar-20";
  if (s == "stl10") return "stl-10";
  if (s == "imagenet10") return "imagenet-10";
  if (s == "imagenet-dogs" || s == "imagenetdogs" || s == "dogs") return "imagenet-dogs";
  if (s == "tiny-imagenet" || s == "tinyimagenet" || s == "tiny") return "tiny-imagenet";
  if (s == "fashion-mnist" || s == "fashionmnist" || s == "fmnist") return "fashion-mnist";
  return s;
}

inline const std::vector<std::string>& preset_names() {
  static const std::vector<std::string> names = {"cifar-10",      "cifar-20",      "stl-10",       "imagenet-10",
                                                 "imagenet-dogs", "tiny-imagenet", "fashion-mnist"};
  return names;
}

namespace detail {
inline void apply_views(TrainConfig& c, const std::string& family) {
  const data::ViewPreset v = data::view_preset(family);
  c.view_family = v.name;
  c.channels = v.channels;
  c.train_size = v.train_size;
  c.eval_resize = v.eval_resize;
  c.eval_crop = v.eval_crop;
  c.mean = v.mean;
  c.std = v.std;
}
}  // namespace detail

// The release's hyper-parameters (SPEC §3-§4) for its six datasets, and our CPU default:
//   cifar-10, cifar-20    resnet18-cifar, batch 256, 32x32, K 10 / 20
//   stl-10                resnet18-stl, batch 96, 96x96, K 10; phase 1 on train+unlabelled+test (113,000),
//                         phase 2 and evaluation on train+test (13,000)
//   imagenet-10, -dogs    resnet18-stl, batch 96, 96x96 (from 112 px), K 10 / 15
//   tiny-imagenet         resnet34-stl, batch 128, 64x64, K 200
//   fashion-mnist         the CPU default (not the release): 1-channel 28x28, ResNet-18 of base width 8 with
//                         the stem max-pool, trained on 20,000 images, evaluated on all 70,000; schedule,
//                         lr and phase-1 AGC tuned for a run of under 10 minutes on 2 cores.
// All of them: SGD lr 0.4, momentum 0.9, wd 1e-4, cosine to lr·1e-3 over 1000 epochs, τ 0.1, λ 2,
// 5 neighbours, refresh every 5 epochs from epoch 50 -- except where the fashion-mnist preset says otherwise.
inline TrainConfig train_preset(const std::string& name) {
  TrainConfig c;
  const std::string d = canonical_dataset(name);
  c.preset = d;
  c.dataset = d;
  if (d == "cifar-10" || d == "cifar-20") {
    detail::apply_views(c, "cifar");
    c.backbone = "resnet18-cifar";
    c.batch_size = 256;
    c.num_clusters = d == "cifar-10" ? 10 : 20;
  } else if (d == "stl-10" || d == "imagenet-10" || d == "imagenet-dogs") {
    detail::apply_views(c, "stl");
    c.backbone = "resnet18-stl";
    c.batch_size = 96;
    c.num_clusters = d == "imagenet-dogs" ? 15 : 10;
  } else if (d == "tiny-imagenet") {
    detail::apply_views(c, "tiny");
    c.backbone = "resnet34-stl";
    c.batch_size = 128;
    c.num_clusters = 200;
  } else if (d == "fashion-mnist") {
    // The CPU default, tuned on 2 cores (trials in the README): the release's settings merely shrunk stay
    // below k-means on the pixels (SPEC §8). What made the difference: a narrow network (base width 8,
    // stem max-pool: ~3x the images/s of width 16), AGC between the two views already in phase 1 (the
    // cluster head trains from the first step; the embedding's kNN accuracy rose too), lr 0.2, and as many
    // images as the budget allows (20,000 for 16 phase-1 and 4 phase-2 epochs).
    detail::apply_views(c, "fashion-mnist");
    c.backbone = "resnet18-cifar";
    c.base_width = 8;
    c.stem_maxpool = 1;
    c.final_avgpool = 0;
    c.num_clusters = 10;
    c.train_subset = 20000;
    c.eval_set = "all";
    c.batch_size = 256;
    c.epochs = 20;
    c.switch_epoch = 15;
    c.refresh_every = 2;
    c.lr = 0.2f;
    c.phase1_agc = true;
    c.eval_every = 0;
    c.loader_threads = 1;
    c.saturation = 0;  // no-ops on grey images anyway
    c.hue = 0;
    c.gray_p = 0;
  } else {
    std::string known;
    for (const std::string& n : preset_names()) known += (known.empty() ? "" : ", ") + n;
    GCC_FAIL("train_preset: unknown preset '", name, "'; known presets: ", known);
  }
  return c;
}

}  // namespace train
}  // namespace gcc
