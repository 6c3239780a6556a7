// Reading configurations: YAML text or files (a run's config.yaml, a checkpoint's stored config, the
// release's experiment files) and command-line overrides, all through the schema (config_schema.hpp)
// and the release's key table (release_config.hpp). One reader, no format guessing: every key is either
// a schema key, a release key, or one of
//   preset: NAME          restart from that preset (presets.hpp), then apply the other keys
//   train_db_name: NAME   the release's dataset key: the same as preset end to end; for self-labelling
//                         it must name the dataset the end-to-end run was trained on
//   val_db_name: NAME     must name the same dataset (evaluation is on the training dataset)
//   setup: end2end|selflabel   which stage the file configures (the release's key); with `selflabel` the
//                         file's bare schedule keys (epochs, lr, ...) mean the selflabel section's. It
//                         must be the stage of the program reading it. Without it a file's bare keys are
//                         the end-to-end ones (config.yaml writes the selflabel keys under `selflabel:`);
//                         on the command line a bare key means the program's stage.
// Errors name the file (or the command-line argument), the key and the line.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "../core/error.hpp"
#include "../io/atomic_file.hpp"
#include "config_schema.hpp"
#include "presets.hpp"
#include "release_config.hpp"

namespace gcc {
namespace train {

namespace detail {

inline const char* stage_name(Stage s) { return s == Stage::SelfLabel ? "selflabel" : "end2end"; }

// Applies keys to a Config, remembering which key set what so that two keys of one file cannot set the
// same value differently (e.g. the release's two `normalize` entries).
class ConfigWriter {
 public:
  // `program`: the trainer reading; `bare`: which stage bare schedule keys mean until a `setup:` says.
  ConfigWriter(Config& cfg, Stage program, Stage bare, std::string source)
      : cfg_(cfg), program_(program), stage_(bare), source_(std::move(source)) {}

  // One leaf: `path` as written, `value`, `line` (1-based, 0 = unknown).
  void apply(const std::string& path, const YAML::Node& value, int line) {
    path_ = path;
    line_ = line;
    if (path == "preset") return restart(value);
    if (path == "setup") return check_setup(value);
    if (path == "train_db_name") return dataset_key(value, true);
    if (path == "val_db_name") return dataset_key(value, false);
    if (const ReleaseKey* r = find_release_key(path)) {
      ReleaseTarget t{stage_, [this](const std::string& k, const YAML::Node& v) { set(k, v); },
                      [this](const std::string& why) { fail(why); }};
      return r->apply(t, value);
    }
    set(path, value);
  }

  [[noreturn]] void fail(const std::string& what) const {
    GCC_FAIL(source_, ": ", path_, ": ", what, line_ > 0 ? " (line " + std::to_string(line_) + ")" : std::string());
  }

 private:
  void set(const std::string& key, const YAML::Node& value) {
    const ConfigField* f = find_field(key, stage_);
    if (!f) {
      if (key.compare(0, 10, "selflabel.") == 0 || (stage_ == Stage::End2End && (key == "beta1" || key == "beta2" || key == "adam_eps")))
        fail("'" + key + "' configures self-labelling; this file is read for end-to-end training (setup: end2end)");
      fail("unknown key; known keys: " + known_keys() + "; and the release's keys (train/release_config.hpp)");
    }
    Config trial = cfg_;
    try {
      set_value(trial, *f, value);
    } catch (const BadValue& b) {
      const std::string shown = value.IsScalar()   ? "'" + value.Scalar() + "'"
                                : value.IsNull() ? std::string("an empty value")
                                                 : std::string("a list or mapping");
      fail((f->key == path_ ? std::string() : "(" + f->key + ") ") + shown + " is not " + b.expected);
    }
    const std::string now = f->yaml(trial);
    auto it = set_by_.find(f->key);
    if (it != set_by_.end() && it->second.second != now && it->second.first != path_)
      fail("sets '" + f->key + "' to " + now + " but '" + it->second.first + "' set it to " + it->second.second);
    set_by_[f->key] = {path_, now};
    cfg_ = trial;
  }
  void restart(const YAML::Node& v) {
    if (!v.IsScalar()) fail("expected a preset name");
    if (v.Scalar().empty()) return;  // a config that started from no preset
    try {
      cfg_ = preset(v.Scalar());
    } catch (const Error& e) {
      std::string msg = e.what();  // without the inner "[file:line]": this message gets its own
      const std::size_t at = msg.rfind(" [");
      fail(at == std::string::npos ? msg : msg.substr(0, at));
    }
    set_by_.clear();
  }
  void dataset_key(const YAML::Node& v, bool train) {
    if (!v.IsScalar()) fail("expected a dataset name");
    const std::string d = canonical_dataset(v.Scalar());
    if (d == cfg_.dataset) return;
    if (!train) fail("'" + v.Scalar() + "' differs from the training dataset '" + cfg_.dataset + "' (evaluation is on it)");
    if (program_ == Stage::SelfLabel)
      fail("'" + v.Scalar() + "' but the end-to-end run was trained on '" + cfg_.dataset + "'");
    restart(v);
  }
  void check_setup(const YAML::Node& v) {
    const std::string s = v.IsScalar() ? v.Scalar() : "";
    if (s != "end2end" && s != "selflabel") fail("'" + s + "' is not a setup (end2end or selflabel)");
    if (s != stage_name(program_))
      fail(s == "selflabel" ? "this file configures self-labelling (use gcc_selflabel)"
                            : "this file configures end-to-end training (use gcc_train)");
    stage_ = program_;
  }

