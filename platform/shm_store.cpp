// The runtime's tmpfs for shared-memory objects.
#include "platform/shm_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>

#include "common/text.hpp"
#include "platform/fd.hpp"
#include "platform/mount.hpp"

namespace ipcrt::platform {
namespace {

constexpr unsigned long kStoreFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC;

std::string parent_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == 0 || slash == std::string::npos ? std::string("/") : path.substr(0, slash);
}

// Why what is mounted at `path` is not a store a runtime made; empty when it is.
std::string foreign_store(const std::string& path) {
  struct statfs filesystem {};
  struct stat root {};
  if (::statfs(path.c_str(), &filesystem) != 0 || ::stat(path.c_str(), &root) != 0) {
    return cat(path, " is a mount point that cannot be read");
  }
  if (static_cast<unsigned long>(filesystem.f_type) != TMPFS_MAGIC) {
    return cat(path, " is a mount point of another filesystem than tmpfs");
  }
  if (root.st_uid != ::geteuid() || (root.st_mode & 07777) != 0700) {
    return cat(path, " is a tmpfs with another owner or mode than the runtime's 0700");
  }
  return {};
}

// Removes every entry of the store at `path` whose name is not in `keep`, following nothing.
Result<std::size_t> sweep(const std::string& path, const std::set<std::string>& keep) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return fail_errno(cat("open ", path));
  DIR* dir = ::fdopendir(fd.get());
  if (dir == nullptr) return fail_errno(cat("opendir ", path));
  const int dir_fd = fd.release();  // closedir closes it
  std::size_t removed = 0;
  while (dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name == "." || name == ".." || keep.contains(name)) continue;
    if (::unlinkat(dir_fd, name.c_str(), 0) == 0 ||
        (errno == EISDIR && ::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) == 0)) {
      ++removed;
    }
  }
  ::closedir(dir);
  return removed;
}

}  // namespace

// `path` as a real directory of the runtime's euid; `mode` exactly when `exact` (a directory
// this runtime made gets it whatever the umask; one it finds is put back to it).
Status ensure_owned_directory(const std::string& path, mode_t mode, bool exact) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    return fail_errno(cat("mkdir ", path));
  }
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) return fail_errno(cat("lstat ", path));
  if (!S_ISDIR(info.st_mode)) {
    return fail(cat(path, " exists and is not a directory"), cat("remove it: rm ", path));
  }
  if (info.st_uid != ::geteuid()) {
    return fail(cat(path, " is owned by uid ", static_cast<unsigned long>(info.st_uid),
                    ", not by the runtime (uid ", static_cast<unsigned long>(::geteuid()), ")"),
                cat("remove it: rm -r ", path));
  }
  if (exact && (info.st_mode & 07777) != mode && ::chmod(path.c_str(), mode) != 0) {
    return fail_errno(cat("chmod ", path));
  }
  return {};
}

std::string shm_store_options(std::uint64_t bytes, std::uint64_t files) {
  return cat("size=", bytes, ",nr_inodes=", files);
}

Result<ShmStoreMount> mount_shm_store(const std::string& path, const std::string& options,
                                      const std::set<std::string>& keep) {
  const std::string manifest_dir = parent_of(path);
  if (auto made = ensure_owned_directory(parent_of(manifest_dir), 0755, false); !made) {
    return std::unexpected(made.error());
  }
  if (auto made = ensure_owned_directory(manifest_dir, 0700, true); !made) {
    return std::unexpected(made.error());
  }
  if (is_mount_point(path)) {
    if (auto problem = foreign_store(path); !problem.empty()) {
      return fail(problem, cat("unmount it: umount ", path));
    }
    // Before the remount, which cannot shrink the store below what it holds.
    auto removed = sweep(path, keep);
    if (!removed) return std::unexpected(removed.error());
    if (::mount(nullptr, path.c_str(), nullptr, MS_REMOUNT | kStoreFlags, options.c_str()) != 0) {
      return fail_errno(cat("remount ", path, " with ", options), errno,
                        "its objects hold more than the manifest now declares: stop what "
                        "uses them and unmount it (umount " +
                            path + "), their contents are then lost");
    }
    return ShmStoreMount{false, *removed};
  }
  if (auto made = ensure_owned_directory(path, 0700, true); !made) return std::unexpected(made.error());
  const std::string with_mode = cat(options, ",mode=0700");
  if (::mount("ipcrt-shm", path.c_str(), "tmpfs", kStoreFlags, with_mode.c_str()) != 0) {
    const int saved = errno;
    ::rmdir(path.c_str());
    return fail_errno(cat("mount a tmpfs on ", path), saved,
                      "run needs CAP_SYS_ADMIN (root) and CONFIG_TMPFS");
  }
  return ShmStoreMount{true, 0};
}

bool shm_store_mounted(const std::string& path) {
  return is_mount_point(path);
}

Status unmount_shm_store(const std::string& path) {
  if (::umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0 && errno != EINVAL &&
      errno != ENOENT) {
    return fail_errno(cat("unmount ", path));
  }
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT) return fail_errno(cat("rmdir ", path));
  // The manifest's directory holds nothing else yet; another file there keeps it.
  const std::string manifest_dir = parent_of(path);
  if (::rmdir(manifest_dir.c_str()) != 0 && errno != ENOENT && errno != ENOTEMPTY &&
      errno != EEXIST) {
    return fail_errno(cat("rmdir ", manifest_dir));
  }
  return {};
}

}  // namespace ipcrt::platform
