// Process file descriptors (Linux >= 5.3): a child's exit becomes a readable fd for epoll,
// and signals go to exactly that process even after its pid is reused.
#pragma once

#include <sys/types.h>

#include "common/error.hpp"
#include "platform/fd.hpp"

namespace ipcrt::platform {

[[nodiscard]] Result<UniqueFd> pidfd_open(pid_t pid);
[[nodiscard]] Status pidfd_send_signal(int pidfd, int signal);

}  // namespace ipcrt::platform
