// mount(2) wrappers. The noexcept ones are for the child between fork and exec (no
// allocation, return 0 or -errno); the Status ones are for the parent and PID-1 setup.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace ipcrt::platform {

// Bind-mounts `source` on `target` (MS_BIND, plus MS_REC when `recursive`).
[[nodiscard]] int bind_mount(const char* source, const char* target, bool recursive) noexcept;
// Makes an existing bind mount read-only (MS_REMOUNT|MS_BIND|MS_RDONLY, keeping nosuid/nodev).
[[nodiscard]] int remount_bind_readonly(const char* target) noexcept;
// Stops mount events propagating out of this namespace (MS_REC|MS_SLAVE on "/").
[[nodiscard]] int make_mounts_slave() noexcept;
// Covers `target` with an empty, read-only tmpfs, hiding what was mounted there.
[[nodiscard]] int cover_with_empty_tmpfs(const char* target) noexcept;

// Mounts a tmpfs on `target` with `options` ("size=16777216,mode=1777"), nosuid and nodev.
[[nodiscard]] int mount_tmpfs(const char* target, const char* options) noexcept;
// Mounts a procfs of the caller's pid namespace on `target` (nosuid, nodev, noexec).
[[nodiscard]] int mount_proc(const char* target) noexcept;
// Mounts a new devpts instance on `target` (its own ptys, /dev/pts/ptmx usable by anyone).
[[nodiscard]] int mount_devpts(const char* target) noexcept;
// A read-only view of one path, with everything mounted below it. A mount's root (the host's
// /sys, copied into a new mount namespace) is made read-only in place with its submounts
// (mount_setattr, Linux 5.12): no new mount to create now and to tear down at exit. Any other
// path (a directory or file inside a procfs), and any kernel without mount_setattr, gets a
// recursive bind onto itself whose top mount is made read-only. 0 also when `target` does not
// exist (nothing to protect).
[[nodiscard]] int make_path_readonly(const char* target) noexcept;
// Makes the existing mount at `target` read-only (its per-mount flag, not the superblock's).
[[nodiscard]] int remount_readonly(const char* target) noexcept;
// Makes the bind mount at `target` writable again (its per-mount flag).
[[nodiscard]] int remount_writable(const char* target) noexcept;
// mount_setattr(2) (Linux 5.12): `target`'s mount, and with `recursive` every mount below it,
// made read-only (`readonly`) or writable again, their other flags untouched. -ENOSYS before
// 5.12.
[[nodiscard]] int set_mount_readonly(const char* target, bool readonly, bool recursive) noexcept;
// Moves the mount at `source` to `target` (MS_MOVE).
[[nodiscard]] int move_mount_to(const char* source, const char* target) noexcept;
// Binds `source` (a device node or file) onto a new empty file `target`, created with `mode`.
// 0 also when `source` does not exist.
[[nodiscard]] int bind_file(const char* source, const char* target, unsigned mode) noexcept;
// Hides `target` (a file) behind /dev/null's node, or (a directory) behind an empty read-only
// tmpfs. 0 also when it does not exist.
[[nodiscard]] int mask_path(const char* target, const char* dev_null) noexcept;

// One line of a mountinfo text: where, and the filesystem type.
struct MountEntry {
  std::string point;  // decoded
  std::string type;   // "mqueue", "tmpfs", ...
};
// Every mount of `mountinfo`, in its order (parents before children).
[[nodiscard]] Result<std::vector<MountEntry>> mount_table(
    const std::string& mountinfo = "/proc/self/mountinfo");
// The mount points of `type` in a table read before; every one for an empty `type`.
[[nodiscard]] std::vector<std::string> mount_points_of_type(std::string_view type,
                                                            const std::vector<MountEntry>& mounts);

// The mount points of every filesystem of `type` ("mqueue") in `mountinfo`, decoded.
[[nodiscard]] Result<std::vector<std::string>> mount_points_of_type(
    std::string_view type, const std::string& mountinfo = "/proc/self/mountinfo");
// Every mount point in `mountinfo`, decoded, in its order (parents before children).
[[nodiscard]] Result<std::vector<std::string>> all_mount_points(
    const std::string& mountinfo = "/proc/self/mountinfo");
// True when `path` is a mount point (its device differs from its parent's, or it is "/").
[[nodiscard]] bool is_mount_point(const std::string& path);
// Mounts a filesystem of `type` on `target`, creating `target` (mode 0755) if needed.
[[nodiscard]] Status mount_filesystem(const std::string& type, const std::string& target,
                                      unsigned long flags, const std::string& options = {});

}  // namespace ipcrt::platform
