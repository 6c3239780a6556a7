// Per-epoch metrics as JSON lines (one object per line, e.g. {"epoch":3,"loss":1.25,"acc":0.41}), each
// line written and flushed at once so `tail -f` and a killed run both see complete lines.
#pragma once
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "atomic_file.hpp"
#include "json.hpp"

namespace gcc {
namespace io {

// Usage:
//   gcc::io::MetricsLog log("run/metrics.jsonl");              // appends (creates the file if needed)
//   log.append(gcc::io::JsonObject().add("epoch", 3).add("loss", 1.25).add("lr", 0.4));
// Non-finite numbers are written as null (JSON has no NaN). Not thread-safe; one writer per file.
class MetricsLog {
 public:
  enum class Mode { Append, Truncate };
  explicit MetricsLog(std::string path, Mode mode = Mode::Append) : path_(std::move(path)) {
    GCC_CHECK(!path_.empty(), "MetricsLog: empty path");
    f_ = std::fopen(path_.c_str(), mode == Mode::Append ? "ab" : "wb");
    if (!f_) GCC_FAIL("MetricsLog: cannot open '", path_, "' for writing: ", std::strerror(errno));
  }
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  ~MetricsLog() {
    if (f_) std::fclose(f_);
  }

  void append(const JsonObject& line) { append_raw(line.str()); }
  // A line of JSON text written as it is (must not contain a newline).
  void append_raw(const std::string& json) {
    GCC_CHECK(json.find('\n') == std::string::npos, "MetricsLog: a line must not contain a newline");
    const std::string s = json + "\n";
    if (std::fwrite(s.data(), 1, s.size(), f_) != s.size() || std::fflush(f_) != 0)
      GCC_FAIL("MetricsLog: cannot write to '", path_, "': ", std::strerror(errno));
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
};

// The lines of a JSON-lines file, each parsed (errors name the file and the line number). A missing
// file gives no lines; a last line without '\n' (cut by a kill) is ignored.
inline std::vector<Json> read_json_lines(const std::string& path) {
  std::vector<Json> out;
  if (!file_exists(path)) return out;
  const std::string text = read_file(path, "read_json_lines");
  std::size_t b = 0;
  int line = 0;
  while (b < text.size()) {
    const std::size_t e = text.find('\n', b);
    if (e == std::string::npos) break;  // incomplete last line
    ++line;
    const std::string s = text.substr(b, e - b);
    if (s.find_first_not_of(" \t\r") != std::string::npos)
      out.push_back(Json::parse(s, path + ":" + std::to_string(line)));
    b = e + 1;
  }
  return out;
}

// For --resume: rewrites the log (atomically) without the lines whose "epoch" is >= first_epoch and
// without an incomplete last line, so the resumed run's lines follow the checkpoint's epoch. Lines
// without an integer "epoch" member are kept. Returns the number of lines dropped.
inline int drop_epochs_from(const std::string& path, int64_t first_epoch) {
  if (!file_exists(path)) return 0;
  const std::string text = read_file(path, "drop_epochs_from");
  std::string kept;
  int dropped = 0, line = 0;
  std::size_t b = 0;
  while (b < text.size()) {
    const std::size_t e = text.find('\n', b);
    if (e == std::string::npos) {
      ++dropped;
      break;
    }
    ++line;
    const std::string s = text.substr(b, e - b);
    b = e + 1;
    bool keep = true;
    if (s.find_first_not_of(" \t\r") != std::string::npos) {
      const Json j = Json::parse(s, path + ":" + std::to_string(line));
      int64_t ep = 0;
      const Json* m = j.is_object() ? j.find("epoch") : nullptr;
      if (m && m->as_int64(&ep) && ep >= first_epoch) keep = false;
    }
    if (keep) kept += s + "\n";
    else ++dropped;
  }
  if (dropped) write_file_atomically(path, kept, "drop_epochs_from");
  return dropped;
}

}  // namespace io
}  // namespace gcc
