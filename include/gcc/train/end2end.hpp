// End2EndTrainer: GCC's end-to-end training (SPEC §4) -- phase 1 (2·RGC on two SimCLR views), the
// feature memory and the kNN-graph refresh, phase 2 (six views per sample, 2·RGC with neighbours + AGC),
// the cosine schedule, evaluation (ACC/NMI/ARI/top-5), a NaN guard, Ctrl-C-friendly stopping and the state
// a checkpoint needs to resume bit-identically on the CPU.
//
//   gcc::train::Config cfg = gcc::train::preset("fashion-mnist");
//   gcc::train::End2EndTrainer t(cfg, gcc::train::load_train_data(cfg));
//   t.fit([](const gcc::train::EpochReport& r) { /* log, checkpoint */ });
//   gcc::train::EvalResult e = t.evaluate();   // e.metrics.acc / nmi / ari
//
// Data parallelism (a dist::Communicator of N ranks, e.g. under mpirun): cfg.batch_size stays the GLOBAL
// batch; every rank renders and forwards only its contiguous shard (dist::shard_rows) of each batch,
// gathers the embeddings and logits (dist::all_gather0), computes the global RGC and AGC on the gathered
// batch as one process does, backpropagates that loss / N and sums the weight gradients over the ranks
// (dist::all_reduce_gradients). All ranks push the gathered embeddings into their feature memory, build
// the same kNN graph (each computes it whole) and keep identical weights, optimiser and memory. BatchNorm
// uses each rank's shard (default; the running statistics are averaged over the ranks after every step)
// or, with sync_batchnorm, the statistics of the whole global batch (the one-process maths). With N = 1
// (no communicator) nothing of this runs: the single-process trainer, unchanged.
#pragma once
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../autograd/tape.hpp"
#include "../core/finite.hpp"
#include "../data/augment.hpp"
#include "../data/loader.hpp"
#include "../dist/batchnorm_sync.hpp"
#include "../dist/collectives.hpp"
#include "../eval/metrics.hpp"
#include "../graph/feature_memory.hpp"
#include "../graph/knn.hpp"
#include "../loss/agc.hpp"
#include "../loss/rgc.hpp"
#include "../nn/end2end.hpp"
#include "../ops/shape.hpp"
#include "../ops/softmax.hpp"
#include "../optim/optimizers.hpp"
#include "../optim/schedule.hpp"
#include "config_schema.hpp"
#include "data.hpp"
#include "diverged.hpp"
#include "epoch_steps.hpp"
#include "evaluate.hpp"
#include "progress.hpp"
#include "step_dump.hpp"

