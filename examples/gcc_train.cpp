// gcc_train: end-to-end Graph Contrastive Clustering (SPEC §4) from a preset or a config file, with
// checkpoints, JSON-lines metrics, .npy exports, a confusion matrix, Ctrl-C handling and --resume.
//
//   ./build/examples/gcc_train --preset fashion-mnist            # the CPU default (< 10 min on 2 cores)
//   ./build/examples/gcc_train --preset cifar-10 --data-root ~/data/cifar10 --device cuda
//   ./build/examples/gcc_train --resume runs/fashion-mnist-20250101-120000
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
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "gcc/gcc.hpp"
#include "train_cli.hpp"
#include "gcc/io/atomic_file.hpp"
#include "gcc/io/checkpoint.hpp"
#include "gcc/io/config.hpp"
#include "gcc/io/json.hpp"
#include "gcc/io/metrics_log.hpp"
#include "gcc/io/npy.hpp"
#include "gcc/train/config.hpp"
#include "gcc/train/data.hpp"
#include "gcc/train/end2end.hpp"
#include "gcc/train/end2end_checkpoint.hpp"
#include "gcc/train/evaluate.hpp"
#include "gcc/train/release_config.hpp"

namespace {

using gcc::train::EpochReport;
using gcc::train::TrainConfig;

std::atomic<bool> g_stop{false};

extern "C" void on_sigint(int) {
  g_stop.store(true);
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C kills at once (checkpoints are written atomically)
}

const char* kUsage =
    "usage: gcc_train [--preset NAME | --config FILE | --resume DIR] [options] [--KEY VALUE ...] [--key.sub=value ...]\n"
    "\n"
    "Trains GCC end to end (phase 1: 2*RGC on two SimCLR views; neighbour refresh from the feature memory;\n"
    "phase 2: 2*RGC with neighbours + AGC), evaluates ACC/NMI/ARI, and writes into the output folder:\n"
    "  config.yaml, checkpoint.safetensors (atomic; model under the release's state_dict names, optimiser,\n"
    "  RNG, feature memory, neighbours), metrics.jsonl (one JSON object per epoch), and at the end\n"
    "  features.npy [N,128], probabilities.npy [N,K], predictions.npy [N], targets.npy [N],\n"
    "  neighbours.npy [n,k], confusion.csv and confusion.png.\n"
    "Ctrl-C finishes the current step, writes a checkpoint and exits (code 130); --resume DIR continues.\n"
    "\n"
    "options:\n"
    "  --preset NAME        cifar-10, cifar-20, stl-10, imagenet-10, imagenet-dogs, tiny-imagenet,\n"
    "                       fashion-mnist (the CPU default; default when nothing else is given)\n"
    "  --config FILE        a YAML experiment file in the release's layout (examples/configs/end2end_*.yml;\n"
    "                       its keys can be overridden with --key.sub=value, e.g.\n"
    "                       --criterion_kwargs.temperature=0.2), or a run's config.yaml (flat KEY: VALUE)\n"
    "  --resume DIR         continue the run in DIR from its checkpoint.safetensors (which holds the config)\n"
    "  --data-root DIR      dataset folder (default: the reader's default, e.g. /usr/share/datasets/fashion-mnist)\n"
    "  --out DIR            output folder (default: runs/<preset>-<date>-<time>)\n"
    "  --epochs N           epochs\n"
    "  --seed N             random seed\n"
    "  --threads N          compute threads (OpenMP and OpenBLAS; default: all cores)\n"
    "  --device D           cpu or cuda[:N] (CUDA needs the gcc_train_cuda build)\n"
    "  --checkpoint-every N write the checkpoint every N epochs (default 1; always at the end and on Ctrl-C)\n"
    "  --quiet              no progress output\n"
    "  --list-keys          print every config key with its value (after preset/config/overrides) and exit\n"
    "  --KEY VALUE          any config key (see --list-keys), e.g. --lr 0.2 --batch-size 128\n"
    "  --help               this text\n";

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
      GCC_FAIL("gcc_train: cannot create the folder '", cur, "': ", std::strerror(errno));
  }
}

struct Run {
  TrainConfig cfg;
  std::string out;
  int checkpoint_every = 1;
  std::string metrics_path() const { return out + "/metrics.jsonl"; }
  std::string checkpoint_path() const { return out + "/checkpoint.safetensors"; }
};

