// SelfLabelTrainer: GCC's optional second stage (SPEC §5, as SCAN's selflabel_train): fine-tune the
// end-to-end model on its own confident predictions. Per batch: the weak view (= evaluation view) goes
// through the network without gradient -> softmax -> mask = max prob > threshold, target = argmax; the
// strong view (flip, crop, RandAugment, Cutout) gets the class-balanced cross-entropy on the masked
// samples; Adam (lr 5e-5, betas 0.9/0.999, weight decay added to the gradient), constant lr. Its settings
// are the `selflabel` section of the run's Config (config.hpp); model, data and views are the run's.
//
//   gcc::io::Checkpoint init = gcc::io::Checkpoint::load("runs/fm/checkpoint.safetensors");
//   gcc::train::Config cfg = gcc::train::checkpoint_config(init);
//   gcc::train::SelfLabelTrainer t(cfg, gcc::train::load_selflabel_data(cfg));
//   t.load_initial_weights(init);
//   t.fit([&](const gcc::train::SelfLabelEpochReport& r) { save_selflabel_checkpoint("out/c.safetensors", t); });
//
// Departures from the release, by design:
// - A batch in which no sample passes the threshold contributes no update (the release raises an error):
//   no optimizer step, no EMA step, and the BatchNorm running statistics of its weak pass are put back;
//   its strong pass is not computed. Reports count such batches.
// - The model keeps its (untrained) contrastive head so that it stays an End2EndModel, but the head is
//   neither loaded, trained nor saved: checkpoints hold backbone.* and cluster_head.* only, which is the
//   state_dict of the release's self-labelling model.
// As the release: BatchNorm runs in training mode for both passes (the weak pass under no-grad updates
// the running statistics too); only cluster head 0 is trained; with use_ema the weights become their
// EMA after every step (shadow = a·shadow + (1-a)·w; w = shadow) and the BatchNorm buffers go back to
// their values at the start of the run (SCAN's EMA.apply_shadow loads the whole state_dict it cloned).
#pragma once
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../autograd/tape.hpp"
#include "../core/device.hpp"
#include "../data/augment.hpp"
#include "../data/loader.hpp"
#include "../io/checkpoint.hpp"
#include "../loss/confidence_ce.hpp"
#include "../nn/end2end.hpp"
#include "../ops/softmax.hpp"
#include "../optim/optimizers.hpp"
#include "checkpoint_model.hpp"
#include "config_schema.hpp"
#include "data.hpp"
#include "diverged.hpp"
#include "epoch_steps.hpp"
#include "evaluate.hpp"
#include "progress.hpp"

namespace gcc {
namespace train {

// ---- the trainer -------------------------------------------------------------------------------------

struct SelfLabelEpochReport {
  int epoch = 0;
  float lr = 0;
  bool complete = true;              // false: stopped early (request_stop)
  int64_t steps = 0;                 // batches seen in this call
  int64_t updates = 0;               // batches that updated the model
  int64_t skipped = 0;               // batches without a confident sample: no update
  int64_t samples = 0, confident = 0;
  double mean_loss = 0;              // over the updating batches
  double confident_fraction = 0;     // confident / samples
  double seconds = 0, images_per_second = 0;  // images: 2 per sample (weak + strong)
  bool evaluated = false;
  EvalResult eval;
  bool best_so_far = false;          // label-selected
};

struct SelfLabelState {
  int next_epoch = 0;
  int64_t next_step = 0;             // > 0 when stopped inside next_epoch
  int64_t global_step = 0;           // batches processed
  int64_t updates = 0;               // optimizer steps taken
  int64_t skipped_batches = 0;       // batches without a confident sample, over the run
  BestEval best;                     // label-selected best evaluation so far
};

class SelfLabelTrainer {
 public:
  SelfLabelTrainer(Config cfg, TrainData data) : cfg_(std::move(cfg)), data_(std::move(data)), progress_(stderr) {
    validate(cfg_);
    data_.validate();
    device_ = parse_device(cfg_.device);
    Rng rng(cfg_.selflabel.seed);
    model_ = std::make_unique<nn::End2EndModel>(cfg_.model_config(), rng);
    if (!device_.is_cpu()) model_->to(device_);
    model_->train();
    opt_ = std::make_unique<Adam>(trained_parameters(), cfg_.selflabel.lr, cfg_.selflabel.beta1, cfg_.selflabel.beta2, cfg_.selflabel.adam_eps, cfg_.selflabel.weight_decay);
    if (cfg_.selflabel.use_ema) reset_ema();
  }

