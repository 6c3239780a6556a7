// Checkpoints of the end-to-end trainer: one safetensors file (io/checkpoint.hpp, written atomically)
// with the weights under the release's names, SGD momentum, the RNG, the feature memory, the neighbour
// lists and node weights, the position (epoch, step), the label-selected best figures and the config --
// everything a resumed run needs to continue bit-identically on the CPU (the loader reseeds every sample
// from (seed, epoch, index), so the data side needs no state).
#pragma once
#include <string>

#include "../io/checkpoint.hpp"
#include "../io/json.hpp"
#include "end2end.hpp"
#include "evaluate.hpp"

namespace gcc {
namespace train {

inline void save_end2end_checkpoint(const std::string& path, const End2EndTrainer& t,
                                    const std::string& comment = "gcc_train configuration") {
  io::CheckpointContents c;
  c.model = &t.model();
  c.optimizer = &t.optimizer();
  c.epoch = t.next_epoch();
  c.global_step = t.state().global_step;
  c.rngs.emplace_back("main", t.rng().state());
  c.memory = &t.memory();
  KnnGraph g;
  if (t.has_graph()) {
    g.n = t.data().phase2->n;
    g.k = t.state().neighbour_k;
    g.index = t.state().neighbours;
    c.neighbours = &g;
    c.degree_weights = &t.state().node_weights;
  }
  c.config = train_config_text(t.config(), comment);
  const TrainerState& s = t.state();
  c.metadata["setup"] = "end2end";
  c.metadata["next_step"] = std::to_string(s.next_step);
  c.metadata["graph_epoch"] = std::to_string(s.graph_epoch);
  c.metadata["best_epoch"] = std::to_string(s.best_epoch);
  c.metadata["best_acc"] = io::json_number(s.best_acc);
  c.metadata["best_nmi"] = io::json_number(s.best_nmi);
  c.metadata["best_ari"] = io::json_number(s.best_ari);
  io::save_checkpoint(path, c);
}

namespace detail {
inline const std::string& ck_meta(const io::Checkpoint& ck, const char* key) {
  GCC_CHECK(ck.file().has_metadata(key), "load_end2end_checkpoint: '", ck.path(), "' has no '", key,
            "' entry: not a gcc_train checkpoint (a model-only file can be evaluated with gcc_eval or used to "
            "start gcc_selflabel, not resumed)");
  return ck.file().metadata(key);
}
inline int64_t ck_int(const io::Checkpoint& ck, const char* key) {
  const std::string& s = ck_meta(ck, key);
  try {
    std::size_t used = 0;
    const long long v = std::stoll(s, &used);
    if (used == s.size()) return v;
  } catch (const std::exception&) {
  }
  GCC_FAIL("load_end2end_checkpoint: '", ck.path(), "': metadata ", key, " = '", s, "' is not an integer");
}
inline double ck_real(const io::Checkpoint& ck, const char* key) {
  const std::string& s = ck_meta(ck, key);
  if (s == "null") return -1.0;
  try {
    std::size_t used = 0;
    const double v = std::stod(s, &used);
    if (used == s.size()) return v;
  } catch (const std::exception&) {
  }
  GCC_FAIL("load_end2end_checkpoint: '", ck.path(), "': metadata ", key, " = '", s, "' is not a number");
}
}  // namespace detail

// Restores a checkpoint into a trainer built with the run's config and data (checkpoint_train_config()
// gives the config). Throws, naming what differs, when the model, memory or graph do not fit.
inline void load_end2end_checkpoint(const io::Checkpoint& ck, End2EndTrainer& t) {
  if (ck.file().has_metadata("setup"))
    GCC_CHECK(ck.file().metadata("setup") == "end2end", "load_end2end_checkpoint: '", ck.path(), "' is a ",
              ck.file().metadata("setup"), " checkpoint, not an end-to-end one");
  check_checkpoint_clusters(ck, t.config().num_clusters, "the trainer's configuration (num_clusters)");
  TrainerState s;
  s.next_epoch = static_cast<int>(ck.epoch());
  s.global_step = ck.global_step();
  s.next_step = detail::ck_int(ck, "next_step");
  s.graph_epoch = static_cast<int>(detail::ck_int(ck, "graph_epoch"));
  s.best_epoch = static_cast<int>(detail::ck_int(ck, "best_epoch"));
  s.best_acc = detail::ck_real(ck, "best_acc");
  s.best_nmi = detail::ck_real(ck, "best_nmi");
  s.best_ari = detail::ck_real(ck, "best_ari");
  GCC_CHECK(s.next_epoch <= t.config().epochs, "load_end2end_checkpoint: '", ck.path(), "' is at epoch ",
            s.next_epoch, " of a run configured for ", t.config().epochs, " epochs");
  if (ck.has_neighbours()) {
    const KnnGraph g = ck.neighbours();
    GCC_CHECK(g.n == t.data().phase2->n, "load_end2end_checkpoint: '", ck.path(), "' holds neighbour lists of ", g.n,
              " images; this run's phase-2 set has ", t.data().phase2->n, " (a different dataset or train_subset?)");
    s.neighbours = g.index;
    s.neighbour_k = g.k;
    s.node_weights = ck.degree_weights();
  }
  GCC_CHECK(s.next_epoch <= t.config().switch_epoch || !s.neighbours.empty(), "load_end2end_checkpoint: '", ck.path(),
            "' is past the phase switch but holds no neighbour lists");
  // everything checked that can be before anything is changed; the loads below check their own shapes
  ck.load_model(t.model());
  ck.load_optimizer(t.optimizer());
  ck.load_feature_memory(t.memory());
  t.rng().set_state(ck.rng("main"));
  t.set_state(std::move(s));
}
inline void load_end2end_checkpoint(const std::string& path, End2EndTrainer& t) {
  load_end2end_checkpoint(io::Checkpoint::load(path), t);
}

}  // namespace train
}  // namespace gcc
