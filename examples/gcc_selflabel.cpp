// gcc_selflabel: GCC's self-labelling stage (SPEC §5) on top of an end-to-end checkpoint from gcc_train:
// Adam on the confident pseudo-labels of the weak (evaluation) view, applied to the strong view, with
// per-epoch evaluation, atomic checkpoints, JSON-lines metrics, Ctrl-C handling and --resume.
//
//   ./build/examples/gcc_selflabel --checkpoint runs/fashion-mnist-X/checkpoint.safetensors
//   ./build/examples/gcc_selflabel --checkpoint runs/c10/checkpoint.safetensors
//       --config examples/configs/selflabel_cifar10.yml --data-root ~/data/cifar10     (one line)
//   ./build/examples/gcc_selflabel --resume runs/selflabel-fashion-mnist-X
#include <cblas.h>
#include <omp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <sstream>
#include <string>
#include <vector>

#include "gcc/gcc.hpp"
#include "train_cli.hpp"
#include "gcc/io/checkpoint.hpp"
#include "gcc/io/config.hpp"
#include "gcc/io/metrics_log.hpp"
#include "gcc/train/evaluate.hpp"
#include "gcc/train/selflabel.hpp"

namespace {

using gcc::train::SelfLabelConfig;
using gcc::train::SelfLabelEpochReport;
using gcc::train::SelfLabelTrainer;

std::atomic<bool> g_stop{false};

extern "C" void on_sigint(int) {
  g_stop.store(true);
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C kills at once (checkpoints are written atomically)
}

const char* kUsage =
    "usage: gcc_selflabel --checkpoint FILE [--config FILE.yml | --preset NAME] [options] [--KEY VALUE ...]\n"
    "       gcc_selflabel --resume DIR [options]\n"
    "\n"
    "Self-labelling (SPEC §5) from an end-to-end checkpoint: per batch, the weak view (the evaluation view)\n"
    "gives pseudo-labels where its max probability exceeds the threshold (0.98); the strong view (flip, crop,\n"
    "4 RandAugment ops, Cutout) is trained on them with class-balanced cross-entropy; Adam lr 5e-5, constant.\n"
    "A batch without any confident sample makes no update (counted and reported). Evaluates ACC/NMI/ARI\n"
    "every epoch (the last epoch is the result) and writes into the output folder: config.yaml,\n"
    "checkpoint.safetensors (atomic; backbone.* and cluster_head.* under the release's names, Adam state),\n"
    "metrics.jsonl, and at the end predictions.npy, probabilities.npy, targets.npy, confusion.csv/.png.\n"
    "Ctrl-C finishes the current step, writes a checkpoint and exits (code 130); --resume DIR continues.\n"
    "\n"
    "options:\n"
    "  --checkpoint FILE    the end-to-end checkpoint (gcc_train's checkpoint.safetensors); its stored config\n"
    "                       gives the dataset, model and views. Its contrastive head is not used.\n"
    "  --config FILE        a release-style self-labelling YAML file (examples/configs/selflabel_*.yml);\n"
    "                       its keys may be overridden as --key.sub=value (e.g. --optimizer_kwargs.lr=1e-4)\n"
    "  --preset NAME        SPEC §5 settings of a dataset (default: the checkpoint's dataset): cifar-10,\n"
    "                       cifar-20, stl-10, imagenet-10, imagenet-dogs, tiny-imagenet, fashion-mnist\n"
    "  --resume DIR         continue the self-labelling run in DIR\n"
    "  --data-root DIR      dataset folder (default: the checkpoint's, else the reader's default)\n"
    "  --out DIR            output folder (default: runs/selflabel-<dataset>-<date>-<time>)\n"
    "  --epochs N           epochs\n"
    "  --threads N          compute threads (OpenMP and OpenBLAS; default: all cores)\n"
    "  --checkpoint-every N write the checkpoint every N epochs (default 1; always at the end and on Ctrl-C)\n"
    "  --quiet              no progress output\n"
    "  --list-keys          print every key with its value (after checkpoint/preset/config/overrides) and exit\n"
    "  --KEY VALUE          a self-labelling key (confidence_threshold, batch_size, lr, use_ema, cutout, ...)\n"
    "                       or a data/view key of gcc_train (eval_set, eval_batch_size, loader_threads, ...)\n"
    "  --help               this text\n"
    "\n"
    "Exit codes: 0 done, 1 error (bad checkpoint, K mismatch, unknown dataset, ...), 2 bad command line,\n"
    "3 training diverged (the last good checkpoint is kept), 130 interrupted.\n";

std::string now_stamp() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

void make_dirs(const std::string& path) {
  std::string cur;
  std::stringstream ss(path);
  std::string part;
  if (!path.empty() && path[0] == '/') cur = "/";
  while (std::getline(ss, part, '/')) {
    if (part.empty()) continue;
    cur += part + "/";
    if (::mkdir(cur.c_str(), 0777) != 0 && errno != EEXIST)
      GCC_FAIL("cannot create the folder '", cur, "': ", std::strerror(errno));
  }
}

std::string list_keys_text(const SelfLabelConfig& cfg) {
  return "# self-labelling\n" + gcc::train::selflabel_config_text(cfg) + "# model, data and views (end-to-end run)\n" +
         gcc::train::train_config_text(cfg.base);
}

void append_metrics(gcc::io::MetricsLog& log, const SelfLabelEpochReport& r, const SelfLabelTrainer& t) {
  gcc::io::JsonObject o;
  o.add("epoch", r.epoch).add("complete", r.complete);
  o.add("lr", std::strtod(gcc::train::detail::fmt_shortest(r.lr).c_str(), nullptr));
  o.add("steps", r.steps).add("updates", r.updates).add("no_confident_batches", r.skipped);
  o.add("samples", r.samples).add("confident", r.confident).add("confident_fraction", r.confident_fraction);
  o.add("loss", r.mean_loss).add("seconds", r.seconds).add("images_per_second", r.images_per_second);
  if (r.evaluated) {
    o.add("eval", gcc::train::eval_json(r.eval));
    o.add("best_acc_label_selected", t.state().best_acc);
  }
  log.append(o);
}

struct Args {
  std::string checkpoint, config_file, preset, resume, data_root, out;
  std::vector<gcc::io::ConfigOverride> yaml_overrides;
  std::vector<std::pair<std::string, std::string>> overrides;
  int threads = 0, checkpoint_every = 1;
  bool quiet = false, list_keys = false;
};

// Returns -1 to go on, else the exit code.
int parse_args(int argc, char** argv, Args& a) {
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    if (s == "-h" || s == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (s == "--quiet") {
      a.quiet = true;
      continue;
    }
    if (s == "--list-keys") {
      a.list_keys = true;
      continue;
    }
    if (s.rfind("--", 0) != 0) {
      std::fprintf(stderr, "gcc_selflabel: unexpected argument '%s' (options start with --; see --help)\n", s.c_str());
      return 2;
    }
    if (s.find('=') != std::string::npos) {  // --key.sub=value: an override of the YAML config file
      try {
        a.yaml_overrides.push_back(gcc::io::parse_override(s));
      } catch (const gcc::Error& e) {
        std::fprintf(stderr, "gcc_selflabel: %s\n", e.what());
        return 2;
      }
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "gcc_selflabel: %s needs a value (see --help)\n", s.c_str());
      return 2;
    }
    const std::string k = s.substr(2), v = argv[++i];
    if (k == "checkpoint") a.checkpoint = v;
    else if (k == "config") a.config_file = v;
    else if (k == "preset") a.preset = v;
    else if (k == "resume") a.resume = v;
    else if (k == "out") a.out = v;
    else if (k == "threads") a.threads = std::atoi(v.c_str());
    else if (k == "checkpoint-every") a.checkpoint_every = std::atoi(v.c_str());
    else if (k == "data-root" || k == "data_root") a.data_root = v;
    else if (gcc::train::is_selflabel_or_train_key(k)) a.overrides.emplace_back(k, v);
    else {
      std::fprintf(stderr, "gcc_selflabel: unknown option '%s' (neither a flag nor a key; see --help and --list-keys)\n",
                   s.c_str());
      return 2;
    }
  }
  if (a.resume.empty() && a.checkpoint.empty() && !a.list_keys) {
    std::fprintf(stderr, "gcc_selflabel: --checkpoint FILE (an end-to-end checkpoint of gcc_train) or --resume DIR "
                 "is required (see --help)\n");
    return 2;
  }
  if (!a.yaml_overrides.empty() && a.config_file.empty()) {
    std::fprintf(stderr, "gcc_selflabel: %s overrides a key of the YAML file given with --config, and there is none\n",
                 a.yaml_overrides[0].text.c_str());
    return 2;
  }
  return -1;
}

