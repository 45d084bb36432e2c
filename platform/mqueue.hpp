// POSIX message queue wrappers: the kernel's limits (/proc/sys/fs/mqueue, RLIMIT_MSGQUEUE)
// and queue operations. No policy: callers decide what to create and what is allowed.
#pragma once

#include <cstdint>
#include <string>

#include "common/error.hpp"

namespace ipcrt::platform {

// Hard ceilings since Linux 3.5; they bind even CAP_SYS_RESOURCE.
inline constexpr long kHardMsgMax = 65536;
inline constexpr long kHardMsgSizeMax = 16L * 1024 * 1024;

struct MqueueLimits {
  long msg_max = 0;
  long msgsize_max = 0;
  long msg_default = 0;
  long msgsize_default = 0;
  long queues_max = 0;
  std::uint64_t rlimit_msgqueue_soft = 0;  // RLIM_INFINITY when unlimited
  std::uint64_t rlimit_msgqueue_hard = 0;
};

// Reads the five sysctls under `proc_dir` (normally /proc/sys/fs/mqueue) and this process's
// RLIMIT_MSGQUEUE.
[[nodiscard]] Result<MqueueLimits> read_mqueue_limits(
    const std::string& proc_dir = "/proc/sys/fs/mqueue");

}  // namespace ipcrt::platform
