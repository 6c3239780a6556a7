// Checkpoints of the self-labelling trainer: one safetensors file (io/checkpoint.hpp, written atomically)
// with backbone.* and cluster_head.* under the release's names (the state_dict of its self-labelling
// model: the contrastive head is left out), Adam's moments, the position and the label-selected best
// figures, and the run's Config (its `selflabel` section included).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "../io/checkpoint.hpp"
#include "../io/json.hpp"
#include "checkpoint_model.hpp"
#include "config_schema.hpp"
#include "selflabel.hpp"

namespace gcc {
namespace train {

// Writes a resumable checkpoint atomically (refused, keeping the previous file, if a weight is not finite).
inline void save_selflabel_checkpoint(const std::string& path, const SelfLabelTrainer& t,
                                      const std::map<std::string, std::string>& extra_metadata = {}) {
  const SelfLabelState& s = t.state();
  io::CheckpointContents c;
  c.model = &t.model();
  c.optimizer = &t.optimizer();
  c.epoch = s.next_epoch;
  c.global_step = s.global_step;
  c.config = config_yaml(t.config(), "gcc_selflabel configuration");
  c.metadata = extra_metadata;
  c.metadata["setup"] = "selflabel";
  c.metadata["next_step"] = std::to_string(s.next_step);
  c.metadata["updates"] = std::to_string(s.updates);
  c.metadata["skipped_batches"] = std::to_string(s.skipped_batches);
  put_best(c.metadata, s.best);
  io::Safetensors st = io::checkpoint_safetensors(c);
  const std::vector<std::string> names = st.names();
  for (const std::string& n : names)
    if (n.rfind("contrastive_head.", 0) == 0) st.remove(n);
  st.set_metadata("model_modules", "backbone,cluster_head");
  st.save(path, "save_selflabel_checkpoint");
}

// Restores weights, Adam state and position from a checkpoint written by save_selflabel_checkpoint into a
// trainer built with the checkpoint's config (checkpoint_config).
inline void load_selflabel_checkpoint(const io::Checkpoint& ck, SelfLabelTrainer& t) {
  GCC_CHECK(ck.file().has_metadata("setup") && ck.file().metadata("setup") == "selflabel", "load_selflabel_checkpoint: '",
            ck.path(), "' is not a self-labelling checkpoint (start from it with load_initial_weights instead)");
  check_checkpoint_clusters(ck, t.config().num_clusters, "the self-labelling config (num_clusters)");
  SelfLabelState s;
  s.next_epoch = static_cast<int>(ck.epoch());
  s.global_step = ck.global_step();
  s.next_step = ck.meta_int("next_step");
  s.updates = ck.meta_int("updates");
  s.skipped_batches = ck.meta_int("skipped_batches");
  s.best = read_best(ck);
  ck.load_model(t.model(), io::ModelLoadOptions::without_contrastive_head());
  ck.load_optimizer(t.optimizer());
  t.set_state(s);
}

}  // namespace train
}  // namespace gcc