namespace gcc {
namespace train {

// Means over the steps of an epoch (or one step's values).
struct LossTerms {
  double loss = 0, rgc = 0, agc = 0, agc_consistency = 0, agc_entropy = 0;
};

struct EpochReport {
  int epoch = 0, phase = 1;
  float lr = 0;
  bool complete = true;           // false: stopped early (request_stop); next_step() says where to resume
  int64_t first_step = 0;         // the step this call started at (> 0 when resumed inside the epoch)
  int64_t steps = 0, samples = 0; // steps and anchor samples of this call
  int64_t images = 0;             // images through the network with gradients (2 or 6 per sample)
  double seconds = 0, images_per_second = 0;
  LossTerms mean;                 // over the steps of this call
  bool refreshed = false;
  double knn_accuracy = -1;       // of the new graph (labels read for this diagnostic only), -1 if none
  bool evaluated = false;
  EvalResult eval;                // when evaluated (predictions etc. kept for the last epoch only)
  bool best_so_far = false;       // ACC is the best seen so far (a label-selected figure)
};

// Everything besides the model's weights and the optimiser's buffers that a resumed run needs.
struct TrainerState {
  int next_epoch = 0;
  int64_t next_step = 0;            // > 0 when the run stopped inside next_epoch
  int64_t global_step = 0;          // optimizer steps taken so far
  std::vector<int64_t> neighbours;  // [n2, k] kNN lists of the phase-2 set (empty before the first refresh)
  std::vector<float> node_weights;  // [n2] w_i
  int64_t neighbour_k = 0;
  int graph_epoch = -1;             // epoch whose end built the graph
  BestEval best;                    // label-selected best evaluation so far
};

class End2EndTrainer {
 public:
  // `comm`: the job of a data-parallel run (every rank constructs its trainer with the same config and
  // data; collective), null for one process. It must outlive the trainer. Rank 0's model is broadcast.
  End2EndTrainer(Config cfg, TrainData data, dist::Communicator* comm = nullptr)
      : cfg_(std::move(cfg)), data_(std::move(data)), comm_(comm ? comm : &self_), rng_(cfg_.seed),
        progress_(comm_->rank() == 0 ? stderr : nullptr) {
    validate(cfg_);
    data_.validate();
    device_ = parse_device(cfg_.device);
    model_ = std::make_unique<nn::End2EndModel>(cfg_.model_config(), rng_);
    if (!device_.is_cpu()) model_->to(device_);
    model_->train();
    if (distributed()) setup_data_parallel();
    opt_ = std::make_unique<SGD>(model_->named_parameters(), cfg_.lr, cfg_.momentum, cfg_.weight_decay);
    memory_ = std::make_unique<FeatureMemory>(data_.memory_rows, model_->config().embedding_dim, cfg_.memory_slots);
    GCC_CHECK(cfg_.num_clusters <= data_.phase2->n, "End2EndTrainer: num_clusters = ", cfg_.num_clusters,
              " clusters for ", data_.phase2->n, " training images; expected K <= the number of images");
    GCC_CHECK(cfg_.num_neighbors + 1 <= data_.phase2->n, "End2EndTrainer: ", cfg_.num_neighbors,
              " neighbours need at least ", cfg_.num_neighbors + 1, " phase-2 images, the set has ", data_.phase2->n);
    GCC_CHECK(cfg_.batch_size <= data_.phase1->n || !cfg_.drop_last, "End2EndTrainer: drop_last with batch ",
              cfg_.batch_size, " leaves no batch of the ", data_.phase1->n, " images");
  }

  // Not copyable or movable: the phase-2 loader's image selector refers to this object.
  End2EndTrainer(const End2EndTrainer&) = delete;
  End2EndTrainer& operator=(const End2EndTrainer&) = delete;

  // ---- access --------------------------------------------------------------------------------
  const Config& config() const { return cfg_; }
  const TrainData& data() const { return data_; }
  nn::End2EndModel& model() { return *model_; }
  const nn::End2EndModel& model() const { return *model_; }
  SGD& optimizer() { return *opt_; }
  const SGD& optimizer() const { return *opt_; }
  FeatureMemory& memory() { return *memory_; }
  const FeatureMemory& memory() const { return *memory_; }
  Rng& rng() { return rng_; }
  const Rng& rng() const { return rng_; }
  ProgressLine& progress() { return progress_; }
  dist::Communicator& communicator() { return *comm_; }
  bool distributed() const { return comm_->size() > 1; }
  int next_epoch() const { return st_.next_epoch; }
  int64_t next_step() const { return st_.next_step; }
  bool finished() const { return st_.next_epoch >= cfg_.epochs; }
  bool has_graph() const { return !st_.neighbours.empty(); }
  const TrainerState& state() const { return st_; }
  // Writes the first step of each phase into `dir` (train/step_dump.hpp) for an independent check.
  void dump_first_steps(const std::string& dir) {
    GCC_CHECK(!distributed(), "End2EndTrainer::dump_first_steps: the step dump holds the whole batch's views; "
              "run it in one process (without mpirun)");
    dump_ = StepDump(dir, cfg_, data_.phase1_source);
  }
  // Every rank's model (weights and BatchNorm statistics) = rank 0's; collective. The constructor does it,
  // and load_end2end_checkpoint after a resume. Nothing with one process.
  void broadcast_model() {
    if (distributed()) dist::broadcast_module(*comm_, *model_);
  }
  // Restores the state of a checkpoint (the model and optimiser are restored by the caller).
  void set_state(TrainerState s) {
    GCC_CHECK(s.next_epoch >= 0 && s.next_step >= 0, "End2EndTrainer::set_state: bad position (epoch ",
              s.next_epoch, ", step ", s.next_step, ")");
    if (!s.neighbours.empty()) {
      GCC_CHECK(s.neighbour_k >= 1 && static_cast<int64_t>(s.neighbours.size()) == data_.phase2->n * s.neighbour_k &&
                    static_cast<int64_t>(s.node_weights.size()) == data_.phase2->n,
                "End2EndTrainer::set_state: neighbour lists (", s.neighbours.size(), " entries, k = ", s.neighbour_k,
                ") and weights (", s.node_weights.size(), ") do not fit the ", data_.phase2->n, " phase-2 images");
      for (int64_t v : s.neighbours)
        GCC_CHECK(v >= 0 && v < data_.phase2->n, "End2EndTrainer::set_state: neighbour index ", v, " outside [0, ",
                  data_.phase2->n, ")");
    }
    loader_.reset();  // no worker may read the neighbour lists while they change
    st_ = std::move(s);
  }
  // Stop after the current step when *flag becomes true (e.g. set from a SIGINT handler). Data-parallel,
  // the ranks agree after every step (a flag set on any rank stops all of them after the same step).
  void set_stop_flag(const std::atomic<bool>* flag) { stop_flag_ = flag; }
  // Where progress bars and epoch lines go (null = silent); rank 0's only in a data-parallel run.
  void set_progress_output(FILE* out) { progress_.set_output(comm_->rank() == 0 ? out : nullptr); }
  float lr_at(int epoch) const {
    return cfg_.cosine ? cosine_lr(cfg_.lr, epoch, cfg_.epochs, cfg_.lr_decay_rate) : cfg_.lr;
  }

