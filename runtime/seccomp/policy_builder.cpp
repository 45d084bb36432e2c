// PolicyBuilder: collects allowed syscalls with their reasons, then compiles them with
// libseccomp (binary-tree optimised) and exports BPF and PFC through a memfd, because
// libseccomp 2.5 exports only to a file descriptor.
#include "runtime/seccomp/policy_builder.hpp"

#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include "common/text.hpp"
#include "platform/fd.hpp"
#include "runtime/seccomp/complain_limits.hpp"
#include "runtime/seccomp/groups.hpp"
#include "runtime/seccomp/syscall_names.hpp"

namespace ipcrt::runtime {
namespace {

using Context = std::unique_ptr<void, decltype(&seccomp_release)>;

constexpr std::string_view kFilterHint = "requires CONFIG_SECCOMP_FILTER and libseccomp >= 2.5";

constexpr std::string_view kCloneNote = "no namespace flags";
constexpr std::string_view kClone3Note =
    "answered ENOSYS: flags unreadable, glibc falls back to clone";
constexpr std::string_view kPrlimitReadNote = "reads only: new limit NULL";
constexpr std::string_view kPrlimitSetNote = "sets limits too: setrlimit is allowed";
constexpr std::string_view kShmCreateNote =
    "O_CREAT|O_EXCL seen by the supervisor for the shared-memory objects it may write";
constexpr std::string_view kShmUnlinkNote =
    "seen by the supervisor for the shared-memory objects it may write";

// Runs `writer(fd)` on a memfd and returns what it wrote.
template <class Writer>
Result<std::string> export_to_memory(const char* what, Writer&& writer) {
  int raw = ::memfd_create("ipcrt-seccomp-export", MFD_CLOEXEC);
  if (raw < 0) return fail_errno(cat("memfd_create for ", what));
  platform::UniqueFd fd(raw);
  int rc = writer(fd.get());
  if (rc != 0) return fail_errno(what, -rc, std::string(kFilterHint));
  off_t size = ::lseek(fd.get(), 0, SEEK_END);
  if (size < 0) return fail_errno(cat("lseek on the ", what, " memfd"));
  std::string bytes(static_cast<std::size_t>(size), '\0');
  if (::pread(fd.get(), bytes.data(), bytes.size(), 0) != size) {
    return fail_errno(cat("reading back ", what));
  }
  return bytes;
}

void add_reason(std::vector<std::string>& reasons, std::string_view reason) {
  if (std::find(reasons.begin(), reasons.end(), reason) == reasons.end()) {
    reasons.emplace_back(reason);
  }
}

// mq_open's flags (argument 1) limited to what the union of the service's grants allows.
// The filter cannot see the queue name, so a service holding read on one queue and write on
// another may open either for both; per-name checks are the mediation of SPEC §6.
// libseccomp refuses two comparisons of one argument in a rule, so access mode and O_CREAT
// are tested together under one mask.
int add_mq_open_rules(scmp_filter_ctx ctx, int number, unsigned permissions,
                      std::string& description) {
  bool read = (permissions & config::kPermRead) != 0U;
  bool write = (permissions & config::kPermWrite) != 0U;
  bool create = (permissions & config::kPermCreate) != 0U;
  std::vector<std::string_view> notes;
  std::uint64_t mask = create ? 0 : O_CREAT;
  std::uint64_t access_mode = O_RDWR;  // placeholder when any access mode is allowed
  if (!(read && write)) {
    // Without read nor write (create or delete only) the queue may still be opened
    // read-only to query its attributes; mq_timedreceive stays refused.
    access_mode = write && !read ? O_WRONLY : O_RDONLY;
    mask |= O_ACCMODE;
    notes.push_back(access_mode == O_WRONLY ? "access mode O_WRONLY" : "access mode O_RDONLY");
  }
  if (!create) notes.push_back("no O_CREAT");
  description = join(notes, ", ");
  if (mask == 0) return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, number, 0);
  std::uint64_t value = (mask & O_ACCMODE) != 0 ? access_mode : 0;
  return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, number, 1, SCMP_A1(SCMP_CMP_MASKED_EQ, mask, value));
}

