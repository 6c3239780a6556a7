// Shared harness for the libFuzzer targets in tests/fuzz: per-process temp files under /dev/shm (or
// $TMPDIR), a byte reader for the option bytes a target takes from the front of its input, and the
// rule that gcc::Error is the expected outcome for bad input (any other exception escapes: a finding).
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "gcc/core/error.hpp"

namespace fuzz {

// Where per-process scratch files go: /dev/shm when present, else $TMPDIR, else /tmp.
inline std::string scratch_dir() {
  static const std::string dir = [] {
    std::string base = "/tmp";
    if (std::filesystem::is_directory("/dev/shm")) base = "/dev/shm";
    else if (const char* t = std::getenv("TMPDIR"); t && *t) base = t;
    const std::string d = base + "/gcc_fuzz_" + std::to_string(::getpid());
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

// A file under scratch_dir(), rewritten for every input and removed at exit.
inline std::string scratch_file(const std::string& name) { return scratch_dir() + "/" + name; }

inline void write_file(const std::string& path, const uint8_t* data, std::size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();  // the harness itself failed: not a finding of the parser
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
}

// Removes the scratch folder when the fuzzer exits normally.
struct ScratchCleanup {
  std::string dir;  // a copy: scratch_dir()'s own static may be destroyed first
  ~ScratchCleanup() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};
inline void cleanup_at_exit() { static ScratchCleanup c{scratch_dir()}; }

// Consumes option bytes from the front of the input; missing bytes read as 0.
struct Input {
  const uint8_t* data;
  std::size_t size;
  uint8_t byte() {
    if (!size) return 0;
    --size;
    return *data++;
  }
  uint16_t u16() { return static_cast<uint16_t>(byte() | (byte() << 8)); }
  std::string rest() const { return std::string(reinterpret_cast<const char*>(data), size); }
};

// Runs f; gcc::Error (the parser rejected the input, naming it) is fine, anything else escapes.
template <typename F>
void expect_ok_or_error(F&& f) {
  try {
    f();
  } catch (const gcc::Error&) {
  }
}

}  // namespace fuzz
