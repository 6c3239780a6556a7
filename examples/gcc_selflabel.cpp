// gcc_selflabel: GCC's self-labelling stage (SPEC §5) on top of an end-to-end checkpoint from gcc_train:
// Adam on the confident pseudo-labels of the weak (evaluation) view, applied to the strong view, with
// per-epoch evaluation, atomic checkpoints, JSON-lines metrics, Ctrl-C handling and --resume.
//
//   ./build/examples/gcc_selflabel --checkpoint runs/fashion-mnist-X/checkpoint.safetensors
//   ./build/examples/gcc_selflabel --checkpoint runs/c10/checkpoint.safetensors
//       --config examples/configs/selflabel_cifar10.yml --data-root ~/data/cifar10     (one line)
//   ./build/examples/gcc_selflabel --resume runs/selflabel-fashion-mnist-X
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "gcc/gcc.hpp"
#include "gcc/train/checkpoint_model.hpp"
#include "gcc/train/config_file.hpp"
#include "gcc/train/selflabel.hpp"
#include "gcc/train/selflabel_checkpoint.hpp"
#include "run_cli.hpp"

namespace {

using gcc::train::Config;
using gcc::train::SelfLabelEpochReport;
using gcc::train::SelfLabelTrainer;
using gcc::train::Stage;

const char* kUsage =
    "usage: gcc_selflabel --checkpoint FILE [--config FILE.yml | --preset NAME] [options] [--KEY VALUE ...]\n"
    "       gcc_selflabel --resume DIR [options]\n"
    "\n"
    "Self-labelling (SPEC §5) from an end-to-end checkpoint: per batch, the weak view (the evaluation view)\n"
    "gives pseudo-labels where its max probability exceeds the threshold (0.98); the strong view (flip, crop,\n"
    "4 RandAugment ops, Cutout) is trained on them with class-balanced cross-entropy; Adam lr 5e-5, constant.\n"
    "A batch without any confident sample makes no update (counted and reported). Evaluates ACC/NMI/ARI\n"
    "every epoch (the last epoch is the result; on the test split for cifar-10/-20, stl-10 and fashion-mnist\n"
    "unless --eval-set says otherwise, with the training set's figures beside, SPEC §5) and writes into the\n"
    "output folder: config.yaml,\n"
    "checkpoint.safetensors (atomic; backbone.* and cluster_head.* under the release's names, Adam state),\n"
    "metrics.jsonl, and at the end predictions.npy, probabilities.npy, targets.npy, confusion.csv/.png.\n"
    "Ctrl-C finishes the current step, writes a checkpoint and exits (code 130); --resume DIR continues.\n"
    "\n"
    "options:\n"
    "  --checkpoint FILE    the end-to-end checkpoint (gcc_train's checkpoint.safetensors); its stored config\n"
    "                       gives the dataset, model, views and the `selflabel` settings. Its contrastive head\n"
    "                       is not used.\n"
    "  --config FILE        a YAML config applied on top: a run's config.yaml or a release-style self-labelling\n"
    "                       file (examples/configs/selflabel_*.yml)\n"
    "  --preset NAME        take the `selflabel` settings of this preset (SPEC §5; the checkpoint's dataset)\n"
    "  --resume DIR         continue the self-labelling run in DIR\n"
    "  --data-root DIR      dataset folder (default: the checkpoint's, else the reader's default)\n"
    "  --out DIR            output folder (default: runs/selflabel-<dataset>-<date>-<time>)\n"
    "  --quiet              no progress output\n"
    "  --list-keys          print the configuration (every key with its value, as YAML) and exit\n"
    "  --KEY VALUE          a config key; bare self-labelling keys mean the `selflabel` section: --epochs 5\n"
    "                       --lr 1e-4 --confidence-threshold 0.95 --use-ema true; data keys as gcc_train's:\n"
    "                       --eval-set all --threads 2; release keys: --optimizer_kwargs.lr=1e-4\n"
    "  --help               this text\n"
    "\n"
    "Exit codes: 0 done, 1 error (bad checkpoint, K mismatch, unknown dataset, ...), 2 bad command line,\n"
    "3 training diverged (the last good checkpoint is kept), 130 interrupted.\n";

gcc::io::JsonObject epoch_json(const SelfLabelEpochReport& r, const SelfLabelTrainer& t) {
  gcc::io::JsonObject o;
  o.add("epoch", r.epoch).add("complete", r.complete);
  o.add("lr", std::strtod(gcc::train::detail::print_number(r.lr).c_str(), nullptr));
  o.add("steps", r.steps).add("updates", r.updates).add("no_confident_batches", r.skipped);
  o.add("samples", r.samples).add("confident", r.confident).add("confident_fraction", r.confident_fraction);
  o.add("loss", r.mean_loss).add("seconds", r.seconds).add("images_per_second", r.images_per_second);
  if (r.evaluated) {
    o.add("eval", gcc::train::eval_json(r.eval));
    o.add("best_acc_label_selected", t.state().best.acc);
  }
  return o;
}

// The configuration: the resumed run's, or the end-to-end checkpoint's (its model, data and views) with
// the selflabel settings of --preset, then --config and the command-line keys.
Config resolve_config(const gcc_examples::CliArgs& a, gcc::io::Checkpoint& ck) {
  const std::string resume = a.flag("resume"), init = a.flag("checkpoint"), preset = a.flag("preset");
  Config cfg;
  if (!resume.empty()) {
    GCC_CHECK(init.empty() && a.flag("config").empty() && preset.empty(), "--resume takes its configuration from '",
              resume, "'; do not combine it with --checkpoint, --config or --preset");
    const std::string file = resume + "/checkpoint.safetensors";
    GCC_CHECK(gcc::io::file_exists(file), "--resume '", resume, "': no checkpoint.safetensors there (was the run "
              "started with gcc_selflabel --out ", resume, "?)");
    ck = gcc::io::Checkpoint::load(file);
    cfg = gcc::train::checkpoint_config(ck);
  } else if (!init.empty()) {
    ck = gcc::io::Checkpoint::load(init);
    cfg = gcc::train::checkpoint_config(ck, ck.has_config() ? "" : preset);
    if (!preset.empty()) {
      const Config p = gcc::train::preset(preset);  // unknown preset: an error naming it
      GCC_CHECK(p.dataset == cfg.dataset, "--preset ", preset, " but the checkpoint '", init, "' was trained on ", cfg.dataset);
      cfg.selflabel = p.selflabel;
    }
  } else {  // --list-keys alone: a preset's keys
    cfg = gcc::train::preset(preset.empty() ? "fashion-mnist" : preset);
  }
  if (!a.flag("config").empty()) gcc::train::apply_config_file(cfg, a.flag("config"), Stage::SelfLabel);
  gcc_examples::apply_overrides(cfg, a, Stage::SelfLabel);
  // SPEC §5: the self-labelled model's headline figures are on the test split (the training set's beside)
  if (resume.empty() && !init.empty() && gcc::train::has_test_split(cfg.dataset) &&
      !gcc_examples::explicit_keys(a, Stage::SelfLabel).count("eval_set"))
    cfg.eval_set = "test";
  gcc::train::validate(cfg);
  return cfg;
}

int run_main(int argc, char** argv) {
  const gcc_examples::CliSpec spec{"gcc_selflabel", kUsage, {"checkpoint", "config", "preset", "resume", "out", "data-root"},
                                   {"quiet", "list-keys", "unlabelled"}, Stage::SelfLabel};
  gcc_examples::CliArgs a;
  if (const int rc = gcc_examples::parse_cli(argc, argv, spec, a); rc >= 0) return rc;
  if (a.flag("resume").empty() && a.flag("checkpoint").empty() && !a.has("list-keys")) {
    std::fprintf(stderr, "gcc_selflabel: --checkpoint FILE (an end-to-end checkpoint of gcc_train) or --resume DIR is "
                 "required (see --help)\n");
    return 2;
  }
  gcc::io::Checkpoint ck;
  const Config cfg = resolve_config(a, ck);
  if (a.has("list-keys")) {
    std::fputs(gcc::train::config_yaml(cfg, "gcc_selflabel configuration").c_str(), stdout);
    return 0;
  }
  gcc_examples::apply_threads(cfg.threads);
  const bool resuming = !a.flag("resume").empty();
  const std::string out = resuming ? a.flag("resume")
                          : !a.flag("out").empty() ? a.flag("out")
                                                   : gcc_examples::default_run_dir("selflabel-" + cfg.dataset);
  std::unique_ptr<gcc::io::RunLock> lock;  // one process per run folder
  gcc_examples::lock_run_folder(lock, "gcc_selflabel", out, false);
  const auto t0 = std::chrono::steady_clock::now();
  std::FILE* log = a.has("quiet") ? nullptr : stderr;
  if (log)
    std::fprintf(log, "gcc_selflabel: %s on %s (device %s), %d threads, output in %s\n",
                 resuming ? ("resuming " + ck.path()).c_str() : ("from " + ck.path()).c_str(), cfg.dataset.c_str(),
                 gcc::parse_device(cfg.device).str().c_str(), gcc::num_threads(), out.c_str());
  gcc::train::TrainData data = gcc::train::load_selflabel_data(cfg);
  SelfLabelTrainer trainer(cfg, data);
  trainer.set_progress_output(log);
  gcc_examples::lock_run_folder(lock, "gcc_selflabel", out, true);  // after the data loaded: a failed start leaves no folder
  std::map<std::string, std::string> meta;
  if (resuming) {
    gcc::train::load_selflabel_checkpoint(ck, trainer);
    if (ck.file().has_metadata("init_checkpoint")) meta["init_checkpoint"] = ck.file().metadata("init_checkpoint");
    gcc::io::drop_epochs_from(out + "/metrics.jsonl", trainer.next_epoch());
    if (log)
      std::fprintf(log, "gcc_selflabel: resuming at epoch %d step %lld of %d\n", trainer.next_epoch() + 1,
                   static_cast<long long>(trainer.next_step()), cfg.selflabel.epochs);
  } else {
    trainer.load_initial_weights(ck);
    meta["init_checkpoint"] = ck.path();
    gcc::io::write_file_atomically(out + "/config.yaml", gcc::train::config_yaml(cfg, "gcc_selflabel configuration"),
                                   "gcc_selflabel");
    gcc::io::drop_epochs_from(out + "/metrics.jsonl", 0);
  }
  const gcc::train::SelfLabelSettings& sl = cfg.selflabel;
  if (log)
    std::fprintf(log, "gcc_selflabel: %lld training images, %lld evaluation images, model %s width %lld, K = %lld; "
                 "batch %lld, %d epochs, Adam lr %g, threshold %g%s%s\n",
                 static_cast<long long>(data.phase2->n), static_cast<long long>(data.eval->n),
                 cfg.resolved_backbone().c_str(), static_cast<long long>(cfg.base_width),
                 static_cast<long long>(cfg.num_clusters), static_cast<long long>(sl.batch_size), sl.epochs,
                 static_cast<double>(sl.lr), static_cast<double>(sl.confidence_threshold),
                 sl.class_balancing ? ", class balancing" : "", sl.use_ema ? ", EMA" : "");

  gcc::train::EvalResult last;
  const int rc = gcc_examples::fit_run(
      "gcc_selflabel", trainer, sl.epochs, cfg.checkpoint_every, out,
      [&](const SelfLabelEpochReport& r) { return epoch_json(r, trainer); },
      [&](const std::string& path) { gcc::train::save_selflabel_checkpoint(path, trainer, meta); }, last);
  if (rc >= 0) return rc;
  std::vector<std::string> files = gcc::train::write_eval_outputs(out, last, data.eval->class_names);
  for (const std::string& f : gcc_examples::write_run_report("gcc_selflabel", out, cfg, *data.eval, last)) files.push_back(f);
  if (cfg.eval_set == "test") {  // the training set's figures beside the test split's
    gcc::train::EvalOptions eo = gcc::train::eval_options(cfg);
    eo.embeddings = false;
    const gcc::train::EvalResult tr = gcc::train::evaluate_model(trainer.model(), *data.phase2, eo);
    gcc::io::write_file_atomically(out + "/evaluation_train.json", gcc::train::eval_json(tr).str() + "\n", "gcc_selflabel");
    files.push_back("evaluation_train.json");
    std::printf("gcc_selflabel: on the %lld training images (beside the test split's headline below): %s\n",
                static_cast<long long>(data.phase2->n), gcc::train::eval_summary(tr).c_str());
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const gcc::train::SelfLabelState& s = trainer.state();
  std::printf("gcc_selflabel: %lld optimizer steps; %lld batches without a confident sample made no update\n",
              static_cast<long long>(s.updates), static_cast<long long>(s.skipped_batches));
  files.insert(files.begin(), {"checkpoint.safetensors", "metrics.jsonl", "config.yaml"});
  gcc_examples::print_result("gcc_selflabel", secs, last, s.best, sl.epochs,
                             out, files);
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return gcc_examples::run_cli("gcc_selflabel", argc, argv, &run_main); }
