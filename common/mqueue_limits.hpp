// The kernel's hard ceilings for POSIX message queues (HARD_MSGMAX and HARD_MSGSIZEMAX of
// ipc/mq_sysctl.c, since Linux 3.5). They bind even CAP_SYS_RESOURCE, so the same two numbers
// are a manifest rule (`validate`), the range of a board's sysctls and a fact the platform layer
// reports: they are defined once, here, below every library.
#pragma once

namespace ipcrt {

inline constexpr long kHardMsgMax = 65536;
inline constexpr long kHardMsgSizeMax = 16L * 1024 * 1024;

}  // namespace ipcrt