  // ---- training ------------------------------------------------------------------------------
  // Runs epochs until the end (or a stop request), calling on_epoch after each (also a stopped one).
  void fit(const std::function<void(const EpochReport&)>& on_epoch = nullptr) {
    fit_epochs<End2EndTrainer, EpochReport>(*this, stop_flag(), on_epoch);
  }

  // Trains epoch next_epoch() from step next_step(); then refreshes the graph and evaluates when the
  // schedule says so. Throws TrainingDiverged on a NaN/Inf loss (nothing of that step is applied).
  EpochReport train_epoch() {
    GCC_CHECK(!finished(), "End2EndTrainer::train_epoch: all ", cfg_.epochs, " epochs are done");
    const int e = st_.next_epoch;
    const int phase = cfg_.phase_of(e);
    GCC_CHECK(phase == 1 || has_graph(), "End2EndTrainer: epoch ", e, " is a phase-2 epoch but no neighbour graph "
              "exists (the refresh after epoch ", cfg_.switch_epoch, " builds it)");
    EpochReport rep;
    rep.epoch = e;
    rep.phase = phase;
    rep.lr = lr_at(e);
    rep.first_step = st_.next_step;
    opt_->set_lr(rep.lr);
    model_->train();
    Loader& loader = loader_for(phase);
    LossTerms sum;
    agreed_stop_.store(false);
    const EpochSteps run = run_epoch_steps(loader, e, st_.next_step, stop_flag(), [&](const Batch& b, int64_t step, auto elapsed) {
      const LossTerms t = phase == 1 ? step_phase1(b, e, step) : step_phase2(b, e, step);
      agree_on_stop();
      st_.next_step = step + 1;
      ++st_.global_step;
      sum.loss += t.loss;
      sum.rgc += t.rgc;
      sum.agc += t.agc;
      sum.agc_consistency += t.agc_consistency;
      sum.agc_entropy += t.agc_entropy;
      ++rep.steps;
      rep.samples += b.global_size();
      rep.images += b.global_size() * (phase == 1 ? 2 : 6);
      const double dt = elapsed();
      progress_.bar(step + 1 == loader.batches_per_epoch(), "epoch %d/%d [phase %d] step %lld/%lld  loss %.4f (rgc %.4f "
                    "agc %.4f)  lr %.4g  %.0f img/s", e + 1, cfg_.epochs, phase, static_cast<long long>(step + 1),
                    static_cast<long long>(loader.batches_per_epoch()), t.loss, t.rgc, t.agc, rep.lr,
                    dt > 0 ? static_cast<double>(rep.images) / dt : 0.0);
    });
    rep.seconds = run.seconds;
    rep.images_per_second = rep.seconds > 0 ? static_cast<double>(rep.images) / rep.seconds : 0;
    if (rep.steps > 0) {
      const double n = static_cast<double>(rep.steps);
      rep.mean = LossTerms{sum.loss / n, sum.rgc / n, sum.agc / n, sum.agc_consistency / n, sum.agc_entropy / n};
    }
    if (run.stopped) {
      rep.complete = false;
      progress_.line("epoch %d/%d stopped after step %lld of %lld", e + 1, cfg_.epochs,
                     static_cast<long long>(st_.next_step), static_cast<long long>(run.total));
      return rep;
    }
    st_.next_epoch = e + 1;
    st_.next_step = 0;
    if (cfg_.refresh_after(e)) {
      rep.refreshed = true;
      rep.knn_accuracy = refresh_neighbours(e);
    }
    if (cfg_.evaluate_after(e)) {
      rep.evaluated = true;
      rep.eval = evaluate(e);
      rep.best_so_far = st_.best.offer(rep.eval, e);
    }
    summary_line(rep);
    return rep;
  }

