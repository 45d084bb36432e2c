// The pure half of name-level mediation (SPEC §6): whether a queue name and mq_open's flags
// are allowed by a service's grants, and if not, what would allow them. No syscalls here.
#pragma once

#include <string>
#include <vector>

#include "runtime/plan.hpp"

namespace ipcrt::runtime {

struct MediationDecision {
  bool allowed = false;
  std::string queue_path;             // "/telemetry": the name with the '/' glibc strips
  const QueueGrant* grant = nullptr;  // the grant that allows it, when allowed
  std::string need;                   // when denied: what would allow it, for the log line
  // Allowed as an open of the existing queue only: O_CREAT without O_EXCL on a declared queue,
  // through a grant without `create` (SPEC §2.1). The queue is opened, never created.
  bool open_existing_only = false;
};

// Whether a queue path matches a grant's path: equal, or for a pattern "/prefix-*" any name
// with that prefix and at least one more character.
[[nodiscard]] bool queue_path_matches(const std::string& grant_path, const std::string& path);

// `raw_name` is the syscall's argument, without the leading '/'. `flags` is mq_open's oflag.
// O_CREAT needs `create`, except without O_EXCL on a declared queue (not a pattern): most
// client libraries open that way, and the runtime created the queue at boot, so it is an open.
[[nodiscard]] MediationDecision decide_mq_open(const std::vector<QueueGrant>& grants,
                                               const std::string& raw_name, int flags);
[[nodiscard]] MediationDecision decide_mq_unlink(const std::vector<QueueGrant>& grants,
                                                 const std::string& raw_name);

}  // namespace ipcrt::runtime
