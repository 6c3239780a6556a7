// Training checkpoints: ONE safetensors file, written atomically, holding the model's state_dict under
// the release's names (so PyTorch loads it into the release's model) plus everything needed to resume.
#pragma once
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "../core/finite.hpp"
#include "../core/rng.hpp"
#include "../graph/feature_memory.hpp"
#include "../graph/knn.hpp"
#include "../nn/module.hpp"
#include "../optim/optimizers.hpp"
#include "safetensors.hpp"

namespace gcc {
namespace io {

// File layout (all tensors little-endian; "<p>" is a parameter's full name such as backbone.conv1.weight):
//   <model state_dict>                    F32, exactly the names and shapes of Module::state_dict();
//                                         *.num_batches_tracked as I64 0-d (PyTorch's dtype; our model
//                                         keeps it as a float and gets it back as one)
//   optimizer.<p>.momentum_buffer         F32, SGD (absent for a parameter that never took a step)
//   optimizer.<p>.exp_avg / .exp_avg_sq   F32, Adam;  optimizer.<p>.step  I64 0-d
//   rng.<name>                            I64 [6]: xoshiro state s0..s3 (bits), has_spare, spare (double bits)
//   feature_memory.embeddings             F32 [N, slots, D];  feature_memory.counts, .next_slots  I64 [N]
//   graph.neighbours                      I64 [N, k] (best first; column 0 normally the sample itself)
//   graph.scores                          F32 [N, k];  graph.degree_weights  F32 [N]
//   <extra tensors>                       under the caller's names (e.g. "ema.<p>")
// __metadata__ (strings): format = "gcc-toolkit checkpoint", format_version = "1", model_modules
// (comma-separated first name components of the model's tensors, e.g. "backbone,contrastive_head,
// cluster_head": a PyTorch user keeps the tensors whose name starts with one of them), epoch,
// global_step, optimizer ("sgd" | "adam"), optimizer.lr, config (the YAML text of the run), and the
// caller's own entries.
//
// A PyTorch user loads the weights with data_scripts/check_checkpoint_torch.py's read_safetensors(), or
// with the `safetensors` package:  sd = {k: v for k, v in load_file(p).items() if k.split('.')[0] in mods}
inline const char* checkpoint_format() { return "gcc-toolkit checkpoint"; }
inline const std::vector<std::string>& checkpoint_reserved_prefixes() {
  static const std::vector<std::string> p = {"optimizer.", "rng.", "feature_memory.", "graph."};
  return p;
}

// What save_checkpoint writes; every pointer may be null (not saved), every number -1 (not saved).
struct CheckpointContents {
  const nn::Module* model = nullptr;
  const Optimizer* optimizer = nullptr;                    // gcc::SGD or gcc::Adam
  int64_t epoch = -1;                                      // epochs completed = the epoch a resumed run starts at
  int64_t global_step = -1;                                // optimizer steps taken so far
  std::vector<std::pair<std::string, Rng::State>> rngs;    // saved as rng.<name>
  const FeatureMemory* memory = nullptr;
  const KnnGraph* neighbours = nullptr;
  const std::vector<float>* degree_weights = nullptr;      // [N]
  std::vector<NamedTensor> extra_tensors;                  // saved under their own names (F32)
  std::string config;                                      // YAML text of the run's configuration
  std::map<std::string, std::string> metadata;             // more __metadata__ entries
  // Refuse (throw, writing nothing) when a model tensor holds NaN or Inf, so a diverged run never
  // replaces its last good checkpoint.
  bool check_finite = true;
};

namespace io_detail {
inline bool is_num_batches_tracked(const std::string& name) {
  const std::string s = "num_batches_tracked";
  return name == s || (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0 &&
                       name[name.size() - s.size() - 1] == '.');
}
inline bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
inline std::string first_component(const std::string& name) { return name.substr(0, name.find('.')); }
inline int64_t bits_of(double d) {
  int64_t b;
  std::memcpy(&b, &d, 8);
  return b;
}
inline double double_of(int64_t b) {
  double d;
  std::memcpy(&d, &b, 8);
  return d;
}
inline std::vector<int64_t> to_i64(const std::vector<int>& v) { return std::vector<int64_t>(v.begin(), v.end()); }
}  // namespace io_detail

// Builds the safetensors object save_checkpoint writes (model tensors of CPU models are referenced, not
// copied: keep the model unchanged until it is saved).
inline Safetensors checkpoint_safetensors(const CheckpointContents& c) {
  Safetensors st;
  st.set_metadata("format", checkpoint_format());
  st.set_metadata("format_version", "1");
  std::set<std::string> modules;
  if (c.model) {
    for (const NamedTensor& t : c.model->state_dict()) {
      for (const std::string& p : checkpoint_reserved_prefixes())
        GCC_CHECK(!io_detail::starts_with(t.name, p), "save_checkpoint: model tensor '", t.name,
                  "' uses the reserved prefix '", p, "'");
      modules.insert(io_detail::first_component(t.name));
      if (io_detail::is_num_batches_tracked(t.name)) {
        std::vector<int64_t> v;
        for (float f : t.tensor.to_vector()) v.push_back(static_cast<int64_t>(std::llround(f)));
        st.add_i64(t.name, std::move(v), t.tensor.shape().vec());
        continue;
      }
      st.add(t.name, t.tensor);
      if (c.check_finite) {
        const SafetensorsEntry& e = st.entry(t.name);
        const float* p = reinterpret_cast<const float*>(e.data);
        for (int64_t i = 0; i < e.numel(); ++i)
          GCC_CHECK(std::isfinite(p[i]), "save_checkpoint: refusing to save: model tensor '", t.name,
                    "' holds a non-finite value (", p[i], " at element ", i,
                    "); the training has diverged and the previous checkpoint is kept");
      }
    }
    std::string mods;
    for (const std::string& m : modules) mods += (mods.empty() ? "" : ",") + m;
    st.set_metadata("model_modules", mods);
  }
  if (c.optimizer) {
    const std::vector<NamedTensor>& ps = c.optimizer->params();
    st.set_metadata("optimizer.lr", json_number(static_cast<double>(c.optimizer->lr())));
    if (const SGD* sgd = dynamic_cast<const SGD*>(c.optimizer)) {
      st.set_metadata("optimizer", "sgd");
      for (std::size_t i = 0; i < ps.size(); ++i)
        if (sgd->momentum_buffers()[i].defined())
          st.add("optimizer." + ps[i].name + ".momentum_buffer", sgd->momentum_buffers()[i]);
    } else if (const Adam* adam = dynamic_cast<const Adam*>(c.optimizer)) {
      st.set_metadata("optimizer", "adam");
      for (std::size_t i = 0; i < ps.size(); ++i) {
        if (!adam->exp_avgs()[i].defined()) continue;
        st.add("optimizer." + ps[i].name + ".exp_avg", adam->exp_avgs()[i]);
        st.add("optimizer." + ps[i].name + ".exp_avg_sq", adam->exp_avg_sqs()[i]);
        st.add_i64("optimizer." + ps[i].name + ".step", {adam->steps()[i]}, {});
      }
    } else {
      GCC_FAIL("save_checkpoint: unsupported optimizer type (expected gcc::SGD or gcc::Adam)");
    }
  }
  if (c.epoch >= 0) st.set_metadata("epoch", std::to_string(c.epoch));
  if (c.global_step >= 0) st.set_metadata("global_step", std::to_string(c.global_step));
  for (const auto& r : c.rngs) {
    const Rng::State& s = r.second;
    st.add_i64("rng." + r.first,
               {static_cast<int64_t>(s.s[0]), static_cast<int64_t>(s.s[1]), static_cast<int64_t>(s.s[2]),
                static_cast<int64_t>(s.s[3]), s.has_spare ? 1 : 0, io_detail::bits_of(s.spare)},
               {6});
  }
  if (c.memory) {
    const FeatureMemory& m = *c.memory;
    const int64_t n = m.samples(), d = m.dim();
    const int64_t slots = static_cast<int64_t>(m.raw().size()) / (n * d);
    st.add_view("feature_memory.embeddings", DType::F32, m.raw().data(), m.raw().size() * 4, {n, slots, d});
    st.add_i64("feature_memory.counts", io_detail::to_i64(m.counts()), {n});
    st.add_i64("feature_memory.next_slots", io_detail::to_i64(m.next_slots()), {n});
  }
  if (c.neighbours) {
    const KnnGraph& g = *c.neighbours;
    GCC_CHECK(static_cast<int64_t>(g.index.size()) == g.n * g.k, "save_checkpoint: neighbour graph of ", g.n, " x ",
              g.k, " holds ", g.index.size(), " indices");
    st.add_view("graph.neighbours", DType::I64, g.index.data(), g.index.size() * 8, {g.n, g.k});
    if (!g.score.empty()) {
      GCC_CHECK(g.score.size() == g.index.size(), "save_checkpoint: neighbour graph has ", g.index.size(),
                " indices but ", g.score.size(), " scores");
      st.add_view("graph.scores", DType::F32, g.score.data(), g.score.size() * 4, {g.n, g.k});
    }
  }
  if (c.degree_weights)
    st.add_view("graph.degree_weights", DType::F32, c.degree_weights->data(), c.degree_weights->size() * 4,
                {static_cast<int64_t>(c.degree_weights->size())});
  for (const NamedTensor& t : c.extra_tensors) {
    GCC_CHECK(!modules.count(io_detail::first_component(t.name)), "save_checkpoint: extra tensor '", t.name,
              "' would be taken for a model tensor (its first name component is one of the model's modules)");
    for (const std::string& p : checkpoint_reserved_prefixes())
      GCC_CHECK(!io_detail::starts_with(t.name, p), "save_checkpoint: extra tensor '", t.name,
                "' uses the reserved prefix '", p, "'");
    st.add(t.name, t.tensor);
  }
  if (!c.config.empty()) st.set_metadata("config", c.config);
  for (const auto& kv : c.metadata) {
    GCC_CHECK(!st.has_metadata(kv.first), "save_checkpoint: metadata key '", kv.first, "' is reserved");
    st.set_metadata(kv.first, kv.second);
  }
  return st;
}

// Writes the checkpoint atomically: a kill -9 or a full disk during the write leaves the previous file
// at `path` intact (and possibly a stray "<path>.tmp.<pid>.<n>"; see remove_stale_temp_files).
inline void save_checkpoint(const std::string& path, const CheckpointContents& c) {
  checkpoint_safetensors(c).save(path, "save_checkpoint");
}
// Only the model's state_dict (what PyTorch's load_state_dict needs), plus optional metadata.
inline void save_model(const std::string& path, const nn::Module& model,
                       const std::map<std::string, std::string>& metadata = {}) {
  CheckpointContents c;
  c.model = &model;
  c.metadata = metadata;
  save_checkpoint(path, c);
}

// Which model tensors load_model compares and copies.
struct ModelLoadOptions {
  // Tensors under these prefixes are ignored on both sides (in the file and in the model).
  std::vector<std::string> ignore_prefixes;
  // false: tensors missing from the file or unknown to the model are allowed (shapes must still match).
  bool strict = true;
  // For evaluation and self-labelling (SPEC §5): the contrastive head is not needed.
  static ModelLoadOptions without_contrastive_head() {
    ModelLoadOptions o;
    o.ignore_prefixes = {"contrastive_head."};
    return o;
  }
};

// A checkpoint read back and validated as a safetensors file; each part is loaded on request, after
// its names and shapes are checked against the receiving object (nothing is modified on a mismatch).
//   auto ck = gcc::io::Checkpoint::load("run/last.safetensors");
//   ck.load_model(model);  ck.load_optimizer(sgd);  ck.load_feature_memory(memory);
//   rng.set_state(ck.rng("main"));  int64_t start_epoch = ck.epoch();
class Checkpoint {
 public:
  static Checkpoint load(const std::string& path) {
    Checkpoint c;
    c.st_ = Safetensors::load(path);
    return c;
  }
  static Checkpoint from_safetensors(Safetensors st) {
    Checkpoint c;
    c.st_ = std::move(st);
    return c;
  }
  const Safetensors& file() const { return st_; }
  const std::string& path() const { return st_.source(); }

