#include "runtime/mediation/credentials.hpp"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <climits>

#include "common/text.hpp"
#include "platform/id_syscalls.hpp"
#include "platform/proc_status.hpp"

namespace ipcrt::runtime {
namespace {

using platform::kSysGetgroups;
using platform::kSysSetfsgid;
using platform::kSysSetfsuid;
using platform::kSysSetgroups;

constexpr std::uint64_t kKeptWhileActing = std::uint64_t{1} << CAP_SYS_PTRACE;

// The whitespace-separated numbers of a field, in `base`.
template <class Number>
std::optional<std::vector<Number>> numbers(std::string_view text, int base = 10) {
  std::vector<Number> values;
  const char* at = text.data();
  const char* end = text.data() + text.size();
  for (;;) {
    while (at < end && (*at == ' ' || *at == '\t')) ++at;
    if (at == end) return values;
    Number value{};
    auto [next, error] = std::from_chars(at, end, value, base);
    if (error != std::errc() || next == at) return std::nullopt;
    values.push_back(value);
    at = next;
  }
}

// setfsuid/setfsgid return the previous id whatever happens; asking again with an invalid id
// (-1) changes nothing and returns the current one, which tells whether the change took.
bool set_fs_id(long call, unsigned id) {
  ::syscall(call, id);
  return static_cast<unsigned>(::syscall(call, -1)) == id;
}

Status read_capabilities(std::uint64_t& effective, std::uint64_t& permitted,
                         std::uint64_t& inheritable) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capget, &header, data) != 0) return fail_errno("capget");
  effective = data[0].effective | (std::uint64_t{data[1].effective} << 32U);
  permitted = data[0].permitted | (std::uint64_t{data[1].permitted} << 32U);
  inheritable = data[0].inheritable | (std::uint64_t{data[1].inheritable} << 32U);
  return {};
}

Result<std::vector<gid_t>> thread_groups() {
  long count = ::syscall(kSysGetgroups, 0, nullptr);
  if (count < 0) return fail_errno("getgroups");
  std::vector<gid_t> groups(static_cast<std::size_t>(count));
  count = ::syscall(kSysGetgroups, count, groups.data());
  if (count < 0) return fail_errno("getgroups");
  groups.resize(static_cast<std::size_t>(count));
  return groups;
}

}  // namespace

Credentials credentials_of(const platform::Identity& identity) {
  return Credentials{identity.uid, identity.gid, identity.groups, 0};
}

std::optional<Credentials> immutable_credentials(const platform::Identity& identity,
                                                 bool keeps_capabilities) {
  if (identity.uid == 0 || keeps_capabilities) return std::nullopt;
  Credentials fixed = credentials_of(identity);
  // As the kernel lists them (it sorts what setgroups is given), so that acting as these and
  // as what /proc shows for the same service compare equal.
  std::sort(fixed.groups.begin(), fixed.groups.end());
  return fixed;
}

Result<CallerCredentials> parse_proc_status(std::string_view status) {
  auto uids = platform::proc_status_field(status, "Uid");
  auto gids = platform::proc_status_field(status, "Gid");
  auto groups = platform::proc_status_field(status, "Groups");
  auto capabilities = platform::proc_status_field(status, "CapEff");
  auto umask = platform::proc_status_field(status, "Umask");
  if (!uids || !gids || !groups || !capabilities || !umask) {
    return fail("/proc status lacks Uid, Gid, Groups, CapEff or Umask");
  }
  auto uid_values = numbers<uid_t>(*uids);
  auto gid_values = numbers<gid_t>(*gids);
  auto group_values = numbers<gid_t>(*groups);
  auto capability_values = numbers<std::uint64_t>(*capabilities, 16);
  auto umask_values = numbers<unsigned>(*umask, 8);
  // Uid/Gid: real, effective, saved, fs. The fs ids are what file access is checked with.
  if (!uid_values || uid_values->size() != 4 || !gid_values || gid_values->size() != 4 ||
      !group_values || !capability_values || capability_values->size() != 1 || !umask_values ||
      umask_values->size() != 1) {
    return fail("malformed Uid, Gid, Groups, CapEff or Umask in /proc status");
  }
  CallerCredentials caller;
  caller.credentials.uid = (*uid_values)[3];
  caller.credentials.gid = (*gid_values)[3];
  caller.credentials.groups = std::move(*group_values);
  caller.credentials.capabilities = capability_values->front();
  caller.umask = static_cast<mode_t>(umask_values->front() & 0777U);
  return caller;
}

Result<CallerCredentials> read_caller_credentials(pid_t tid) {
  auto status = platform::read_proc_status(tid);
  if (!status) return std::unexpected(status.error());
  return parse_proc_status(*status);
}

