// Shared plumbing of gcc_train, gcc_selflabel and gcc_eval: the command line (program flags, switches and
// config keys as `--key value`, `--key=value` or `--a.b=value`), threads, the Ctrl-C flag, run folders,
// the list of outputs, and main()'s error reporting ("<program>: <message>", once). Example plumbing,
// not library code.
#pragma once
#include <cblas.h>
#include <omp.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gcc/core/blas_kernels.hpp"
#include "gcc/core/error.hpp"
#include "gcc/io/atomic_file.hpp"
#include "gcc/io/metrics_log.hpp"
#include "gcc/io/run_lock.hpp"
#include "gcc/data/user_images.hpp"
#include "gcc/train/auto_plan.hpp"
#include "gcc/train/baseline.hpp"
#include "gcc/train/pictures.hpp"
#include "gcc/train/config_file.hpp"
#include "gcc/train/diverged.hpp"
#include "gcc/train/evaluate.hpp"

namespace gcc_examples {

struct CliSpec {
  const char* program;
  const char* usage;
  std::vector<std::string> flags;     // take a value: --out DIR
  std::vector<std::string> switches;  // take none: --quiet
  gcc::train::Stage stage;            // how bare config keys resolve
};

struct CliArgs {
  std::string program;
  std::map<std::string, std::string> flags;
  std::set<std::string> switches;
  std::vector<std::pair<std::string, std::string>> overrides;  // config keys, in command-line order
  std::string flag(const std::string& name) const {
    auto it = flags.find(name);
    return it == flags.end() ? std::string() : it->second;
  }
  bool has(const std::string& name) const { return switches.count(name) != 0; }
};

// Returns -1 to go on, else the exit code (0 after --help, 2 for a bad command line, message printed).
inline int parse_cli(int argc, char** argv, const CliSpec& spec, CliArgs& out) {
  out.program = spec.program;
  auto is = [](const std::vector<std::string>& v, const std::string& s) {
    for (const std::string& x : v)
      if (x == s) return true;
    return false;
  };
  auto bad = [&](const std::string& msg) {
    std::fprintf(stderr, "%s: %s (see --help)\n", spec.program, msg.c_str());
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(spec.usage, stdout);
      return 0;
    }
    if (a.compare(0, 2, "--") != 0 || a.size() == 2) return bad("unexpected argument '" + a + "' (options start with --)");
    const std::size_t eq = a.find('=');
    std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    for (char& c : name)
      if (c == '_' && name.find('.') == std::string::npos) c = '-';
    if (is(spec.switches, name)) {
      if (eq != std::string::npos) return bad("--" + name + " takes no value");
      out.switches.insert(name);
      continue;
    }
    const bool flag = is(spec.flags, name);
    if (!flag && !gcc::train::is_config_key(a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2), spec.stage))
      return bad("unknown option '" + a + "' (neither a flag nor a config key; --list-keys lists the keys)");
    std::string value;
    if (eq != std::string::npos) {
      value = a.substr(eq + 1);
    } else {
      if (i + 1 >= argc) return bad(a + " needs a value");
      value = argv[++i];
    }
    if (flag) out.flags[name] = value;
    else out.overrides.emplace_back(a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2), value);
  }
  return -1;
}

inline std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// Applies the command line's config keys (and --data-root, --unlabelled) on top of cfg.
inline void apply_overrides(gcc::train::Config& cfg, const CliArgs& a, gcc::train::Stage stage) {
  for (const auto& kv : a.overrides) gcc::train::apply_override(cfg, kv.first, kv.second, stage);
  if (!a.flag("data-root").empty()) cfg.data_root = a.flag("data-root");
  if (a.has("unlabelled")) cfg.unlabelled = true;
}

// The preset a run starts from without --preset: auto for a user's images (--dataset folder, list,
// idx, npy), else the CPU default.
inline std::string default_preset(const CliArgs& a) {
  for (const auto& kv : a.overrides)
    if (gcc::train::find_field(kv.first) && gcc::train::find_field(kv.first)->key == "dataset" &&
        gcc::is_user_image_kind(gcc::train::canonical_dataset(kv.second)))
      return "auto";
  return "fashion-mnist";
}