  bool has_epoch() const { return st_.has_metadata("epoch"); }
  int64_t epoch() const { return meta_int("epoch"); }
  bool has_global_step() const { return st_.has_metadata("global_step"); }
  int64_t global_step() const { return meta_int("global_step"); }
  bool has_config() const { return st_.has_metadata("config"); }
  const std::string& config() const { return st_.metadata("config"); }

  // Names of the model tensors in the file: those under the metadata's model_modules, or, in a file
  // without it (a plain state_dict), every tensor outside the reserved prefixes.
  std::vector<std::string> model_tensor_names() const {
    std::vector<std::string> out;
    std::set<std::string> mods;
    const bool have_mods = st_.has_metadata("model_modules");
    if (have_mods) {
      const std::string& s = st_.metadata("model_modules");
      std::size_t b = 0;
      while (b <= s.size()) {
        const std::size_t e = std::min(s.find(',', b), s.size());
        if (e > b) mods.insert(s.substr(b, e - b));
        b = e + 1;
      }
    }
    for (const std::string& n : st_.names()) {
      if (have_mods) {
        if (mods.count(io_detail::first_component(n))) out.push_back(n);
        continue;
      }
      bool reserved = false;
      for (const std::string& p : checkpoint_reserved_prefixes()) reserved = reserved || io_detail::starts_with(n, p);
      if (!reserved) out.push_back(n);
    }
    return out;
  }

