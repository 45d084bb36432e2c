// Process-tree containment: every service runs in its own session (launch.cpp calls setsid(),
// so the session id is the main process's pid) and a confined service cannot leave it (setsid
// is not in @default). When the main process has ended, whatever is left of the session is
// killed, so a service's children never outlive it (docs/decisions.md, "Sandbox hardening").
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>

#include "common/error.hpp"

namespace ipcrt::runtime {

struct SessionSweep {
  std::size_t killed = 0;      // live processes of the session that were sent SIGKILL
  bool gave_up = false;        // new members kept appearing for as many passes as allowed
  std::optional<Error> error;  // /proc could not be read: nothing was killed
};

// Sends SIGKILL to every process of `session`, rescanning until a pass finds no process it
// has not signalled: a child forked between a scan and the kill is caught by the next pass,
// and a process with SIGKILL pending cannot fork any more, so the passes end. It never waits
// for the killed processes to die (they are reaped as orphans once reparented), so the
// supervisor's loop is not held up. Call it while the session leader is an unreaped zombie:
// its pid, and so the session id, can then not be reused by an unrelated process.
[[nodiscard]] SessionSweep kill_session(pid_t session, const std::string& proc = "/proc");

}  // namespace ipcrt::runtime
