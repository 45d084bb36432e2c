// Acting with a mediated caller's credentials (SPEC §6). The supervisor performs a granted
// mq_open or mq_unlink itself, but the kernel must judge it as it would have judged the
// caller: the caller's fs uid, fs gid, supplementary groups and effective capabilities decide
// access to an existing queue, own what a pattern creates, and bind the sticky rule of the
// mqueue root on unlink. A mediation thread takes on those credentials for itself only
// (setfsuid, setfsgid, setgroups and capset are per-thread in the kernel; glibc's setgroups
// wrapper is not, so the raw syscalls are used) and the rest of the supervisor keeps its own.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "platform/users.hpp"

namespace ipcrt::runtime {

// What the kernel checks a queue operation with.
struct Credentials {
  uid_t uid = 0;                   // the fs uid
  gid_t gid = 0;                   // the fs gid
  std::vector<gid_t> groups;       // supplementary, as the kernel lists them (sorted)
  std::uint64_t capabilities = 0;  // effective set, bit N = capability N

  bool operator==(const Credentials&) const = default;
};

// A slot's service as the owner of its declared queues: its user, group and groups, and no
// capabilities (confined services keep none).
[[nodiscard]] Credentials credentials_of(const platform::Identity& identity);

// The credentials every task of a confined service has for as long as it lives, when nothing
// it can do changes them: launched with one uid and one gid in all their slots, not root, and
// with no capability at all (no ambient one), under no_new_privs. setresuid/setresgid and
// setfsuid/setfsgid can then only pick among equal ids, setgroups and capset need what it
// lacks, and no exec gains anything. Mediation then judges its calls with these instead of
// reading /proc/<tid>/status for each (a third of a mediated mq_open's cost, issue 21).
// Empty for root or a service that keeps capabilities: those are read per call.
[[nodiscard]] std::optional<Credentials> immutable_credentials(const platform::Identity& identity,
                                                               bool keeps_capabilities);

struct CallerCredentials {
  Credentials credentials;
  mode_t umask = 022;
};

// Parses /proc/<tid>/status: the fourth (fs) ids of `Uid:` and `Gid:`, `Groups:`, `CapEff:`
// and `Umask:`. Fails if one is missing or malformed.
[[nodiscard]] Result<CallerCredentials> parse_proc_status(std::string_view status);
// Reads them for the task `tid` (a thread id: credentials are per thread).
[[nodiscard]] Result<CallerCredentials> read_caller_credentials(pid_t tid);

// The calling thread's credentials switched to someone else's and back. A switch costs a few
// syscalls (about 4 µs together), and the callers of one service share credentials, so a
// mediation thread keeps acting as the last caller until another one needs other
// credentials, and restores its own only at the end: the destructor restores them.
//
// While acting, the thread keeps CAP_SYS_PTRACE (if it had it) besides the caller's own
// capabilities: reading the next caller's memory (process_vm_readv) needs it, and no queue
// check of the kernel looks at it.
//
// Use it on one thread only: the one that created it.
class ActingThread {
 public:
  ActingThread();
  ActingThread(const ActingThread&) = delete;
  ActingThread& operator=(const ActingThread&) = delete;
  ~ActingThread();

  // From now on the kernel judges this thread's calls with `who`'s credentials. On failure
  // (e.g. a runtime without CAP_SETUID asked to act as another uid) the thread's own
  // credentials are back and the error says why.
  [[nodiscard]] Status act_as(const Credentials& who);
  // Back to the thread's own credentials.
  [[nodiscard]] Status restore();

  [[nodiscard]] const Credentials& own() const { return own_; }

 private:
  [[nodiscard]] Status set_effective(std::uint64_t effective);

  Credentials own_;
  std::uint64_t permitted_ = 0;
  std::uint64_t inheritable_ = 0;
  std::uint64_t effective_now_ = 0;    // what capset last set
  std::optional<Credentials> acting_;  // empty: the thread's own
  Status captured_;                    // whether the constructor could read the own ones
};

}  // namespace ipcrt::runtime