  // Copies the file's tensors into the model's parameters and buffers (any device). Throws, changing
  // nothing, when names or shapes differ, listing every difference by name, e.g.
  //   "cluster_head.0.weight has shape [20, 512] in the checkpoint, the model expects [10, 512]".
  void load_model(const nn::Module& model, const ModelLoadOptions& opt = {}) const {
    auto ignored = [&](const std::string& n) {
      for (const std::string& p : opt.ignore_prefixes)
        if (io_detail::starts_with(n, p)) return true;
      return false;
    };
    std::vector<NamedTensor> targets;
    std::set<std::string> model_names;
    std::vector<std::string> shape_errors, missing, unexpected;
    for (const NamedTensor& t : model.state_dict()) {
      if (ignored(t.name)) continue;
      model_names.insert(t.name);
      if (!st_.contains(t.name)) {
        missing.push_back(t.name);
        continue;
      }
      const std::vector<int64_t>& fs = st_.shape(t.name);
      if (fs != t.tensor.shape().vec()) {
        shape_errors.push_back(t.name + " has shape " + shape_str(fs) + " in the checkpoint, the model expects " +
                               t.tensor.shape().str());
        continue;
      }
      targets.push_back(t);
    }
    for (const std::string& n : model_tensor_names())
      if (!ignored(n) && !model_names.count(n)) unexpected.push_back(n);
    std::string msg;
    auto list = [&](const char* title, const std::vector<std::string>& v, const char* sep) {
      if (v.empty()) return;
      msg += (msg.empty() ? "" : "; ") + std::string(title);
      for (std::size_t i = 0; i < v.size() && i < 12; ++i) msg += (i ? sep : "") + v[i];
      if (v.size() > 12) msg += sep + std::string("... (") + std::to_string(v.size()) + " in all)";
    };
    list("", shape_errors, "; ");
    if (opt.strict) {
      list("missing from the checkpoint: ", missing, ", ");
      list("in the checkpoint but not in the model: ", unexpected, ", ");
    }
    if (!msg.empty()) {
      std::string hint;
      if (!shape_errors.empty())
        hint = " (a different number of clusters K, backbone or width than the run that wrote it?)";
      else if (!missing.empty() && !unexpected.empty())
        hint = " (a different backbone, or a checkpoint of another model?)";
      GCC_FAIL("load_model: checkpoint '", path(), "' does not fit the model: ", msg, hint);
    }
    std::vector<Tensor> values;  // all read and checked before the model changes
    for (const NamedTensor& t : targets) {
      values.push_back(st_.tensor(t.name).view(t.tensor.shape()));
      const Tensor& v = values.back();
      const int64_t bad = first_non_finite(v.data(), v.numel());
      GCC_CHECK(bad < 0, "load_model: checkpoint '", path(), "': tensor '", t.name, "' holds ",
                bad < 0 ? std::string() : non_finite_name(v.data()[bad]), " at element ", bad, " of ", v.numel(),
                "; the file is corrupt or was written by a run that diverged: use an earlier checkpoint");
    }
    for (std::size_t i = 0; i < targets.size(); ++i) targets[i].tensor.copy_from(values[i]);
  }

