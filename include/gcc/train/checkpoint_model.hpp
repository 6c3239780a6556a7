// Models and configurations from checkpoints, and a checkpoint evaluated end to end (gcc_eval's core).
//
//   gcc::io::Checkpoint ck = gcc::io::Checkpoint::load("run/checkpoint.safetensors");
//   gcc::train::Config cfg = gcc::train::checkpoint_config(ck);                   // the run's config
//   gcc::train::CheckpointModel m = gcc::train::load_checkpoint_model(ck, cfg);   // model + weights
//   gcc::train::EvalResult r = gcc::train::evaluate_model(*m.model, images, gcc::train::eval_options(cfg));
//
// A checkpoint without a stored config (e.g. converted from the release's .pth.tar) takes a preset and
// reads the width, input channels, K, heads and block counts from its tensor shapes.
#pragma once
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../io/checkpoint.hpp"
#include "../io/json.hpp"
#include "../nn/end2end.hpp"
#include "config_file.hpp"
#include "config_schema.hpp"
#include "data.hpp"
#include "evaluate.hpp"
#include "presets.hpp"
#include "progress.hpp"

namespace gcc {
namespace train {

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
inline void infer_model_from_shapes(const io::Checkpoint& ck, Config& cfg) {
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
  const std::string b = cfg.resolved_backbone();
  const std::string family = b.size() > 4 && b.compare(b.size() - 4, 4, "-stl") == 0 ? "-stl" : "-cifar";
  cfg.backbone = std::string(deep ? "resnet34" : "resnet18") + family;
}

// The Config a checkpoint was trained with: its stored config (config_file.hpp reads it: our YAML, the
// flat key: value text of earlier versions, or a release experiment file) on top of
// preset(fallback_preset) when given; a checkpoint that stores none takes preset(fallback_preset) with the
// model read from its tensor shapes. Throws when neither is available.
inline Config checkpoint_config(const io::Checkpoint& ck, const std::string& fallback_preset = "") {
  Config cfg = fallback_preset.empty() ? Config{} : preset(fallback_preset);
  if (ck.has_config()) {
    apply_config_text(cfg, ck.config(), ck.path() + " (stored config)");
    return cfg;
  }
  GCC_CHECK(!fallback_preset.empty(), "checkpoint '", ck.path(), "' stores no configuration; name the dataset "
            "preset it was trained on (--preset NAME)");
  infer_model_from_shapes(ck, cfg);
  return cfg;
}

// The label-selected best evaluation as checkpoint metadata (best_epoch, best_acc, best_nmi, best_ari),
// and back.
inline void put_best(std::map<std::string, std::string>& meta, const BestEval& b) {
  meta["best_epoch"] = std::to_string(b.epoch);
  meta["best_acc"] = io::json_number(b.acc);
  meta["best_nmi"] = io::json_number(b.nmi);
  meta["best_ari"] = io::json_number(b.ari);
}
inline BestEval read_best(const io::Checkpoint& ck) {
  BestEval b;
  b.epoch = static_cast<int>(ck.meta_int("best_epoch"));
  b.acc = ck.meta_real("best_acc");
  b.nmi = ck.meta_real("best_nmi");
  b.ari = ck.meta_real("best_ari");
  return b;
}

struct CheckpointModel {
  std::unique_ptr<nn::End2EndModel> model;
  bool has_contrastive_head = false;  // the checkpoint carried it (else the model's is untrained)
  std::string setup;                  // metadata "setup": "end2end", "selflabel", or "" when not stored
};

// Builds cfg's model and loads the checkpoint's weights into it (the contrastive head only when the
// checkpoint has one). Throws a clear gcc::Error on a K, backbone or width mismatch.
inline CheckpointModel load_checkpoint_model(const io::Checkpoint& ck, const Config& cfg) {
  check_checkpoint_clusters(ck, cfg.num_clusters, "the configuration (num_clusters)");
  CheckpointModel m;
  Rng rng(cfg.seed);
  m.model = std::make_unique<nn::End2EndModel>(cfg.model_config(), rng);
  m.has_contrastive_head = checkpoint_has_contrastive_head(ck);
  ck.load_model(*m.model, m.has_contrastive_head ? io::ModelLoadOptions{} : io::ModelLoadOptions::without_contrastive_head());
  if (ck.file().has_metadata("setup")) m.setup = ck.file().metadata("setup");
  return m;
}

// ---- a checkpoint, end to end (gcc_eval's core) --------------------------------------------------------

struct CheckpointEvalOptions {
  int64_t knn_max = 100000;           // kNN accuracy of the embeddings up to this many images
  bool backbone_features = false;     // also keep the backbone features [N, F]
  FILE* progress = nullptr;           // progress bar output (null: silent)
};

struct CheckpointEvaluation {
  Config config;                      // model, dataset and evaluation view used
  std::string setup;                  // "end2end", "selflabel" or "" (not stored)
  int64_t epoch = -1;                 // epochs the checkpoint had completed (-1: not stored)
  bool has_contrastive_head = false;  // embeddings and kNN accuracy are computed only then
  EvalResult eval;
  Tensor backbone_features;           // [N, F] when asked (or when there are no embeddings)
  std::string dataset_name;
  std::vector<std::string> class_names;
};

// The evaluation set of cfg (STL-10: from train+test only; a user's images: all of them).
inline std::shared_ptr<const ImageDataset> evaluation_images(const Config& cfg) {
  Config dc = cfg;
  dc.train_subset = dc.eval_set == "all" ? 0 : dc.train_subset;  // only the evaluation set is needed
  return load_selflabel_data(dc).eval;
}

// Rebuilds the checkpoint's model for `cfg` (normally checkpoint_config(ck) with the user's changes; a K
// / backbone mismatch or an unknown dataset throw gcc::Error naming the file or key) and evaluates it on
// the evaluation set of cfg (or on `images` when given). Features: the RGC embeddings when the
// checkpoint has its contrastive head, else the backbone features.
inline CheckpointEvaluation evaluate_checkpoint(const io::Checkpoint& ck, const Config& cfg, const CheckpointEvalOptions& o,
                                                std::shared_ptr<const ImageDataset> images = nullptr) {
  CheckpointEvaluation r;
  r.config = cfg;
  validate(r.config);
  CheckpointModel m = load_checkpoint_model(ck, r.config);
  r.setup = m.setup;
  r.has_contrastive_head = m.has_contrastive_head;
  if (ck.has_epoch()) r.epoch = ck.epoch();
  if (!images) images = evaluation_images(r.config);
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