  // The kNN graph of the phase-2 set from the mean memory (SPEC §4); returns its kNN label accuracy
  // (-1 when some phase-2 image is unlabelled).
  double refresh_neighbours(int epoch) {
    const Tensor mean = memory_->mean();  // [rows, D]
    const int64_t n = data_.phase2->n, d = mean.size(1);
    Tensor feat = Tensor::empty(Shape{n, d});
    int64_t never = 0;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t id = data_.phase2_ids[static_cast<std::size_t>(i)];
      never += memory_->stored(id) == 0;
      std::copy(mean.data() + id * d, mean.data() + (id + 1) * d, feat.data() + i * d);
    }
    if (never > 0)
      progress_.line("warning: %lld of %lld phase-2 images have no embedding in the memory yet; their neighbours "
                     "are arbitrary", static_cast<long long>(never), static_cast<long long>(n));
    if (const int64_t bad = first_non_finite(feat.data(), feat.numel()); bad >= 0) {
      const int64_t id = data_.phase2_ids[static_cast<std::size_t>(bad / d)];
      throw TrainingDiverged("graph refresh after epoch " + std::to_string(epoch + 1) + ": the feature memory's mean "
                             "embedding of training image #" + std::to_string(id) + " holds " +
                             non_finite_name(feat.data()[bad]) + " (dimension " + std::to_string(bad % d) + " of " +
                             std::to_string(d) + "); no graph was built. The memory came from a diverged step or a "
                             "corrupt checkpoint: resume from an earlier checkpoint or lower the lr", epoch, 0);
    }
    const int64_t k = cfg_.num_neighbors + 1;
    KnnGraph g = knn_topk_inner_product(device_.is_cpu() ? feat : feat.to(device_), k);
    st_.node_weights = degree_weights(g);
    st_.neighbours = std::move(g.index);
    st_.neighbour_k = k;
    st_.graph_epoch = epoch;
    bool labelled = true;
    for (int l : data_.phase2->labels) labelled = labelled && l >= 0;
    if (!labelled || static_cast<int64_t>(data_.phase2->labels.size()) != n) return -1;
    g.index = st_.neighbours;
    return knn_label_accuracy(g, data_.phase2->labels);
  }

  // Cluster-head argmax over the evaluation set with evaluation views, BatchNorm in eval mode.
  EvalResult evaluate(int epoch = -1) {
    EvalOptions o = eval_options(cfg_);
    o.progress = &progress_;
    if (distributed()) o.comm = comm_;
    EvalResult r = evaluate_model(*model_, *data_.eval, o);
    r.epoch = epoch;
    return r;
  }

 private:
  // The stop flag the step loops read: the caller's, or (data-parallel) the ranks' agreed one.
  const std::atomic<bool>* stop_flag() const { return distributed() ? &agreed_stop_ : stop_flag_; }
  // Data-parallel: after every step the ranks sum their stop requests, so all stop after the same step.
  void agree_on_stop() {
    if (!distributed()) return;
    const std::vector<int64_t> asked = comm_->all_gather_value(stop_flag_ != nullptr && stop_flag_->load() ? 1 : 0);
    agreed_stop_.store(std::find(asked.begin(), asked.end(), int64_t{1}) != asked.end());  // host memory, any backend
  }

