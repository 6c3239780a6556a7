// The schema of gcc::train::Config: one table of keys with their type, help text and check, from
// which everything else is driven -- validation, `--key value` overrides, `--list-keys`, and the YAML
// a run writes (config.yaml, the checkpoint's stored config) and reads back. Values are YAML nodes, so
// a file and the command line parse alike.
//
//   set_value(cfg, *find_field("lr"), YAML::Load("0.2"));   // or apply_override (config_file.hpp)
//   validate(cfg);                                     // throws: config key 'lr' = -1 is invalid: ...
//   std::string yaml = config_yaml(cfg);               // every key, its value and its help
#pragma once
#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "../core/device.hpp"
#include "../core/error.hpp"
#include "../io/json.hpp"
#include "config.hpp"

namespace gcc {
namespace train {

// Which stage a bare key (no section) refers to first: `epochs` is selflabel.epochs for gcc_selflabel.
enum class Stage { End2End, SelfLabel };

// A value that does not parse: `expected` says what would ("an integer", "true or false", ...).
struct BadValue {
  std::string expected;
};

struct ConfigField {
  std::string key;                                      // "lr", "selflabel.lr"
  std::string type;                                     // "integer", "number", ... (for --list-keys)
  std::string help;
  std::function<void(Config&, const YAML::Node&)> set;  // throws BadValue
  std::function<std::string(const Config&)> yaml;       // the value as YAML text that reads back exactly
  std::function<std::string(const Config&)> problem;    // "" when the value is valid, else what it must be
};

// A check on a field's value: numeric fields use `number`, text fields `text`; `need` says what is wanted.
struct Rule {
  std::function<bool(double)> number;
  std::function<bool(const std::string&)> text;
  std::string need;
};
inline Rule at_least(double lo) { return {[lo](double v) { return v >= lo; }, nullptr, "must be >= " + io::json_number(lo)}; }
inline Rule positive() { return {[](double v) { return v > 0; }, nullptr, "must be > 0"}; }
inline Rule probability() { return {[](double v) { return v >= 0 && v <= 1; }, nullptr, "must be in [0, 1]"}; }
inline Rule below_one() { return {[](double v) { return v >= 0 && v < 1; }, nullptr, "must be in [0, 1)"}; }
inline Rule between(double lo, double hi) {
  return {[lo, hi](double v) { return v >= lo && v <= hi; }, nullptr,
          "must be in [" + io::json_number(lo) + ", " + io::json_number(hi) + "]"};
}
inline Rule one_of(std::vector<std::string> names) {
  std::string list;
  for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
  return {nullptr, [names](const std::string& v) { return std::find(names.begin(), names.end(), v) != names.end(); },
          "must be one of: " + list};
}

namespace detail {
// Parsing and printing per C++ type. Printing is exact: a value written and read back is the same bits.
inline bool plain(const YAML::Node& n) { return n.IsScalar() && n.Tag() != "!"; }
template <typename T>
T parse_number(const std::string& s, const char* expected) {
  const char* b = s.data() + (!s.empty() && s[0] == '+');
  T v{};
  const auto r = std::from_chars(b, s.data() + s.size(), v);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size()) throw BadValue{expected};
  if constexpr (std::is_floating_point<T>::value)
    if (!std::isfinite(v)) throw BadValue{expected};
  return v;
}
template <typename T>
T parse_number(const YAML::Node& n, const char* expected) {
  if (!plain(n)) throw BadValue{expected};
  return parse_number<T>(n.Scalar(), expected);
}
template <typename T>
std::string print_number(T v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}
// Text that YAML reads back as the same string (quoted when it could read as something else).
inline std::string yaml_text(const std::string& s) {
  bool simple = !s.empty() && (std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '/');
  for (char c : s) simple = simple && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '/');
  for (const char* word : {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}) {
    std::string low = s;
    for (char& c : low) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    simple = simple && low != word;
  }
  return simple ? s : io::json_quote(s);  // YAML's double-quoted style is JSON's
}

template <typename T> struct Codec;
template <> struct Codec<int> {
  static constexpr const char* type = "integer";
  static int parse(const YAML::Node& n) { return parse_number<int>(n, "an integer"); }
  static std::string print(int v) { return std::to_string(v); }
};
template <> struct Codec<int64_t> {
  static constexpr const char* type = "integer";
  static int64_t parse(const YAML::Node& n) { return parse_number<int64_t>(n, "an integer"); }
  static std::string print(int64_t v) { return std::to_string(v); }
};
template <> struct Codec<uint64_t> {
  static constexpr const char* type = "non-negative integer";
  static uint64_t parse(const YAML::Node& n) { return parse_number<uint64_t>(n, "a non-negative integer"); }
  static std::string print(uint64_t v) { return std::to_string(v); }
};
template <> struct Codec<float> {
  static constexpr const char* type = "number";
  static float parse(const YAML::Node& n) { return parse_number<float>(n, "a finite number"); }
  static std::string print(float v) { return print_number(v); }
};
template <> struct Codec<double> {
  static constexpr const char* type = "number";
  static double parse(const YAML::Node& n) { return parse_number<double>(n, "a finite number"); }
  static std::string print(double v) { return print_number(v); }
};
template <> struct Codec<bool> {
  static constexpr const char* type = "boolean";
  static bool parse(const YAML::Node& n) {
    bool v = false;
    if (!plain(n)) throw BadValue{"true or false"};
    if (n.Scalar() == "1" || n.Scalar() == "0") return n.Scalar() == "1";
    if (!YAML::convert<bool>::decode(n, v)) throw BadValue{"true or false"};
    return v;
  }
  static std::string print(bool v) { return v ? "true" : "false"; }
};
template <> struct Codec<std::string> {
  static constexpr const char* type = "text";
  static std::string parse(const YAML::Node& n) {
    if (!n.IsScalar()) throw BadValue{"a text value"};
    return n.Scalar();
  }
  static std::string print(const std::string& v) { return yaml_text(v); }
};
// Per-channel values: [a, b, c], one number for all channels, or "a,b,c".
template <> struct Codec<std::array<float, 3>> {
  static constexpr const char* type = "1 or 3 numbers";
  static std::array<float, 3> parse(const YAML::Node& n) {
    const char* want = "one number or a list of 3, e.g. [0.5, 0.5, 0.5]";
    std::vector<float> xs;
    if (n.IsSequence()) {
      for (std::size_t i = 0; i < n.size(); ++i) xs.push_back(parse_number<float>(n[i], want));
    } else if (n.IsScalar()) {  // also quoted: "0.5,0.5,0.5"
      std::string s = n.Scalar(), part;
      for (std::size_t i = 0; i <= s.size(); ++i) {
        if (i == s.size() || s[i] == ',') {
          xs.push_back(parse_number<float>(part, want));
          part.clear();
        } else if (s[i] != ' ') {
          part += s[i];
        }
      }
    }
    if (xs.size() != 1 && xs.size() != 3) throw BadValue{want};
    return {{xs[0], xs[xs.size() / 2], xs.back()}};
  }
  static std::string print(const std::array<float, 3>& v) {
    return "[" + print_number(v[0]) + ", " + print_number(v[1]) + ", " + print_number(v[2]) + "]";
  }
};

template <typename T>
std::string check(const T& v, const Rule& r) {
  if constexpr (std::is_arithmetic<T>::value) {
    if (r.number && !r.number(static_cast<double>(v))) return r.need;
  } else if constexpr (std::is_same<T, std::string>::value) {
    if (r.text && !r.text(v)) return r.need;
  }
  return "";
}
template <typename T, typename Access>
ConfigField make_field(std::string key, Access access, const char* help, Rule rule) {
  ConfigField f;
  f.key = std::move(key);
  f.type = Codec<T>::type;
  f.help = help;
  f.set = [access](Config& c, const YAML::Node& n) { access(c) = Codec<T>::parse(n); };
  f.yaml = [access](const Config& c) { return Codec<T>::print(access(const_cast<Config&>(c))); };
  f.problem = [access, rule](const Config& c) { return check<T>(access(const_cast<Config&>(c)), rule); };
  return f;
}
}  // namespace detail

