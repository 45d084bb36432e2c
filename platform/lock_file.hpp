// An exclusive lock held for a process's life through flock(2) on a file that also names the
// holder's pid: the kernel drops the lock when the holder dies, however it dies.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/error.hpp"
#include "platform/fd.hpp"

namespace ipcrt::platform {

class LockFile {
 public:
  // Takes the lock at `path` (its directory is created 0755 if missing) and writes our pid in
  // it. When another process holds it: an error whose errnum is EWOULDBLOCK, and `holder`
  // receives the pid written there (0 if unknown); the file is left as it is.
  [[nodiscard]] static Result<LockFile> acquire(const std::string& path, pid_t* holder = nullptr);

  LockFile(LockFile&&) = default;
  LockFile& operator=(LockFile&&) = default;

 private:
  explicit LockFile(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace ipcrt::platform