int run_main(int argc, char** argv) {
  Args a;
  const int rc = parse_args(argc, argv, a);
  if (rc >= 0) return rc;
  if (a.threads > 0) {
    omp_set_num_threads(a.threads);
    openblas_set_num_threads(a.threads);
  }

  SelfLabelConfig cfg;
  std::string out = a.out, init_path;
  gcc::io::Checkpoint init, resume_ck;
  const std::string resume_file = a.resume.empty() ? "" : a.resume + "/checkpoint.safetensors";
  if (!a.resume.empty()) {
    GCC_CHECK(a.checkpoint.empty() && a.config_file.empty() && a.preset.empty(), "--resume takes its "
              "configuration from '", resume_file, "'; do not combine it with --checkpoint, --config or --preset");
    GCC_CHECK(gcc::io::file_exists(resume_file), "--resume '", a.resume,
              "': no checkpoint.safetensors there (was the run started with gcc_selflabel --out ", a.resume, "?)");
    resume_ck = gcc::io::Checkpoint::load(resume_file);
    GCC_CHECK(resume_ck.file().has_metadata("selflabel.config"), "'", resume_file,
              "' is not a self-labelling checkpoint (no selflabel.config)");
    cfg.base = gcc::train::checkpoint_train_config(resume_ck);
    gcc::train::apply_selflabel_config_text(cfg, resume_ck.file().metadata("selflabel.config"),
                                            resume_file + " (selflabel.config)");
    out = a.resume;
  } else if (!a.checkpoint.empty()) {
    init_path = a.checkpoint;
    init = gcc::io::Checkpoint::load(init_path);
    // The model, data and views of the end-to-end run; a checkpoint without a stored config needs the
    // dataset from --preset or the YAML file.
    std::string fallback = a.preset;
    gcc::io::Config rc_for_dataset;
    if (fallback.empty() && !a.config_file.empty()) {
      rc_for_dataset = gcc::io::load_config(a.config_file, a.yaml_overrides);
      fallback = gcc::train::canonical_dataset(rc_for_dataset.train_db_name);
    }
    const gcc::train::TrainConfig base = gcc::train::checkpoint_train_config(init, fallback);
    if (!a.preset.empty()) {
      const std::string p = gcc::train::canonical_dataset(a.preset);
      cfg = gcc::train::selflabel_preset(gcc::train::train_preset(p));  // unknown preset: error naming it
      GCC_CHECK(p == gcc::train::canonical_dataset(base.dataset), "--preset ", a.preset,
                " but the checkpoint '", init_path, "' was trained on ", base.dataset);
      cfg.base = base;
    } else {
      cfg = gcc::train::selflabel_preset(base);
    }
    if (!a.config_file.empty())
      gcc::train::apply_selflabel_release_config(cfg, gcc::io::load_config(a.config_file, a.yaml_overrides));
  } else {  // --list-keys alone: the preset's keys
    cfg = gcc::train::selflabel_preset(a.preset.empty() ? "fashion-mnist" : a.preset);
    if (!a.config_file.empty())
      gcc::train::apply_selflabel_release_config(cfg, gcc::io::load_config(a.config_file, a.yaml_overrides));
  }
  for (auto& kv : a.overrides) gcc::train::set_selflabel_key(cfg, kv.first, kv.second);
  if (!a.data_root.empty()) cfg.base.data_root = a.data_root;
  cfg.validate();
  if (a.list_keys) {
    std::fputs(list_keys_text(cfg).c_str(), stdout);
    return 0;
  }
  if (out.empty()) out = "runs/selflabel-" + cfg.base.dataset + "-" + now_stamp();
  make_dirs(out);
  const std::string ckpt_path = out + "/checkpoint.safetensors", metrics_path = out + "/metrics.jsonl";

  const auto t0 = std::chrono::steady_clock::now();
  std::FILE* log = a.quiet ? nullptr : stderr;
  if (log)
    std::fprintf(log, "gcc_selflabel: %s on %s (%s), %d threads, output in %s\n",
                 a.resume.empty() ? ("from " + init_path).c_str() : ("resuming " + resume_file).c_str(),
                 cfg.base.dataset.c_str(), cfg.base.device.c_str(), gcc::num_threads(), out.c_str());
  gcc::train::TrainData data = gcc::train::load_selflabel_data(cfg.base);
  SelfLabelTrainer trainer(cfg, data);
  trainer.set_progress_output(log);
  std::map<std::string, std::string> meta;
  if (!a.resume.empty()) {
    trainer.resume_from(resume_ck);
    if (resume_ck.file().has_metadata("init_checkpoint")) meta["init_checkpoint"] = resume_ck.file().metadata("init_checkpoint");
    gcc::io::drop_epochs_from(metrics_path, trainer.next_epoch());
    if (log)
      std::fprintf(log, "gcc_selflabel: resuming at epoch %d step %lld of %d\n", trainer.next_epoch() + 1,
                   static_cast<long long>(trainer.next_step()), cfg.epochs);
  } else {
    trainer.load_initial_weights(init);
    meta["init_checkpoint"] = init_path;
    gcc::io::write_file_atomically(out + "/config.yaml", list_keys_text(cfg), "gcc_selflabel");
    gcc::io::drop_epochs_from(metrics_path, 0);
  }
  if (log)
    std::fprintf(log, "gcc_selflabel: %lld training images, %lld evaluation images, model %s width %lld, K = %lld; "
                 "batch %lld, %d epochs, Adam lr %g, threshold %g%s%s\n",
                 static_cast<long long>(data.phase2->n), static_cast<long long>(data.eval->n), cfg.base.backbone.c_str(),
                 static_cast<long long>(cfg.base.base_width), static_cast<long long>(cfg.base.num_clusters),
                 static_cast<long long>(cfg.batch_size), cfg.epochs, static_cast<double>(cfg.lr),
                 static_cast<double>(cfg.confidence_threshold), cfg.class_balancing ? ", class balancing" : "",
                 cfg.use_ema ? ", EMA" : "");

  gcc::io::MetricsLog metrics(metrics_path);
  std::signal(SIGINT, on_sigint);
  trainer.set_stop_flag(&g_stop);
  gcc::train::EvalResult last;
  bool have_last = false;
  const int every = a.checkpoint_every < 1 ? 1 : a.checkpoint_every;
  try {
    trainer.fit([&](const SelfLabelEpochReport& r) {
      append_metrics(metrics, r, trainer);
      if (r.evaluated && r.epoch == cfg.epochs - 1) {
        last = r.eval;
        have_last = true;
      }
      if (!r.complete || trainer.finished() || (r.epoch + 1) % every == 0 || g_stop.load())
        trainer.save_checkpoint(ckpt_path, meta);
    });
  } catch (const gcc::train::TrainingDiverged& e) {
    std::fprintf(stderr, "gcc_selflabel: %s\ngcc_selflabel: the last good checkpoint is %s\n", e.what(),
                 gcc::io::file_exists(ckpt_path) ? ckpt_path.c_str() : ("(none written yet; the start is " + init_path + ")").c_str());
    return 3;
  }
  std::signal(SIGINT, SIG_DFL);
  if (!trainer.finished()) {
    std::fprintf(stderr, "gcc_selflabel: interrupted at epoch %d step %lld; checkpoint written to %s\n"
                 "gcc_selflabel: continue with: gcc_selflabel --resume %s\n",
                 trainer.next_epoch() + 1, static_cast<long long>(trainer.next_step()), ckpt_path.c_str(), out.c_str());
    return 130;
  }
  if (!have_last) last = trainer.evaluate(cfg.epochs - 1);  // e.g. resumed after the last epoch
  const std::vector<std::string> files = gcc::train::write_eval_outputs(out, last, data.eval->class_names);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const gcc::train::SelfLabelState& s = trainer.state();
  std::printf("gcc_selflabel: done in %.1f s. Last epoch on all %lld evaluated images: ACC %.4f  NMI %.4f  ARI %.4f  "
              "(top-5 %.4f)\n",
              secs, static_cast<long long>(last.evaluated), last.metrics.acc, last.metrics.nmi, last.metrics.ari,
              last.metrics.top5);
  std::printf("gcc_selflabel: %lld optimizer steps; %lld batches without a confident sample made no update\n",
              static_cast<long long>(s.updates), static_cast<long long>(s.skipped_batches));
  if (s.best_epoch >= 0 && s.best_epoch != cfg.epochs - 1)
    std::printf("gcc_selflabel: best evaluated epoch %d (label-selected, not a clean result): ACC %.4f NMI %.4f ARI %.4f\n",
                s.best_epoch + 1, s.best_acc, s.best_nmi, s.best_ari);
  std::string names = "checkpoint.safetensors, metrics.jsonl, config.yaml";
  for (const std::string& f : files) names += ", " + f;
  std::printf("gcc_selflabel: outputs in %s/ (%s)\n", out.c_str(), names.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return gcc_examples::run_training_cli("gcc_selflabel", argc, argv, &run_main); }