void save(const Run& run, const gcc::train::End2EndTrainer& t) {
  gcc::train::save_end2end_checkpoint(run.checkpoint_path(), t,
                                      "gcc_train configuration (gcc_train --config FILE reproduces the run)");
}

void append_metrics(gcc::io::MetricsLog& log, const EpochReport& r, const gcc::train::End2EndTrainer& t) {
  gcc::io::JsonObject o;
  o.add("epoch", r.epoch).add("phase", r.phase).add("complete", r.complete).add("lr", static_cast<double>(r.lr));
  if (r.first_step > 0) o.add("first_step", r.first_step);  // resumed inside this epoch
  o.add("steps", r.steps).add("images", r.images).add("seconds", r.seconds).add("images_per_second", r.images_per_second);
  o.add("loss", r.mean.loss).add("rgc", r.mean.rgc).add("agc", r.mean.agc);
  o.add("agc_consistency", r.mean.agc_consistency).add("agc_entropy", r.mean.agc_entropy);
  if (r.refreshed) o.add("knn_accuracy", r.knn_accuracy);
  if (r.evaluated) {
    gcc::io::JsonObject e;
    e.add("acc", r.eval.metrics.acc).add("nmi", r.eval.metrics.nmi).add("ari", r.eval.metrics.ari);
    e.add("top5", r.eval.metrics.top5).add("images", r.eval.evaluated).add("seconds", r.eval.seconds);
    if (r.eval.knn_accuracy >= 0) e.add("knn_accuracy", r.eval.knn_accuracy);
    o.add("eval", e);
    o.add("best_acc_label_selected", t.state().best_acc);
  }
  log.append(o);
}

void write_outputs(const Run& run, gcc::train::End2EndTrainer& t, const gcc::train::EvalResult& ev) {
  const std::string& o = run.out;
  gcc::io::write_npy(o + "/features.npy", ev.embeddings);
  gcc::io::write_npy(o + "/probabilities.npy", ev.probabilities);
  gcc::io::write_npy(o + "/predictions.npy", std::vector<int64_t>(ev.predictions.begin(), ev.predictions.end()));
  gcc::io::write_npy(o + "/targets.npy", std::vector<int64_t>(ev.labels.begin(), ev.labels.end()));
  if (t.has_graph())
    gcc::io::write_npy(o + "/neighbours.npy", t.state().neighbours,
                       {t.data().phase2->n, t.state().neighbour_k});
  const gcc::ConfusionMatrix cm = gcc::confusion_matrix(ev.metrics);
  std::vector<std::string> names = t.data().eval->class_names;
  if (static_cast<int>(names.size()) != cm.num_classes) names.clear();
  gcc::write_confusion_csv(o + "/confusion.csv", cm, names);
  gcc::write_confusion_png(o + "/confusion.png", cm, 24);
}

