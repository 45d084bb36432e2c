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

// The mount points of every filesystem of `type` ("mqueue") in `mountinfo`, decoded.
[[nodiscard]] Result<std::vector<std::string>> mount_points_of_type(
    std::string_view type, const std::string& mountinfo = "/proc/self/mountinfo");
// True when `path` is a mount point (its device differs from its parent's, or it is "/").
[[nodiscard]] bool is_mount_point(const std::string& path);
// Mounts a filesystem of `type` on `target`, creating `target` (mode 0755) if needed.
[[nodiscard]] Status mount_filesystem(const std::string& type, const std::string& target,
                                      unsigned long flags, const std::string& options = {});

}  // namespace ipcrt::platform