// A top-level key, and a key of the selflabel section.
template <typename T>
ConfigField field(const char* key, T Config::*m, const char* help, Rule rule = {}) {
  return detail::make_field<T>(key, [m](Config& c) -> T& { return c.*m; }, help, std::move(rule));
}
template <typename T>
ConfigField field(const char* key, T SelfLabelSettings::*m, const char* help, Rule rule = {}) {
  return detail::make_field<T>(std::string("selflabel.") + key, [m](Config& c) -> T& { return c.selflabel.*m; }, help,
                               std::move(rule));
}

// The table: every key, in the order config.yaml lists them.
inline const std::vector<ConfigField>& config_fields() {
  using C = Config;
  using S = SelfLabelSettings;
  static const std::vector<ConfigField> f = {
      field("preset", &C::preset, "the preset this started from; reading it restarts from that preset"),
      // data
      field("auto_plan", &C::auto_plan, "plan width, sizes, batch, schedule and normalisation from the data and `minutes` "
            "when the run starts (the preset auto; a run's config.yaml stores the plan with this false)"),
      field("minutes", &C::minutes, "the time budget the automatic plan fills (minutes of training)", positive()),
      field("dataset", &C::dataset, "cifar-10, cifar-20, stl-10, imagenet-10, imagenet-dogs, tiny-imagenet, fashion-mnist, "
            "or your images: folder, list, idx, npy"),
      field("data_root", &C::data_root, "dataset folder (empty: the reader's default); your images: the folder, the "
            "list file, the IDX images file or the .npy images array"),
      field("labels_file", &C::labels_file, "idx / npy: the labels file (IDX labels or an integer .npy; empty: unlabelled)"),
      field("unlabelled", &C::unlabelled, "ignore the labels of your images (class sub-folders, list labels, labels_file)"),
      field("image_size", &C::image_size, "your images: resize every image to S x S (shorter side to S, centre crop); "
            "0 = as stored (one size required)", at_least(0)),
      field("data_stats", &C::data_stats, "compute mean and std from the training images when the run starts (then stored)"),
      field("train_subset", &C::train_subset, "train on a seeded random subset of this many images (0: all)", at_least(0)),
      field("eval_set", &C::eval_set, "train (evaluate on the training images), all (every image of the dataset) or "
            "test (the test split: cifar-10, cifar-20, stl-10, fashion-mnist)", one_of({"train", "all", "test"})),
      field("eval_batch_size", &C::eval_batch_size, "images per evaluation batch", at_least(1)),
      field("eval_knn_max", &C::eval_knn_max, "evaluation reports the embeddings' kNN accuracy on sets up to this size", at_least(0)),
      field("loader_threads", &C::loader_threads, "augmentation threads", at_least(0)),
      // views
      field("channels", &C::channels, "network input channels, 1 or 3", between(1, 3)),
      field("train_size", &C::train_size, "SimCLR view size S", at_least(1)),
      field("eval_resize", &C::eval_resize, "evaluation view: shorter side resized to this", at_least(1)),
      field("eval_crop", &C::eval_crop, "evaluation view: centre crop (<= eval_resize)", at_least(1)),
      field("mean", &C::mean, "normalisation mean per channel"),
      field("std", &C::std, "normalisation std per channel (> 0)"),
      field("crop_scale_min", &C::crop_scale_min, "RandomResizedCrop area lower bound", positive()),
      field("crop_scale_max", &C::crop_scale_max, "RandomResizedCrop area upper bound (<= 1)", between(0, 1)),
      field("crop_ratio_min", &C::crop_ratio_min, "RandomResizedCrop aspect-ratio lower bound", positive()),
      field("crop_ratio_max", &C::crop_ratio_max, "RandomResizedCrop aspect-ratio upper bound", positive()),
      field("flip_p", &C::flip_p, "horizontal flip probability", probability()),
      field("jitter_p", &C::jitter_p, "colour jitter probability", probability()),
      field("gray_p", &C::gray_p, "random grayscale probability", probability()),
      field("brightness", &C::brightness, "colour jitter brightness", at_least(0)),
      field("contrast", &C::contrast, "colour jitter contrast", at_least(0)),
      field("saturation", &C::saturation, "colour jitter saturation", at_least(0)),
      field("hue", &C::hue, "colour jitter hue", between(0, 0.5)),
      // model
      field("backbone", &C::backbone, "resnet18 or resnet34 (-cifar for 32/28-pixel datasets, else -stl), or a full "
            "name: resnet18-cifar, resnet34-cifar, resnet50-cifar, resnet18-stl, resnet34-stl",
            one_of({"resnet18", "resnet34", "resnet18-cifar", "resnet34-cifar", "resnet50-cifar", "resnet18-stl", "resnet34-stl"})),
      field("base_width", &C::base_width, "ResNet base width (stage widths w, 2w, 4w, 8w; 64 in the release)", at_least(1)),
      field("stem_maxpool", &C::stem_maxpool, "-1 = as the backbone, 0/1 = stem max-pool off/on", between(-1, 1)),
      field("final_avgpool", &C::final_avgpool, "-1 = as the backbone, 0 = global average pooling, else the AvgPool kernel",
            at_least(-1)),
      field("num_clusters", &C::num_clusters, "K", at_least(2)),
      field("nheads", &C::nheads, "cluster heads (evaluation uses head 0)", at_least(1)),
      // end-to-end schedule and losses
      field("epochs", &C::epochs, "end-to-end epochs (also the cosine schedule's length)", at_least(1)),
      field("switch_epoch", &C::switch_epoch, "phase 1 for epochs <= this, phase 2 after (the refresh at its end "
            "builds the first graph)", at_least(0)),
      field("refresh_every", &C::refresh_every, "neighbour refresh period (epochs) from switch_epoch on", at_least(1)),
      field("num_neighbors", &C::num_neighbors, "neighbours mined per sample", at_least(1)),
      field("memory_slots", &C::memory_slots, "embeddings kept per sample in the feature memory", at_least(1)),
      field("batch_size", &C::batch_size, "samples per step", at_least(2)),
      field("drop_last", &C::drop_last, "drop the last partial batch"),
      field("lr", &C::lr, "SGD learning rate", positive()),
      field("momentum", &C::momentum, "SGD momentum", below_one()),
      field("weight_decay", &C::weight_decay, "SGD weight decay", at_least(0)),
      field("lr_decay_rate", &C::lr_decay_rate, "cosine floor = lr * rate^3", positive()),
      field("cosine", &C::cosine, "cosine schedule (false: constant lr)"),
      field("temperature", &C::temperature, "contrastive temperature tau", positive()),
      field("entropy_weight", &C::entropy_weight, "lambda: weight of the AGC cluster-balance term", at_least(0)),
      field("rgc_weight", &C::rgc_weight, "weight of the RGC loss", at_least(0)),
      field("agc_weight", &C::agc_weight, "weight of the AGC loss", at_least(0)),
      field("phase1_agc", &C::phase1_agc, "also AGC between the two views in phase 1 (extension)"),
      field("eval_every", &C::eval_every, "evaluate every N epochs (0 = only after the last)", at_least(0)),
      field("seed", &C::seed, "random seed (model, subset, shuffling, augmentation)"),
      // run
      field("device", &C::device, "cpu, cuda, cuda:N or auto (cuda:0 when this program has CUDA and a GPU)"),
      field("threads", &C::threads, "compute threads (OpenMP and OpenBLAS; 0 = all cores)", at_least(0)),
      field("batched_passes", &C::batched_passes, "run phase 2's five forward passes as one batch with BatchNorm "
            "statistics per pass: the same maths, fewer and larger convolutions (false: one pass each)"),
      field("sync_batchnorm", &C::sync_batchnorm, "data-parallel runs (mpirun -np N): BatchNorm statistics over every "
            "rank's rows of the global batch, the one-process maths (false: each rank's own shard, faster; CPU only)"),
      field("checkpoint_every", &C::checkpoint_every, "write the checkpoint every N epochs (always at the end and on "
            "Ctrl-C)", at_least(1)),
      // self-labelling
      field("epochs", &S::epochs, "self-labelling epochs", at_least(1)),
      field("batch_size", &S::batch_size, "samples per step", at_least(1)),
      field("drop_last", &S::drop_last, "drop the last partial batch"),
      field("lr", &S::lr, "Adam learning rate (constant)", positive()),
      field("beta1", &S::beta1, "Adam beta1", below_one()),
      field("beta2", &S::beta2, "Adam beta2", below_one()),
      field("adam_eps", &S::adam_eps, "Adam epsilon", positive()),
      field("weight_decay", &S::weight_decay, "L2 weight decay added to the gradient", at_least(0)),
      field("confidence_threshold", &S::confidence_threshold, "pseudo-label mask: max probability of the weak view > this",
            below_one()),
      field("class_balancing", &S::class_balancing, "class-balanced cross-entropy weights n / n_c"),
      field("use_ema", &S::use_ema, "replace the weights by their EMA after every step (as the release)"),
      field("ema_alpha", &S::ema_alpha, "EMA decay", below_one()),
      field("strong_crop", &S::strong_crop, "strong view RandomCrop size (0 = eval_crop; must equal it)", at_least(0)),
      field("num_strong_ops", &S::num_strong_ops, "RandAugment operations per strong view", between(0, data::kMaxStrongOps)),
      field("cutout", &S::cutout, "strong view Cutout length L (0 = off)", at_least(0)),
      field("eval_every", &S::eval_every, "evaluate every N epochs (0 = only after the last)", at_least(0)),
      field("seed", &S::seed, "seed of self-labelling's shuffling and augmentation"),
  };
  return f;
}