// A syscall of mediate_shm(): what cannot concern a shared-memory object is allowed in the
// filter; the rest goes to the supervisor (the default action where mediation runs). open's
// flags are argument 1, openat's 2; unlinkat's flags argument 2 (AT_REMOVEDIR: rmdir, never
// an object). libseccomp takes one comparison of an argument per rule, and rules of one
// syscall must not overlap: the three flag combinations other than O_CREAT|O_EXCL each get one.
int add_shm_routing_rules(scmp_filter_ctx ctx, std::string_view name, int number,
                          std::uint32_t default_action) {
  const bool open = name == "open" || name == "openat";
  const unsigned argument = name == "open" ? 1 : 2;
  int rc = 0;
  if (open) {
    constexpr std::uint64_t kExclusive = O_CREAT | O_EXCL;
    constexpr std::uint64_t kOthers[] = {0, O_CREAT, O_EXCL};
    for (std::uint64_t allowed : kOthers) {
      rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, number, 1,
                            SCMP_CMP(argument, SCMP_CMP_MASKED_EQ, kExclusive, allowed));
      if (rc != 0) return rc;
    }
    if (default_action == SCMP_ACT_NOTIFY) return 0;
    return seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, number, 1,
                            SCMP_CMP(argument, SCMP_CMP_MASKED_EQ, kExclusive, kExclusive));
  }
  if (name == "unlinkat") {
    rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, number, 1,
                          SCMP_A2(SCMP_CMP_MASKED_EQ, AT_REMOVEDIR, AT_REMOVEDIR));
    if (rc != 0 || default_action == SCMP_ACT_NOTIFY) return rc;
    return seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, number, 1,
                            SCMP_A2(SCMP_CMP_MASKED_EQ, AT_REMOVEDIR, 0));
  }
  // unlink: every call.
  return default_action == SCMP_ACT_NOTIFY ? 0 : seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, number, 0);
}

// clone's flags are argument 0 on x86_64, aarch64 and arm (the argument order differs only
// after the flags).
int add_clone_rule(scmp_filter_ctx ctx, int number) {
  return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, number, 1,
                          SCMP_A0(SCMP_CMP_MASKED_EQ, kNamespaceCloneFlags, 0));
}

// clone3 passes its flags in a struct the filter cannot read. ENOSYS makes glibc (2.34+) retry
// pthread_create, fork and posix_spawn with clone, whose flags are checked above. libseccomp
// refuses a rule whose action is the default one; that default already refuses it.
int add_clone3_rule(scmp_filter_ctx ctx, int number, std::uint32_t default_action) {
  if (default_action == SCMP_ACT_ERRNO(ENOSYS)) return 0;
  return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), number, 0);
}

// Complain without mediation (SCMP_ACT_LOG default): the kernel itself refuses what complain
// never lets through (runtime/seccomp/complain_limits.hpp), as strict would.
int add_complain_refusals(
    scmp_filter_ctx ctx,
    const std::map<std::string, std::vector<std::string>, std::less<>>& allowed,
    const std::set<std::string, std::less<>>& named) {
  auto refuse = [&](std::string_view name) {
    if (allowed.contains(name)) return 0;  // named in seccomp.allow: the manifest's choice
    int number = seccomp_syscall_resolve_name(std::string(name).c_str());
    if (number < 0) return 0;  // not a syscall of this ABI
    return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), number, 0);
  };
  for (std::string_view name : never_allowed_syscalls()) {
    if (int rc = refuse(name); rc != 0) return rc;
  }
  for (std::string_view name : io_uring_syscalls()) {
    if (int rc = refuse(name); rc != 0) return rc;
  }
  if (int rc = refuse("clone3"); rc != 0) return rc;
  // clone as @default allows it (no namespace flags) or not at all: CLONE_NEWUSER is refused
  // beside that rule. Named in seccomp.allow it is allowed whole, as in strict.
  if (!named.contains("clone")) {
    int number = seccomp_syscall_resolve_name("clone");
    return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), number, 1,
                            SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER));
  }
  return 0;
}

constexpr std::string_view kSdNotifySocketNote = "AF_UNIX, SOCK_DGRAM only";