  bool has_optimizer_state() const { return st_.has_metadata("optimizer"); }
  // "sgd" or "adam"; empty when the file holds no optimizer state.
  std::string optimizer_kind() const { return has_optimizer_state() ? st_.metadata("optimizer") : std::string(); }
  // Restores SGD momentum buffers or Adam moments and step counts by parameter name. The optimizer's
  // parameters must be those of the saved run (same names and shapes); its lr and hyper-parameters are
  // left as they are (the schedule sets the lr from the epoch).
  void load_optimizer(Optimizer& opt) const {
    const std::string kind = optimizer_kind();
    GCC_CHECK(!kind.empty(), "load_optimizer: checkpoint '", path(), "' holds no optimizer state");
    SGD* sgd = dynamic_cast<SGD*>(&opt);
    Adam* adam = dynamic_cast<Adam*>(&opt);
    GCC_CHECK(sgd || adam, "load_optimizer: unsupported optimizer type (expected gcc::SGD or gcc::Adam)");
    GCC_CHECK((kind == "sgd" && sgd) || (kind == "adam" && adam), "load_optimizer: checkpoint '", path(),
              "' holds ", kind, " state, the optimizer is ", sgd ? "SGD" : "Adam");
    const std::vector<NamedTensor>& ps = opt.params();
    const std::vector<std::string> fields =
        sgd ? std::vector<std::string>{"momentum_buffer"} : std::vector<std::string>{"exp_avg", "exp_avg_sq", "step"};
    std::set<std::string> expected;
    std::vector<std::string> errors;
    for (const NamedTensor& p : ps)
      for (const std::string& f : fields) {
        const std::string key = "optimizer." + p.name + "." + f;
        expected.insert(key);
        if (!st_.contains(key)) continue;
        const std::vector<int64_t> want = f == "step" ? std::vector<int64_t>{} : p.tensor.shape().vec();
        if (st_.shape(key) != want)
          errors.push_back(key + " has shape " + shape_str(st_.shape(key)) + " in the checkpoint, expected " +
                           shape_str(want));
      }
    for (const std::string& n : st_.names())
      if (io_detail::starts_with(n, "optimizer.") && !expected.count(n))
        errors.push_back(n + " is in the checkpoint but matches no parameter of the optimizer");
    if (adam)
      for (const NamedTensor& p : ps) {
        const std::string k = "optimizer." + p.name + ".";
        const int present = st_.contains(k + "exp_avg") + st_.contains(k + "exp_avg_sq") + st_.contains(k + "step");
        if (present != 0 && present != 3) errors.push_back(k + "*: incomplete Adam state (need exp_avg, exp_avg_sq, step)");
      }
    if (!errors.empty()) {
      std::string msg;
      for (std::size_t i = 0; i < errors.size() && i < 12; ++i) msg += (i ? "; " : "") + errors[i];
      GCC_FAIL("load_optimizer: checkpoint '", path(), "' does not fit the optimizer: ", msg,
               errors.size() > 12 ? " ..." : "");
    }
    auto restore = [&](const std::string& key, const Tensor& like) {
      Tensor t = Tensor::empty(like.shape(), like.device());
      t.copy_from(st_.tensor(key).view(like.shape()));
      return t;
    };
    for (std::size_t i = 0; i < ps.size(); ++i) {
      const std::string k = "optimizer." + ps[i].name + ".";
      if (sgd) {
        const std::string key = k + "momentum_buffer";
        sgd->momentum_buffers()[i] = st_.contains(key) ? restore(key, ps[i].tensor) : Tensor();
      } else if (st_.contains(k + "exp_avg")) {
        adam->exp_avgs()[i] = restore(k + "exp_avg", ps[i].tensor);
        adam->exp_avg_sqs()[i] = restore(k + "exp_avg_sq", ps[i].tensor);
        adam->steps()[i] = st_.i64(k + "step")[0];
      } else {
        adam->exp_avgs()[i] = Tensor();
        adam->exp_avg_sqs()[i] = Tensor();
        adam->steps()[i] = 0;
      }
    }
  }

