// Evaluation of a model on an image set (both trainers, gcc_eval): the cluster head's argmax over
// evaluation views (BatchNorm in eval mode), ACC/NMI/ARI/top-5 over the labelled images, the RGC
// embeddings' kNN accuracy, and the outputs (.npy, confusion CSV/PNG, the metrics as JSON).
//
//   gcc::train::EvalResult r = gcc::train::evaluate_model(model, images, gcc::train::eval_options(cfg));
//   gcc::train::write_eval_outputs("runs/x", r, images.class_names);
#pragma once
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "../autograd/tape.hpp"
#include "../core/device.hpp"
#include "../data/augment.hpp"
#include "../data/loader.hpp"
#include "../dist/communicator.hpp"
#include "../eval/confusion.hpp"
#include "../eval/metrics.hpp"
#include "../graph/knn.hpp"
#include "../io/json.hpp"
#include "../io/npy.hpp"
#include "../io/png.hpp"
#include "../nn/end2end.hpp"
#include "../ops/activation.hpp"
#include "../ops/linear.hpp"
#include "../ops/normalize.hpp"
#include "../ops/softmax.hpp"
#include "config.hpp"
#include "progress.hpp"

namespace gcc {
namespace train {

// ---- evaluation -------------------------------------------------------------------------------------

struct EvalResult {
  int epoch = -1;                 // the epoch after which it was taken (-1: not in a run)
  ClusteringMetrics metrics;      // ACC / NMI / ARI / top-5 over the labelled evaluation images
  int64_t evaluated = 0;          // labelled images evaluated
  std::vector<int> predictions;   // [N] argmax of the evaluated cluster head, every image
  std::vector<int> labels;        // [N] (-1 = unlabelled)
  Tensor probabilities;           // [N, K] softmax of that head (CPU)
  Tensor embeddings;              // [N, 128] RGC embeddings (CPU; undefined when not computed)
  double knn_accuracy = -1;       // kNN label accuracy of the embeddings (fully labelled sets of at most
                                  // EvalOptions::knn_max images; -1 otherwise)
  // Unsupervised diagnostics (every image, labelled or not):
  std::vector<int64_t> cluster_sizes;  // [K] images per predicted cluster
  double mean_confidence = 0;          // mean over images of the largest cluster probability
  double neighbour_agreement = -1;     // share of each image's k embedding neighbours in its own cluster
                                       // (sets of at most knn_max images; -1 otherwise)
  double seconds = 0;
  bool labelled() const { return evaluated > 0; }
};

// The label-selected best evaluation of a run so far: a diagnostic (choosing an epoch by its labels is not
// an unsupervised result), kept in checkpoints and printed beside the last epoch's figures.
struct BestEval {
  double acc = -1, nmi = 0, ari = 0;
  int epoch = -1;
  // Takes r's figures when its ACC beats the best so far; returns whether it did.
  bool offer(const EvalResult& r, int e) {
    if (!(r.metrics.acc > acc)) return false;
    acc = r.metrics.acc;
    nmi = r.metrics.nmi;
    ari = r.metrics.ari;
    epoch = e;
    return true;
  }
};

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
  // Data-parallel (collective; null: one process): each rank forwards its shard of every batch, the
  // outputs are gathered, and every rank returns the whole result.
  dist::Communicator* comm = nullptr;
};

inline EvalOptions eval_options(const Config& cfg) {
  EvalOptions o;
  o.view = cfg.eval_params();
  o.batch_size = cfg.eval_batch_size;
  o.threads = cfg.loader_threads;
  o.knn_max = cfg.eval_knn_max;
  o.knn_k = cfg.num_neighbors;
  o.device = parse_device(cfg.device);
  return o;
}

namespace detail {
// The contrastive head's parameters: Linear -> ReLU -> Linear (applied to the backbone features).
struct ContrastiveHead {
  Tensor w0, b0, w2, b2;
  explicit ContrastiveHead(const nn::End2EndModel& model) {
    for (const NamedTensor& p : model.named_parameters()) {
      if (p.name == "contrastive_head.0.weight") w0 = p.tensor;
      if (p.name == "contrastive_head.0.bias") b0 = p.tensor;
      if (p.name == "contrastive_head.2.weight") w2 = p.tensor;
      if (p.name == "contrastive_head.2.bias") b2 = p.tensor;
    }
    GCC_CHECK(w0.defined() && b0.defined() && w2.defined() && b2.defined(),
              "evaluate_model: the model has no contrastive head parameters");
  }
  Tensor embed(const Tensor& h) const { return l2_normalize(linear(relu(linear(h, w0, b0)), w2, b2), 1); }
};

// Copies row i of src [m, C] to row `row` of dst [N, C] (both contiguous, on the CPU).
inline void copy_row(const Tensor& src, int64_t i, Tensor& dst, int64_t row) {
  const int64_t c = src.size(1);
  std::copy(src.data() + i * c, src.data() + (i + 1) * c, dst.data() + row * c);
}

// One pass over ev in eval mode: r.probabilities, r.embeddings (when asked), r.labels and the backbone
// features (when asked) in dataset order.
inline void model_outputs(nn::End2EndModel& model, const ImageDataset& ev, const EvalOptions& o, EvalResult& r,
                          Tensor* backbone_features) {
  const data::EvalView view(o.view);
  LoaderOptions lo;
  lo.batch_size = o.batch_size;
  lo.views = 1;
  lo.channels = o.view.channels;
  lo.size = o.view.crop;
  lo.shuffle = false;
  lo.threads = o.threads;
  const bool sharded = o.comm != nullptr && o.comm->size() > 1;
  if (sharded) {
    lo.shard_rank = o.comm->rank();
    lo.shard_count = o.comm->size();
  }
  Loader loader(ev, ViewFn(view), lo);
  std::unique_ptr<ContrastiveHead> head = o.embeddings ? std::make_unique<ContrastiveHead>(model) : nullptr;
  const bool was_training = model.training();
  model.eval();
  try {
    NoGrad ng;
    loader.start_epoch(0);
    Batch b;
    int64_t done = 0;
    while (loader.next(b)) {
      Tensor p, z, hc;  // [b, K], [b, D], [b, F] on the CPU
      if (b.size() > 0) {
        const Tensor h = model.features(o.device.is_cpu() ? b.views[0] : b.views[0].to(o.device));
        p = softmax(model.head(o.head).forward(h), 1).to(Device::cpu()).contiguous();
        z = head ? head->embed(h).to(Device::cpu()).contiguous() : Tensor();
        hc = backbone_features ? h.to(Device::cpu()).contiguous() : Tensor();
      } else {  // a rank's empty shard of a small last batch
        p = Tensor::empty(Shape{0, model.config().num_clusters});
        if (head) z = Tensor::empty(Shape{0, model.config().embedding_dim});
        if (backbone_features) hc = Tensor::empty(Shape{0, model.backbone().feature_dim()});
      }
      Tensor lab = Tensor::empty(Shape{b.size(), 1});  // [b, 1] labels as floats (exact below 2^24)
      for (int64_t i = 0; i < b.size(); ++i) lab.data()[i] = static_cast<float>(b.labels[static_cast<std::size_t>(i)]);
      if (sharded) {  // every rank's rows, in batch order
        const std::vector<int64_t> rows = o.comm->all_gather_value(b.size());
        auto gather = [&](Tensor& t) {  // through the communicator's memory (host for MPI, the GPU for NCCL)
          const Device cd = o.comm->device();
          const Tensor mine = t.to(cd).contiguous();                      // [b, C]
          Tensor all = Tensor::empty(Shape{b.global_size(), t.size(1)}, cd);  // [B, C]
          o.comm->all_gather_rows(mine.data(), all.data(), rows, t.size(1));
          t = all.to(Device::cpu()).contiguous();
        };
        gather(p);
        gather(lab);
        if (head) gather(z);
        if (backbone_features) gather(hc);
      }
      if (backbone_features && (!backbone_features->defined() || backbone_features->size(1) != hc.size(1)))
        *backbone_features = Tensor::empty(Shape{ev.n, hc.size(1)});
      for (int64_t i = 0; i < b.global_size(); ++i) {
        const int64_t row = b.all_indices[static_cast<std::size_t>(i)];
        copy_row(p, i, r.probabilities, row);
        if (head) copy_row(z, i, r.embeddings, row);
        if (backbone_features) copy_row(hc, i, *backbone_features, row);
        r.labels[static_cast<std::size_t>(row)] = static_cast<int>(lab.data()[i]);
      }
      done += b.global_size();
      if (o.progress)
        o.progress->bar(done == ev.n, "evaluating %lld/%lld", static_cast<long long>(done), static_cast<long long>(ev.n));
    }
  } catch (...) {
    model.train(was_training);
    throw;
  }
  model.train(was_training);
}

// r.predictions (argmax, first maximum on ties), ACC/NMI/ARI/top-5 over the labelled images (when any),
// the embeddings' kNN label accuracy, and the unsupervised diagnostics.
inline void score(EvalResult& r, const ImageDataset& ev, const EvalOptions& o) {
  const int64_t K = r.probabilities.size(1);
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
  if (r.labelled()) {
    r.metrics = gcc::evaluate(pred_l, lab_l, static_cast<int>(K), num_classes);
    r.metrics.top5 = top_k_accuracy(prob_l.data(), r.evaluated, static_cast<int>(K), lab_l, r.metrics.mapping, 5);
  } else {
    r.metrics.acc = r.metrics.nmi = r.metrics.ari = -1;  // no labels: reported as absent
  }
  r.cluster_sizes.assign(static_cast<std::size_t>(K), 0);
  double conf = 0;
  for (int64_t i = 0; i < ev.n; ++i) {
    const int p = r.predictions[static_cast<std::size_t>(i)];
    ++r.cluster_sizes[static_cast<std::size_t>(p)];
    conf += pp[i * K + p];
  }
  r.mean_confidence = conf / static_cast<double>(ev.n);
  if (r.embeddings.defined() && ev.n <= o.knn_max && ev.n > o.knn_k) {
    const KnnGraph g = knn_topk_inner_product(r.embeddings, o.knn_k + 1);
    r.neighbour_agreement = knn_label_accuracy(g, r.predictions);
    if (r.evaluated == ev.n) r.knn_accuracy = knn_label_accuracy(g, r.labels);
  }
}
}  // namespace detail

// Cluster-head argmax over `ev` with evaluation views, BatchNorm in eval mode (the model's mode is
// restored afterwards). One backbone pass per batch gives the logits, the embeddings (when asked) and
// the backbone features (when asked, into *backbone_features [N, F]). Metrics over the labelled images.
inline EvalResult evaluate_model(nn::End2EndModel& model, const ImageDataset& ev, const EvalOptions& o,
                                 Tensor* backbone_features = nullptr) {
  const auto t0 = std::chrono::steady_clock::now();
  GCC_CHECK(ev.n > 0, "evaluate_model: the dataset '", ev.name, "' is empty");
  GCC_CHECK(o.head >= 0 && o.head < model.config().nheads, "evaluate_model: head ", o.head, " of a model with ",
            model.config().nheads, " heads");
  EvalResult r;
  r.probabilities = Tensor::empty(Shape{ev.n, model.config().num_clusters});                    // [N, K]
  if (o.embeddings) r.embeddings = Tensor::empty(Shape{ev.n, model.config().embedding_dim});    // [N, 128]
  r.predictions.assign(static_cast<std::size_t>(ev.n), 0);
  r.labels.assign(static_cast<std::size_t>(ev.n), -1);
  detail::model_outputs(model, ev, o, r, backbone_features);
  detail::score(r, ev, o);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (o.progress) o.progress->clear();
  return r;
}

// ---- outputs ------------------------------------------------------------------------------------------

// One line of figures: "ACC 0.6210 NMI 0.5660 ARI 0.4540 top-5 0.9" with labels, else the unsupervised
// diagnostics "mean confidence 0.83, neighbour agreement 0.71, cluster sizes 12..340".
inline std::string eval_summary(const EvalResult& r) {
  char buf[256];
  if (r.labelled()) {
    std::snprintf(buf, sizeof buf, "ACC %.4f NMI %.4f ARI %.4f top-5 %.4f", r.metrics.acc, r.metrics.nmi, r.metrics.ari,
                  r.metrics.top5);
    return buf;
  }
  const auto mm = std::minmax_element(r.cluster_sizes.begin(), r.cluster_sizes.end());
  const long long lo = mm.first == r.cluster_sizes.end() ? 0 : *mm.first, hi = mm.first == r.cluster_sizes.end() ? 0 : *mm.second;
  int len = std::snprintf(buf, sizeof buf, "no labels: mean confidence %.4f", r.mean_confidence);
  if (r.neighbour_agreement >= 0)
    len += std::snprintf(buf + len, sizeof buf - static_cast<std::size_t>(len), ", neighbour agreement %.4f", r.neighbour_agreement);
  std::snprintf(buf + len, sizeof buf - static_cast<std::size_t>(len), ", cluster sizes %lld..%lld", lo, hi);
  return buf;
}

// The metrics of an evaluation as one JSON object.
// The metrics of an evaluation as one JSON object (ACC/NMI/ARI/top-5 only when labels exist).
inline io::JsonObject eval_json(const EvalResult& r) {
  io::JsonObject o;
  if (r.labelled())
    o.add("acc", r.metrics.acc).add("nmi", r.metrics.nmi).add("ari", r.metrics.ari).add("top5", r.metrics.top5);
  o.add("images", r.evaluated).add("seconds", r.seconds);
  if (r.knn_accuracy >= 0) o.add("knn_accuracy", r.knn_accuracy);
  o.add("mean_confidence", r.mean_confidence);
  if (r.neighbour_agreement >= 0) o.add("neighbour_agreement", r.neighbour_agreement);
  std::vector<double> sizes(r.cluster_sizes.begin(), r.cluster_sizes.end());
  o.add("cluster_sizes", sizes);
  return o;
}

// Writes into `dir` (which must exist): predictions.npy [N] int64, targets.npy [N] int64 (-1 =
// unlabelled), probabilities.npy [N, K], features.npy (the RGC embeddings [N, 128] when computed, else
// `backbone` [N, F] when given), backbone_features.npy (when both exist), confusion.csv and
// confusion.png (rows true class, columns mapped cluster; labelled sets only). Returns the file names written.
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
  if (!r.labelled()) return files;  // no confusion matrix without labels
  const ConfusionMatrix cm = confusion_matrix(r.metrics);
  std::vector<std::string> names = class_names;
  if (static_cast<int>(names.size()) != cm.num_classes) names.clear();
  write_confusion_csv(put("confusion.csv"), cm, names);
  write_confusion_png(put("confusion.png"), cm, 24);
  return files;
}


}  // namespace train
}  // namespace gcc
