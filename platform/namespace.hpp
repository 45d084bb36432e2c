// Namespaces and forking for the child between fork and exec: no allocation, 0 or -errno.
#pragma once

namespace ipcrt::platform {

// unshare(CLONE_NEWNS): the service's mounts stop being the host's.
[[nodiscard]] int enter_new_mount_namespace() noexcept;

// fork(2) without glibc's atfork handlers, optionally into new namespaces (CLONE_NEWPID,
// CLONE_NEWNS, CLONE_NEWIPC): the child of a pid namespace is its pid 1. glibc's fork takes
// malloc's locks, which another thread of the supervisor may hold at that moment, and the
// child could then never take them again: the launch forks only this way. Returns the pid,
// 0 in the child, or -errno.
[[nodiscard]] long fork_raw(unsigned long namespace_flags = 0) noexcept;

// fork_raw() with clone3's CLONE_INTO_CGROUP: the child starts in the cgroup of the directory
// `cgroup_fd`, before its first instruction (Linux 5.7). -ENOSYS or -EINVAL where the kernel
// lacks clone3 or the flag (the caller then forks and the child joins the cgroup itself).
[[nodiscard]] long fork_raw_into_cgroup(unsigned long namespace_flags, int cgroup_fd) noexcept;

}  // namespace ipcrt::platform
