// Process file descriptors (Linux >= 5.3): a child's exit becomes a readable fd for epoll,
// and signals go to exactly that process even after its pid is reused.
#pragma once

#include <sys/types.h>

#include "common/error.hpp"
#include "platform/fd.hpp"

namespace ipcrt::platform {

[[nodiscard]] Result<UniqueFd> pidfd_open(pid_t pid);
[[nodiscard]] Status pidfd_send_signal(int pidfd, int signal);
// A duplicate of the process's descriptor `target_fd` (pidfd_getfd, Linux 5.6): how the
// supervisor takes a confined child's seccomp listener.
[[nodiscard]] Result<UniqueFd> pidfd_getfd(int pidfd, int target_fd);

}  // namespace ipcrt::platform
