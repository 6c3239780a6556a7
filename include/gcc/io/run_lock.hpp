// One writer per run folder: an exclusive lock on "<folder>/.lock" (flock), held while the process
// lives. The kernel drops it when the process ends, however it ends (kill -9 included), so a crashed
// run never blocks the next one; a second process started on the same folder is refused, told which
// process holds it. Taking the lock also proves early that the folder is writable.
#pragma once
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "../core/error.hpp"

namespace gcc {
namespace io {

class RunLock {
 public:
  // Locks `folder` (which must exist) for `program`; throws gcc::Error when the folder is not writable
  // or another process holds the lock.
  RunLock(const std::string& folder, const std::string& program) {
    path_ = folder + "/.lock";
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd_ < 0)
      GCC_FAIL(program, ": cannot write in the output folder '", folder, "' (creating '", path_, "': ",
               std::strerror(errno), "); choose a writable folder with --out");
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int e = errno;
      char holder[64] = {0};
      const ssize_t n = ::pread(fd_, holder, sizeof holder - 1, 0);
      ::close(fd_);
      fd_ = -1;
      std::string who = n > 0 ? std::string(holder, static_cast<std::size_t>(n)) : std::string();
      while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
      if (e == EWOULDBLOCK)
        GCC_FAIL(program, ": the output folder '", folder, "' is in use by another run (",
                 who.empty() ? std::string("its process") : who,
                 " holds '", path_, "'); wait for it to finish, stop it, or choose another folder with --out");
      GCC_FAIL(program, ": cannot lock '", path_, "': ", std::strerror(e));
    }
    const std::string me = program + " pid " + std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, me.data(), me.size(), 0) != static_cast<ssize_t>(me.size())) {
      const int e = errno;
      ::close(fd_);
      fd_ = -1;
      GCC_FAIL(program, ": cannot write in the output folder '", folder, "' (writing '", path_, "': ",
               std::strerror(e), "); choose a writable folder with --out");
    }
  }
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  ~RunLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock; the file stays (removing it would race a new locker)
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace io
}  // namespace gcc