  bool has_rng(const std::string& name) const { return st_.contains("rng." + name); }
  Rng::State rng(const std::string& name) const {
    const std::string key = "rng." + name;
    GCC_CHECK(st_.contains(key), "Checkpoint::rng: checkpoint '", path(), "' holds no RNG state '", name, "'");
    GCC_CHECK(st_.shape(key) == std::vector<int64_t>{6}, "Checkpoint::rng: ", key, " has shape ",
              shape_str(st_.shape(key)), ", expected [6]");
    const std::vector<int64_t> v = st_.i64(key);
    Rng::State s;
    for (int i = 0; i < 4; ++i) s.s[i] = static_cast<uint64_t>(v[static_cast<std::size_t>(i)]);
    s.has_spare = v[4] != 0;
    s.spare = io_detail::double_of(v[5]);
    return s;
  }

  bool has_feature_memory() const { return st_.contains("feature_memory.embeddings"); }
  // Restores into a memory of the same size (samples, slots, dim), else throws naming both sizes.
  void load_feature_memory(FeatureMemory& m) const {
    check_memory();
    const std::vector<int64_t>& s = st_.shape("feature_memory.embeddings");
    const int64_t slots = static_cast<int64_t>(m.raw().size()) / (m.samples() * m.dim());
    GCC_CHECK(s[0] == m.samples() && s[1] == slots && s[2] == m.dim(), "load_feature_memory: checkpoint '", path(),
              "' holds a memory of ", s[0], " samples x ", s[1], " slots x ", s[2], " dims, this one has ",
              m.samples(), " x ", slots, " x ", m.dim());
    m.restore(st_.f32("feature_memory.embeddings"), ints("feature_memory.counts"), ints("feature_memory.next_slots"));
  }
  // A new memory of the saved size and contents.
  FeatureMemory feature_memory() const {
    check_memory();
    const std::vector<int64_t>& s = st_.shape("feature_memory.embeddings");
    FeatureMemory m(s[0], s[2], static_cast<int>(s[1]));
    load_feature_memory(m);
    return m;
  }

