#include "platform/lock_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "common/file.hpp"
#include "common/text.hpp"

namespace ipcrt::platform {

Result<LockFile> LockFile::acquire(const std::string& path, pid_t* holder) {
  const auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    const std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return fail_errno(cat("create ", dir), errno, "is /run mounted and writable?");
    }
  }
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd.valid()) return fail_errno(cat("open ", path));
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    if (holder != nullptr) {
      auto text = read_to_end(fd.get(), path);
      *holder = text ? static_cast<pid_t>(std::atol(text->c_str())) : 0;
    }
    return fail_errno(cat("lock ", path), error);
  }
  const std::string pid = cat(::getpid(), "\n");
  // Written, then cut to its length: truncating to 0 first makes ext4 (a /run on disk) write
  // the file back at close, a flush on every `run` (issue 21).
  if (::pwrite(fd.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()) ||
      ::ftruncate(fd.get(), static_cast<off_t>(pid.size())) != 0) {
    return fail_errno(cat("write ", path));
  }
  return LockFile(std::move(fd));
}

}  // namespace ipcrt::platform
