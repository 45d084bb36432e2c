// Private (staging) directories and the objects of the runtime's shm store.
#include "platform/shm.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/text.hpp"

namespace ipcrt::platform {
namespace {

std::string remove_hint(const std::string& path) {
  return cat("remove it: rm -r ", path);
}

// Why `info` (of `path`) is not a private dir this runtime made; empty when it is.
std::string private_dir_problem(const std::string& path, const struct stat& info) {
  if (!S_ISDIR(info.st_mode)) return cat(path, " exists and is not a directory");
  if (info.st_uid != ::geteuid()) {
    return cat(path, " exists and is owned by uid ", static_cast<unsigned long>(info.st_uid),
               ", not by the runtime (uid ", static_cast<unsigned long>(::geteuid()), ")");
  }
  if ((info.st_mode & 07777) != 01777) return cat(path, " exists with a mode other than 01777");
  return {};
}

Result<UniqueFd> open_directory(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ELOOP || errno == ENOTDIR) {
      return fail(cat(path, " exists and is not a directory"), remove_hint(path));
    }
    return fail_errno(cat("open ", path));
  }
  return fd;
}

// An object or placeholder someone else may have planted: only a plain file we or the planned
// owner made is adopted (a hard link would let a boot chown or expose another file).
Status check_adoptable_file(const std::string& path, const struct stat& info, uid_t owner) {
  if (!S_ISREG(info.st_mode) || info.st_nlink != 1) {
    return fail(cat(path, " exists and is not a regular file with a single link"),
                remove_hint(path));
  }
  if (info.st_uid != ::geteuid() && info.st_uid != owner) {
    return fail(cat(path, " exists and is owned by uid ", static_cast<unsigned long>(info.st_uid),
                    ", neither the runtime's nor the slot owner's (uid ",
                    static_cast<unsigned long>(owner), ")"),
                remove_hint(path));
  }
  return {};
}

}  // namespace

Result<bool> create_private_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0) {
    if (errno != EEXIST) return fail_errno(cat("mkdir ", path));
    struct stat info {};
    if (::lstat(path.c_str(), &info) != 0) return fail_errno(cat("lstat ", path));
    if (auto problem = private_dir_problem(path, info); !problem.empty()) {
      return fail(problem, remove_hint(path));
    }
    return false;
  }
  auto fd = open_directory(path);
  if (!fd) return std::unexpected(fd.error());
  if (::fchmod(fd->get(), 01777) != 0) {
    int saved = errno;
    ::rmdir(path.c_str());
    return fail_errno(cat("chmod ", path), saved);
  }
  return true;
}

Result<UniqueFd> open_private_dir(const std::string& path) {
  auto fd = open_directory(path);
  if (!fd) return fd;
  struct stat info {};
  if (::fstat(fd->get(), &info) != 0) return fail_errno(cat("fstat ", path));
  if (info.st_uid != ::geteuid()) {
    return fail(cat(path, " is owned by uid ", static_cast<unsigned long>(info.st_uid),
                    ", not by the runtime"),
                remove_hint(path));
  }
  return fd;
}

Status create_placeholder(int dir_fd, const std::string& dir_path, const std::string& name,
                          uid_t uid, gid_t gid, mode_t mode) {
  std::string path = cat(dir_path, "/", name);
  UniqueFd fd(
      ::openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0));
  if (!fd.valid()) {
    if (errno != EEXIST) return fail_errno(cat("create ", path));
    struct stat info {};
    if (::fstatat(dir_fd, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
      return fail_errno(cat("stat ", path));
    }
    return check_adoptable_file(path, info, uid);
  }
  if (::fchown(fd.get(), uid, gid) != 0 || ::fchmod(fd.get(), mode) != 0) {
    int saved = errno;
    ::unlinkat(dir_fd, name.c_str(), 0);
    return fail_errno(cat("set owner and mode of ", path), saved);
  }
  return {};
}

Status remove_private_dir(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return {};
    // A symlink (ELOOP) or a non-directory here is not ours: never follow it.
    return fail_errno(cat("open ", path), errno, "not removed; inspect and remove it by hand");
  }
  struct stat opened {};
  if (::fstat(fd.get(), &opened) != 0) return fail_errno(cat("fstat ", path));
  if (opened.st_uid != ::geteuid()) {
    return fail(cat(path, " is owned by uid ", static_cast<unsigned long>(opened.st_uid),
                    ", not by the runtime; not removed"),
                "inspect and remove it by hand");
  }
  // fdopendir takes over the fd; closedir closes it.
  DIR* dir = ::fdopendir(fd.get());
  if (dir == nullptr) return fail_errno(cat("opendir ", path));
  int dir_fd = fd.release();
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    // Files only: services cannot create subdirectories worth keeping, and none is entered.
    ::unlinkat(dir_fd, name.c_str(), 0);
  }
  ::closedir(dir);
  // Remove the name only if it still is the directory just emptied (not a swapped-in one).
  struct stat now {};
  if (::lstat(path.c_str(), &now) != 0) {
    if (errno == ENOENT) return {};
    return fail_errno(cat("lstat ", path));
  }
  if (now.st_dev != opened.st_dev || now.st_ino != opened.st_ino) {
    return fail(cat(path, " was replaced while it was being removed; not removed"),
                "inspect and remove it by hand");
  }
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT) return fail_errno(cat("rmdir ", path));
  return {};
}

Result<bool> create_shm_object(const std::string& path, uid_t uid, gid_t gid, mode_t mode) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0));
  if (!fd.valid()) {
    if (errno != EEXIST) return fail_errno(cat("create ", path));
    // O_NONBLOCK: a FIFO planted here must not hang the boot.
    UniqueFd existing(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    struct stat info {};
    if (!existing.valid() || ::fstat(existing.get(), &info) != 0) {
      return fail(cat(path, " exists and is not a regular file"), remove_hint(path));
    }
    if (auto adoptable = check_adoptable_file(path, info, uid); !adoptable) {
      return std::unexpected(adoptable.error());
    }
    // Kept with its contents, but with the owner and mode this boot would give it: the
    // object's service (or a runtime before slot groups) may have changed them.
    if ((info.st_uid != uid || info.st_gid != gid || (info.st_mode & 07777) != mode) &&
        (::fchown(existing.get(), uid, gid) != 0 || ::fchmod(existing.get(), mode) != 0)) {
      return fail_errno(cat("set owner and mode of ", path));
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

Status grow_shm_object(const std::string& path, std::uint64_t size) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat info {};
  if (!fd.valid() || ::fstat(fd.get(), &info) != 0) return fail_errno(cat("open ", path));
  if (static_cast<std::uint64_t>(info.st_size) >= size) return {};
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    return fail_errno(cat("grow ", path, " to ", size, " bytes"), errno,
                      "is its tmpfs large enough?");
  }
  return {};
}

Status init_semaphore(const std::string& path, unsigned value) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return fail_errno(cat("open ", path));
  if (::ftruncate(fd.get(), sizeof(sem_t)) != 0) return fail_errno(cat("size ", path));
  void* mapped = ::mmap(nullptr, sizeof(sem_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (mapped == MAP_FAILED) return fail_errno(cat("map ", path));
  const int initialised = ::sem_init(static_cast<sem_t*>(mapped), 1, value);
  const int saved = errno;
  ::munmap(mapped, sizeof(sem_t));
  if (initialised != 0) return fail_errno(cat("sem_init ", path, " to ", value), saved);
  return {};
}

}  // namespace ipcrt::platform