  bool has_neighbours() const { return st_.contains("graph.neighbours"); }
  // The saved kNN graph (scores empty if they were not saved).
  KnnGraph neighbours() const {
    GCC_CHECK(has_neighbours(), "Checkpoint::neighbours: checkpoint '", path(), "' holds no neighbour lists");
    const std::vector<int64_t>& s = st_.shape("graph.neighbours");
    GCC_CHECK(s.size() == 2, "Checkpoint::neighbours: graph.neighbours has shape ", shape_str(s), ", expected [N, k]");
    KnnGraph g;
    g.n = s[0];
    g.k = s[1];
    g.index = st_.i64("graph.neighbours");
    for (int64_t v : g.index)
      GCC_CHECK(v >= 0 && v < g.n, "Checkpoint::neighbours: checkpoint '", path(), "': neighbour index ", v,
                " outside [0, ", g.n, ")");
    if (st_.contains("graph.scores")) {
      GCC_CHECK(st_.shape("graph.scores") == s, "Checkpoint::neighbours: graph.scores has shape ",
                shape_str(st_.shape("graph.scores")), ", graph.neighbours ", shape_str(s));
      g.score = st_.f32("graph.scores");
    }
    return g;
  }
  bool has_degree_weights() const { return st_.contains("graph.degree_weights"); }
  std::vector<float> degree_weights() const {
    GCC_CHECK(has_degree_weights(), "Checkpoint::degree_weights: checkpoint '", path(), "' holds no degree weights");
    return st_.f32("graph.degree_weights");
  }

