// Evaluation of a trained model outside a trainer (gcc_eval, self-labelling): the cluster head's argmax
// over a dataset with evaluation views (BatchNorm in eval mode), ACC/NMI/ARI/top-5, the RGC embeddings'
// kNN accuracy, exports (.npy, confusion CSV/PNG, metrics.json); and reading a model back from a
// checkpoint with the configuration it was trained with.
//
//   gcc::io::Checkpoint ck = gcc::io::Checkpoint::load("run/checkpoint.safetensors");
//   gcc::train::TrainConfig cfg = gcc::train::checkpoint_train_config(ck);      // the run's config
//   gcc::train::CheckpointModel m = gcc::train::load_checkpoint_model(ck, cfg); // model + weights
//   gcc::train::EvalResult r = gcc::train::evaluate_model(*m.model, images, gcc::train::eval_options(cfg));
//
// Checkpoint configs: gcc_train and gcc_selflabel store the TrainConfig as "key: value" lines (config
// metadata, see train_config_text); a release-style YAML experiment file (io::Config) is also accepted;
// a checkpoint without any (e.g. converted from the release's .pth.tar) takes a preset and reads the
// width, input channels, K, heads and block counts from its tensor shapes.
#pragma once
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "../autograd/tape.hpp"
#include "../data/augment.hpp"
#include "../data/stl10.hpp"
#include "../data/loader.hpp"
#include "../eval/confusion.hpp"
#include "../eval/metrics.hpp"
#include "../graph/knn.hpp"
#include "../io/checkpoint.hpp"
#include "../io/config.hpp"
#include "../io/json.hpp"
#include "../io/npy.hpp"
#include "../nn/end2end.hpp"
#include "../ops/activation.hpp"
#include "../ops/linear.hpp"
#include "../ops/normalize.hpp"
#include "../ops/softmax.hpp"
#include "config.hpp"
#include "end2end.hpp"
#include "progress.hpp"