// socket(AF_UNIX, SOCK_DGRAM[|SOCK_CLOEXEC|SOCK_NONBLOCK], *): sd_notify's socket and no
// other. Both are int arguments: only their low 32 bits are compared.
int add_sd_notify_socket_rule(scmp_filter_ctx ctx, int number) {
  constexpr std::uint64_t kInt = 0xffffffffU;
  constexpr std::uint64_t kTypeMask =
      kInt & ~static_cast<std::uint64_t>(SOCK_CLOEXEC | SOCK_NONBLOCK);
  return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, number, 2,
                          SCMP_A0(SCMP_CMP_MASKED_EQ, kInt, AF_UNIX),
                          SCMP_A1(SCMP_CMP_MASKED_EQ, kTypeMask, SOCK_DGRAM));
}

// libsystemd's sd_notify first tries to enlarge its socket's send buffer (getsockopt and
// setsockopt of SO_SNDBUF, then SO_SNDBUFFORCE) and goes on without when refused. Refused
// here by the kernel, quietly: allowing them is not needed, and reporting them would advise
// @network-io for a call the program recovers from (SPEC §15).
int add_sd_notify_quiet_refusals(scmp_filter_ctx ctx) {
  const int getsockopt = seccomp_syscall_resolve_name("getsockopt");
  const int setsockopt = seccomp_syscall_resolve_name("setsockopt");
  constexpr std::uint64_t kInt = 0xffffffffU;
  const std::uint32_t refuse = SCMP_ACT_ERRNO(EPERM);
  int rc = 0;
  if (getsockopt >= 0) {
    rc = seccomp_rule_add(ctx, refuse, getsockopt, 2, SCMP_A1(SCMP_CMP_MASKED_EQ, kInt, SOL_SOCKET),
                          SCMP_A2(SCMP_CMP_MASKED_EQ, kInt, SO_SNDBUF));
  }
  for (int option : {SO_SNDBUF, SO_SNDBUFFORCE}) {
    if (rc != 0 || setsockopt < 0) break;
    rc = seccomp_rule_add(ctx, refuse, setsockopt, 2, SCMP_A1(SCMP_CMP_MASKED_EQ, kInt, SOL_SOCKET),
                          SCMP_A2(SCMP_CMP_MASKED_EQ, kInt, static_cast<std::uint64_t>(option)));
  }
  return rc;
}

// prlimit64(pid, resource, new_limit, old_limit): only the read form (new_limit NULL,
// argument 2 on every ABI), which glibc's getrlimit uses. With a new limit it is setrlimit,
// and on another pid of the same uid it changes that process's limits.
int add_prlimit64_read_rule(scmp_filter_ctx ctx, int number) {
  return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, number, 1, SCMP_A2(SCMP_CMP_EQ, 0));
}

}  // namespace

std::string architecture_name(std::uint32_t token) {
  switch (token) {
    case SCMP_ARCH_X86_64:
      return "x86_64";
    case SCMP_ARCH_X86:
      return "x86";
    case SCMP_ARCH_X32:
      return "x32";
    case SCMP_ARCH_AARCH64:
      return "aarch64";
    case SCMP_ARCH_ARM:
      return "arm";
    default:
      return cat("arch-", token);
  }
}

std::string describe_permissions(unsigned permissions) {
  auto words = config::permission_words(permissions);
  return words.empty() ? std::string("none") : join(words, ",");
}

PolicyBuilder::PolicyBuilder(std::string_view architecture)
    : default_action_(SCMP_ACT_ERRNO(EPERM)) {
  native_ = architecture == "native" ? seccomp_arch_native()
                                     : seccomp_arch_resolve_name(std::string(architecture).c_str());
  if (native_ == 0) {
    set_error(Error{cat("unknown architecture \"", architecture, "\""), 0,
                    "use a libseccomp name such as x86_64, aarch64 or arm"});
    return;
  }
  architectures_.push_back(native_);
}

void PolicyBuilder::set_error(Error error) {
  if (!error_) error_ = std::move(error);
}

void PolicyBuilder::add(std::string_view name, std::string_view reason) {
  add_reason(allowed_[std::string(name)], reason);
}

PolicyBuilder& PolicyBuilder::default_action(std::uint32_t action) {
  default_action_ = action;
  return *this;
}

