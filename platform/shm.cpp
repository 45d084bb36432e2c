// Files and directories under /dev/shm.
#include "platform/shm.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/text.hpp"
#include "platform/fd.hpp"

namespace ipcrt::platform {

Result<bool> create_private_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 01777) != 0) {
    if (errno != EEXIST) return fail_errno(cat("mkdir ", path));
    struct stat info {};
    if (::lstat(path.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
      return fail(cat(path, " exists and is not a directory"), "remove it");
    }
    return false;
  }
  if (::chmod(path.c_str(), 01777) != 0) return fail_errno(cat("chmod ", path));
  return true;
}

Status remove_private_dir(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) {
    if (errno == ENOENT) return {};
    return fail_errno(cat("opendir ", path));
  }
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    // Services cannot create subdirectories worth keeping in /dev/shm; remove files only.
    ::unlinkat(::dirfd(dir), name.c_str(), 0);
  }
  ::closedir(dir);
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT) return fail_errno(cat("rmdir ", path));
  return {};
}

Result<bool> create_shm_object(const std::string& path, uid_t uid, gid_t gid, mode_t mode) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0));
  if (!fd.valid()) {
    if (errno != EEXIST) return fail_errno(cat("create ", path));
    struct stat info {};
    if (::lstat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) {
      return fail(cat(path, " exists and is not a regular file"), "remove it");
    }
    return false;
  }
  if (::fchown(fd.get(), uid, gid) != 0 || ::fchmod(fd.get(), mode) != 0) {
    int saved = errno;
    ::unlink(path.c_str());
    return fail_errno(cat("set owner and mode of ", path), saved);
  }
  return true;
}

Status remove_file(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return fail_errno(cat("unlink ", path));
  return {};
}

}  // namespace ipcrt::platform
