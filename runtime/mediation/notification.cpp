// Name-level mediation in the supervisor: one notification read, decided, answered (SPEC §6).
#include "runtime/mediation/notification.hpp"

#include <fcntl.h>
#include <mqueue.h>
#include <seccomp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>

#include "common/log.hpp"
#include "common/text.hpp"
#include "config/manifest.hpp"
#include "platform/fd.hpp"
#include "platform/proc_status.hpp"
#include "platform/seccomp_notify.hpp"

namespace ipcrt::runtime {
namespace {

std::string syscall_name(std::uint32_t arch, int number) {
  char* name = seccomp_syscall_resolve_num_arch(arch, number);
  if (name == nullptr) return cat("syscall-", number);
  std::string result(name);
  std::free(name);
  return result;
}

// The caller's umask, so that a queue the supervisor creates for it gets the mode the caller
// would have got; the usual 022 if the caller is already gone.
mode_t caller_umask(pid_t pid) {
  constexpr mode_t kUsualUmask = 022;
  auto status = platform::read_proc_status(pid);
  if (!status) return kUsualUmask;
  return static_cast<mode_t>(
      platform::proc_status_number(*status, "Umask", 8).value_or(kUsualUmask));
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
                    const MediationDecision& decision, int flags) {
  const std::string& path = decision.queue_path;
  const int open_flags = (flags & (O_ACCMODE | O_NONBLOCK)) | O_CLOEXEC;
  // Without `create`, O_CREAT on a declared queue opens it: ENOENT if it is gone, as for an
  // open without O_CREAT, and never a queue of the caller's.
  if ((flags & O_CREAT) == 0 || decision.open_existing_only) {
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
  const int queue = open_for_caller(service, call, decision, flags);
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