int run_main(int argc, char** argv) {
  std::vector<std::pair<std::string, std::string>> overrides;  // --KEY VALUE (TrainConfig keys)
  std::vector<gcc::io::ConfigOverride> yaml_overrides;         // --key.sub=value (release YAML keys)
  std::string preset, config_file, resume, data_root, out;
  int threads = 0, checkpoint_every = 0;
  bool quiet = false, list_keys = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--quiet") {
      quiet = true;
      continue;
    }
    if (a == "--list-keys") {
      list_keys = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) {
      std::fprintf(stderr, "gcc_train: unexpected argument '%s' (options start with --; see --help)\n", a.c_str());
      return 2;
    }
    if (a.find('=') != std::string::npos) {  // --key.sub=value: an override of the YAML file
      std::vector<std::string> rest;
      const std::vector<gcc::io::ConfigOverride> ov = gcc::io::split_config_overrides({a}, &rest);
      if (ov.empty()) {
        std::fprintf(stderr, "gcc_train: '%s' is not a key of the YAML experiment files (see --help)\n", a.c_str());
        return 2;
      }
      yaml_overrides.insert(yaml_overrides.end(), ov.begin(), ov.end());
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "gcc_train: %s needs a value (see --help)\n", a.c_str());
      return 2;
    }
    const std::string k = a.substr(2), v = argv[++i];
    if (k == "preset") preset = v;
    else if (k == "config") config_file = v;
    else if (k == "resume") resume = v;
    else if (k == "out") out = v;
    else if (k == "threads") threads = std::stoi(v);
    else if (k == "checkpoint-every" || k == "checkpoint_every") checkpoint_every = std::stoi(v);
    else if (k == "data-root" || k == "data_root") data_root = v;
    else if (gcc::train::find_config_key(k)) overrides.emplace_back(k, v);
    else {
      std::fprintf(stderr, "gcc_train: unknown option '%s' (neither a flag nor a config key; see --help and --list-keys)\n",
                   a.c_str());
      return 2;
    }
  }

  Run run;
  if (!resume.empty()) {
    GCC_CHECK(preset.empty() && config_file.empty() && yaml_overrides.empty(), "gcc_train: --resume takes its "
              "configuration from the checkpoint in '", resume, "'; do not combine it with --preset, --config or "
              "--key.sub=value overrides");
    run.out = resume;
    GCC_CHECK(gcc::io::file_exists(run.checkpoint_path()), "gcc_train: --resume '", resume,
              "': no checkpoint.safetensors there (was the run started with gcc_train --out ", resume, "?)");
    const gcc::io::Checkpoint ck = gcc::io::Checkpoint::load(run.checkpoint_path());
    GCC_CHECK(ck.has_config(), "gcc_train: '", run.checkpoint_path(), "' holds no configuration");
    gcc::train::apply_train_config_text(run.cfg, ck.config(), run.checkpoint_path() + " (stored config)");
    if (!overrides.empty() && !quiet)
      std::fprintf(stderr, "gcc_train: note: overriding keys of a resumed run; it is no longer the same run\n");
  } else if (!config_file.empty()) {
    const std::string text = gcc::io::read_file(config_file, "gcc_train --config");
    if (gcc::train::is_release_config_text(text)) {  // the release's nested YAML layout
      gcc::train::ReleaseRunSettings rs;
      run.cfg = gcc::train::load_release_train_config(config_file, yaml_overrides, &rs);
      if (out.empty()) out = rs.output_dir;
      if (checkpoint_every == 0) checkpoint_every = rs.checkpoint_every;
      if (threads == 0) threads = rs.threads;
    } else {  // our flat KEY: VALUE form (a run's config.yaml)
      GCC_CHECK(yaml_overrides.empty(), "gcc_train: --key.sub=value overrides apply to release-style YAML files; '",
                config_file, "' is a flat KEY: VALUE file: use --KEY VALUE");
      run.cfg = gcc::train::train_preset(preset.empty() ? "fashion-mnist" : preset);
      gcc::train::apply_train_config_text(run.cfg, text, config_file);
    }
  } else {
    GCC_CHECK(yaml_overrides.empty(), "gcc_train: --key.sub=value overrides need a YAML file (--config FILE); with a "
              "preset use --KEY VALUE (see --list-keys)");
    run.cfg = gcc::train::train_preset(preset.empty() ? "fashion-mnist" : preset);
  }
  for (auto& kv : overrides) gcc::train::set_config_key(run.cfg, kv.first, kv.second);
  if (!data_root.empty()) run.cfg.data_root = data_root;
  run.cfg.validate();
  run.checkpoint_every = checkpoint_every < 1 ? 1 : checkpoint_every;
  if (threads > 0) {
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
  }
  if (list_keys) {
    std::fputs(gcc::train::train_config_text(run.cfg, "gcc_train configuration").c_str(), stdout);
    return 0;
  }
  if (run.out.empty())
    run.out = out.empty() ? "runs/" + (run.cfg.preset.empty() ? run.cfg.dataset : run.cfg.preset) + "-" + now_stamp() : out;
  make_dirs(run.out);

  const auto t0 = std::chrono::steady_clock::now();
  std::FILE* log = quiet ? nullptr : stderr;
  if (log)
    std::fprintf(log, "gcc_train: %s on %s (%s), %d threads, output in %s\n",
                 run.cfg.preset.empty() ? "custom config" : ("preset " + run.cfg.preset).c_str(), run.cfg.dataset.c_str(),
                 run.cfg.device.c_str(), gcc::num_threads(), run.out.c_str());
  gcc::train::TrainData data = gcc::train::load_train_data(run.cfg);
  gcc::train::End2EndTrainer trainer(run.cfg, data);
  trainer.set_progress_output(log);
  if (!resume.empty()) {
    gcc::train::load_end2end_checkpoint(run.checkpoint_path(), trainer);
    gcc::io::drop_epochs_from(run.metrics_path(), trainer.next_epoch());
    if (log)
      std::fprintf(log, "gcc_train: resuming at epoch %d step %lld of %d\n", trainer.next_epoch() + 1,
                   static_cast<long long>(trainer.next_step()), run.cfg.epochs);
  } else {
    gcc::io::write_file_atomically(run.out + "/config.yaml",
                                   gcc::train::train_config_text(run.cfg, "gcc_train configuration (gcc_train "
                                                                 "--config FILE reproduces the run)"),
                                   "gcc_train");
    gcc::io::drop_epochs_from(run.metrics_path(), 0);
  }
  if (log)
    std::fprintf(log, "gcc_train: %lld training images (phase 1: %lld), %lld evaluation images, model %s width %lld, "
                 "%lld parameters, K = %lld\n",
                 static_cast<long long>(data.phase2->n), static_cast<long long>(data.phase1->n),
                 static_cast<long long>(data.eval->n), run.cfg.backbone.c_str(), static_cast<long long>(run.cfg.base_width),
                 static_cast<long long>(trainer.model().parameter_count()), static_cast<long long>(run.cfg.num_clusters));

  gcc::io::MetricsLog metrics(run.metrics_path());
  std::signal(SIGINT, on_sigint);
  trainer.set_stop_flag(&g_stop);
  gcc::train::EvalResult last;
  bool have_last = false;
  try {
    trainer.fit([&](const EpochReport& r) {
      append_metrics(metrics, r, trainer);
      if (r.evaluated && r.epoch == run.cfg.epochs - 1) {
        last = r.eval;
        have_last = true;
      }
      if (!r.complete || trainer.finished() || (r.epoch + 1) % run.checkpoint_every == 0 || g_stop.load())
        save(run, trainer);
    });
  } catch (const gcc::train::TrainingDiverged& e) {
    std::fprintf(stderr, "gcc_train: %s\ngcc_train: the last good checkpoint is %s\n", e.what(),
                 gcc::io::file_exists(run.checkpoint_path()) ? run.checkpoint_path().c_str() : "(none written yet)");
    return 3;
  }
  std::signal(SIGINT, SIG_DFL);
  if (!trainer.finished()) {
    std::fprintf(stderr, "gcc_train: interrupted at epoch %d step %lld; checkpoint written to %s\n"
                 "gcc_train: continue with: gcc_train --resume %s\n",
                 trainer.next_epoch() + 1, static_cast<long long>(trainer.next_step()), run.checkpoint_path().c_str(),
                 run.out.c_str());
    return 130;
  }
  if (!have_last) last = trainer.evaluate(run.cfg.epochs - 1);  // e.g. resumed after the last epoch
  write_outputs(run, trainer, last);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const gcc::train::TrainerState& s = trainer.state();
  std::printf("gcc_train: done in %.1f s (process CPU time %.1f s). Last epoch on all %lld evaluated images: ACC %.4f  NMI %.4f  ARI %.4f  "
              "(top-5 %.4f)\n",
              secs, static_cast<double>(std::clock()) / CLOCKS_PER_SEC, static_cast<long long>(last.evaluated), last.metrics.acc, last.metrics.nmi, last.metrics.ari,
              last.metrics.top5);
  if (s.best_epoch >= 0 && s.best_epoch != run.cfg.epochs - 1)
    std::printf("gcc_train: best evaluated epoch %d (label-selected, not a clean result): ACC %.4f NMI %.4f ARI %.4f\n",
                s.best_epoch + 1, s.best_acc, s.best_nmi, s.best_ari);
  std::printf("gcc_train: outputs in %s/ (checkpoint.safetensors, metrics.jsonl, config.yaml, features.npy, "
              "probabilities.npy, predictions.npy, targets.npy, neighbours.npy, confusion.csv, confusion.png)\n",
              run.out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return gcc_examples::run_training_cli("gcc_train", argc, argv, &run_main); }