// The schema keys the user set: on the command line and in the --config file.
inline std::set<std::string> explicit_keys(const CliArgs& a, gcc::train::Stage stage) {
  std::set<std::string> keys;
  for (const auto& kv : a.overrides)
    if (const gcc::train::ConfigField* f = gcc::train::find_field(kv.first, stage)) keys.insert(f->key);
  if (!a.flag("data-root").empty()) keys.insert("data_root");
  if (a.has("unlabelled")) keys.insert("unlabelled");
  if (!a.flag("config").empty()) {
    std::vector<std::pair<std::string, YAML::Node>> leaves;
    const std::string path = a.flag("config");
    gcc::train::detail::flatten(YAML::Load(gcc::io::read_file(path, "config file")), "", path, leaves);
    for (const auto& l : leaves)
      if (const gcc::train::ConfigField* f = gcc::train::find_field(l.first)) keys.insert(f->key);
  }
  return keys;
}

// When cfg.auto_plan: plans the run for `images` (train/auto_plan.hpp), keeps the keys the user set,
// prints the plan on `log`, and returns its text (for config.yaml); else returns "".
inline std::string plan_if_auto(gcc::train::Config& cfg, const gcc::ImageDataset& images, const CliArgs& a,
                                gcc::train::Stage stage, std::FILE* log) {
  if (!cfg.auto_plan) return "";
  if (log) std::fprintf(log, "%s: planning the run: measuring the training speed on a few batches...\n", a.program.c_str());
  std::vector<std::string> why;
  gcc::train::Config planned = gcc::train::plan_auto(cfg, images, &why);
  const std::set<std::string> keep = explicit_keys(a, stage);
  if (keep.count("epochs")) {  // the phases follow the given length
    planned.epochs = cfg.epochs;
    gcc::train::plan_detail::plan_phases(planned);
  }
  for (const gcc::train::ConfigField& f : gcc::train::config_fields())
    if (keep.count(f.key) && f.key != "auto_plan") f.set(planned, YAML::Load(f.yaml(cfg)));
  if (!keep.empty()) why.push_back("  kept as given: " + join(std::vector<std::string>(keep.begin(), keep.end())));
  cfg = planned;
  gcc::train::validate(cfg);
  std::string text;
  for (const std::string& line : why) text += line + "\n";
  if (log) std::fprintf(log, "%s: %s", a.program.c_str(), text.c_str());
  return text;
}

// Text lines as YAML comment lines ("# " before every line after the first).
inline std::string comment_lines(const std::string& text) {
  std::string s;
  for (char c : text) s += c == '\n' ? std::string("\n# ") : std::string(1, c);
  while (!s.empty() && (s.back() == ' ' || s.back() == '#' || s.back() == '\n')) s.pop_back();
  return s;
}

// The images of a user's source (dataset folder / list / idx / npy), unreadable files reported on `log`.
inline gcc::UserImages read_user_images_logged(const gcc::train::Config& cfg, const char* program, std::FILE* log) {
  gcc::UserImages u = gcc::read_user_images(gcc::train::user_images_options(cfg));
  if (!u.skipped.empty()) {
    std::fprintf(stderr, "%s: warning: skipped %zu of %zu image files that cannot be read (not PNG/JPEG/BMP or "
                 "corrupt):", program, u.skipped.size(), u.skipped.size() + static_cast<std::size_t>(u.images.n));
    for (std::size_t i = 0; i < std::min<std::size_t>(u.skipped.size(), 5); ++i) std::fprintf(stderr, " '%s'", u.skipped[i].c_str());
    std::fprintf(stderr, "%s\n", u.skipped.size() > 5 ? " ..." : "");
  }
  if (log)
    std::fprintf(log, "%s: %lld images of %lldx%lld, %lld channel(s), %s\n", program, static_cast<long long>(u.images.n),
                 static_cast<long long>(u.images.width), static_cast<long long>(u.images.height),
                 static_cast<long long>(u.images.channels),
                 u.labelled() ? (std::to_string(u.images.num_classes()) + " classes").c_str() : "unlabelled");
  return u;
}

// OpenMP and OpenBLAS threads (0 = leave the default: all cores).
inline void apply_threads(int threads) {
  if (threads <= 0) return;
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
}

// Set by the first Ctrl-C or SIGTERM (a scheduler's stop, `kill`); a second one kills at once
// (checkpoints are written atomically).
inline std::atomic<bool>& stop_flag() {
  static std::atomic<bool> flag{false};
  return flag;
}
extern "C" inline void on_stop_signal(int) {
  stop_flag().store(true);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}
