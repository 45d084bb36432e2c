// mount(2) wrappers.
#include "platform/mount.hpp"

#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>

#include "common/text.hpp"

namespace ipcrt::platform {

int bind_mount(const char* source, const char* target, bool recursive) noexcept {
  unsigned long flags = MS_BIND;
  if (recursive) flags |= MS_REC;
  return ::mount(source, target, nullptr, flags, nullptr) == 0 ? 0 : -errno;
}

int remount_bind_readonly(const char* target) noexcept {
  unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV;
  return ::mount(nullptr, target, nullptr, flags, nullptr) == 0 ? 0 : -errno;
}

int make_mounts_slave() noexcept {
  return ::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) == 0 ? 0 : -errno;
}

bool is_mount_point(const std::string& path) {
  struct stat self {};
  struct stat parent {};
  if (::stat(path.c_str(), &self) != 0) return false;
  if (::stat((path + "/..").c_str(), &parent) != 0) return false;
  return self.st_dev != parent.st_dev || self.st_ino == parent.st_ino;
}

Status mount_filesystem(const std::string& type, const std::string& target, unsigned long flags,
                        const std::string& options) {
  if (::mkdir(target.c_str(), 0755) != 0 && errno != EEXIST) {
    return fail_errno(cat("mkdir ", target));
  }
  if (::mount(type.c_str(), target.c_str(), type.c_str(), flags,
              options.empty() ? nullptr : options.c_str()) != 0) {
    return fail_errno(
        cat("mount ", type, " on ", target), errno,
        cat("requires CONFIG_", type == "mqueue" ? "POSIX_MQUEUE" : "TMPFS", " and CAP_SYS_ADMIN"));
  }
  return {};
}

}  // namespace ipcrt::platform
