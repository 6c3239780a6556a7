// Checkpoints of the end-to-end trainer: one safetensors file (io/checkpoint.hpp, written atomically)
// with the weights under the release's names, SGD momentum, the RNG, the feature memory, the neighbour
// lists and node weights, the position (epoch, step), the label-selected best figures and the config --
// everything a resumed run needs to continue bit-identically on the CPU (the loader reseeds every sample
// from (seed, epoch, index), so the data side needs no state). The state counts global batches, whatever
// the number of ranks: a checkpoint of a data-parallel run resumes in one process and vice versa (every
// rank loads it; rank 0 alone writes it).
#pragma once
#include <string>

#include "../io/checkpoint.hpp"
#include "../io/json.hpp"
#include "checkpoint_model.hpp"
#include "config_schema.hpp"
#include "end2end.hpp"

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
  c.config = config_yaml(t.config(), comment);
  const TrainerState& s = t.state();
  c.metadata["setup"] = "end2end";
  c.metadata["next_step"] = std::to_string(s.next_step);
  c.metadata["graph_epoch"] = std::to_string(s.graph_epoch);
  put_best(c.metadata, s.best);
  io::save_checkpoint(path, c);
}

// Restores a checkpoint into a trainer built with the run's config and data (checkpoint_config()
// gives the config). Throws, naming what differs, when the model, memory or graph do not fit.
inline void load_end2end_checkpoint(const io::Checkpoint& ck, End2EndTrainer& t) {
  if (ck.file().has_metadata("setup"))
    GCC_CHECK(ck.file().metadata("setup") == "end2end", "load_end2end_checkpoint: '", ck.path(), "' is a ",
              ck.file().metadata("setup"), " checkpoint, not an end-to-end one");
  check_checkpoint_clusters(ck, t.config().num_clusters, "the trainer's configuration (num_clusters)");
  TrainerState s;
  s.next_epoch = static_cast<int>(ck.epoch());
  s.global_step = ck.global_step();
  s.next_step = ck.meta_int("next_step");
  s.graph_epoch = static_cast<int>(ck.meta_int("graph_epoch"));
  s.best = read_best(ck);
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
  t.broadcast_model();  // data-parallel: every rank read the file; rank 0's model is the one kept
}
inline void load_end2end_checkpoint(const std::string& path, End2EndTrainer& t) {
  load_end2end_checkpoint(io::Checkpoint::load(path), t);
}

}  // namespace train
}  // namespace gcc
