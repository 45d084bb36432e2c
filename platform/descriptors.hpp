// Descriptors a service must not inherit: marked close-on-exec by the child between fork and
// exec, so only syscalls, nothing allocated; both return 0 or -errno.
#pragma once

namespace ipcrt::platform {

// Marks every descriptor from `first` up close-on-exec: close_range(2) where the kernel has
// CLOSE_RANGE_CLOEXEC (Linux 5.11), else mark_listed_descriptors_cloexec().
[[nodiscard]] int mark_descriptors_cloexec(unsigned first) noexcept;

// The fallback for older kernels (or a filter that refuses close_range): each descriptor
// /proc/self/fd lists, read with getdents64 into a buffer on the stack. Marking instead of
// closing keeps the directory's own descriptor valid while it is read.
[[nodiscard]] int mark_listed_descriptors_cloexec(unsigned first) noexcept;

// Closes every descriptor from 3 up but `keep`: for ipcrt's init of a service, which never
// execs, so close-on-exec would leave it holding the runtime's descriptors (its lock, its
// sockets). close_range(2) (Linux 5.9), else what /proc/self/fd lists.
[[nodiscard]] int close_descriptors_except(int keep) noexcept;

// Closes every descriptor from 3 up but the `count` of `keep` (in any order, at most 64):
// close_range(2) over the gaps between them. -E2BIG for more, -ENOSYS before Linux 5.9, and
// then nothing was closed: a caller that only saves work by it goes on.
[[nodiscard]] int close_descriptors_except_these(const int* keep, unsigned count) noexcept;

}  // namespace ipcrt::platform