ActingThread::ActingThread() {
  std::uint64_t effective = 0;
  captured_ = read_capabilities(effective, permitted_, inheritable_);
  effective_now_ = effective;
  own_.capabilities = effective;
  own_.uid = static_cast<uid_t>(::syscall(kSysSetfsuid, -1));
  own_.gid = static_cast<gid_t>(::syscall(kSysSetfsgid, -1));
  auto groups = thread_groups();
  if (!groups) {
    if (captured_) captured_ = std::unexpected(groups.error());
  } else {
    own_.groups = std::move(*groups);
  }
}

ActingThread::~ActingThread() {
  (void)restore();
}

Status ActingThread::set_effective(std::uint64_t effective) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};  // pid 0: this thread
  __user_cap_data_struct data[2]{};
  data[0].effective = static_cast<std::uint32_t>(effective);
  data[1].effective = static_cast<std::uint32_t>(effective >> 32U);
  data[0].permitted = static_cast<std::uint32_t>(permitted_);
  data[1].permitted = static_cast<std::uint32_t>(permitted_ >> 32U);
  data[0].inheritable = static_cast<std::uint32_t>(inheritable_);
  data[1].inheritable = static_cast<std::uint32_t>(inheritable_ >> 32U);
  if (::syscall(SYS_capset, &header, data) != 0) return fail_errno("capset");
  effective_now_ = effective;
  return {};
}

Status ActingThread::act_as(const Credentials& who) {
  if (!captured_) return captured_;
  if (acting_ && *acting_ == who) return {};
  if (!acting_ && who == own_) return {};
  const Credentials& now = acting_ ? *acting_ : own_;
  // Changing ids needs CAP_SETUID/CAP_SETGID, which acting as a caller dropped: raise the
  // thread's own effective set first (within its permitted set, always allowed).
  if (effective_now_ != own_.capabilities) {
    if (auto raised = set_effective(own_.capabilities); !raised) return raised;
  }
  // From here on a failure leaves a mix of identities: put the own ones back.
  auto failed = [this](std::string what, int errnum, std::string hint) -> Status {
    (void)restore();
    return fail_errno(std::move(what), errnum, std::move(hint));
  };
  acting_ = now;  // what the thread is now, for restore() should a step fail
  if (now.groups != who.groups) {
    if (::syscall(kSysSetgroups, who.groups.size(), who.groups.data()) != 0) {
      return failed("setgroups for a mediated call", errno,
                    "acting with a caller's groups needs CAP_SETGID");
    }
    acting_->groups = who.groups;
  }
  if (now.gid != who.gid) {
    if (!set_fs_id(kSysSetfsgid, who.gid)) {
      return failed(cat("setfsgid ", who.gid), EPERM, "acting as a caller needs CAP_SETGID");
    }
    acting_->gid = who.gid;
  }
  if (now.uid != who.uid) {
    // Leaving fs uid 0 also drops the filesystem capabilities (CAP_DAC_OVERRIDE, CAP_FOWNER,
    // ...) from the effective set; set_effective below makes the whole set exact anyway.
    if (!set_fs_id(kSysSetfsuid, who.uid)) {
      return failed(cat("setfsuid ", who.uid), EPERM, "acting as a caller needs CAP_SETUID");
    }
    acting_->uid = who.uid;
  }
  const std::uint64_t effective = (who.capabilities | kKeptWhileActing) & permitted_;
  if (auto set = set_effective(effective); !set) {
    return failed("capset for a mediated call", set.error().errnum, "");
  }
  acting_ = who;
  return {};
}

Status ActingThread::restore() {
  if (!acting_) return {};
  Status result;
  auto note = [&result](Status step) {
    if (result && !step) result = std::move(step);
  };
  note(set_effective(own_.capabilities));
  if (acting_->uid != own_.uid && !set_fs_id(kSysSetfsuid, own_.uid)) {
    note(fail_errno(cat("setfsuid back to ", own_.uid), EPERM));
  }
  if (acting_->gid != own_.gid && !set_fs_id(kSysSetfsgid, own_.gid)) {
    note(fail_errno(cat("setfsgid back to ", own_.gid), EPERM));
  }
  if (acting_->groups != own_.groups &&
      ::syscall(kSysSetgroups, own_.groups.size(), own_.groups.data()) != 0) {
    note(fail_errno("setgroups back"));
  }
  // Returning to fs uid 0 raised the filesystem capabilities again, from the permitted set:
  // make the effective set exactly the own one.
  note(set_effective(own_.capabilities));
  acting_.reset();
  return result;
}

}  // namespace ipcrt::runtime