  // Rank 0's model on every rank, synchronised BatchNorm when asked, and a check that every batch gives
  // every rank at least one image.
  void setup_data_parallel() {
    const int n = comm_->size();
    GCC_CHECK(comm_->device() == device_, "End2EndTrainer: the '", comm_->backend(), "' communicator moves ",
              comm_->device().str(), " memory but the model is on ", device_.str(), "; with MPI train on the CPU "
              "(device: cpu), on GPUs use the NCCL communicator");
    for (const ImageDataset* d : {data_.phase1.get(), data_.phase2.get()}) {
      const int64_t B = cfg_.batch_size, total = d->n;
      const int64_t smallest = total < B ? total : (cfg_.drop_last || total % B == 0 ? B : total % B);
      GCC_CHECK(smallest >= n, "End2EndTrainer: with ", n, " ranks every batch needs at least ", n, " images (one per "
                "rank), but the ", total, " images of '", d->name, "' in batches of ", B, " leave a last batch of ",
                smallest, "; set drop_last: true, or a batch_size that leaves a larger remainder, or fewer ranks");
    }
    broadcast_model();
    if (cfg_.sync_batchnorm) {
      bn_sync_ = std::make_unique<dist::BatchNormCommSync>(*comm_);
      nn::set_batchnorm_sync(*model_, bn_sync_.get());
    }
  }

  // Every rank's rows of t in rank order: the global batch's (differentiable); t itself with one process.
  Tensor gather(const Tensor& t) { return distributed() ? dist::all_gather0(*comm_, t) : t; }

  Loader& loader_for(int phase) {
    if (loader_ && loader_phase_ == phase) return *loader_;
    loader_.reset();
    const ImageDataset& d = phase == 1 ? *data_.phase1 : *data_.phase2;
    LoaderOptions o;
    o.batch_size = cfg_.batch_size;
    o.views = phase == 1 ? 2 : 6;
    o.channels = cfg_.channels;
    o.size = cfg_.train_size;
    o.shuffle = true;
    o.drop_last = cfg_.drop_last;
    o.seed = cfg_.seed;
    o.threads = cfg_.loader_threads;
    o.shard_rank = comm_->rank();  // data-parallel: this rank's rows of every batch
    o.shard_count = comm_->size();
    const data::SimclrView view(cfg_.simclr_params());
    ImageSelector select = nullptr;
    if (phase == 2) {
      // views 0, 1: the anchor; 2, 3, 4: neighbours n_0, n_1, n_2; 5: a neighbour drawn uniformly from N_i.
      select = [this](int64_t anchor, int v, Rng& rng) -> int64_t {
        const int64_t k = st_.neighbour_k;
        const int64_t* row = st_.neighbours.data() + anchor * k;
        if (v < 2) return anchor;
        if (v < 5) return row[std::min<int64_t>(v - 2, k - 1)];
        return row[static_cast<int64_t>(rng.below(static_cast<uint64_t>(k)))];
      };
    }
    loader_ = std::make_unique<Loader>(d, ViewFn(view), o, select);
    loader_phase_ = phase;
    return *loader_;
  }

  Tensor on_device(const Tensor& t) const { return device_.is_cpu() ? t : t.to(device_); }

  std::vector<int64_t> memory_ids(const Batch& b, int phase) const {
    const std::vector<int64_t>& ids = phase == 1 ? data_.phase1_ids : data_.phase2_ids;
    std::vector<int64_t> out(b.all_indices.size());  // the whole batch: every rank pushes the gathered rows
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = ids[static_cast<std::size_t>(b.all_indices[i])];
    return out;
  }

  void check_finite(const LossTerms& t, int e, int64_t step) const {
    if (std::isfinite(t.loss)) return;
    char buf[256];
    std::snprintf(buf, sizeof buf, "loss %g (rgc %g, agc %g = consistency %g + %g x entropy %g)", t.loss, t.rgc, t.agc,
                  t.agc_consistency, static_cast<double>(cfg_.entropy_weight), t.agc_entropy);
    std::string msg = "training diverged: non-finite loss at epoch " + std::to_string(e + 1) + "/" +
                      std::to_string(cfg_.epochs) + " (0-based " + std::to_string(e) + "), step " +
                      std::to_string(step) + ": " + buf +
                      ". The step was not applied; the last checkpoint is the last good state. Try a lower lr "
                      "(now " + std::to_string(opt_->lr()) + ") or a larger batch.";
    throw TrainingDiverged(msg, e, step);
  }

