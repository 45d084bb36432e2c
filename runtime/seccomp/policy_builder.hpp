// A fluent builder for seccomp allowlists in the style of sandbox2's PolicyBuilder: each call
// adds to the policy; the first error (unknown syscall or group, a never-allowed syscall
// inside a group, an unknown architecture) sticks and is returned by build(). build()
// compiles with libseccomp in the calling process and exports BPF and PFC to memory, so the
// child that loads the program never calls libseccomp.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "platform/seccomp.hpp"
#include "runtime/plan.hpp"

namespace ipcrt::runtime {

struct AllowedSyscall {
  std::string name;
  std::vector<std::string> reasons;  // "@default", "seccomp.allow", "posix-mq read on a:b"
};

struct CompiledPolicy {
  platform::BpfProgram program;            // ready for platform::load_seccomp_filter
  std::string pfc;                         // libseccomp's pseudo filter code
  std::vector<AllowedSyscall> allowed;     // sorted by name; only names real on some ABI
  std::vector<std::string> architectures;  // libseccomp names, native first
  std::string mq_open_flags;               // the flag restriction on mq_open, "" when unrestricted
};

class PolicyBuilder {
 public:
  // `architecture`: "native" or a libseccomp name ("x86_64", "aarch64", "arm").
  explicit PolicyBuilder(std::string_view architecture = "native");

  // Action for everything not allowed: SCMP_ACT_ERRNO(EPERM) (strict, the default) or
  // SCMP_ACT_LOG (complain). Also used for syscalls of ABIs outside the filter. With
  // SCMP_ACT_LOG, what complain never lets through (complain_limits.hpp) and foreign ABIs are
  // refused with EPERM.
  PolicyBuilder& default_action(std::uint32_t action);
  // An extra ABI (seccomp.architectures), by libseccomp name.
  PolicyBuilder& add_architecture(std::string_view architecture);

  PolicyBuilder& allow_group(std::string_view group, std::string_view reason = {});
  // One syscall by name; never-allowed syscalls are accepted here (seccomp.allow by name).
  PolicyBuilder& allow_syscall(std::string_view name, std::string_view reason);
  // A seccomp.allow entry: "@group" or a syscall name.
  PolicyBuilder& allow(std::string_view entry, std::string_view reason = "seccomp.allow");
  // Removes `name` from the allowed set whatever added it (seccomp.deny); applied at build().
  PolicyBuilder& deny_syscall(std::string_view name);
  // The mq_* syscalls for one posix-mq grant, and the union flag filter on mq_open.
  // `passed`: the queue arrives open (pass-queues, SPEC §11), so the grant adds no mq_open;
  // once every grant is passed, mq_open is refused like any syscall not allowed, mediated
  // or not.
  PolicyBuilder& allow_mq(const QueueGrant& grant, bool passed = false);
  // Name-level mediation (SPEC §6): mq_open and mq_unlink go to the supervisor's listener
  // (SCMP_ACT_NOTIFY) instead of being decided by flags alone; the supervisor checks the name
  // and the flags against the grants. Combine with default_action(SCMP_ACT_NOTIFY) so that the
  // supervisor also sees, and reports, every other refused syscall.
  PolicyBuilder& mediate_queues();
  // Shared-memory objects the service may write (SPEC §2.3): of `names` (open, openat, unlink,
  // unlinkat), those the policy allows send their exclusive creates (O_CREAT|O_EXCL) and
  // unlinks to the supervisor, which lets every call that is not about a granted object
  // through unchanged (runtime/mediation/shm_calls.hpp); everything else stays with the
  // kernel. Combine with default_action(SCMP_ACT_NOTIFY).
  PolicyBuilder& mediate_shm(const std::vector<std::string>& names);
  // What the sd_notify protocol needs (SPEC §11, a `type: notify` service), and nothing of
  // @network-io beyond it: socket(AF_UNIX, SOCK_DGRAM) only, connect, and the sending calls
  // (kSdNotifySyscalls). socket keeps its argument filter unless something else allows it.
  PolicyBuilder& allow_sd_notify();

  // Leaves CompiledPolicy::pfc empty: `run` loads the program and never shows the pseudo
  // code, whose export costs about as much as the compile.
  PolicyBuilder& without_pseudo_code();

  // Everything the program depends on, the reasons left out: two builders with the same
  // fingerprint compile to the same program. Every member that build() reads to make the
  // program must be part of it. `run` keys its FilterCache by filter_key(), from the
  // builder's inputs; tests check that equal keys mean equal fingerprints.
  [[nodiscard]] std::string fingerprint() const;

  [[nodiscard]] Result<CompiledPolicy> build();

 private:
  void set_error(Error error);
  void add(std::string_view name, std::string_view reason);

  std::uint32_t native_ = 0;
  std::vector<std::uint32_t> architectures_;  // native first
  std::uint32_t default_action_ = 0;
  std::map<std::string, std::vector<std::string>, std::less<>> allowed_;
  std::set<std::string, std::less<>> denied_;
  // Allowed one by one: no argument filter (groups limit clone, clone3 and prlimit64).
  std::set<std::string, std::less<>> named_;
  unsigned mq_permissions_ = 0;  // union over grants: the limit seccomp can enforce
  bool mq_granted_ = false;      // some grant allows mq_open
  bool queues_passed_ = false;   // some grant's queue is passed as a descriptor
  bool mediate_queues_ = false;
  std::set<std::string, std::less<>> shm_routed_;  // mediate_shm()
  bool sd_notify_ = false;
  bool pseudo_code_ = true;  // not in the fingerprint: it does not change the program
  std::optional<Error> error_;
};

// The syscalls of sd_notify(3): a datagram socket, connect(2), and sendto/sendmsg (send is
// sendto's twin where the ABI has it, as glibc's send() on 32-bit ARM uses it).
inline constexpr std::string_view kSdNotifySyscalls[] = {"socket", "connect", "sendto", "send",
                                                         "sendmsg"};
inline constexpr std::string_view kSdNotifyReason = "type notify (sd_notify)";

// The libseccomp name of an ABI token (SCMP_ARCH_*, equal to the kernel's AUDIT_ARCH_* but for
// x32), as `seccomp.architectures` spells it: "x86_64", "x86", "aarch64", "arm".
[[nodiscard]] std::string architecture_name(std::uint32_t token);

// "read,write" for a config::Permission bit set; "none" when empty.
[[nodiscard]] std::string describe_permissions(unsigned permissions);

}  // namespace ipcrt::runtime
