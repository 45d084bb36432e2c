// Name-level mediation of mq_open and mq_unlink (SPEC §6). A confined service's mq_open and
// mq_unlink stop at the supervisor (SECCOMP_RET_USER_NOTIF). For each one the supervisor
// first copies everything it will act on (the name, the caller's struct mq_attr in the
// caller's ABI layout, the caller's credentials and umask from /proc), then checks that the
// notification is still pending, then decides on the copies: changing the name or the
// attributes in the caller's memory after the check changes nothing. A granted call is
// performed with the caller's credentials (runtime/mediation/credentials.hpp), so the kernel
// decides access to an existing queue exactly as if the caller had made the call; a declared
// path is created or unlinked as the slot's service, a pattern queue as the caller, within
// the service's pattern budget. Only the native ABI and those in `seccomp.architectures` are
// served.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "platform/users.hpp"
#include "runtime/mediation/budget.hpp"
#include "runtime/mediation/credentials.hpp"
#include "runtime/mediation/decision.hpp"
#include "runtime/mediation/denial_log.hpp"
#include "runtime/mediation/shm_calls.hpp"
#include "runtime/plan.hpp"

namespace ipcrt::runtime {

// A queue path or pattern of a slot the service is granted, as mediation acts on it.
struct MediatedQueue {
  std::string path;  // "/telemetry", or a pattern "/camera-*"
  std::string slot;  // "sensor-hub:telemetry"
  // A declared path is created with these (the manifest's, as boot creates it), owned by
  // `owner`; a pattern queue's mode is clamped to `mode`.
  long max_messages = 0;
  long message_size = 0;
  mode_t mode = 0660;
  platform::Identity owner;  // the slot's service
};

// What the supervisor knows of one confined service's listener.
struct MediatedService {
  std::string name;
  std::vector<QueueGrant> grants;
  // pass-queues (SPEC §11): queues the service receives open from fd 3 and never opens by
  // name. With every grant passed, mq_open is a refused syscall like any other.
  std::vector<PassedQueue> passed;
  std::vector<MediatedQueue> queues;  // the paths and patterns of the grants' slots
  // The shared-memory objects it may write, and the syscalls its filter sends here for them
  // (shm_mediated_syscalls(): open, openat, unlink, unlinkat less seccomp.deny): their
  // unlinks and exclusive creates of an object are answered here (SPEC §2.3), every other
  // such call is let through.
  std::vector<MediatedObject> objects;
  std::vector<std::string> shm_syscalls;
  uid_t uid = 0;  // the service's user: its pattern queues that exist at boot count
  // What every caller of the service is judged with, when nothing can change it
  // (immutable_credentials()); empty: each caller's are read from /proc for its call.
  std::optional<Credentials> fixed_credentials;
  // ABIs served besides the native one (SCMP_ARCH_* tokens), from `seccomp.architectures`:
  // the service's filter covers exactly these, so a notification from any other ABI is a
  // call the policy never allowed (e.g. `int 0x80` from an x86_64 service).
  std::vector<std::uint32_t> architectures;
  // SPEC §6 / §13: what the service may create through patterns, from `resources.queues` and
  // `resources.queue-bytes` (runtime/mediation/server.cpp); the defaults are SPEC's.
  PatternLimits pattern_limits;
  // The kernel's msg_default / msgsize_default: what a pattern queue created without
  // attributes is charged to the budget before it exists. msg_max / msgsize_max: attributes
  // beyond them, which the kernel refuses with EINVAL, get EINVAL rather than a budget errno.
  long msg_default = 10;
  long msgsize_default = 8192;
  long msg_max = 10;
  long msgsize_max = 8192;
  // Notifications answered per second once `answer_burst` is used up; 0: unlimited. A service
  // looping on mq_open (refused or not) then costs the supervisor a bounded share of a CPU,
  // and waits in its own calls.
  double answers_per_second = 2000;
  double answer_burst = 200;
  // complain: log at level=info and let the kernel run the call with the caller's own
  // credentials, instead of refusing it.
  bool complain = false;
  // For syscalls that reach the supervisor because the filter's default action refused them:
  // what would allow one ("@network-io", "seccomp.allow: ptrace").
  std::function<std::string(const std::string& syscall)> need_for_syscall;
};

// One refused call, as `ipcrt suggest` collects them (SPEC §15): given to the observer for
// every refused call, before the rate limit of the denial lines. The views are valid only
// during the call.
struct DenialEvent {
  std::string_view service;
  std::string_view syscall;
  std::string_view argument;  // "" when nothing about it matters
  std::string_view need;      // as the denial line says it
  bool recoverable = false;   // a call programs make and go on without (SPEC §15)
  // Why complain mode refused it too (runtime/seccomp/complain_limits.hpp); "" when the call
  // was refused in strict mode or let through in complain mode.
  std::string_view still_refused;
};
// Called on the service's mediation thread with the service's mediation lock held: it must
// be quick, must not call back into mediation, and must be safe to call from the threads of
// several services at once.
using DenialObserver = std::function<void(const DenialEvent&)>;

// Whether this kernel supports mediation (user notification, ADDFD+SEND, pidfd_getfd);
// probed for real once per process. IPCRT_MEDIATION=off in the environment turns it off.
[[nodiscard]] const Status& mediation_support();

// The supervisor's side of one service: its grants, denial log and pattern budget, shared by
// the listeners of the service's successive runs. handle() may run on several threads at once
// (a restarted service's new listener while the old one drains): the log and the budget are
// behind a lock, held only while deciding and acting, never while reading the caller's memory
// or handing a descriptor over.
class ServiceMediator {
 public:
  explicit ServiceMediator(MediatedService service);
  ServiceMediator(const ServiceMediator&) = delete;
  ServiceMediator& operator=(const ServiceMediator&) = delete;
  ~ServiceMediator();