  // Applies one step: backward of loss, SGD update, memory push. Data-parallel: every rank computed the
  // global loss from the gathered batch, so each backpropagates loss / N (all_gather0's backward sums the
  // ranks' shares: each rank's rows get the whole gradient), the weight gradients are summed over the
  // ranks, and per-rank BatchNorm statistics are averaged; z2 [B, D] is the gathered batch's.
  void apply(const Tensor& loss, const std::vector<int64_t>& ids, const Tensor& z2) {
    opt_->zero_grad();
    if (distributed()) {
      mul_scalar(loss, 1.f / static_cast<float>(comm_->size())).backward();
      dist::all_reduce_gradients(*comm_, model_->named_parameters());
    } else {
      loss.backward();
    }
    opt_->step();
    if (distributed() && !bn_sync_) {
      std::vector<NamedTensor> stats;
      for (const NamedTensor& t : model_->named_buffers())
        if (t.name.find("running_") != std::string::npos) stats.push_back(t);
      dist::average_tensors(*comm_, stats);
    }
    memory_->push(ids, z2);
  }

  // loss += agc_weight · AGC(p, q), its terms added to t.
  void add_agc(Tensor& loss, LossTerms& t, const Tensor& p, const Tensor& q) const {
    const AgcLoss a = agc_loss(p, q, cfg_.entropy_weight);
    loss = add(loss, mul_scalar(a.total, cfg_.agc_weight));
    t.agc += a.total.item();
    t.agc_consistency += a.consistency.item();
    t.agc_entropy += a.entropy.item();
  }

  LossTerms step_phase1(const Batch& b, int e, int64_t step) {
    const int64_t m = b.size();  // this rank's rows (the whole batch with one process)
    Tensor x;
    {
      NoGrad ng;
      x = on_device(concat0({b.views[0], b.views[1]}));
    }
    dump_.save_model_before(1, *model_);
    nn::End2EndOutput out = model_->forward(x);
    const Tensor z = gather(slice0(out.embedding, 0, m)), z2 = gather(slice0(out.embedding, m, 2 * m));  // [B, D]
    const Tensor rgc = rgc_loss(z, z2, cfg_.temperature);
    Tensor loss = mul_scalar(rgc, cfg_.rgc_weight);
    LossTerms t;
    t.rgc = rgc.item();
    if (cfg_.phase1_agc)
      for (int h = 0; h < cfg_.nheads; ++h) {
        const Tensor& logits = out.logits[static_cast<std::size_t>(h)];
        add_agc(loss, t, gather(slice0(logits, 0, m)), gather(slice0(logits, m, 2 * m)));
      }
    t.loss = loss.item();
    dump_.save_step(1, {b.views[0], b.views[1]}, nullptr, t.loss, t.rgc, t.agc, t.agc_consistency, t.agc_entropy, e,
                    step);
    check_finite(t, e, step);
    apply(loss, memory_ids(b, 1), z2.detach());
    return t;
  }

