// Signals as a file descriptor: the supervisor blocks them and reads them in its epoll loop.
#pragma once

#include <signal.h>

#include <initializer_list>
#include <optional>
#include <span>

#include "common/error.hpp"
#include "platform/fd.hpp"

namespace ipcrt::platform {

// Blocks `signals` in the calling thread and returns a non-blocking signalfd for them.
[[nodiscard]] Result<UniqueFd> open_signalfd(std::span<const int> signals);
// The next pending signal number, or nullopt when none is pending.
[[nodiscard]] std::optional<int> read_signal(int fd);
// Unblocks everything; for the child before exec (async-signal-safe, ignores errors).
void unblock_all_signals() noexcept;

}  // namespace ipcrt::platform
