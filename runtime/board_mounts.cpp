// PID-1 mode: the board's `mounts`.
#include "runtime/board_mounts.hpp"

#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

#include "common/log.hpp"
#include "common/text.hpp"
#include "platform/mount.hpp"

namespace ipcrt::runtime {
namespace {

std::string under(const std::string& root, const std::string& absolute) {
  if (root.empty() || root == "/") return absolute;
  return root.back() == '/' ? cat(root, absolute.substr(1)) : cat(root, absolute);
}

// mkdir -p, 0755: the initramfs need not have the target.
Status make_directories(const std::string& path) {
  for (std::size_t slash = 1; slash != std::string::npos;) {
    slash = path.find('/', slash + 1);
    const std::string part = path.substr(0, slash);
    if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) return fail_errno(cat("mkdir ", part));
  }
  return {};
}

// Waits (50 ms at a time, up to `wait`) for `path` to exist. Nothing else runs yet: PID 1 has
// not started a service or armed the watchdog.
bool wait_for_node(const std::string& path, std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (::access(path.c_str(), F_OK) != 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    const timespec pause{0, 50'000'000};
    ::nanosleep(&pause, nullptr);
  }
  return true;
}

std::string mount_hint(int errnum, const config::BoardMount& mount) {
  switch (errnum) {
    case ENODEV:
      return cat("the kernel has no ", mount.type,
                 " filesystem: build it in, or load its module before ipcrt starts");
    case ENXIO:
    case ENOTBLK:
      return cat(mount.source, " is not a block device the kernel can read (its driver loaded?)");
    case EINVAL:
    case EUCLEAN:
      return cat(mount.source, " holds no ", mount.type,
                 " filesystem, or an option is refused: the kernel's log (dmesg) says which");
    case EROFS:
    case EACCES:
      return cat(mount.source, " is read-only: add \"ro\" to the options, or make it writable");
    default:
      return "the kernel's log (dmesg) says more";
  }
}

Status mount_one(const config::BoardMount& mount, const std::string& target,
                 std::chrono::milliseconds source_wait) {
  if (mount.source.starts_with("/dev/") && !wait_for_node(mount.source, source_wait)) {
    return fail(cat("mount ", mount.source, " on ", target, ": no such device after ",
                    source_wait.count(), " ms"),
                "check the board profile's /mounts source, and that its driver is built in or "
                "loaded before ipcrt starts");
  }
  if (auto made = make_directories(target); !made) return made;
  if (::mount(mount.source.c_str(), target.c_str(), mount.type.c_str(), mount.flags,
              mount.data.empty() ? nullptr : mount.data.c_str()) != 0) {
    const int errnum = errno;
    return fail_errno(cat("mount ", mount.source, " on ", target, " (", mount.type, ")"), errnum,
                      mount_hint(errnum, mount));
  }
  return {};
}

}  // namespace

Status mount_board_filesystems(const std::vector<config::BoardMount>& mounts,
                               const std::string& root, std::chrono::milliseconds source_wait) {
  Status first;
  for (const auto& mount : mounts) {
    const std::string target = under(root, mount.target);
    if (platform::is_mount_point(target)) {
      log_info("mounted already").field("target", target);
      continue;
    }
    if (auto mounted = mount_one(mount, target, source_wait); !mounted) {
      log_error("board mount failed")
          .field("source", mount.source)
          .field("target", target)
          .field("error", mounted.error().describe());
      if (first) first = mounted;
      continue;
    }
    log_info("mounted")
        .field("source", mount.source)
        .field("target", target)
        .field("type", mount.type)
        .field("options", mount.options);
  }
  return first;
}

void unmount_board_filesystems(const std::vector<config::BoardMount>& mounts,
                               const std::string& root) {
  if (mounts.empty()) return;
  ::sync();
  for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) {
    const std::string target = under(root, it->target);
    if (!platform::is_mount_point(target)) continue;
    if (::umount2(target.c_str(), 0) == 0) {
      log_info("unmounted").field("target", target);
    } else {
      log_warn("left mounted").field("target", target).field("error", std::strerror(errno));
    }
  }
}

}  // namespace ipcrt::runtime
