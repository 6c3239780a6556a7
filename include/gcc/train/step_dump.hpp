// The first training step of each phase, written out for an independent implementation to recompute
// (data_scripts/reference_gcc_torch.py --check-steps DIR): `gcc_train --dump-steps DIR` writes
//   DIR/config.yaml              the run's configuration
//   DIR/train_ids.npy            int64 [n]: index in the dataset as read of each training image
//   DIR/phase<P>/model.safetensors   the model (parameters and BatchNorm buffers) before the step
//   DIR/phase<P>/views.npy       float32 [V, m, C, H, W]: the normalised views the network saw
//                                (phase 1: x, x'; phase 2: x, x', v0, v1, v2, u)
//   DIR/phase<P>/weights.npy     float32 [3, m] (phase 2): node weights of the neighbours n_0, n_1, n_2
//   DIR/phase<P>/losses.json     {"loss", "rgc", "agc", "agc_consistency", "agc_entropy", "epoch", "step"}
#pragma once
#include <array>
#include <string>
#include <vector>

#include "../core/tensor.hpp"
#include "../io/atomic_file.hpp"
#include "../io/checkpoint.hpp"
#include "../io/json.hpp"
#include "../io/npy.hpp"
#include "../nn/module.hpp"
#include "config_schema.hpp"

namespace gcc {
namespace train {

class StepDump {
 public:
  StepDump() = default;
  // Writes into `dir` (created) the config and the training images' dataset indices.
  StepDump(std::string dir, const Config& cfg, const std::vector<int64_t>& train_source) : dir_(std::move(dir)) {
    io::make_dirs(dir_);
    io::write_file_atomically(dir_ + "/config.yaml", config_yaml(cfg, "the run whose first steps are dumped here"),
                              "StepDump");
    if (!train_source.empty())
      io::write_npy(dir_ + "/train_ids.npy", train_source, {static_cast<int64_t>(train_source.size())});
  }
  bool active() const { return !dir_.empty(); }
  // Whether the next step of `phase` is to be dumped (the first step of each phase, once).
  bool wants(int phase) const { return active() && (phase == 1 || phase == 2) && !done_[phase - 1]; }

  // Before the step's forward passes: the model as the step starts.
  void save_model_before(int phase, const nn::Module& model) {
    if (!wants(phase)) return;
    io::make_dirs(folder(phase));
    io::save_model(folder(phase) + "/model.safetensors", model);
  }

  // After the losses: the views, the phase-2 node weights and the loss terms; marks the phase done.
  void save_step(int phase, const std::vector<Tensor>& views /* V x [m, C, H, W] */,
                 const std::array<Tensor, 3>* weights /* 3 x [m], phase 2 */, double loss, double rgc, double agc,
                 double agc_consistency, double agc_entropy, int epoch, int64_t step) {
    if (!wants(phase)) return;
    const std::string f = folder(phase);
    write_stacked(f + "/views.npy", views);  // [V, m, C, H, W]
    if (weights) write_stacked(f + "/weights.npy", {(*weights)[0], (*weights)[1], (*weights)[2]});  // [3, m]
    io::JsonObject j;
    j.add("loss", loss).add("rgc", rgc).add("agc", agc).add("agc_consistency", agc_consistency);
    j.add("agc_entropy", agc_entropy).add("epoch", epoch).add("step", step);
    io::write_file_atomically(f + "/losses.json", j.str() + "\n", "StepDump");
    done_[phase - 1] = true;
  }

 private:
  std::string folder(int phase) const { return dir_ + "/phase" + std::to_string(phase); }

  // Tensors of one shape written as one .npy array stacked along a new leading dimension (which may
  // make it 5-D, beyond a Tensor's 4 dims).
  static void write_stacked(const std::string& path, const std::vector<Tensor>& parts) {
    std::vector<float> data;
    for (const Tensor& p : parts) {
      GCC_CHECK(p.shape() == parts[0].shape(), "StepDump: stacking ", p.shape().str(), " onto ", parts[0].shape().str());
      const std::vector<float> v = p.to_vector();
      data.insert(data.end(), v.begin(), v.end());
    }
    std::vector<int64_t> shape = parts[0].shape().vec();
    shape.insert(shape.begin(), static_cast<int64_t>(parts.size()));
    io::write_npy(path, data, shape);
  }

  std::string dir_;
  bool done_[2] = {false, false};
};

}  // namespace train
}  // namespace gcc
