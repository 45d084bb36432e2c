// Name-level mediation of mq_open and mq_unlink (SPEC §6). A confined service's mq_open and
// mq_unlink stop at the supervisor (SECCOMP_RET_USER_NOTIF). The supervisor reads the name
// once, checks it and the flags against the service's grants, and either performs the call
// itself (installing the descriptor in the caller) or answers EACCES. Because the check and
// the call both use the supervisor's own copy of the name, changing the name in the caller's
// memory after the check changes nothing.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "runtime/mediation/decision.hpp"
#include "runtime/mediation/denial_log.hpp"
#include "runtime/plan.hpp"

namespace ipcrt::runtime {

// The supervisor side of one confined service's listener.
struct MediatedService {
  std::string name;
  std::vector<QueueGrant> grants;
  uid_t uid = 0;  // owner of queues the service creates through a pattern grant
  gid_t gid = 0;
  // The kernel's limits for unprivileged creators: the supervisor is privileged and bypasses
  // them, so it enforces them on the service's behalf.
  long msg_max = 0;
  long msgsize_max = 0;
  // complain: log at level=info and let the kernel run the call with the caller's own
  // credentials, instead of refusing it.
  bool complain = false;
  // For syscalls that reach the supervisor because the filter's default action refused them:
  // what would allow one ("@network-io", "seccomp.allow: ptrace").
  std::function<std::string(const std::string& syscall)> need_for_syscall;
};

// Whether this kernel supports mediation (user notification, ADDFD+SEND, pidfd_getfd);
// probed for real once per process. IPCRT_MEDIATION=off in the environment turns it off.
[[nodiscard]] const Status& mediation_support();

// Handles one pending notification on `listener`: mediates mq_open and mq_unlink, reports and
// refuses (EPERM) any other syscall the filter sent here. Never fails the supervisor: a caller
// that died or a notification that became invalid is dropped.
void handle_notification(int listener, const MediatedService& service, DenialLog& log);

}  // namespace ipcrt::runtime