inline void catch_stop_signals(bool on) {
  std::signal(SIGINT, on ? on_stop_signal : SIG_DFL);
  std::signal(SIGTERM, on ? on_stop_signal : SIG_DFL);
}

// The run folder's lock (io/run_lock.hpp), taken once: early when the folder exists already (a resumed
// or repeated run), else when `create` asks for the folder to be made (after the data loaded, so a
// failed start leaves no empty folder behind).
inline void lock_run_folder(std::unique_ptr<gcc::io::RunLock>& lock, const char* program, const std::string& out,
                            bool create) {
  if (lock) return;
  if (!create && !gcc::io::dir_exists(out)) return;
  gcc::io::make_dirs(out);
  lock = std::make_unique<gcc::io::RunLock>(out, program);
  if (const int n = gcc::io::remove_stale_temp_files_in(out))  // left by a process killed while writing
    std::fprintf(stderr, "%s: removed %d unfinished temporary file%s of a killed run in %s\n", program, n,
                 n == 1 ? "" : "s", out.c_str());
}

// "runs/<name>-YYYYmmdd-HHMMSS".
inline std::string default_run_dir(const std::string& name) {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return "runs/" + name + "-" + buf;
}


// trainer.fit with a JSON line per epoch, a checkpoint every `every` epochs (and at the end, on Ctrl-C and
// when stopped), divergence and interruption reported. Returns -1 when the run finished (`last` holds
// the evaluation after the last epoch), else the exit code (3 diverged, 130 interrupted). `writes` false
// (the ranks other than 0 of a data-parallel run): the same training, but no file written, nothing printed.
template <typename Trainer, typename ToJson, typename Save>
int fit_run(const char* program, Trainer& t, int epochs, int every, const std::string& out, ToJson&& to_json,
            Save&& save, gcc::train::EvalResult& last, bool writes = true) {
  const std::string ckpt = out + "/checkpoint.safetensors";
  std::unique_ptr<gcc::io::MetricsLog> metrics;
  if (writes) metrics = std::make_unique<gcc::io::MetricsLog>(out + "/metrics.jsonl");
  catch_stop_signals(true);
  t.set_stop_flag(&stop_flag());
  bool have_last = false;
  auto at = [&] { return "epoch " + std::to_string(t.next_epoch()) + " step " + std::to_string(t.next_step()); };
  std::string saved = !gcc::io::file_exists(ckpt) ? std::string()
                      : t.next_epoch() > 0 || t.next_step() > 0 ? at() : std::string("an earlier run's");
  auto save_or_explain = [&] {  // a failed write (disk full, quota) names the checkpoint that is still good
    if (!writes) return;
    try {
      save(ckpt);
    } catch (const gcc::Error& e) {
      throw gcc::Error(std::string(e.what()) + "\n" + program + ": the new checkpoint was not written; " +
                       (saved.empty() ? std::string("there is no earlier one")
                                      : "the previous one, " + ckpt + " (" + saved + "), is intact") +
                       ". Free space (or fix the folder) and continue with: " + program + " --resume " + out);
    }
    saved = at();
  };
  try {
    t.fit([&](const auto& r) {
      if (metrics) metrics->append(to_json(r));
      if (r.evaluated && r.epoch == epochs - 1) {
        last = r.eval;
        have_last = true;
      }
      if (!r.complete || t.finished() || (r.epoch + 1) % every == 0 || stop_flag()) save_or_explain();
    });
  } catch (const gcc::train::TrainingDiverged& e) {
    if (writes)
      std::fprintf(stderr, "%s: %s\n%s: the last good checkpoint is %s\n", program, e.what(), program,
                   gcc::io::file_exists(ckpt) ? ckpt.c_str() : "(none written yet)");
    return 3;
  }
  catch_stop_signals(false);
  if (!t.finished()) {
    // a stop another rank of a data-parallel run asked for can end the run at an epoch's end unsaved
    if (saved != at()) save_or_explain();
    if (writes)
      std::fprintf(stderr, "%s: interrupted at epoch %d step %lld; checkpoint written to %s\n%s: continue with: %s --resume %s\n",
                   program, t.next_epoch() + 1, static_cast<long long>(t.next_step()), ckpt.c_str(), program, program,
                   out.c_str());
    return 130;
  }
  if (!have_last) last = t.evaluate(epochs - 1);  // e.g. resumed after the last epoch
  return -1;
}