  Config& cfg_;
  Stage program_, stage_;
  std::string source_, path_;
  int line_ = 0;
  std::map<std::string, std::pair<std::string, std::string>> set_by_;  // key -> (path, value as YAML)
};

// The leaves of a mapping in file order, as (dotted path, value, line); duplicate keys are errors.
inline void flatten(const YAML::Node& map, const std::string& prefix, const std::string& source,
                    std::vector<std::pair<std::string, YAML::Node>>& out) {
  std::vector<std::string> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const int line = it->first.Mark().line + 1;
    GCC_CHECK(it->first.IsScalar(), source, ": a key under '", prefix, "' is not a name (line ", line, ")");
    const std::string path = prefix.empty() ? it->first.Scalar() : prefix + "." + it->first.Scalar();
    GCC_CHECK(std::find(seen.begin(), seen.end(), path) == seen.end(), source, ": ", path, ": duplicate key (line ", line, ")");
    seen.push_back(path);
    if (it->second.IsMap()) flatten(it->second, path, source, out);
    else out.emplace_back(path, it->second);
  }
}

}  // namespace detail

// Reads YAML text onto cfg (a `preset:` or the release's `train_db_name:` restarts from that preset).
// `source` names the text in messages; `stage` is the trainer reading it.
inline void apply_config_text(Config& cfg, const std::string& text, const std::string& source, Stage stage = Stage::End2End) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    GCC_FAIL(source, ": YAML syntax error at line ", e.mark.line + 1, ", column ", e.mark.column + 1, ": ", e.msg);
  }
  if (!root.IsDefined() || root.IsNull()) return;
  GCC_CHECK(root.IsMap(), source, ": expected a mapping of keys (key: value lines) at the top level");
  std::vector<std::pair<std::string, YAML::Node>> leaves;
  detail::flatten(root, "", source, leaves);
  // the restarting keys first, whatever their place in the file (two passes: a YAML::Node assigned to
  // another overwrites the node it refers to, so the leaves are never reordered)
  auto restarting = [](const std::string& p) { return p == "setup" || p == "preset" || p == "train_db_name"; };
  detail::ConfigWriter w(cfg, stage, Stage::End2End, source);
  for (bool first : {true, false})
    for (const auto& l : leaves)
      if (restarting(l.first) == first) w.apply(l.first, l.second, l.second.Mark().line + 1);
}

// Reads a YAML file onto cfg; messages name the file as given.
inline void apply_config_file(Config& cfg, const std::string& path, Stage stage = Stage::End2End) {
  apply_config_text(cfg, io::read_file(path, "config file"), path, stage);
}

// One command-line override, `--key value`, `--key=value` or `--a.b=value`: a schema key or a release
// key, the value parsed as YAML ("0.2", "true", "[0.5, 0.5, 0.5]").
inline void apply_override(Config& cfg, const std::string& key, const std::string& text, Stage stage = Stage::End2End) {
  const std::string where = "command line (--" + key + " " + text + ")";
  YAML::Node value;
  try {
    value = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    GCC_FAIL(where, ": the value is not valid YAML: ", e.msg);
  }
  if (!value.IsDefined() || value.IsNull()) value = YAML::Node(text);
  std::string k = key;
  if (!find_release_key(k))
    for (char& c : k)
      if (c == '-') c = '_';
  detail::ConfigWriter(cfg, stage, stage, where).apply(k, value, 0);
}

// Whether `key` (as on the command line, '-' or '_') is something apply_override takes.
inline bool is_config_key(const std::string& key, Stage stage = Stage::End2End) {
  std::string k = key;
  for (char& c : k)
    if (c == '-') c = '_';
  return find_field(k, stage) || find_release_key(key) || k == "train_db_name" || k == "val_db_name" || k == "setup";
}

}  // namespace train
}  // namespace gcc