  // Counts the pattern queues the service's user owns among `existing` (read at boot)
  // against its budget: they were created through its patterns by an earlier run.
  void count_existing(const std::vector<ExistingQueue>& existing);

  // Handles one pending notification on `listener`: mediates mq_open and mq_unlink, answers
  // the unlinks and exclusive creates of its shared-memory objects, reports and refuses
  // (EPERM) any other syscall the filter sent here. Never fails the supervisor: a caller that
  // died or a notification that became invalid is dropped. `thread` is the calling thread's
  // ActingThread; it keeps the last caller's credentials afterwards. true: the call was let
  // through unread but for its path (an unlink or exclusive create elsewhere), which costs the
  // supervisor a fraction of a mediated call.
  bool handle(int listener, ActingThread& thread);

  // Writes the suppressed-denials line if one is due.
  void flush_denials();
  // Where the service's lines go (DenialLog::route_to); by default the runtime's log.
  void route_denials(DenialLog::Route route);
  // Every refused call is also given to `observer` (none by default).
  void observe_denials(DenialObserver observer);
  // A failure of mediation itself, as a level=error line within the service's line rate.
  void report_error(std::string_view what, std::string_view error);
  [[nodiscard]] bool denials_pending();
  [[nodiscard]] std::chrono::steady_clock::duration denial_interval() const;

  [[nodiscard]] const MediatedService& service() const { return service_; }
  // What the pattern budget counts now: queues and bytes.
  [[nodiscard]] std::pair<std::size_t, std::uint64_t> pattern_usage();

 private:
  struct Call;
  struct Answer;
  // `decision` was made on the copied name.
  [[nodiscard]] Answer mediate_open(const Call& call, const MediationDecision& decision,
                                    ActingThread& thread);
  [[nodiscard]] Answer mediate_unlink(const Call& call, const MediationDecision& decision,
                                      ActingThread& thread);
  [[nodiscard]] Answer open_as(const Call& call, ActingThread& thread, const Credentials& who,
                               const std::string& path, int flags);
  [[nodiscard]] Answer failure(const Call& call, std::string_view what, const Error& error);
  // Takes on `who`'s credentials; on failure the answer to give instead.
  [[nodiscard]] std::optional<Answer> become(const Call& call, ActingThread& thread,
                                             const Credentials& who);
  [[nodiscard]] Answer create_from_pattern(const Call& call, ActingThread& thread,
                                           const std::string& path, const MediatedQueue& queue);
  [[nodiscard]] Answer create_declared(const Call& call, ActingThread& thread,
                                       const std::string& path, const MediatedQueue& queue);
  // An unlink or exclusive create that may be about a shared-memory object.
  [[nodiscard]] Answer mediate_shm_call(int listener, Call& call, bool& passed,
                                        ActingThread& thread);
  // `recoverable`: a call programs make and go on without (logged at info, SPEC §15).
  // `still_refused`: why complain mode refuses it too (complain_refusal()); "" to let it
  // through in complain mode.
  [[nodiscard]] Answer refuse(const Call& call, const std::string& argument,
                              const std::string& need, int errnum, bool recoverable = false,
                              std::string_view still_refused = {});
  void report(const Call& call, const std::string& argument, const std::string& need,
              bool recoverable = false, std::string_view still_refused = {});
  [[nodiscard]] const MediatedQueue* queue_of(const QueueGrant& grant) const;
  // An ABI the service's filter covers, and its numbers of the mediated syscalls.
  struct ServedAbi {
    std::uint32_t abi = 0;
    int mq_open = -1;
    int mq_unlink = -1;
    // Those of MediatedService::shm_syscalls; -1: not sent here for objects (absent on the
    // ABI, or taken away by seccomp.deny: then refused like any other syscall).
    int open = -1;
    int openat = -1;
    int unlink = -1;
    int unlinkat = -1;
  };
  [[nodiscard]] const ServedAbi* served_abi(std::uint32_t abi) const;
  [[nodiscard]] bool attributes_acceptable(const Call& call, const Credentials& caller) const;
  static void send(int listener, std::uint64_t id, Answer& answer);

  const MediatedService service_;
  std::vector<QueueGrant> open_grants_;  // the grants mq_open may use: those not passed
  bool opens_by_name_ = true;            // false: every grant is passed, mq_open is refused
  std::vector<ServedAbi> served_;  // the native ABI first
  std::mutex mutex_;               // guards log_ and budget_
  DenialLog log_;
  DenialObserver observer_;
  PatternBudget budget_;
};

}  // namespace ipcrt::runtime
