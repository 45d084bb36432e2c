// Processes as /proc shows them: the fields of /proc/<pid>/stat the supervisor needs to find
// every process of a service's session (containment, docs/decisions.md "Sandbox hardening").
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace ipcrt::platform {

struct ProcessStat {
  pid_t pid = 0;
  char state = '?';  // 'R', 'S', 'D', 'Z' (zombie), 'X' (dead), ...
  pid_t parent = 0;
  pid_t process_group = 0;
  pid_t session = 0;
};

// Parses the start of a /proc/<pid>/stat line: "pid (comm) S ppid pgrp session ...". comm is
// the program's own choice and may contain spaces and ')': it ends at the last ')'.
[[nodiscard]] std::optional<ProcessStat> parse_process_stat(std::string_view text);

// The stat of one process; fails with ENOENT when it is gone (or was never there).
[[nodiscard]] Result<ProcessStat> read_process_stat(pid_t pid, const std::string& proc = "/proc");

// Every process (thread-group leader) listed in `proc` whose session id is `session`, zombies
// included. Processes that exit while /proc is read are skipped. Ids are those of the pid
// namespace `proc` was mounted for.
[[nodiscard]] Result<std::vector<ProcessStat>> list_session(pid_t session,
                                                            const std::string& proc = "/proc");

// The children of `pid` (from /proc/PID/task/PID/children, or by scanning every process's
// parent where the kernel lacks that file), as pids of the caller's pid namespace.
[[nodiscard]] Result<std::vector<pid_t>> child_pids(pid_t pid, const std::string& proc = "/proc");

}  // namespace ipcrt::platform