  // ---- access --------------------------------------------------------------------------------------
  const Config& config() const { return cfg_; }
  const TrainData& data() const { return data_; }
  nn::End2EndModel& model() { return *model_; }
  const nn::End2EndModel& model() const { return *model_; }
  Adam& optimizer() { return *opt_; }
  const Adam& optimizer() const { return *opt_; }
  const SelfLabelState& state() const { return st_; }
  int next_epoch() const { return st_.next_epoch; }
  int64_t next_step() const { return st_.next_step; }
  bool finished() const { return st_.next_epoch >= cfg_.selflabel.epochs; }
  ProgressLine& progress() { return progress_; }
  void set_progress_output(FILE* out) { progress_.set_output(out); }
  void set_stop_flag(const std::atomic<bool>* flag) { stop_flag_ = flag; }
  // Restores the position of a checkpoint (the model and optimiser are restored by the caller); with EMA
  // the shadow restarts from the current weights, which are the EMA (see the header comment).
  void set_state(const SelfLabelState& s) {
    GCC_CHECK(s.next_epoch >= 0 && s.next_step >= 0, "SelfLabelTrainer::set_state: bad position (epoch ", s.next_epoch,
              ", step ", s.next_step, ")");
    st_ = s;
    if (cfg_.selflabel.use_ema) reset_ema();
  }

  // The parameters self-labelling trains: the backbone and cluster head 0.
  std::vector<NamedTensor> trained_parameters() const {
    std::vector<NamedTensor> out;
    for (const NamedTensor& p : model_->named_parameters())
      if (p.name.rfind("backbone.", 0) == 0 || p.name.rfind("cluster_head.0.", 0) == 0) out.push_back(p);
    return out;
  }

  // Loads the end-to-end run's weights (its contrastive head, if any, is ignored). Throws naming both K
  // when the checkpoint's cluster head does not have this config's K.
  void load_initial_weights(const io::Checkpoint& ck) {
    check_checkpoint_clusters(ck, cfg_.num_clusters, "the self-labelling config (num_clusters)");
    ck.load_model(*model_, io::ModelLoadOptions::without_contrastive_head());
    if (cfg_.selflabel.use_ema) reset_ema();
  }

  // ---- training --------------------------------------------------------------------------------------
  void fit(const std::function<void(const SelfLabelEpochReport&)>& on_epoch = nullptr) {
    fit_epochs<SelfLabelTrainer, SelfLabelEpochReport>(*this, stop_flag_, on_epoch);
  }

