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
#include "runtime/plan.hpp"

namespace ipcrt::runtime {

struct MediationDecision {
  bool allowed = false;
  std::string queue_path;             // "/telemetry": the name with the '/' glibc strips
  const QueueGrant* grant = nullptr;  // the grant that allows it, when allowed
  std::string need;                   // when denied: what would allow it, for the log line
};

// Whether a queue path matches a grant's path: equal, or for a pattern "/prefix-*" any name
// with that prefix and at least one more character.
[[nodiscard]] bool queue_path_matches(const std::string& grant_path, const std::string& path);

// `raw_name` is the syscall's argument, without the leading '/'. `flags` is mq_open's oflag.
[[nodiscard]] MediationDecision decide_mq_open(const std::vector<QueueGrant>& grants,
                                               const std::string& raw_name, int flags);
[[nodiscard]] MediationDecision decide_mq_unlink(const std::vector<QueueGrant>& grants,
                                                 const std::string& raw_name);

// Denial lines are rate-limited per service so that a hostile service cannot flood the log
// of a device whose storage is flash: a burst of `burst` lines, then one line per `interval`;
// what is dropped is counted and reported in a `msg=denials-suppressed` line once the next
// line is allowed, or when flush() is called (periodically by the supervisor, and at exit).
class DenialLog {
 public:
  using Clock = std::chrono::steady_clock;
  explicit DenialLog(std::string service, unsigned burst = 10,
                     Clock::duration interval = std::chrono::seconds(1));

  // Logs `line` (a complete logfmt line without the trailing newline) if the rate allows;
  // returns whether it was written.
  bool report(const std::string& line, Clock::time_point now = Clock::now());
  // Writes the suppressed-count line if anything was suppressed.
  void flush();
  [[nodiscard]] std::uint64_t suppressed() const { return suppressed_; }

 private:
  void refill(Clock::time_point now);

  std::string service_;
  unsigned burst_;
  Clock::duration interval_;
  double tokens_;
  Clock::time_point last_refill_;
  std::uint64_t suppressed_ = 0;
};

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
