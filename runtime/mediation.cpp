// Name-level mediation: deciding on a queue name and flags, performing the granted call in the
// supervisor, and reporting denials (SPEC §6).
#include "runtime/mediation.hpp"

#include <fcntl.h>
#include <mqueue.h>
#include <seccomp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>

#include "common/file.hpp"
#include "common/log.hpp"
#include "common/text.hpp"
#include "config/manifest.hpp"
#include "platform/fd.hpp"
#include "platform/seccomp_notify.hpp"

namespace ipcrt::runtime {
namespace {

using config::kPermCreate;
using config::kPermDelete;
using config::kPermRead;
using config::kPermWrite;

std::string permission_words(unsigned permissions) {
  std::string words;
  const std::pair<unsigned, const char*> names[] = {
      {kPermRead, "read"}, {kPermWrite, "write"}, {kPermCreate, "create"}, {kPermDelete, "delete"}};
  for (const auto& [bit, name] : names) {
    if ((permissions & bit) == 0) continue;
    if (!words.empty()) words += '+';
    words += name;
  }
  return words;
}

// The permissions mq_open's flags need (SPEC §5); O_ACCMODE 3 is invalid and needs everything.
unsigned permissions_for_flags(int flags) {
  unsigned needed = 0;
  switch (flags & O_ACCMODE) {
    case O_RDONLY:
      needed = kPermRead;
      break;
    case O_WRONLY:
      needed = kPermWrite;
      break;
    default:
      needed = kPermRead | kPermWrite;
      break;
  }
  if ((flags & O_CREAT) != 0) needed |= kPermCreate;
  return needed;
}

// A syscall name as the kernel sees it: no '/', not empty, not "." or "..", at most NAME_MAX.
bool plausible_queue_name(const std::string& raw_name) {
  return !raw_name.empty() && raw_name.size() <= NAME_MAX &&
         raw_name.find('/') == std::string::npos && raw_name != "." && raw_name != "..";
}

MediationDecision decide(const std::vector<QueueGrant>& grants, const std::string& raw_name,
                         unsigned needed) {
  MediationDecision decision;
  decision.queue_path = "/" + raw_name;
  const QueueGrant* closest = nullptr;
  if (plausible_queue_name(raw_name)) {
    for (const auto& grant : grants) {
      if (!queue_path_matches(grant.path, decision.queue_path)) continue;
      if ((grant.permissions & needed) == needed) {
        decision.allowed = true;
        decision.grant = &grant;
        return decision;
      }
      closest = closest != nullptr ? closest : &grant;
    }
  }
  if (closest != nullptr) {
    decision.need = cat(permission_words(needed & ~closest->permissions), " on ", closest->via);
  } else {
    decision.need = cat("a posix-mq plug connected to a slot with path ", decision.queue_path);
  }
  return decision;
}

std::string syscall_name(std::uint32_t arch, int number) {
  char* name = seccomp_syscall_resolve_num_arch(arch, number);
  if (name == nullptr) return cat("syscall-", number);
  std::string result(name);
  std::free(name);
  return result;
}

// The caller's umask, so that a queue the supervisor creates for it gets the mode the caller
// would have got.
mode_t caller_umask(pid_t pid) {
  auto status = read_text_file(cat("/proc/", pid, "/status"));
  if (!status) return 022;
  auto at = status->find("\nUmask:");
  if (at == std::string::npos) return 022;
  return static_cast<mode_t>(std::strtoul(status->c_str() + at + 7, nullptr, 8));
}

void report_denial(const MediatedService& service, DenialLog& log, pid_t pid,
                   const std::string& syscall, const std::string& argument,
                   const std::string& need) {
  Logfmt line(service.complain ? "info" : "warn", "denied");
  line.field("service", service.name).field("pid", pid).field("syscall", syscall);
  if (!argument.empty()) line.field("arg", argument);
  line.field("need", need);
  log.report(line.text());
}

// Reports a call mediation refuses, then refuses it with EACCES or, in complain mode, lets the
// kernel run it with the caller's own credentials.
void refuse(int listener, const MediatedService& service, DenialLog& log,
            const platform::Notification& call, const char* syscall,
            const MediationDecision& decision) {
  report_denial(service, log, call.pid, syscall, decision.queue_path, decision.need);
  if (service.complain) {
    (void)platform::answer_continue(listener, call.id);
  } else {
    (void)platform::answer_error(listener, call.id, EACCES);
  }
}

// Opens (creating if asked and allowed) the queue in the supervisor. Returns the descriptor or
// -errno, as the syscall would have.
int open_for_caller(const MediatedService& service, const platform::Notification& call,
                    const std::string& path, int flags) {
  const int open_flags = (flags & (O_ACCMODE | O_NONBLOCK)) | O_CLOEXEC;
  if ((flags & O_CREAT) == 0) {
    mqd_t queue = ::mq_open(path.c_str(), open_flags);
    return queue < 0 ? -errno : queue;
  }
  mq_attr attributes{};
  mq_attr* requested = nullptr;
  if (call.args[3] != 0) {
    if (!platform::read_remote_memory(call.pid, call.args[3], &attributes, sizeof attributes)) {
      return -EFAULT;
    }
    if (attributes.mq_maxmsg <= 0 || attributes.mq_msgsize <= 0 ||
        attributes.mq_maxmsg > service.msg_max || attributes.mq_msgsize > service.msgsize_max) {
      return -EINVAL;  // what the kernel answers an unprivileged caller
    }
    requested = &attributes;
  }
  const mode_t mode = static_cast<mode_t>(call.args[2]) & 0777 & ~caller_umask(call.pid);
  mqd_t queue = ::mq_open(path.c_str(), open_flags | O_CREAT | O_EXCL, mode, requested);
  if (queue >= 0) {
    // Created for the caller: it owns the queue, as if it had created it itself.
    if (::fchown(queue, service.uid, service.gid) != 0 || ::fchmod(queue, mode) != 0) {
      const int error = errno;
      ::close(queue);
      ::mq_unlink(path.c_str());
      return -error;
    }
    return queue;
  }
  if (errno != EEXIST || (flags & O_EXCL) != 0) return -errno;
  queue = ::mq_open(path.c_str(), open_flags);
  return queue < 0 ? -errno : queue;
}

void mediate_mq_open(int listener, const MediatedService& service, DenialLog& log,
                     const platform::Notification& call, const std::string& raw_name) {
  const int flags = static_cast<int>(call.args[1]);
  const MediationDecision decision = decide_mq_open(service.grants, raw_name, flags);
  if (!decision.allowed) {
    refuse(listener, service, log, call, "mq_open", decision);
    return;
  }
  const int queue = open_for_caller(service, call, decision.queue_path, flags);
  if (queue < 0) {
    (void)platform::answer_error(listener, call.id, -queue);
    return;
  }
  platform::UniqueFd owned(queue);
  // If the caller died meanwhile, ADDFD fails with ENOENT and the descriptor is just closed.
  (void)platform::answer_with_fd(listener, call.id, owned.get(), true);
}

void mediate_mq_unlink(int listener, const MediatedService& service, DenialLog& log,
                       const platform::Notification& call, const std::string& raw_name) {
  const MediationDecision decision = decide_mq_unlink(service.grants, raw_name);
  if (!decision.allowed) {
    refuse(listener, service, log, call, "mq_unlink", decision);
    return;
  }
  if (::mq_unlink(decision.queue_path.c_str()) != 0) {
    (void)platform::answer_error(listener, call.id, errno);
  } else {
    (void)platform::answer_value(listener, call.id, 0);
  }
}

}  // namespace

bool queue_path_matches(const std::string& grant_path, const std::string& path) {
  if (!grant_path.ends_with('*')) return grant_path == path;
  const std::string_view prefix(grant_path.data(), grant_path.size() - 1);
  return path.size() > prefix.size() && path.starts_with(prefix) &&
         path.find('/', 1) == std::string::npos;
}

MediationDecision decide_mq_open(const std::vector<QueueGrant>& grants, const std::string& raw_name,
                                 int flags) {
  return decide(grants, raw_name, permissions_for_flags(flags));
}

MediationDecision decide_mq_unlink(const std::vector<QueueGrant>& grants,
                                   const std::string& raw_name) {
  return decide(grants, raw_name, kPermDelete);
}

DenialLog::DenialLog(std::string service, unsigned burst, Clock::duration interval)
    : service_(std::move(service)),
      burst_(burst),
      interval_(interval),
      tokens_(burst),
      last_refill_(Clock::now()) {}

void DenialLog::refill(Clock::time_point now) {
  if (now <= last_refill_) return;
  const double earned =
      std::chrono::duration<double>(now - last_refill_) / std::chrono::duration<double>(interval_);
  tokens_ = std::min<double>(burst_, tokens_ + earned);
  last_refill_ = now;
}

bool DenialLog::report(const std::string& line, Clock::time_point now) {
  refill(now);
  if (tokens_ < 1.0) {
    ++suppressed_;
    return false;
  }
  tokens_ -= 1.0;
  flush();
  write_log_line(line);
  return true;
}

void DenialLog::flush() {
  if (suppressed_ == 0) return;
  LogLine("warn", "denials-suppressed").field("service", service_).field("count", suppressed_);
  suppressed_ = 0;
}

const Status& mediation_support() {
  static const Status support = []() -> Status {
    // The operator's switch back to filters alone (SPEC §5), e.g. to compare behaviour.
    if (const char* setting = std::getenv("IPCRT_MEDIATION");
        setting != nullptr && std::string_view(setting) == "off") {
      return fail("disabled by IPCRT_MEDIATION=off");
    }
    return platform::probe_user_notification();
  }();
  return support;
}

void handle_notification(int listener, const MediatedService& service, DenialLog& log) {
  auto call = platform::receive_notification(listener);
  if (!call) return;  // the caller died or was interrupted: nothing to answer
  const std::string name = syscall_name(call->arch, call->syscall);
  if (name != "mq_open" && name != "mq_unlink") {
    const std::string need =
        service.need_for_syscall ? service.need_for_syscall(name) : "seccomp.allow: " + name;
    report_denial(service, log, call->pid, name, "", need);
    if (service.complain) {
      (void)platform::answer_continue(listener, call->id);
    } else {
      (void)platform::answer_error(listener, call->id, EPERM);
    }
    return;
  }
  auto raw_name = platform::read_remote_string(call->pid, call->args[0], NAME_MAX);
  // The name was read from the caller's memory: act on it only if the notification is still
  // the same pending syscall (the caller did not die and its pid was not reused).
  if (!platform::notification_still_valid(listener, call->id)) return;
  if (!raw_name) {
    const int error = raw_name.error().errnum == ENAMETOOLONG ? ENAMETOOLONG : EFAULT;
    report_denial(service, log, call->pid, name, "(unreadable name)",
                  "a queue name of at most 255 characters");
    (void)platform::answer_error(listener, call->id, error);
    return;
  }
  if (name == "mq_open") {
    mediate_mq_open(listener, service, log, *call, *raw_name);
  } else {
    mediate_mq_unlink(listener, service, log, *call, *raw_name);
  }
}

}  // namespace ipcrt::runtime
