// `ipcrt exec` (SPEC §4a): a command in a running service's exact sandbox, started by the
// caller (root), not by the supervisor, which only answered where the service is: nothing the
// command or the caller does can stall it.
//
// The caller forks a helper that joins the service's cgroup and enters its namespaces through
// a pidfd of the service's process (mount, pid and, where it has one, IPC); the helper forks the
// command, which is then inside the service's pid namespace, and waits for it. The command gets,
// in the order the launch gives them to the service (runtime/launch.cpp): a session of its own,
// the service's rlimits (read from the running service), its bounding set and ambient
// capabilities, groups, gid and uid, its working directory, PR_SET_NO_NEW_PRIVS and the
// service's seccomp filter, last; its mediated calls are answered by the caller.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/error.hpp"
#include "runtime/launch.hpp"
#include "runtime/mediation/server.hpp"

namespace ipcrt::runtime {

struct ExecRequest {
  pid_t main_pid = 0;  // the service's main process as the runtime reports it (mainPid)
  // What `run` prepared for the service: identity, capabilities, environment, filter, cgroup.
  const LaunchSpec* spec = nullptr;
  std::vector<std::string> command;      // command[0] absolute, or looked up in the service's PATH
  MediationServer* mediation = nullptr;  // serves the listener of a notify filter
};

// Runs the command and returns its wait status once it has ended. Fails (nothing started)
// when the service is not running sandboxed as the manifest says (a restart since, a
// changed manifest), or a step before exec failed (the phase and errno in the message).
[[nodiscard]] Result<int> exec_in_service(const ExecRequest& request);

}  // namespace ipcrt::runtime