  LossTerms step_phase2(const Batch& b, int e, int64_t step) {
    const int64_t m = b.size(), k = st_.neighbour_k;  // m: this rank's rows (the whole batch with one process)
    const int64_t mb = b.global_size();               // B: the whole batch, on which the losses are computed
    std::array<Tensor, 3> w;                          // 3 x [B]
    {
      NoGrad ng;
      for (int j = 0; j < 3; ++j) {
        Tensor wj = Tensor::empty(Shape{mb});
        for (int64_t i = 0; i < mb; ++i) {
          const int64_t anchor = b.all_indices[static_cast<std::size_t>(i)];
          const int64_t nb = st_.neighbours[static_cast<std::size_t>(anchor * k + std::min<int64_t>(j, k - 1))];
          wj.data()[i] = st_.node_weights[static_cast<std::size_t>(nb)];
        }
        w[static_cast<std::size_t>(j)] = on_device(wj);
      }
    }
    // Five forward passes, each with the BatchNorm statistics of its own images: [x; x'], v_0, v_1, v_2, u.
    dump_.save_model_before(2, *model_);
    nn::End2EndOutput out, ou;
    std::array<Tensor, 3> v;
    auto input = [&](std::size_t first, std::size_t end) {  // views [first, end) as one batch
      NoGrad ng;
      return on_device(concat0(std::vector<Tensor>(b.views.begin() + first, b.views.begin() + end)));
    };
    if (cfg_.batched_passes) {  // one batch of 6m images, BatchNorm grouped per pass
      const nn::End2EndOutput o = model_->forward(input(0, 6), {2 * m, m, m, m, m});
      out.embedding = slice0(o.embedding, 0, 2 * m);
      for (int j = 0; j < 3; ++j) v[static_cast<std::size_t>(j)] = slice0(o.embedding, (2 + j) * m, (3 + j) * m);
      for (const Tensor& l : o.logits) {
        out.logits.push_back(slice0(l, 0, 2 * m));
        ou.logits.push_back(slice0(l, 5 * m, 6 * m));
      }
    } else {
      out = model_->forward(input(0, 2));
      for (int j = 0; j < 3; ++j)
        v[static_cast<std::size_t>(j)] = model_->forward(input(2 + j, 3 + j)).embedding;
      ou = model_->forward(input(5, 6));
    }
    const Tensor z = gather(slice0(out.embedding, 0, m)), z2 = gather(slice0(out.embedding, m, 2 * m));  // [B, D]
    for (Tensor& vj : v) vj = gather(vj);
    const Tensor rgc = rgc_loss(z, z2, v, w, cfg_.temperature);
    Tensor loss = mul_scalar(rgc, cfg_.rgc_weight);
    LossTerms t;
    t.rgc = rgc.item();
    for (int h = 0; h < cfg_.nheads; ++h)
      add_agc(loss, t, gather(slice0(out.logits[static_cast<std::size_t>(h)], 0, m)),
              gather(ou.logits[static_cast<std::size_t>(h)]));
    t.loss = loss.item();
    dump_.save_step(2, std::vector<Tensor>(b.views.begin(), b.views.begin() + 6), &w, t.loss, t.rgc, t.agc,
                    t.agc_consistency, t.agc_entropy, e, step);
    check_finite(t, e, step);
    apply(loss, memory_ids(b, 2), z2.detach());
    return t;
  }

  void summary_line(const EpochReport& r) {
    char extra[256] = "";
    int len = 0;
    if (r.refreshed && r.knn_accuracy >= 0)
      len += std::snprintf(extra + len, sizeof extra - static_cast<std::size_t>(len), "  knn-acc %.4f", r.knn_accuracy);
    else if (r.refreshed)
      len += std::snprintf(extra + len, sizeof extra - static_cast<std::size_t>(len), "  graph refreshed");
    if (r.evaluated)
      std::snprintf(extra + len, sizeof extra - static_cast<std::size_t>(len), "  | %s%s (%.0f s)",
                    eval_summary(r.eval).c_str(),
                    r.eval.knn_accuracy >= 0 ? (" eval-knn " + std::to_string(r.eval.knn_accuracy).substr(0, 6)).c_str() : "",
                    r.eval.seconds);
    progress_.line("epoch %d/%d phase %d  loss %.4f (rgc %.4f agc %.4f = ce %.4f + ent %.4f)  lr %.4g  %.0f img/s  %.1f s%s",
                   r.epoch + 1, cfg_.epochs, r.phase, r.mean.loss, r.mean.rgc, r.mean.agc, r.mean.agc_consistency,
                   r.mean.agc_entropy, r.lr, r.images_per_second, r.seconds, extra);
  }

  Config cfg_;
  TrainData data_;
  dist::SelfCommunicator self_;  // the job when no communicator is given: one process
  dist::Communicator* comm_;
  std::unique_ptr<dist::BatchNormCommSync> bn_sync_;  // sync_batchnorm with several ranks
  std::atomic<bool> agreed_stop_{false};
  Rng rng_;
  Device device_;
  std::unique_ptr<nn::End2EndModel> model_;
  std::unique_ptr<SGD> opt_;
  std::unique_ptr<FeatureMemory> memory_;
  std::unique_ptr<Loader> loader_;
  int loader_phase_ = 0;
  TrainerState st_;
  const std::atomic<bool>* stop_flag_ = nullptr;
  ProgressLine progress_;
  StepDump dump_;
};

}  // namespace train
}  // namespace gcc