namespace gcc {
namespace train {

// ---- configuration text ------------------------------------------------------------------------------

// The TrainConfig as "key: value" lines (a leading comment, then "preset: NAME" and every key), the form
// gcc_train and gcc_selflabel store in their checkpoints. Values holding ':', '#' or ',' or empty ones
// are double-quoted.
inline std::string train_config_text(const TrainConfig& cfg, const std::string& comment = "") {
  std::string out = comment.empty() ? std::string() : "# " + comment + "\n";
  std::istringstream in(config_to_text(cfg));
  std::string line;
  while (std::getline(in, line)) {
    const std::size_t c = line.find(": ");
    const std::string k = line.substr(0, c), v = c == std::string::npos ? std::string() : line.substr(c + 2);
    out += k + ": " + (v.empty() || v.find_first_of(":#,") != std::string::npos ? "\"" + v + "\"" : v) + "\n";
  }
  return out;
}

namespace detail {
inline std::string trim(const std::string& s) {
  const std::size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}
// "key: value" pairs of flat text; '#' starts a comment outside quotes; quotes around a value removed.
// Returns false (with the offending line in *bad) when a line is not of that form.
inline bool flat_pairs(const std::string& text, std::vector<std::pair<std::string, std::string>>& kv, std::string* bad) {
  std::istringstream in(text);
  std::string raw;
  while (std::getline(in, raw)) {
    std::string line;
    char quote = 0;
    for (char ch : raw) {
      if (quote) {
        if (ch == quote) quote = 0;
      } else if (ch == '"' || ch == '\'') {
        quote = ch;
      } else if (ch == '#') {
        break;
      }
      line += ch;
    }
    if (trim(line).empty()) continue;
    if (line[0] == ' ' || line[0] == '\t') {  // nested YAML: not our flat form
      if (bad) *bad = raw;
      return false;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) {
      if (bad) *bad = raw;
      return false;
    }
    std::string v = trim(line.substr(colon + 1));
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) v = v.substr(1, v.size() - 2);
    kv.emplace_back(trim(line.substr(0, colon)), v);
  }
  return true;
}
// Pads a per-channel list to the 3 values TrainConfig keeps.
inline std::array<float, 3> triple(const std::vector<double>& v) {
  std::array<float, 3> out{{0.f, 0.f, 0.f}};
  for (std::size_t i = 0; i < 3; ++i) out[i] = static_cast<float>(v.empty() ? 0.0 : v[std::min(i, v.size() - 1)]);
  return out;
}
}  // namespace detail

// Applies "key: value" text (train_config_text's form) to cfg: a "preset" line first restarts from that
// preset, then every other key is set. Unknown keys and bad values throw naming `source` and the key.
inline void apply_train_config_text(TrainConfig& cfg, const std::string& text, const std::string& source) {
  std::vector<std::pair<std::string, std::string>> kv;
  std::string bad;
  GCC_CHECK(detail::flat_pairs(text, kv, &bad), source, ": expected 'key: value' lines, got '", bad, "'");
  for (const auto& p : kv)
    if (p.first == "preset" && !p.second.empty()) cfg = train_preset(p.second);
  for (const auto& p : kv) {
    if (p.first == "preset") continue;
    try {
      set_config_key(cfg, p.first, p.second);
    } catch (const Error& e) {
      GCC_FAIL(source, ": ", e.what());
    }
  }
}

// The model, data and views of a release-style experiment file (io::Config) on top of `cfg` (normally
// the preset of its dataset): only the keys the file (or an override) sets explicitly are applied.
inline void apply_release_config(TrainConfig& cfg, const io::Config& rc) {
  auto given = [&](const char* k) { return rc.given.count(k) != 0; };
  if (given("train_db_name")) {
    const std::string d = canonical_dataset(rc.train_db_name);
    if (d != cfg.dataset) {
      const std::string keep_root = cfg.data_root;
      bool known = false;
      for (const std::string& n : preset_names()) known = known || n == d;
      GCC_CHECK(known, rc.source, ": train_db_name '", rc.train_db_name, "' has no toolkit preset (known: cifar-10, "
                "cifar-20, stl-10, imagenet-10, imagenet-dogs, tiny-imagenet, fashion-mnist)");
      cfg = train_preset(d);
      cfg.data_root = keep_root;
    }
  }
  if (given("backbone")) cfg.backbone = rc.backbone_preset();
  if (given("backbone_width")) cfg.base_width = rc.backbone_width;
  if (given("in_channels")) cfg.channels = static_cast<int>(rc.in_channels);
  if (given("num_classes") || given("model_kwargs.nclusters")) cfg.num_clusters = rc.num_clusters();
  if (given("model_kwargs.nheads") || given("num_heads")) cfg.nheads = static_cast<int>(rc.heads());
  if (given("transformation_kwargs.resize")) cfg.eval_resize = static_cast<int>(rc.transformation_kwargs.resize);
  if (given("transformation_kwargs.crop_size")) cfg.eval_crop = static_cast<int>(rc.transformation_kwargs.crop_size);
  if (given("transformation_kwargs.normalize.mean")) cfg.mean = detail::triple(rc.transformation_kwargs.normalize.mean);
  if (given("transformation_kwargs.normalize.std")) cfg.std = detail::triple(rc.transformation_kwargs.normalize.std);
  if (given("subset_size")) cfg.train_subset = rc.subset_size;
  if (given("eval_batch_size") && rc.eval_batch_size > 0) cfg.eval_batch_size = rc.eval_batch_size;
  if (given("dataset_root")) cfg.data_root = rc.dataset_root;
  if (given("seed")) cfg.seed = rc.seed;
}

// Whether a config text is a release-style YAML experiment file (nested mappings or release keys) rather
// than train_config_text's flat form.
inline bool is_release_config_text(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> kv;
  if (!detail::flat_pairs(text, kv, nullptr)) return true;
  for (const auto& p : kv)
    if (p.first == "setup" || p.first == "train_db_name") return true;
  return false;
}

// ---- models from checkpoints --------------------------------------------------------------------------

inline bool checkpoint_has_contrastive_head(const io::Checkpoint& ck) {
  for (const std::string& n : ck.model_tensor_names())
    if (n.rfind("contrastive_head.", 0) == 0) return true;
  return false;
}

// K of the checkpoint's cluster head 0 (cluster_head.0.weight [K, F]), or -1 when it has none.
inline int64_t checkpoint_num_clusters(const io::Checkpoint& ck) {
  if (!ck.file().contains("cluster_head.0.weight")) return -1;
  const std::vector<int64_t>& s = ck.file().shape("cluster_head.0.weight");
  return s.size() == 2 ? s[0] : -1;
}

// Throws a clear message when the checkpoint's K differs from `k` (`what` says where k came from).
inline void check_checkpoint_clusters(const io::Checkpoint& ck, int64_t k, const std::string& what) {
  const int64_t have = checkpoint_num_clusters(ck);
  GCC_CHECK(have < 0 || have == k, "checkpoint '", ck.path(), "' has K = ", have, " clusters (cluster_head.0.weight ",
            io::shape_str(ck.file().shape("cluster_head.0.weight")), ") but ", what, " asks for K = ", k,
            "; use the K of the run that wrote it (--num-clusters ", have, ")");
}

// Reads width, input channels, K, heads and block counts from the tensor shapes of a checkpoint that
// carries no configuration (the backbone family -cifar/-stl, i.e. the pooling, stays as cfg has it).
inline void infer_model_from_shapes(const io::Checkpoint& ck, TrainConfig& cfg) {
  const io::Safetensors& f = ck.file();
  GCC_CHECK(f.contains("backbone.conv1.weight"), "checkpoint '", ck.path(), "' has no backbone.conv1.weight: not a "
            "GCC model checkpoint");
  const std::vector<int64_t>& c1 = f.shape("backbone.conv1.weight");  // [w, C, 3, 3]
  GCC_CHECK(c1.size() == 4, "checkpoint '", ck.path(), "': backbone.conv1.weight has shape ", io::shape_str(c1));
  cfg.base_width = c1[0];
  cfg.channels = static_cast<int>(c1[1]);
  const int64_t k = checkpoint_num_clusters(ck);
  if (k > 0) cfg.num_clusters = k;
  int heads = 0;
  while (f.contains("cluster_head." + std::to_string(heads) + ".weight")) ++heads;
  if (heads > 0) cfg.nheads = heads;
  const bool deep = f.contains("backbone.layer3.5.conv1.weight");
  GCC_CHECK(!f.contains("backbone.layer1.0.conv3.weight"), "checkpoint '", ck.path(), "' holds a bottleneck "
            "(ResNet-50) backbone; set backbone = resnet50-cifar explicitly");
  const std::string family = cfg.backbone.size() > 4 && cfg.backbone.compare(cfg.backbone.size() - 4, 4, "-stl") == 0 ? "-stl" : "-cifar";
  cfg.backbone = std::string(deep ? "resnet34" : "resnet18") + family;
}

// The TrainConfig a checkpoint was trained with: its stored config (train_config_text's form or a
// release YAML file) when it has one, else train_preset(fallback_preset) with the model read from the
// tensor shapes. Throws when neither is available.
inline TrainConfig checkpoint_train_config(const io::Checkpoint& ck, const std::string& fallback_preset = "") {
  TrainConfig cfg;
  if (ck.has_config()) {
    const std::string& text = ck.config();
    const std::string src = ck.path() + " (stored config)";
    if (is_release_config_text(text)) {
      const io::Config rc = io::load_config_string(text, src);
      cfg = train_preset(canonical_dataset(rc.train_db_name));
      apply_release_config(cfg, rc);
    } else {
      if (!fallback_preset.empty()) cfg = train_preset(fallback_preset);
      apply_train_config_text(cfg, text, src);
    }
    return cfg;
  }
  GCC_CHECK(!fallback_preset.empty(), "checkpoint '", ck.path(), "' stores no configuration; name the dataset "
            "preset it was trained on (--preset NAME)");
  cfg = train_preset(fallback_preset);
  infer_model_from_shapes(ck, cfg);
  return cfg;
}

struct CheckpointModel {
  std::unique_ptr<nn::End2EndModel> model;
  bool has_contrastive_head = false;  // the checkpoint carried it (else the model's is untrained)
  std::string setup;                  // metadata "setup": "end2end", "selflabel", or "" when not stored
};

// Builds cfg's model and loads the checkpoint's weights into it (the contrastive head only when the
// checkpoint has one). Throws a clear gcc::Error on a K, backbone or width mismatch.
inline CheckpointModel load_checkpoint_model(const io::Checkpoint& ck, const TrainConfig& cfg) {
  check_checkpoint_clusters(ck, cfg.num_clusters, "the configuration (num_clusters)");
  CheckpointModel m;
  Rng rng(cfg.seed);
  m.model = std::make_unique<nn::End2EndModel>(cfg.model_config(), rng);
  m.has_contrastive_head = checkpoint_has_contrastive_head(ck);
  ck.load_model(*m.model, m.has_contrastive_head ? io::ModelLoadOptions{} : io::ModelLoadOptions::without_contrastive_head());
  if (ck.file().has_metadata("setup")) m.setup = ck.file().metadata("setup");
  return m;
}

// ---- evaluation -------------------------------------------------------------------------------------

struct EvalOptions {
  data::EvalParams view;          // the evaluation view (resize, centre crop, normalisation)
  int64_t batch_size = 512;
  int threads = 2;                // loader threads
  int head = 0;                   // cluster head evaluated
  int num_classes = 0;            // 0: from the dataset (class names and labels)
  bool embeddings = true;         // compute the RGC embeddings (false when the contrastive head is untrained)
  bool backbone_features = false; // also keep the backbone features [N, F]
  int64_t knn_max = 10000;        // kNN accuracy of the embeddings on fully labelled sets up to this size
  int knn_k = 5;
  Device device = Device::cpu();
  ProgressLine* progress = nullptr;  // "evaluating i/N" bar (null: silent)
};

inline EvalOptions eval_options(const TrainConfig& cfg) {
  EvalOptions o;
  o.view = cfg.eval_params();
  o.batch_size = cfg.eval_batch_size;
  o.threads = cfg.loader_threads;
  o.knn_max = cfg.eval_knn_max;
  o.knn_k = cfg.num_neighbors;
  o.device = End2EndTrainer::parse_device(cfg.device);
  return o;
}

// Cluster-head argmax over `ev` with evaluation views, BatchNorm in eval mode (the model's mode is
// restored afterwards). One backbone pass per batch gives the logits, the embeddings (when asked) and
// the backbone features (when asked, into *backbone_features [N, F]). Metrics over the labelled images.
inline EvalResult evaluate_model(nn::End2EndModel& model, const ImageDataset& ev, const EvalOptions& o,
                                 Tensor* backbone_features = nullptr) {
  const auto t0 = std::chrono::steady_clock::now();
  GCC_CHECK(ev.n > 0, "evaluate_model: the dataset '", ev.name, "' is empty");
  GCC_CHECK(o.head >= 0 && o.head < model.config().nheads, "evaluate_model: head ", o.head, " of a model with ",
            model.config().nheads, " heads");
  const int64_t K = model.config().num_clusters, D = model.config().embedding_dim;
  const data::EvalView view(o.view);
  LoaderOptions lo;
  lo.batch_size = o.batch_size;
  lo.views = 1;
  lo.channels = o.view.channels;
  lo.size = o.view.crop;
  lo.shuffle = false;
  lo.threads = o.threads;
  Loader loader(ev, ViewFn(view), lo);
  // the contrastive head's parameters: Linear -> ReLU -> Linear (applied to the same backbone features)
  Tensor w0, b0, w2, b2;
  if (o.embeddings)
    for (const NamedTensor& p : model.named_parameters()) {
      if (p.name == "contrastive_head.0.weight") w0 = p.tensor;
      if (p.name == "contrastive_head.0.bias") b0 = p.tensor;
      if (p.name == "contrastive_head.2.weight") w2 = p.tensor;
      if (p.name == "contrastive_head.2.bias") b2 = p.tensor;
    }
  GCC_CHECK(!o.embeddings || (w0.defined() && b0.defined() && w2.defined() && b2.defined()),
            "evaluate_model: the model has no contrastive head parameters");
  EvalResult r;
  r.probabilities = Tensor::empty(Shape{ev.n, K});
  if (o.embeddings) r.embeddings = Tensor::empty(Shape{ev.n, D});
  r.predictions.assign(static_cast<std::size_t>(ev.n), 0);
  r.labels.assign(static_cast<std::size_t>(ev.n), -1);
  const bool was_training = model.training();
  model.eval();
  try {
    NoGrad ng;
    loader.start_epoch(0);
    Batch b;
    int64_t done = 0;
    while (loader.next(b)) {
      const Tensor x = o.device.is_cpu() ? b.views[0] : b.views[0].to(o.device);
      const Tensor h = model.features(x);
      const Tensor p = softmax(model.head(o.head).forward(h), 1).to(Device::cpu()).contiguous();
      const int64_t m = b.size();
      Tensor z, hc;
      if (o.embeddings) z = l2_normalize(linear(relu(linear(h, w0, b0)), w2, b2), 1).to(Device::cpu()).contiguous();
      if (backbone_features) {
        hc = h.to(Device::cpu()).contiguous();
        if (!backbone_features->defined() || backbone_features->size(0) != ev.n || backbone_features->size(1) != h.size(1))
          *backbone_features = Tensor::empty(Shape{ev.n, h.size(1)});
      }
      for (int64_t i = 0; i < m; ++i) {
        const int64_t row = b.indices[static_cast<std::size_t>(i)];
        std::copy(p.data() + i * K, p.data() + (i + 1) * K, r.probabilities.data() + row * K);
        if (o.embeddings) std::copy(z.data() + i * D, z.data() + (i + 1) * D, r.embeddings.data() + row * D);
        if (backbone_features) {
          const int64_t F = hc.size(1);
          std::copy(hc.data() + i * F, hc.data() + (i + 1) * F, backbone_features->data() + row * F);
        }
        r.labels[static_cast<std::size_t>(row)] = b.labels[static_cast<std::size_t>(i)];
      }
      done += m;
      if (o.progress)
        o.progress->bar(done == ev.n, "evaluating %lld/%lld", static_cast<long long>(done), static_cast<long long>(ev.n));
    }
  } catch (...) {
    model.train(was_training);
    throw;
  }
  model.train(was_training);
  int num_classes = o.num_classes > 0 ? o.num_classes : ev.num_classes();
  for (int l : r.labels) num_classes = std::max(num_classes, l + 1);
  const float* pp = r.probabilities.data();
  std::vector<int> pred_l, lab_l;
  std::vector<float> prob_l;
  for (int64_t i = 0; i < ev.n; ++i) {
    int best = 0;
    for (int64_t c = 0; c < K; ++c) {
      GCC_CHECK(std::isfinite(pp[i * K + c]), "evaluate_model: the cluster probabilities of image ", i,
                " are not finite (the model has diverged)");
      if (pp[i * K + c] > pp[i * K + best]) best = static_cast<int>(c);
    }
    r.predictions[static_cast<std::size_t>(i)] = best;
    const int l = r.labels[static_cast<std::size_t>(i)];
    if (l >= 0) {
      pred_l.push_back(best);
      lab_l.push_back(l);
      prob_l.insert(prob_l.end(), pp + i * K, pp + (i + 1) * K);
    }
  }
  r.evaluated = static_cast<int64_t>(lab_l.size());
  GCC_CHECK(r.evaluated > 0, "evaluate_model: the dataset '", ev.name, "' has no labelled image");
  r.metrics = gcc::evaluate(pred_l, lab_l, static_cast<int>(K), num_classes);
  r.metrics.top5 = top_k_accuracy(prob_l.data(), r.evaluated, static_cast<int>(K), lab_l, r.metrics.mapping, 5);
  if (o.embeddings && r.evaluated == ev.n && ev.n <= o.knn_max && ev.n > o.knn_k) {
    const KnnGraph g = knn_topk_inner_product(r.embeddings, o.knn_k + 1);
    r.knn_accuracy = knn_label_accuracy(g, r.labels);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (o.progress) o.progress->clear();
  return r;
}

// ---- outputs ------------------------------------------------------------------------------------------

// The metrics of an evaluation as one JSON object.
inline io::JsonObject eval_json(const EvalResult& r) {
  io::JsonObject o;
  o.add("acc", r.metrics.acc).add("nmi", r.metrics.nmi).add("ari", r.metrics.ari).add("top5", r.metrics.top5);
  o.add("images", r.evaluated).add("seconds", r.seconds);
  if (r.knn_accuracy >= 0) o.add("knn_accuracy", r.knn_accuracy);
  return o;
}

// Writes into `dir` (which must exist): predictions.npy [N] int64, targets.npy [N] int64 (-1 =
// unlabelled), probabilities.npy [N, K], features.npy (the RGC embeddings [N, 128] when computed, else
// `backbone` [N, F] when given), backbone_features.npy (when both exist), confusion.csv and
// confusion.png (rows true class, columns mapped cluster). Returns the file names written.
inline std::vector<std::string> write_eval_outputs(const std::string& dir, const EvalResult& r,
                                                   const std::vector<std::string>& class_names = {},
                                                   const Tensor& backbone = Tensor()) {
  std::vector<std::string> files;
  auto put = [&](const std::string& name) {
    files.push_back(name);
    return dir + "/" + name;
  };
  io::write_npy(put("predictions.npy"), std::vector<int64_t>(r.predictions.begin(), r.predictions.end()));
  io::write_npy(put("targets.npy"), std::vector<int64_t>(r.labels.begin(), r.labels.end()));
  io::write_npy(put("probabilities.npy"), r.probabilities);
  if (r.embeddings.defined()) {
    io::write_npy(put("features.npy"), r.embeddings);
    if (backbone.defined()) io::write_npy(put("backbone_features.npy"), backbone);
  } else if (backbone.defined()) {
    io::write_npy(put("features.npy"), backbone);
  }
  const ConfusionMatrix cm = confusion_matrix(r.metrics);
  std::vector<std::string> names = class_names;
  if (static_cast<int>(names.size()) != cm.num_classes) names.clear();
  write_confusion_csv(put("confusion.csv"), cm, names);
  write_confusion_png(put("confusion.png"), cm, 24);
  return files;
}


// ---- a checkpoint, end to end (gcc_eval's core) --------------------------------------------------------

struct CheckpointEvalOptions {
  std::string preset;                 // dataset preset for a checkpoint that stores no config
  std::vector<std::pair<std::string, std::string>> overrides;  // TrainConfig keys applied to the stored config
                                      // (dataset, data_root, eval_set, eval_batch_size, num_clusters, ...)
  int64_t knn_max = 100000;           // kNN accuracy of the embeddings up to this many images
  bool backbone_features = false;     // also keep the backbone features [N, F]
  FILE* progress = nullptr;           // progress bar output (null: silent)
};

struct CheckpointEvaluation {
  TrainConfig config;                 // after the overrides: model, dataset and evaluation view used
  std::string setup;                  // "end2end", "selflabel" or "" (not stored)
  int64_t epoch = -1;                 // epochs the checkpoint had completed (-1: not stored)
  bool has_contrastive_head = false;  // embeddings and kNN accuracy are computed only then
  EvalResult eval;
  Tensor backbone_features;           // [N, F] when asked (or when there are no embeddings)
  std::string dataset_name;
  std::vector<std::string> class_names;
};

// Loads the checkpoint (a corrupt or truncated file, a K / backbone mismatch or an unknown dataset throw
// gcc::Error with a message naming the file or key), rebuilds its model and evaluates it on the
// evaluation set of its config (or on `images` when given). Features: the RGC embeddings when the
// checkpoint has its contrastive head, else the backbone features.
inline CheckpointEvaluation evaluate_checkpoint(const std::string& path, const CheckpointEvalOptions& o,
                                                std::shared_ptr<const ImageDataset> images = nullptr) {
  const io::Checkpoint ck = io::Checkpoint::load(path);
  CheckpointEvaluation r;
  r.config = checkpoint_train_config(ck, o.preset);
  for (const auto& kv : o.overrides) set_config_key(r.config, kv.first, kv.second);
  r.config.validate();
  CheckpointModel m = load_checkpoint_model(ck, r.config);
  r.setup = m.setup;
  r.has_contrastive_head = m.has_contrastive_head;
  if (ck.has_epoch()) r.epoch = ck.epoch();
  if (!images) {
    TrainConfig dc = r.config;
    dc.train_subset = dc.eval_set == "all" ? 0 : dc.train_subset;  // only the evaluation set is needed
    images = (canonical_dataset(dc.dataset) == "stl-10")
                 ? std::make_shared<const ImageDataset>(read_stl10(dc.data_root, "train+test"))
                 : load_train_data(dc).eval;
  }
  r.dataset_name = images->name;
  r.class_names = images->class_names;
  EvalOptions eo = eval_options(r.config);
  eo.embeddings = m.has_contrastive_head;
  eo.knn_max = o.knn_max;
  eo.backbone_features = o.backbone_features || !m.has_contrastive_head;
  ProgressLine bar(o.progress);
  eo.progress = o.progress ? &bar : nullptr;
  if (!eo.device.is_cpu()) m.model->to(eo.device);
  r.eval = evaluate_model(*m.model, *images, eo, eo.backbone_features ? &r.backbone_features : nullptr);
  r.eval.epoch = static_cast<int>(r.epoch);
  return r;
}

}  // namespace train
}  // namespace gcc
