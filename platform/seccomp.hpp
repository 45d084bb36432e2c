// Loading a ready seccomp BPF program, and the user-notification interface. The program is
// compiled in the parent (runtime/policy); the child only makes the syscalls below, all of
// them async-signal-safe.
#pragma once

#include <linux/filter.h>

#include <vector>

namespace ipcrt::platform {

struct BpfProgram {
  std::vector<sock_filter> instructions;
  bool uses_notify = false;  // contains SECCOMP_RET_USER_NOTIF: load with the listener flag
};

// For the child between fork and exec; both return 0 (or the listener fd) or -errno.
[[nodiscard]] int set_no_new_privs() noexcept;
// Loads `program` with seccomp(2). Returns the listener fd when `uses_notify`, else 0.
// `program` must outlive the call; nothing is allocated here.
[[nodiscard]] int load_seccomp_filter(const sock_fprog& program, bool uses_notify) noexcept;

}  // namespace ipcrt::platform
