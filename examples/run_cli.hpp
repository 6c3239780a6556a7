// Shared plumbing of gcc_train, gcc_selflabel and gcc_eval: the command line (program flags, switches and
// config keys as `--key value`, `--key=value` or `--a.b=value`), threads, the Ctrl-C flag, run folders,
// the list of outputs, and main()'s error reporting ("<program>: <message>", once). Example plumbing,
// not library code.
#pragma once
#include <cblas.h>
#include <omp.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <exception>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gcc/core/error.hpp"
#include "gcc/io/atomic_file.hpp"
#include "gcc/io/metrics_log.hpp"
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

// Applies the command line's config keys (and --data-root) on top of cfg.
inline void apply_overrides(gcc::train::Config& cfg, const CliArgs& a, gcc::train::Stage stage) {
  for (const auto& kv : a.overrides) gcc::train::apply_override(cfg, kv.first, kv.second, stage);
  if (!a.flag("data-root").empty()) cfg.data_root = a.flag("data-root");
}

// OpenMP and OpenBLAS threads (0 = leave the default: all cores).
inline void apply_threads(int threads) {
  if (threads <= 0) return;
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
}

// Set by the first Ctrl-C; a second one kills at once (checkpoints are written atomically).
inline std::atomic<bool>& stop_flag() {
  static std::atomic<bool> flag{false};
  return flag;
}
extern "C" inline void on_sigint(int) {
  stop_flag().store(true);
  std::signal(SIGINT, SIG_DFL);
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

inline std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// trainer.fit with a JSON line per epoch, a checkpoint every `every` epochs (and at the end, on Ctrl-C and
// when stopped), divergence and interruption reported. Returns -1 when the run finished (`last` holds
// the evaluation after the last epoch), else the exit code (3 diverged, 130 interrupted).
template <typename Trainer, typename ToJson, typename Save>
int fit_run(const char* program, Trainer& t, int epochs, int every, const std::string& out, ToJson&& to_json,
            Save&& save, gcc::train::EvalResult& last) {
  const std::string ckpt = out + "/checkpoint.safetensors";
  gcc::io::MetricsLog metrics(out + "/metrics.jsonl");
  std::signal(SIGINT, on_sigint);
  t.set_stop_flag(&stop_flag());
  bool have_last = false;
  try {
    t.fit([&](const auto& r) {
      metrics.append(to_json(r));
      if (r.evaluated && r.epoch == epochs - 1) {
        last = r.eval;
        have_last = true;
      }
      if (!r.complete || t.finished() || (r.epoch + 1) % every == 0 || stop_flag()) save(ckpt);
    });
  } catch (const gcc::train::TrainingDiverged& e) {
    std::fprintf(stderr, "%s: %s\n%s: the last good checkpoint is %s\n", program, e.what(), program,
                 gcc::io::file_exists(ckpt) ? ckpt.c_str() : "(none written yet)");
    return 3;
  }
  std::signal(SIGINT, SIG_DFL);
  if (!t.finished()) {
    std::fprintf(stderr, "%s: interrupted at epoch %d step %lld; checkpoint written to %s\n%s: continue with: %s --resume %s\n",
                 program, t.next_epoch() + 1, static_cast<long long>(t.next_step()), ckpt.c_str(), program, program,
                 out.c_str());
    return 130;
  }
  if (!have_last) last = t.evaluate(epochs - 1);  // e.g. resumed after the last epoch
  return -1;
}

// The closing lines: time, the last epoch's figures, the label-selected best when it differs, outputs.
inline void print_result(const char* program, double seconds, const gcc::train::EvalResult& last,
                         const gcc::train::BestEval& best, int epochs, const std::string& out,
                         const std::vector<std::string>& files) {
  std::printf("%s: done in %.1f s (process CPU time %.1f s). Last epoch on all %lld evaluated images: ACC %.4f  "
              "NMI %.4f  ARI %.4f  (top-5 %.4f)\n",
              program, seconds, static_cast<double>(std::clock()) / CLOCKS_PER_SEC, static_cast<long long>(last.evaluated),
              last.metrics.acc, last.metrics.nmi, last.metrics.ari, last.metrics.top5);
  if (best.epoch >= 0 && best.epoch != epochs - 1)
    std::printf("%s: best evaluated epoch %d (label-selected, not a clean result): ACC %.4f NMI %.4f ARI %.4f\n", program,
                best.epoch + 1, best.acc, best.nmi, best.ari);
  std::printf("%s: outputs in %s/ (%s)\n", program, out.c_str(), join(files).c_str());
}

// main() of a CLI: run_main, with errors printed once as "<program>: <message>".
inline int run_cli(const char* program, int argc, char** argv, int (*run_main)(int, char**)) {
  try {
    return run_main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return 1;
  }
}

}  // namespace gcc_examples