// Key names match with '-' and '_' alike. With Stage::SelfLabel a bare key means the selflabel key of
// that name when there is one (`epochs` -> `selflabel.epochs`). Null when unknown.
inline const ConfigField* find_field(const std::string& key, Stage stage = Stage::End2End) {
  std::string k = key;
  for (char& c : k)
    if (c == '-') c = '_';
  if (stage == Stage::SelfLabel && k.find('.') == std::string::npos)
    if (const ConfigField* f = find_field("selflabel." + k)) return f;
  for (const ConfigField& f : config_fields())
    if (f.key == k) return &f;
  return nullptr;
}
inline std::string known_keys() {
  std::string s;
  for (const ConfigField& f : config_fields()) s += (s.empty() ? "" : ", ") + f.key;
  return s;
}

// Sets one key from a YAML value; throws BadValue when the value does not parse (config_file.hpp's
// readers turn that into a message naming the file or argument, the key and the line).
inline void set_value(Config& cfg, const ConfigField& f, const YAML::Node& value) {
  f.set(cfg, value);
  if (f.key == "dataset") cfg.dataset = canonical_dataset(cfg.dataset);
}

// Checks every key and the rules between keys; throws naming the first bad key and what it must be.
inline void validate(const Config& c) {
  for (const ConfigField& f : config_fields()) {
    const std::string p = f.problem(c);
    if (!p.empty()) GCC_FAIL("config key '", f.key, "' = ", f.yaml(c), " is invalid: ", p);
  }
  auto bad = [&](const char* key, const std::string& value, const std::string& need) {
    GCC_FAIL("config key '", key, "' = ", value, " is invalid: ", need);
  };
  if (c.channels != 1 && c.channels != 3) bad("channels", std::to_string(c.channels), "must be 1 or 3");
  if (c.eval_crop > c.eval_resize) bad("eval_crop", std::to_string(c.eval_crop), "must be <= eval_resize");
  if (c.crop_scale_min > c.crop_scale_max) bad("crop_scale_min", std::to_string(c.crop_scale_min), "must be <= crop_scale_max");
  if (c.crop_ratio_min > c.crop_ratio_max) bad("crop_ratio_min", std::to_string(c.crop_ratio_min), "must be <= crop_ratio_max");
  for (int i = 0; i < c.channels; ++i) {
    const std::size_t k = static_cast<std::size_t>(i);
    if (!(c.std[k] > 0) || !std::isfinite(c.std[k])) bad("std", detail::Codec<std::array<float, 3>>::print(c.std), "every value must be > 0");
    if (!std::isfinite(c.mean[k])) bad("mean", detail::Codec<std::array<float, 3>>::print(c.mean), "must be finite");
  }
  if (c.dataset.empty()) bad("dataset", "\"\"", "must name a dataset");
  parse_device(c.device);                        // throws naming the text
  nn::ResNetConfig::preset(c.resolved_backbone());  // e.g. resnet50 for a 96-pixel dataset: no such variant
  if (c.resolved_strong_crop() != c.eval_crop)
    bad("selflabel.strong_crop", std::to_string(c.selflabel.strong_crop),
        "must be 0 or the evaluation crop eval_crop (both views of a sample share one batch)");
}

// Every key with its value as YAML (the selflabel keys under `selflabel:`), each followed by its help
// as a comment. Reads back (config_file.hpp) to the same Config.
inline std::string config_yaml(const Config& c, const std::string& comment = "") {
  std::string out = comment.empty() ? std::string() : "# " + comment + "\n";
  bool in_section = false;
  for (const ConfigField& f : config_fields()) {
    const bool sectioned = f.key.compare(0, 10, "selflabel.") == 0;
    if (sectioned && !in_section) {
      out += "selflabel:  # self-labelling (gcc_selflabel, SPEC §5)\n";
      in_section = true;
    }
    std::string line = (sectioned ? "  " + f.key.substr(10) : f.key) + ": " + f.yaml(c);
    if (line.size() < 34) line.resize(34, ' ');
    out += line + "  # " + f.help + "\n";
  }
  return out;
}

}  // namespace train
}  // namespace gcc