PolicyBuilder& PolicyBuilder::add_architecture(std::string_view architecture) {
  std::uint32_t token = seccomp_arch_resolve_name(std::string(architecture).c_str());
  if (token == 0) {
    set_error(Error{cat("seccomp.architectures: unknown architecture \"", architecture, "\""), 0,
                    "use a libseccomp name such as x86, arm or aarch64"});
  } else if (std::find(architectures_.begin(), architectures_.end(), token) ==
             architectures_.end()) {
    architectures_.push_back(token);
  }
  return *this;
}

PolicyBuilder& PolicyBuilder::allow_group(std::string_view group_name, std::string_view reason) {
  if (auto problem = syscall_group_problem(group_name)) {
    set_error(std::move(*problem));
    return *this;
  }
  const SyscallGroup* group = find_syscall_group(group_name);
  std::string_view why = reason.empty() ? group->name : reason;
  for_each_group_syscall(*group, [&](std::string_view name) {
    if (is_never_allowed(name) || is_mq_syscall(name)) {
      // A table bug, not a user error: groups must never widen past SPEC §5.
      set_error(Error{
          cat("syscall group ", group->name, " contains ", name, ", which no group may allow"), 0,
          "remove it from runtime/syscall_groups.cpp"});
      return;
    }
    if (!is_known_syscall(name)) {
      set_error(Error{cat("syscall group ", group->name, " names unknown syscall ", name), 0,
                      "fix runtime/syscall_groups.cpp"});
      return;
    }
    add(name, why);
  });
  return *this;
}

PolicyBuilder& PolicyBuilder::allow_syscall(std::string_view name, std::string_view reason) {
  if (auto problem = syscall_allow_problem(name)) {
    set_error(problem->wrap(reason));
  } else {
    add(name, reason);
    named_.emplace(name);
  }
  return *this;
}

PolicyBuilder& PolicyBuilder::allow(std::string_view entry, std::string_view reason) {
  if (entry.starts_with('@')) return allow_group(entry, reason == "seccomp.allow" ? "" : reason);
  return allow_syscall(entry, reason);
}

PolicyBuilder& PolicyBuilder::deny_syscall(std::string_view name) {
  if (auto problem = syscall_deny_problem(name)) {
    set_error(problem->wrap("seccomp.deny"));
  } else {
    denied_.emplace(name);
  }
  return *this;
}

PolicyBuilder& PolicyBuilder::allow_mq(const QueueGrant& grant, bool passed) {
  unsigned permissions = grant.owner ? config::kPermAll : grant.permissions;
  std::string base = grant.owner
                         ? cat("posix-mq slot ", grant.via, " (owner)")
                         : cat("posix-mq ", describe_permissions(permissions), " on ", grant.via);
  auto reason_for = [&](std::string_view word) {
    return grant.owner ? base : cat("posix-mq ", word, " on ", grant.via);
  };
  if (passed) {
    queues_passed_ = true;
    base += cat(", ", grant.path, " passed open");
  } else {
    mq_granted_ = true;
    mq_permissions_ |= permissions;
    add("mq_open", base);
  }
  add("mq_getsetattr", base);
  if ((permissions & config::kPermRead) != 0U) {
    for (auto name : {"mq_timedreceive", "mq_timedreceive_time64", "mq_notify"}) {
      add(name, reason_for(config::permission_word(config::kPermRead)));
    }
  }
  if ((permissions & config::kPermWrite) != 0U) {
    for (auto name : {"mq_timedsend", "mq_timedsend_time64"}) {
      add(name, reason_for(config::permission_word(config::kPermWrite)));
    }
  }
  if ((permissions & config::kPermDelete) != 0U) {
    add("mq_unlink", reason_for(config::permission_word(config::kPermDelete)));
  }
  return *this;
}

PolicyBuilder& PolicyBuilder::mediate_queues() {
  mediate_queues_ = true;
  return *this;
}

PolicyBuilder& PolicyBuilder::mediate_shm(const std::vector<std::string>& names) {
  shm_routed_.insert(names.begin(), names.end());
  return *this;
}

PolicyBuilder& PolicyBuilder::allow_sd_notify() {
  sd_notify_ = true;
  for (auto name : kSdNotifySyscalls) add(name, kSdNotifyReason);
  return *this;
}

PolicyBuilder& PolicyBuilder::without_pseudo_code() {
  pseudo_code_ = false;
  return *this;
}