// After a run: the k-means baselines on the same images, evaluation.json (GCC's figures, the
// diagnostics and the baselines), gallery.png and, from metrics.jsonl, curves.png. Prints the baselines
// (and a note when k-means on the pixels beats GCC). Returns the file names written.
inline std::vector<std::string> write_run_report(const char* program, const std::string& out, const gcc::train::Config& cfg,
                                                 const gcc::ImageDataset& images, const gcc::train::EvalResult& last) {
  const gcc::train::Baselines b = gcc::train::kmeans_baselines(images, last, cfg.num_clusters, cfg.seed);
  gcc::io::JsonObject o;
  o.add("gcc", gcc::train::eval_json(last)).add("kmeans_pixels", gcc::train::baseline_json(b.pixels));
  if (b.embeddings.done) o.add("kmeans_embeddings", gcc::train::baseline_json(b.embeddings));
  o.add("images", images.n).add("num_clusters", cfg.num_clusters).add("dataset", cfg.dataset);
  gcc::io::write_file_atomically(out + "/evaluation.json", o.str() + "\n", program);
  std::vector<std::string> files = {"evaluation.json"};
  gcc::train::write_cluster_gallery(out + "/gallery.png", images, last.predictions, last.probabilities.data(),
                                    cfg.num_clusters, last.labels, images.class_names);
  files.push_back("gallery.png");
  if (gcc::io::file_exists(out + "/metrics.jsonl")) {
    gcc::train::write_training_curves_png(out + "/metrics.jsonl", out + "/curves.png");
    files.push_back("curves.png");
  }
  std::printf("%s: baseline %s\n", program, gcc::train::baseline_summary(b.pixels).c_str());
  if (b.embeddings.done) std::printf("%s: baseline %s\n", program, gcc::train::baseline_summary(b.embeddings).c_str());
  if (last.labelled() && b.pixels.metrics.acc > last.metrics.acc)
    std::printf("%s: note: k-means on the raw pixels clusters these images better than GCC (ACC %.4f vs %.4f): the "
                "deep model did not help here; try a longer budget (--minutes), or report the k-means result\n",
                program, b.pixels.metrics.acc, last.metrics.acc);
  return files;
}

// The closing lines: time, the last epoch's figures, the label-selected best when it differs, outputs.
inline void print_result(const char* program, double seconds, const gcc::train::EvalResult& last,
                         const gcc::train::BestEval& best, int epochs, const std::string& out,
                         const std::vector<std::string>& files) {
  std::printf("%s: done in %.1f s (process CPU time %.1f s). Last epoch on all %lld images: %s\n", program, seconds,
              static_cast<double>(std::clock()) / CLOCKS_PER_SEC, static_cast<long long>(last.predictions.size()),
              gcc::train::eval_summary(last).c_str());
  if (best.epoch >= 0 && best.epoch != epochs - 1)
    std::printf("%s: best evaluated epoch %d (label-selected, not a clean result): ACC %.4f NMI %.4f ARI %.4f\n", program,
                best.epoch + 1, best.acc, best.nmi, best.ari);
  std::printf("%s: outputs in %s/ (%s)\n", program, out.c_str(), join(files).c_str());
}

// main() of a CLI: run_main, with errors printed once as "<program>: <message>".
// When OpenBLAS picked weaker kernels than this CPU runs (core/blas_kernels.hpp), runs this program again
// from the start with OPENBLAS_CORETYPE set (OpenBLAS reads it only when it loads); a set
// OPENBLAS_CORETYPE, chosen by the user or by the first run, is left as it is. Returns if execv fails.
inline void use_the_cpus_blas_kernels(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE")) return;
  const std::string core = gcc::blas_coretype_upgrade();
  if (core.empty()) return;
  ::setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
  ::execv("/proc/self/exe", argv);
  ::unsetenv("OPENBLAS_CORETYPE");  // no re-execution possible: carry on with OpenBLAS's own choice
}

inline int run_cli(const char* program, int argc, char** argv, int (*run_main)(int, char**)) {
  use_the_cpus_blas_kernels(argv);
  std::signal(SIGXFSZ, SIG_IGN);  // a file-size limit makes write() fail with EFBIG (reported), not kill us
  try {
    return run_main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return 1;
  }
}

}  // namespace gcc_examples