  // One epoch from next_step(); evaluates when the schedule says so. Throws TrainingDiverged on a
  // non-finite loss or weak-view output (nothing of that step is applied).
  SelfLabelEpochReport train_epoch() {
    GCC_CHECK(!finished(), "SelfLabelTrainer::train_epoch: all ", cfg_.selflabel.epochs, " epochs are done");
    const int e = st_.next_epoch;
    SelfLabelEpochReport rep;
    rep.epoch = e;
    rep.lr = cfg_.selflabel.lr;
    opt_->set_lr(cfg_.selflabel.lr);
    model_->train();
    double loss_sum = 0;
    const EpochSteps run = run_epoch_steps(loader(), e, st_.next_step, stop_flag_, [&](const Batch& b, int64_t step, auto elapsed) {
      const StepResult r = train_step(b, e, step);
      st_.next_step = step + 1;
      ++st_.global_step;
      ++rep.steps;
      rep.samples += b.size();
      rep.confident += r.confident;
      if (r.applied) {
        ++rep.updates;
        ++st_.updates;
        loss_sum += r.loss;
      } else {
        ++rep.skipped;
        ++st_.skipped_batches;
      }
      const double dt = elapsed();
      progress_.bar(step + 1 == loader().batches_per_epoch(), "selflabel epoch %d/%d step %lld/%lld  loss %.4f  confident "
                    "%.1f%%  no-confident batches %lld  lr %.3g  %.0f img/s", e + 1, cfg_.selflabel.epochs,
                    static_cast<long long>(step + 1), static_cast<long long>(loader().batches_per_epoch()), r.loss,
                    100.0 * static_cast<double>(r.confident) / static_cast<double>(std::max<int64_t>(1, b.size())),
                    static_cast<long long>(rep.skipped), static_cast<double>(cfg_.selflabel.lr),
                    dt > 0 ? 2.0 * static_cast<double>(rep.samples) / dt : 0.0);
    });
    rep.seconds = run.seconds;
    rep.images_per_second = rep.seconds > 0 ? 2.0 * static_cast<double>(rep.samples) / rep.seconds : 0;
    rep.mean_loss = rep.updates > 0 ? loss_sum / static_cast<double>(rep.updates) : 0;
    rep.confident_fraction = rep.samples > 0 ? static_cast<double>(rep.confident) / static_cast<double>(rep.samples) : 0;
    if (run.stopped) {
      rep.complete = false;
      progress_.line("selflabel epoch %d/%d stopped after step %lld of %lld", e + 1, cfg_.selflabel.epochs,
                     static_cast<long long>(st_.next_step), static_cast<long long>(run.total));
      return rep;
    }
    st_.next_epoch = e + 1;
    st_.next_step = 0;
    if (cfg_.selflabel_evaluate_after(e)) {
      rep.evaluated = true;
      rep.eval = evaluate(e);
      rep.best_so_far = st_.best.offer(rep.eval, e);
    }
    summary_line(rep);
    return rep;
  }

  // Cluster-head argmax over the evaluation set (evaluation views, BatchNorm in eval mode).
  EvalResult evaluate(int epoch = -1) {
    EvalOptions o = eval_options(cfg_);
    o.embeddings = false;  // the contrastive head is not part of self-labelling
    o.progress = &progress_;
    EvalResult r = evaluate_model(*model_, *data_.eval, o);
    r.epoch = epoch;
    return r;
  }

  struct StepResult {
    double loss = 0;        // 0 when not applied
    int64_t confident = 0;  // samples above the threshold
    bool applied = false;   // false: no confident sample, nothing changed
  };

  // One batch: views[0] weak, views[1] strong.
  StepResult train_step(const Batch& b, int e, int64_t step) {
    GCC_CHECK(b.views.size() == 2, "SelfLabelTrainer::train_step: expected 2 views (weak, strong), got ", b.views.size());
    const std::vector<NamedTensor> buffers = model_->named_buffers();
    std::vector<Tensor> saved;
    saved.reserve(buffers.size());
    for (const NamedTensor& t : buffers) saved.push_back(t.tensor.clone());
    auto put_back_buffers = [&] {
      for (std::size_t i = 0; i < buffers.size(); ++i) buffers[i].tensor.copy_from(saved[i]);
    };
    StepResult r;
    Tensor weak;
    {
      NoGrad ng;
      weak = model_->head(0).forward(model_->features(on_device(b.views[0]))).detach();
      const Tensor p = softmax(weak, 1).to(Device::cpu()).contiguous();
      const int64_t n = p.size(0), K = p.size(1);
      for (int64_t i = 0; i < n; ++i) {
        const float* row = p.data() + i * K;
        float best = row[0];
        bool finite = std::isfinite(row[0]);
        for (int64_t k = 1; k < K; ++k) {
          finite = finite && std::isfinite(row[k]);
          best = std::max(best, row[k]);
        }
        if (!finite) {
          put_back_buffers();
          diverged(e, step, "the weak view's cluster probabilities are not finite");
        }
        r.confident += best > cfg_.selflabel.confidence_threshold;
      }
    }
    if (r.confident == 0) {  // no pseudo-label: no update at all (the release raises an error here)
      put_back_buffers();
      return r;
    }
    const Tensor strong = model_->head(0).forward(model_->features(on_device(b.views[1])));
    const ConfidenceCeLoss c = confidence_ce_loss(weak, strong, cfg_.selflabel.confidence_threshold, cfg_.selflabel.class_balancing);
    GCC_CHECK(c.masked == r.confident, "SelfLabelTrainer: mask count ", c.masked, " differs from ", r.confident);
    r.loss = c.loss.item();
    if (!std::isfinite(r.loss)) {
      put_back_buffers();
      diverged(e, step, "loss " + std::to_string(r.loss) + " over " + std::to_string(c.masked) + " confident samples");
    }
    opt_->zero_grad();
    c.loss.backward();
    opt_->step();
    opt_->zero_grad();
    if (ema_) {
      ema_->update();
      const std::vector<NamedTensor>& sh = ema_->shadow();
      const std::vector<NamedTensor>& ps = opt_->params();
      for (std::size_t i = 0; i < ps.size(); ++i) ps[i].tensor.detach().copy_from(sh[i].tensor);
      for (std::size_t i = 0; i < buffers.size(); ++i) buffers[i].tensor.copy_from(ema_buffers_[i]);
    }
    r.applied = true;
    return r;
  }