  // Copies saved tensors into `dst` by exact name (e.g. an EMA's shadow weights), shapes checked first.
  void load_tensors(const std::vector<NamedTensor>& dst) const {
    for (const NamedTensor& t : dst) {
      GCC_CHECK(st_.contains(t.name), "Checkpoint::load_tensors: checkpoint '", path(), "' has no tensor '", t.name, "'");
      GCC_CHECK(st_.shape(t.name) == t.tensor.shape().vec(), "Checkpoint::load_tensors: ", t.name, " has shape ",
                shape_str(st_.shape(t.name)), " in the checkpoint, expected ", t.tensor.shape().str());
    }
    for (const NamedTensor& t : dst) t.tensor.copy_from(st_.tensor(t.name).view(t.tensor.shape()));
  }

  // Integer and number metadata entries (a number written as "null" reads as -1); throw naming the file and
  // the key when absent or malformed.
  int64_t meta_int(const char* key) const {
    GCC_CHECK(st_.has_metadata(key), "Checkpoint: '", path(), "' has no '", key,
              "' (a model-only file, not a training checkpoint?)");
    const std::string& s = st_.metadata(key);
    int64_t v = 0;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    GCC_CHECK(r.ec == std::errc() && r.ptr == s.data() + s.size(), "Checkpoint: '", path(), "': metadata ", key,
              " = '", s, "' is not an integer");
    return v;
  }
  double meta_real(const char* key) const {
    GCC_CHECK(st_.has_metadata(key), "Checkpoint: '", path(), "' has no '", key,
              "' (a model-only file, not a training checkpoint?)");
    const std::string& s = st_.metadata(key);
    if (s == "null") return -1.0;
    std::size_t used = 0;
    double v = 0;
    try {
      v = std::stod(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    GCC_CHECK(used == s.size() && used > 0, "Checkpoint: '", path(), "': metadata ", key, " = '", s, "' is not a number");
    return v;
  }

 private:
  void check_memory() const {
    GCC_CHECK(has_feature_memory(), "Checkpoint: '", path(), "' holds no feature memory");
    const std::vector<int64_t>& s = st_.shape("feature_memory.embeddings");
    GCC_CHECK(s.size() == 3 && s[0] > 0 && s[1] > 0 && s[2] > 0, "Checkpoint: '", path(),
              "': feature_memory.embeddings has shape ", shape_str(s), ", expected [N, slots, D]");
    for (const char* k : {"feature_memory.counts", "feature_memory.next_slots"}) {
      GCC_CHECK(st_.contains(k) && st_.shape(k) == std::vector<int64_t>{s[0]}, "Checkpoint: '", path(), "': ", k,
                " missing or not of shape [", s[0], "]");
      const int64_t hi = std::strcmp(k, "feature_memory.counts") == 0 ? s[1] : s[1] - 1;
      for (int64_t v : st_.i64(k))
        GCC_CHECK(v >= 0 && v <= hi, "Checkpoint: '", path(), "': ", k, " holds ", v, ", outside [0, ", hi, "]");
    }
  }
  std::vector<int> ints(const std::string& key) const {
    const std::vector<int64_t> v = st_.i64(key);
    return std::vector<int>(v.begin(), v.end());
  }
  Safetensors st_;
};

}  // namespace io
}  // namespace gcc
