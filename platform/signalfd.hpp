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
// Sets every signal's disposition to its default: ignored dispositions survive execve, so the
// runtime's own must not reach a service (async-signal-safe, ignores errors).
void reset_signal_dispositions() noexcept;
// Ignores every signal whose default action would end or stop the process, except those in
// `handled` (read from a signalfd) and SIGKILL/SIGSTOP/SIGSEGV-like faults, which cannot or must
// not be ignored. Returns the first failure.
[[nodiscard]] Status ignore_fatal_signals(std::span<const int> handled);

}  // namespace ipcrt::platform
