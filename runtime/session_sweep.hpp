// Process-tree containment: every service runs in its own session (launch.cpp calls setsid(),
// so the session id is the main process's pid) and a confined service cannot leave it (setsid
// is not in @default). When the main process has ended, whatever is left of the session is
// killed, so a service's children never outlive it (docs/decisions.md, "Sandbox hardening").
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "common/error.hpp"

namespace ipcrt::runtime {

struct SessionSweep {
  std::size_t killed = 0;      // live processes of the session that were sent SIGKILL
  std::size_t remaining = 0;   // still alive when the sweep gave up (at `wait`)
  std::optional<Error> error;  // /proc could not be read: nothing was killed
};

// Sends SIGKILL to every process of `session` and rescans until none is left alive (zombies
// do not count: they are reaped by their parent, or by us once they are reparented), at most
// `wait` long. Rescanning catches children forked between a scan and the kill; a process with
// SIGKILL pending cannot fork any more, so each pass can only find fewer.
// Call it while the session leader is an unreaped zombie: its pid, and so the session id, can
// then not be reused by an unrelated process.
[[nodiscard]] SessionSweep kill_session(pid_t session, std::chrono::milliseconds wait,
                                        const std::string& proc = "/proc");

}  // namespace ipcrt::runtime
