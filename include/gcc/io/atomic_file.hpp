// Files that are either the old version or the complete new one, never a mix: a temporary file in the
// same directory is written, fsync'ed and renamed over the target, then the directory is fsync'ed.
#pragma once
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/error.hpp"

namespace gcc {
namespace io {

// Streaming atomic write. Usage:
//   gcc::io::AtomicFile f("run/last.safetensors", "save_checkpoint");
//   f.write(header.data(), header.size());  f.write(data, n);  ...
//   f.commit();            // fsync, close, rename over the target, fsync the directory
// Until commit() the target is untouched; if the AtomicFile is destroyed without commit() (an exception,
// an early return) the temporary file is removed. A process killed (kill -9, power loss) before the
// rename leaves the target as it was and a stray "<path>.tmp.<pid>.<n>" file beside it.
// The temporary file is created exclusively with mode 0666 minus the umask. Every error throws
// gcc::Error naming `op`, the path and the system's reason (strerror), and removes the temporary file.
class AtomicFile {
 public:
  AtomicFile(std::string path, std::string op = "write_file_atomically") : path_(std::move(path)), op_(std::move(op)) {
    GCC_CHECK(!path_.empty(), op_, ": empty output path");
    static std::atomic<unsigned> counter{0};
    for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
      tmp_ = path_ + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
      fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd_ < 0 && errno != EEXIST) break;
    }
    if (fd_ < 0)
      GCC_FAIL(op_, ": cannot create the temporary file '", tmp_, "' for '", path_, "': ", std::strerror(errno));
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() { discard(); }

  void write(const void* data, std::size_t size) {
    GCC_CHECK(fd_ >= 0, op_, ": write to '", path_, "' after commit() or discard()");
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      const ssize_t w = ::write(fd_, p, size);
      if (w < 0) {
        if (errno == EINTR) continue;
        fail("cannot write");
      }
      p += w;
      size -= static_cast<std::size_t>(w);
      written_ += static_cast<uint64_t>(w);
    }
  }
  void write(const std::string& bytes) { write(bytes.data(), bytes.size()); }

  // Makes the new contents visible under the target path (durably, as far as the file system allows).
  void commit() {
    GCC_CHECK(fd_ >= 0, op_, ": commit() of '", path_, "' called twice or after discard()");
    if (::fsync(fd_) != 0) fail("cannot sync");
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) {
      const int e = errno;
      ::unlink(tmp_.c_str());
      GCC_FAIL(op_, ": cannot close '", path_, "' (via '", tmp_, "'): ", std::strerror(e));
    }
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
      const int e = errno;
      ::unlink(tmp_.c_str());
      GCC_FAIL(op_, ": cannot rename '", tmp_, "' to '", path_, "': ", std::strerror(e));
    }
    const std::size_t slash = path_.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path_.substr(0, slash));
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {  // durability of the rename; best effort
      ::fsync(dfd);
      ::close(dfd);
    }
  }
  // Drops the temporary file; the target stays as it was. Called by the destructor.
  void discard() noexcept {
    if (fd_ < 0) return;
    ::close(fd_);
    fd_ = -1;
    ::unlink(tmp_.c_str());
  }

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return tmp_; }
  uint64_t bytes_written() const { return written_; }

 private:
  [[noreturn]] void fail(const char* what) {
    const int e = errno;
    discard();
    GCC_FAIL(op_, ": ", what, " '", path_, "' (via '", tmp_, "'): ", std::strerror(e));
  }
  std::string path_, op_, tmp_;
  int fd_ = -1;
  uint64_t written_ = 0;
};

// Writes `size` bytes to `path` atomically (see AtomicFile); `op` names the caller in error messages.
inline void write_file_atomically(const std::string& path, const void* data, std::size_t size,
                                  const char* op = "write_file_atomically") {
  AtomicFile f(path, op);
  f.write(data, size);
  f.commit();
}
inline void write_file_atomically(const std::string& path, const std::string& bytes,
                                  const char* op = "write_file_atomically") {
  write_file_atomically(path, bytes.data(), bytes.size(), op);
}

// The whole file as bytes; errors name `op`, the path and the system's reason.
inline std::string read_file(const std::string& path, const char* op = "read_file") {
  GCC_CHECK(!path.empty(), op, ": empty path");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) GCC_FAIL(op, ": cannot open '", path, "': ", std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    GCC_FAIL(op, ": cannot stat '", path, "': ", std::strerror(e));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    GCC_FAIL(op, ": '", path, "' is a directory, not a file");
  }
  std::string out;
  if (st.st_size > 0) out.reserve(static_cast<std::size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t r = ::read(fd, buf, sizeof(buf));
    if (r < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      ::close(fd);
      GCC_FAIL(op, ": cannot read '", path, "': ", std::strerror(e));
    }
    if (r == 0) break;
    out.append(buf, static_cast<std::size_t>(r));
  }
  ::close(fd);
  return out;
}

inline bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

inline bool dir_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Creates `path` and the folders above it that are missing (as mkdir -p); throws naming the folder and
// the system's reason.
inline void make_dirs(const std::string& path) {
  std::string cur = !path.empty() && path[0] == '/' ? "/" : "";
  std::size_t b = 0;
  while (b <= path.size()) {
    const std::size_t e = std::min(path.find('/', b), path.size());
    if (e > b) {
      cur += path.substr(b, e - b) + "/";
      if (::mkdir(cur.c_str(), 0777) != 0 && errno != EEXIST)
        GCC_FAIL("cannot create the folder '", cur, "': ", std::strerror(errno));
    }
    b = e + 1;
  }
}

// Removes, in folder `dir`, the "<name>.tmp.<pid>.<n>" files that writers killed before their rename left
// behind, for every name (`target` empty) or one file name. Call it only while no other process writes
// there (e.g. holding the run folder's lock, io/run_lock.hpp). Returns how many were removed.
inline int remove_stale_temp_files_in(const std::string& dir, const std::string& target = "") {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  std::vector<std::string> stale;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    const std::size_t tmp = target.empty() ? name.rfind(".tmp.") : target.size();
    if (tmp == std::string::npos || tmp == 0 || name.size() <= tmp + 5 || name.compare(tmp, 5, ".tmp.") != 0) continue;
    if (!target.empty() && name.compare(0, target.size(), target) != 0) continue;
    const std::string tail = name.substr(tmp + 5);  // "<pid>.<n>"
    const std::size_t dot = tail.find('.');
    if (dot == 0 || dot == std::string::npos || dot + 1 == tail.size() ||
        tail.find_first_not_of("0123456789.") != std::string::npos || tail.find('.', dot + 1) != std::string::npos)
      continue;
    stale.push_back(dir + "/" + name);
  }
  ::closedir(d);
  int n = 0;
  for (const std::string& f : stale) n += ::unlink(f.c_str()) == 0;
  return n;
}

// The same for the temporary files of one target path.
inline int remove_stale_temp_files(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  return remove_stale_temp_files_in(dir, slash == std::string::npos ? path : path.substr(slash + 1));
}

}  // namespace io
}  // namespace gcc