std::string PolicyBuilder::fingerprint() const {
  std::string key = cat("native=", native_, " default=", default_action_, " abis=");
  for (std::uint32_t token : architectures_) key += cat(token, ",");
  key += cat(" mq=", mq_granted_ ? 1 : 0, "/", mq_permissions_,
             " mediate=", mediate_queues_ ? 1 : 0, " passed=", queues_passed_ ? 1 : 0);
  key += " shm=";
  for (const auto& name : shm_routed_) key += name + ",";
  key += cat(" sd-notify=", sd_notify_ ? 1 : 0);
  key += " allow=";
  for (const auto& [name, reasons] : allowed_) key += name + ",";
  key += " named=";
  for (const auto& name : named_) key += name + ",";
  key += " deny=";
  for (const auto& name : denied_) key += name + ",";
  return key;
}

Result<CompiledPolicy> PolicyBuilder::build() {
  if (error_) return std::unexpected(*error_);
  Context context(seccomp_init(default_action_), &seccomp_release);
  if (!context) return fail("seccomp_init failed", std::string(kFilterHint));
  void* ctx = context.get();

  CompiledPolicy policy;
  if (native_ != seccomp_arch_native()) {
    if (seccomp_arch_add(ctx, native_) != 0 || seccomp_arch_remove(ctx, SCMP_ARCH_NATIVE) != 0) {
      return fail(cat("seccomp_arch_add ", architecture_name(native_), " failed"));
    }
  }
  for (std::uint32_t token : architectures_) {
    policy.architectures.push_back(architecture_name(token));
    if (token == native_) continue;
    if (int rc = seccomp_arch_add(ctx, token); rc != 0 && rc != -EEXIST) {
      return fail_errno(cat("seccomp_arch_add ", architecture_name(token)), -rc);
    }
  }
  // Syscalls of an ABI outside the filter get the same answer as any other denied syscall:
  // EPERM in strict mode, logged and allowed in complain mode. Mediated, they reach the
  // supervisor, which serves no ABI outside the filter and refuses them with a line (SPEC §6).
  // Logged and allowed (complain without mediation), a foreign ABI's calls would run
  // unfiltered: they are refused.
  const std::uint32_t bad_arch =
      default_action_ == SCMP_ACT_LOG ? SCMP_ACT_ERRNO(EPERM) : default_action_;
  if (int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, bad_arch); rc != 0) {
    return fail_errno("seccomp_attr_set SCMP_FLTATR_ACT_BADARCH", -rc);
  }
  // A binary tree over syscall numbers: the cost of an allowed syscall stays flat as the
  // allowlist grows.
  if (int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2); rc != 0) {
    return fail_errno("seccomp_attr_set SCMP_FLTATR_CTL_OPTIMIZE", -rc, std::string(kFilterHint));
  }

  for (const auto& name : denied_) allowed_.erase(name);
  // glibc's setrlimit is prlimit64 with a new limit (pid 0): whatever allows setrlimit
  // (@process, or the name) also allows prlimit64 whole, so that setrlimit(3) works.
  const bool sets_limits = allowed_.contains("setrlimit");

  for (const auto& [name, reasons] : allowed_) {
    bool real = std::any_of(architectures_.begin(), architectures_.end(), [&](auto token) {
      return seccomp_syscall_resolve_name_arch(token, name.c_str()) >= 0;
    });
    if (!real) continue;  // not a syscall on any ABI of this filter
    int number = seccomp_syscall_resolve_name(name.c_str());
    int rc = 0;
    if (mediate_queues_ && (name == "mq_open" || name == "mq_unlink")) {
      continue;  // decided by the supervisor, below
    }
    // Named one by one in seccomp.allow, clone, clone3 and prlimit64 are allowed whole.
    bool restricted = !named_.contains(name);
    std::vector<std::string> listed = reasons;
    if (shm_routed_.contains(name)) {
      rc = add_shm_routing_rules(ctx, name, number, default_action_);
      listed = {cat(join(reasons, ", "), " (", name.starts_with("open") ? kShmCreateNote
                                                                         : kShmUnlinkNote, ")")};
    } else if (name == "mq_open" && mq_granted_) {
      rc = add_mq_open_rules(ctx, number, mq_permissions_, policy.mq_open_flags);
    } else if (name == "socket" && restricted && sd_notify_ &&
               std::all_of(reasons.begin(), reasons.end(),
                           [](const std::string& why) { return why == kSdNotifyReason; })) {
      rc = add_sd_notify_socket_rule(ctx, number);
      listed = {cat(join(reasons, ", "), " (", kSdNotifySocketNote, ")")};
    } else if (name == "clone" && restricted) {
      rc = add_clone_rule(ctx, number);
      listed = {cat(join(reasons, ", "), " (", kCloneNote, ")")};
    } else if (name == "clone3" && restricted) {
      rc = add_clone3_rule(ctx, number, default_action_);
      listed = {cat(join(reasons, ", "), ": ", kClone3Note)};
    } else if (name == "prlimit64" && restricted && !sets_limits) {
      rc = add_prlimit64_read_rule(ctx, number);
      listed = {cat(join(reasons, ", "), " (", kPrlimitReadNote, ")")};
    } else if (name == "prlimit64" && restricted) {
      rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, number, 0);
      listed = {cat(join(reasons, ", "), " (", kPrlimitSetNote, ")")};
    } else {
      rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, number, 0);
    }
    if (rc != 0) return fail_errno(cat("seccomp_rule_add ", name), -rc);
    policy.allowed.push_back({name, std::move(listed)});
  }

  if (default_action_ == SCMP_ACT_LOG) {
    if (int rc = add_complain_refusals(ctx, allowed_, named_); rc != 0) {
      return fail_errno("seccomp_rule_add for what complain mode still refuses", -rc);
    }
  }

  // Only where the default would not refuse them the same way already (libseccomp refuses a
  // rule whose action is the default one), and not where something allows them.
  if (sd_notify_ && default_action_ != SCMP_ACT_ERRNO(EPERM) && !allowed_.contains("getsockopt") &&
      !allowed_.contains("setsockopt")) {
    if (int rc = add_sd_notify_quiet_refusals(ctx); rc != 0) {
      return fail_errno("seccomp_rule_add getsockopt/setsockopt (sd_notify)", -rc);
    }
  }

  if (mediate_queues_) {
    for (const char* name : {"mq_open", "mq_unlink"}) {
      // Every queue passed open: no name to open, so mq_open is a refused syscall (the
      // supervisor answers EPERM and reports it), not a mediated one.
      if (queues_passed_ && !mq_granted_ && std::string_view(name) == "mq_open") continue;
      int number = seccomp_syscall_resolve_name(name);
      // With a notify default they already go to the listener, and libseccomp refuses a rule
      // whose action is the default one.
      int rc = default_action_ == SCMP_ACT_NOTIFY
                   ? 0
                   : seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, number, 0);
      if (rc != 0) {
        return fail_errno(cat("seccomp_rule_add ", name, " (notify)"), -rc,
                          "user notification requires Linux 5.0 and libseccomp 2.5");
      }
      auto reason = allowed_.find(name);
      policy.allowed.push_back(
          {name,
           {reason != allowed_.end() ? join(reason->second, ", ") + ", mediated by name"
                                     : std::string("mediated by name (no grant)")}});
    }
    std::sort(policy.allowed.begin(), policy.allowed.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
    policy.mq_open_flags = "checked per queue name by the supervisor";
  }
  policy.program.uses_notify =
      mediate_queues_ || !shm_routed_.empty() || default_action_ == SCMP_ACT_NOTIFY;

  auto bpf =
      export_to_memory("seccomp_export_bpf", [&](int fd) { return seccomp_export_bpf(ctx, fd); });
  if (!bpf) return std::unexpected(bpf.error());
  if (pseudo_code_) {
    auto pfc =
        export_to_memory("seccomp_export_pfc", [&](int fd) { return seccomp_export_pfc(ctx, fd); });
    if (!pfc) return std::unexpected(pfc.error());
    policy.pfc = std::move(*pfc);
  }
  if (bpf->empty() || bpf->size() % sizeof(sock_filter) != 0) {
    return fail(cat("seccomp_export_bpf produced ", bpf->size(), " bytes, not a BPF program"));
  }
  policy.program.instructions.resize(bpf->size() / sizeof(sock_filter));
  std::copy(bpf->begin(), bpf->end(), reinterpret_cast<char*>(policy.program.instructions.data()));
  return policy;
}

}  // namespace ipcrt::runtime