 private:
  Tensor on_device(const Tensor& t) const { return device_.is_cpu() ? t : t.to(device_); }

  void reset_ema() {
    ema_ = std::make_unique<Ema>(opt_->params(), cfg_.selflabel.ema_alpha);
    ema_buffers_.clear();
    for (const NamedTensor& t : model_->named_buffers()) ema_buffers_.push_back(t.tensor.clone());
  }

  [[noreturn]] void diverged(int e, int64_t step, const std::string& what) const {
    throw TrainingDiverged("self-labelling diverged at epoch " + std::to_string(e + 1) + "/" +
                               std::to_string(cfg_.selflabel.epochs) + " (0-based " + std::to_string(e) + "), step " +
                               std::to_string(step) + ": " + what +
                               ". The step was not applied; the last checkpoint is the last good state. Try a lower "
                               "lr (now " + detail::print_number(cfg_.selflabel.lr) + ").",
                           e, step);
  }

  Loader& loader() {
    if (loader_) return *loader_;
    LoaderOptions o;
    o.batch_size = cfg_.selflabel.batch_size;
    o.views = 2;
    o.channels = cfg_.channels;
    o.size = cfg_.eval_crop;
    o.shuffle = true;
    o.drop_last = cfg_.selflabel.drop_last;
    o.seed = cfg_.selflabel.seed;
    o.threads = cfg_.loader_threads;
    const data::EvalView weak(cfg_.eval_params());
    const data::StrongView strong(cfg_.strong_params());
    const ImageDataset& d = *data_.phase2;
    GCC_CHECK(!cfg_.selflabel.drop_last || cfg_.selflabel.batch_size <= d.n, "SelfLabelTrainer: drop_last with batch ", cfg_.selflabel.batch_size,
              " leaves no batch of the ", d.n, " images");
    loader_ = std::make_unique<Loader>(d, std::vector<ViewFn>{ViewFn(weak), ViewFn(strong)}, o);
    return *loader_;
  }

  void summary_line(const SelfLabelEpochReport& r) {
    char extra[256] = "";
    if (r.evaluated)
      std::snprintf(extra, sizeof extra, "  | %s (%.0f s)", eval_summary(r.eval).c_str(), r.eval.seconds);
    progress_.line("selflabel epoch %d/%d  loss %.4f  confident %.1f%%  updates %lld  no-confident batches %lld  "
                   "lr %.3g  %.0f img/s  %.1f s%s",
                   r.epoch + 1, cfg_.selflabel.epochs, r.mean_loss, 100.0 * r.confident_fraction, static_cast<long long>(r.updates),
                   static_cast<long long>(r.skipped), static_cast<double>(r.lr), r.images_per_second, r.seconds, extra);
  }

  Config cfg_;
  TrainData data_;
  Device device_;
  std::unique_ptr<nn::End2EndModel> model_;
  std::unique_ptr<Adam> opt_;
  std::unique_ptr<Ema> ema_;
  std::vector<Tensor> ema_buffers_;  // BatchNorm buffers at the start (restored after each EMA step)
  std::unique_ptr<Loader> loader_;
  SelfLabelState st_;
  const std::atomic<bool>* stop_flag_ = nullptr;
  ProgressLine progress_;
};

}  // namespace train
}  // namespace gcc
