// Name-level mediation in the supervisor: one notification read, decided, acted on as the
// right user, answered (SPEC §6).
#include "runtime/mediation/notification.hpp"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <mqueue.h>
#include <seccomp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <limits>

#include "common/log.hpp"
#include "common/text.hpp"
#include "config/manifest.hpp"
#include "platform/fd.hpp"
#include "platform/mqueue.hpp"
#include "platform/seccomp_notify.hpp"
#include "runtime/mediation/denial_detail.hpp"
#include "runtime/seccomp/complain_limits.hpp"
#include "runtime/seccomp/policy_builder.hpp"

namespace ipcrt::runtime {

// One notification and everything copied from the caller before the validity check.
struct ServiceMediator::Call {
  platform::Notification notification;
  std::uint32_t abi = 0;  // SCMP_ARCH_* of the caller's ABI
  bool wide_abi = true;   // 64-bit longs and pointers
  std::string syscall;
  Result<std::string> name = fail("not read");
  bool has_attributes = false;  // mq_open's attribute pointer is not NULL
  Status attributes_read;
  std::int64_t max_messages = 0;
  std::int64_t message_size = 0;
  Result<CallerCredentials> caller = fail("not read");

  [[nodiscard]] pid_t pid() const { return notification.pid; }
  // The kernel takes mq_open's oflag as an int and its mode as umode_t: the upper bits of
  // the registers mean nothing.
  [[nodiscard]] int flags() const { return static_cast<int>(notification.args[1]); }
  [[nodiscard]] mode_t mode() const { return static_cast<mode_t>(notification.args[2]) & 0777; }
};

struct ServiceMediator::Answer {
  enum class Kind { Drop, Error, Value, Descriptor, Continue };
  Kind kind = Kind::Drop;
  int errnum = 0;
  platform::UniqueFd fd;
  bool cloexec = true;  // Descriptor: of the caller's copy (an mq_open descriptor always is)

  static Answer drop() { return {}; }
  static Answer error(int errnum) { return {Kind::Error, errnum, {}}; }
  static Answer success() { return {Kind::Value, 0, {}}; }
  static Answer descriptor(int fd) { return {Kind::Descriptor, 0, platform::UniqueFd(fd)}; }
  static Answer let_through() { return {Kind::Continue, 0, {}}; }
};

namespace {

// The longest path to a shared-memory object that is answered (mediate_shm_call).
constexpr std::size_t kShmPathMax = 511;

// x32 shares x86_64's AUDIT_ARCH and marks its syscall numbers with this bit.
constexpr int kX32SyscallBit = 0x40000000;

std::string syscall_name(std::uint32_t abi, int number) {
  char* name = seccomp_syscall_resolve_num_arch(abi, number);
  if (name == nullptr) return cat("syscall-", number);
  std::string result(name);
  std::free(name);
  return result;
}

// The libseccomp token of the caller's ABI: the AUDIT_ARCH of the notification, or x32.
std::uint32_t abi_of(const platform::Notification& call) {
  if (call.arch == AUDIT_ARCH_X86_64 && (call.syscall & kX32SyscallBit) != 0) return SCMP_ARCH_X32;
  return call.arch;
}

// Whether the ABI's C long is 64 bits (x32's struct mq_attr uses 64-bit fields too).
bool wide(std::uint32_t abi) {
  return abi == SCMP_ARCH_X32 || (abi & __AUDIT_ARCH_64BIT) != 0;
}

long as_long(std::int64_t value) {
  // A 64-bit caller of a 32-bit supervisor: a value no long holds is beyond every kernel
  // limit anyway, and stays beyond it.
  if (value > std::numeric_limits<long>::max()) return std::numeric_limits<long>::max();
  if (value < std::numeric_limits<long>::min()) return std::numeric_limits<long>::min();
  return static_cast<long>(value);
}

// struct mq_attr in the caller's layout: mq_flags, mq_maxmsg, mq_msgsize, mq_curmsgs and four
// reserved fields, each a C long of the caller's ABI. The kernel copies all eight.
template <class Long>
Status read_attributes(pid_t pid, std::uint64_t address, std::int64_t& max_messages,
                       std::int64_t& message_size) {
  Long fields[8]{};
  if (auto read = platform::read_remote_memory(pid, address, fields, sizeof fields); !read) {
    return read;
  }
  max_messages = fields[1];
  message_size = fields[2];
  return {};
}

std::uint64_t charge_of(std::int64_t max_messages, std::int64_t message_size) {
  if (max_messages <= 0 || message_size <= 0) return 0;  // the kernel refuses it: EINVAL
  return platform::queue_charge_bytes(as_long(max_messages), as_long(message_size));
}

// mq_open's flags that matter for an open made on the caller's behalf. Close-on-exec: the
// supervisor's copy must not reach a service forked meanwhile (the caller's copy is
// close-on-exec too, as the kernel makes every mq_open descriptor).
int access_flags(int flags) {
  return (flags & (O_ACCMODE | O_NONBLOCK)) | O_CLOEXEC;
}

// Whether the kernel would accept these attributes from the caller (ipc/mqueue.c
// mq_attr_ok): positive, within the hard ceilings, and within msg_max / msgsize_max unless
// the caller has CAP_SYS_RESOURCE.
bool attributes_within(std::int64_t max_messages, std::int64_t message_size, long msg_max,
                       long msgsize_max, const Credentials& caller) {
  if (max_messages <= 0 || message_size <= 0) return false;
  if (max_messages > platform::kHardMsgMax || message_size > platform::kHardMsgSizeMax) {
    return false;
  }
  const bool unbounded = (caller.capabilities & (std::uint64_t{1} << CAP_SYS_RESOURCE)) != 0;
  return unbounded || (max_messages <= msg_max && message_size <= msgsize_max);
}

bool is_pattern(const QueueGrant& grant) {
  return grant.path.ends_with('*');
}

unsigned granted(const QueueGrant& grant) {
  return grant.owner ? config::kPermAll : grant.permissions;
}

}  // namespace

bool ServiceMediator::attributes_acceptable(const Call& call, const Credentials& caller) const {
  return attributes_within(call.max_messages, call.message_size, service_.msg_max,
                           service_.msgsize_max, caller);
}

ServiceMediator::ServiceMediator(MediatedService service)
    : service_(std::move(service)), log_(service_.name), budget_(service_.pattern_limits) {
  for (const auto& grant : service_.grants) {
    const bool passed = std::any_of(service_.passed.begin(), service_.passed.end(),
                                    [&](const PassedQueue& q) { return q.path == grant.path; });
    if (!passed) open_grants_.push_back(grant);
  }
  opens_by_name_ = service_.passed.empty() || !open_grants_.empty();
  std::vector<std::uint32_t> abis = {seccomp_arch_native()};
  abis.insert(abis.end(), service_.architectures.begin(), service_.architectures.end());
  auto routed = [&](std::uint32_t abi, const char* name) {
    const auto& names = service_.shm_syscalls;
    return std::find(names.begin(), names.end(), name) == names.end()
               ? -1
               : seccomp_syscall_resolve_name_arch(abi, name);
  };
  for (std::uint32_t abi : abis) {
    served_.push_back({abi, seccomp_syscall_resolve_name_arch(abi, "mq_open"),
                       seccomp_syscall_resolve_name_arch(abi, "mq_unlink"), routed(abi, "open"),
                       routed(abi, "openat"), routed(abi, "unlink"), routed(abi, "unlinkat")});
  }
}

ServiceMediator::~ServiceMediator() = default;

void ServiceMediator::count_existing(const std::vector<ExistingQueue>& existing) {
  std::lock_guard lock(mutex_);
  for (const auto& queue : existing) {
    if (queue.owner_uid != service_.uid || queue.max_messages <= 0) continue;
    for (const auto& grant : service_.grants) {
      if (is_pattern(grant) && (granted(grant) & config::kPermCreate) != 0 &&
          queue_path_matches(grant.path, queue.path)) {
        budget_.add(queue.path, charge_of(queue.max_messages, queue.message_size), 0);
        break;
      }
    }
  }
}

void ServiceMediator::flush_denials() {
  std::lock_guard lock(mutex_);
  log_.flush();
}

void ServiceMediator::route_denials(DenialLog::Route route) {
  std::lock_guard lock(mutex_);
  log_.route_to(std::move(route));
}

void ServiceMediator::report_error(std::string_view what, std::string_view error) {
  Logfmt line("error", what);
  line.field("service", service_.name).field("error", error);
  std::lock_guard lock(mutex_);
  log_.report(line.text());
}

bool ServiceMediator::denials_pending() {
  std::lock_guard lock(mutex_);
  return log_.suppressed() > 0;
}

std::chrono::steady_clock::duration ServiceMediator::denial_interval() const {
  return log_.interval();
}

std::pair<std::size_t, std::uint64_t> ServiceMediator::pattern_usage() {
  std::lock_guard lock(mutex_);
  return {budget_.queues(), budget_.bytes()};
}

const ServiceMediator::ServedAbi* ServiceMediator::served_abi(std::uint32_t abi) const {
  for (const auto& served : served_) {
    if (served.abi == abi) return &served;
  }
  return nullptr;
}

const MediatedQueue* ServiceMediator::queue_of(const QueueGrant& grant) const {
  for (const auto& queue : service_.queues) {
    if (queue.path == grant.path) return &queue;
  }
  return nullptr;
}

void ServiceMediator::report(const Call& call, const std::string& argument, const std::string& need,
                             bool recoverable, std::string_view still_refused) {
  if (observer_) {
    observer_(DenialEvent{service_.name, call.syscall, argument, need, recoverable, still_refused});
  }
  const bool let_through = service_.complain && still_refused.empty();
  Logfmt line(let_through || recoverable ? "info" : "warn", "denied");
  line.field("service", service_.name).field("pid", call.pid()).field("syscall", call.syscall);
  if (!argument.empty()) line.field("arg", argument);
  line.field("need", need);
  log_.report(line.text(), call.syscall, need);
}

// Reports a call mediation refuses, then refuses it with `errnum` or, in complain mode, lets
// the kernel run it with the caller's own credentials (unless complain refuses it too).
ServiceMediator::Answer ServiceMediator::refuse(const Call& call, const std::string& argument,
                                                const std::string& need, int errnum,
                                                bool recoverable, std::string_view still_refused) {
  report(call, argument, need, recoverable, still_refused);
  return service_.complain && still_refused.empty() ? Answer::let_through() : Answer::error(errnum);
}

void ServiceMediator::observe_denials(DenialObserver observer) {
  std::lock_guard lock(mutex_);
  observer_ = std::move(observer);
}

// A call mediation cannot make (no credentials to judge it with, or they cannot be taken
// on): refused with EACCES and reported at level=error, within the service's rate limit of
// lines, since a service may repeat whatever causes it.
ServiceMediator::Answer ServiceMediator::failure(const Call& call, std::string_view what,
                                                 const Error& error) {
  Logfmt line("error", what);
  line.field("service", service_.name)
      .field("pid", call.pid())
      .field("syscall", call.syscall)
      .field("error", error.describe());
  log_.report(line.text());
  return Answer::error(EACCES);
}

std::optional<ServiceMediator::Answer> ServiceMediator::become(const Call& call,
                                                               ActingThread& thread,
                                                               const Credentials& who) {
  if (auto acting = thread.act_as(who); !acting) {
    return failure(call, "cannot act with a mediated caller's credentials", acting.error());
  }
  return std::nullopt;
}

ServiceMediator::Answer ServiceMediator::open_as(const Call& call, ActingThread& thread,
                                                 const Credentials& who, const std::string& path,
                                                 int flags) {
  if (auto failed = become(call, thread, who)) return std::move(*failed);
  mqd_t queue = ::mq_open(path.c_str(), access_flags(flags));
  return queue < 0 ? Answer::error(errno) : Answer::descriptor(queue);
}

// A queue through a pattern: created as the caller (so it owns it, as if it had created it
// itself), its mode clamped to the slot's, within the service's budget.
ServiceMediator::Answer ServiceMediator::create_from_pattern(const Call& call, ActingThread& thread,
                                                             const std::string& path,
                                                             const MediatedQueue& queue) {
  const CallerCredentials& caller = *call.caller;
  const int flags = call.flags();
  const bool exclusive = (flags & O_EXCL) != 0;
  const mode_t mode = call.mode() & ~caller.umask & queue.mode;
  const std::uint64_t charge = call.has_attributes
                                   ? charge_of(call.max_messages, call.message_size)
                                   : charge_of(service_.msg_default, service_.msgsize_default);
  if (budget_.check(charge) != PatternBudget::Over::Nothing) {
    // Queues of the service that someone else unlinked no longer count.
    budget_.forget_missing([](const std::string& counted, ino_t inode) {
      mqd_t opened = ::mq_open(counted.c_str(), O_RDONLY | O_CLOEXEC);
      if (opened < 0) return errno != ENOENT;  // EACCES: it exists
      platform::UniqueFd owned(opened);
      struct stat info {};
      return inode == 0 || ::fstat(opened, &info) != 0 || info.st_ino == inode;
    });
  }
  if (const auto over = budget_.check(charge); over != PatternBudget::Over::Nothing) {
    // Opening a queue that exists costs nothing: only creating one is refused.
    if (!exclusive) {
      Answer existing = open_as(call, thread, caller.credentials, path, flags);
      if (existing.kind != Answer::Kind::Error || existing.errnum != ENOENT) return existing;
    }
    // The kernel checks the attributes before what they cost: so does the answer.
    if (call.has_attributes && !attributes_acceptable(call, caller.credentials)) {
      return Answer::error(EINVAL);
    }
    const std::string need = over == PatternBudget::Over::Queues
                                 ? cat("resources.queues: ", budget_.queues() + 1)
                                 : cat("resources.queue-bytes: ", budget_.bytes() + charge);
    // The kernel's own answers when queues_max (ENOSPC) or RLIMIT_MSGQUEUE (EMFILE) is reached.
    if (!service_.complain) {
      return refuse(call, path, need, over == PatternBudget::Over::Queues ? ENOSPC : EMFILE);
    }
    // Complain: created and counted as if the budget were what the line names, so that the
    // next queue's line names a budget that holds this one too (`ipcrt suggest` takes the
    // largest).
    report(call, path, need);
  }
  if (auto failed = become(call, thread, caller.credentials)) return std::move(*failed);
  mq_attr attributes{};
  attributes.mq_maxmsg = as_long(call.max_messages);
  attributes.mq_msgsize = as_long(call.message_size);
  mqd_t created = ::mq_open(path.c_str(), access_flags(flags) | O_CREAT | O_EXCL, mode,
                            call.has_attributes ? &attributes : nullptr);
  if (created < 0) {
    const int error = errno;
    if (error == EEXIST && !exclusive) {
      return open_as(call, thread, caller.credentials, path, flags);
    }
    return Answer::error(error);
  }
  platform::UniqueFd owned(created);
  // mq_open applied the supervisor's umask; the caller's was applied above.
  mq_attr actual{};
  struct stat info {};
  if (::fchmod(created, mode) != 0 || ::mq_getattr(created, &actual) != 0 ||
      ::fstat(created, &info) != 0) {
    const int error = errno;
    ::mq_unlink(path.c_str());
    return Answer::error(error);
  }
  budget_.add(path, charge_of(actual.mq_maxmsg, actual.mq_msgsize), info.st_ino);
  return Answer::descriptor(owned.release());
}

// A declared path that does not exist (it was unlinked): created as boot creates it, as the
// slot's service with the manifest's attributes and mode; then opened as the caller.
ServiceMediator::Answer ServiceMediator::create_declared(const Call& call, ActingThread& thread,
                                                         const std::string& path,
                                                         const MediatedQueue& queue) {
  const int flags = call.flags();
  if (auto failed = become(call, thread, credentials_of(queue.owner))) return std::move(*failed);
  mq_attr attributes{};
  attributes.mq_maxmsg = queue.max_messages;
  attributes.mq_msgsize = queue.message_size;
  const bool sized = queue.max_messages > 0 && queue.message_size > 0;
  mqd_t created = ::mq_open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, queue.mode,
                            sized ? &attributes : nullptr);
  if (created >= 0) {
    platform::UniqueFd owned(created);
    if (::fchmod(created, queue.mode) != 0) {
      const int error = errno;
      ::mq_unlink(path.c_str());
      return Answer::error(error);
    }
    // Not logged: a service may unlink and create again at the rate it is answered, and the
    // log must not grow with it (the plan and boot name every declared queue).
  } else if (errno != EEXIST) {
    return Answer::error(errno);
  } else if ((flags & O_EXCL) != 0) {
    return Answer::error(EEXIST);
  }
  return open_as(call, thread, call.caller->credentials, path, flags);
}

ServiceMediator::Answer ServiceMediator::mediate_open(const Call& call,
                                                      const MediationDecision& decision,
                                                      ActingThread& thread) {
  if (!call.name) {
    return refuse(call, "(unreadable name)", "a queue name of at most 255 characters",
                  call.name.error().errnum == ENAMETOOLONG ? ENAMETOOLONG : EFAULT);
  }
  const int flags = call.flags();
  if (!decision.allowed) return refuse(call, decision.queue_path, decision.need, EACCES);
  if (call.has_attributes && !call.attributes_read) return Answer::error(EFAULT);
  // Without its credentials the kernel's checks cannot be made for it.
  if (!call.caller)
    return failure(call, "cannot read a mediated caller's credentials", call.caller.error());
  // Without `create`, O_CREAT on a declared queue only opens it (decide_mq_open): ENOENT if
  // it is gone, as for an open without O_CREAT, and never a queue of the caller's.
  if ((flags & O_CREAT) == 0 || decision.open_existing_only) {
    return open_as(call, thread, call.caller->credentials, decision.queue_path, flags);
  }
  const MediatedQueue* queue = queue_of(*decision.grant);
  if (queue == nullptr) return Answer::error(EACCES);  // a grant without its slot: no plan does it
  return is_pattern(*decision.grant)
             ? create_from_pattern(call, thread, decision.queue_path, *queue)
             : create_declared(call, thread, decision.queue_path, *queue);
}

ServiceMediator::Answer ServiceMediator::mediate_unlink(const Call& call,
                                                        const MediationDecision& decision,
                                                        ActingThread& thread) {
  if (!call.name) {
    return refuse(call, "(unreadable name)", "a queue name of at most 255 characters",
                  call.name.error().errnum == ENAMETOOLONG ? ENAMETOOLONG : EFAULT);
  }
  if (!decision.allowed) return refuse(call, decision.queue_path, decision.need, EACCES);
  // Without its credentials the kernel's checks cannot be made for it.
  if (!call.caller)
    return failure(call, "cannot read a mediated caller's credentials", call.caller.error());
  // The kernel lets only a queue's owner unlink it (EACCES otherwise). A pattern queue is
  // unlinked as the caller, a declared one as the slot's service, its owner.
  const bool pattern = is_pattern(*decision.grant);
  const MediatedQueue* queue = pattern ? nullptr : queue_of(*decision.grant);
  if (!pattern && queue == nullptr) return Answer::error(EACCES);
  const Credentials who = pattern ? call.caller->credentials : credentials_of(queue->owner);
  if (auto failed = become(call, thread, who)) return std::move(*failed);
  if (::mq_unlink(decision.queue_path.c_str()) != 0) return Answer::error(errno);
  if (pattern) budget_.remove(decision.queue_path);
  return Answer::success();
}

// Shared-memory objects (SPEC §2.3, runtime/mediation/shm_calls.hpp). Only the path is read,
// and only when the flags are an exclusive create or an unlink of a file: anything that names
// no object the service may write is let through at once, untouched.
ServiceMediator::Answer ServiceMediator::mediate_shm_call(int listener, Call& call, bool& passed,
                                                          ActingThread& thread) {
  const ServedAbi& served = *served_abi(call.abi);
  const auto& args = call.notification.args;
  const int number = call.notification.syscall;
  const bool at = number == served.openat || number == served.unlinkat;
  const bool creating = number == served.open || number == served.openat;
  const int flags = static_cast<int>(args[at ? 2 : 1]);  // open's and openat's; unlinkat's
  const int dirfd = at ? static_cast<int>(args[0]) : AT_FDCWD;
  auto let_through = [&] {
    passed = true;
    return Answer::let_through();
  };
  // The filter sends only these; checked again, as the filter's rules could change.
  if (creating && ((flags & (O_CREAT | O_EXCL)) != (O_CREAT | O_EXCL) ||
                   (flags & (O_DIRECTORY | O_PATH)) != 0)) {
    return let_through();
  }
  if (!creating && at && (flags & AT_REMOVEDIR) != 0) return let_through();
  // An unreadable path is the kernel's to answer (EFAULT). The path of an object is at most
  // "/dev/shm/" and a name of 255 bytes: a longer one (padded with "./" or "//", or a long
  // relative one) is let through too, and the kernel answers it as without mediation
  // (EBUSY, EEXIST). Reading less than PATH_MAX keeps the copy small for every mkstemp.
  auto path = platform::read_remote_string(call.pid(), at ? args[1] : args[0], kShmPathMax);
  if (!path) return let_through();
  const ObjectPath target = object_path(service_.objects, *path);
  if (target.object == nullptr) return let_through();
  if (target.relative) {
    // Relative to a directory of the caller's: an object only if that is its /dev/shm.
    const std::string base = dirfd == AT_FDCWD ? cat("/proc/", call.pid(), "/cwd")
                                               : cat("/proc/", call.pid(), "/fd/", dirfd);
    struct stat directory {};
    struct stat shm {};
    if (::stat(cat(base, '/', target.directory).c_str(), &directory) != 0 ||
        ::stat(cat("/proc/", call.pid(), "/root/dev/shm").c_str(), &shm) != 0 ||
        directory.st_dev != shm.st_dev || directory.st_ino != shm.st_ino) {
      return let_through();
    }
  }
  // Only now: the path belongs to this very call, still blocked.
  if (!platform::notification_still_valid(listener, call.notification.id)) return Answer::drop();
  // The object belongs to the manifest: an unlink leaves it, contents and all, for every
  // service granted it (a reader may still map it). Not logged: a service may unlink and
  // create again at the rate it is answered.
  if (!creating) return Answer::success();
  // An exclusive create makes it a fresh, empty object again: truncated, and handed over.
  // As the runtime, whose store it is (root's, 0700); the grant was the check. The object
  // keeps the owner and mode boot gave it: the call's mode is not applied.
  if (auto restored = thread.restore(); !restored) {
    std::lock_guard lock(mutex_);
    return failure(call, "cannot act as the runtime for a shared-memory object", restored.error());
  }
  // With the caller's status flags (they belong to the open file description it gets; the
  // store holds regular files only, boot checked); close-on-exec is set on the caller's copy.
  const int status_flags = (flags & (O_APPEND | O_NONBLOCK)) | O_NOFOLLOW | O_CLOEXEC;
  platform::UniqueFd fd(::open(target.object->path.c_str(), O_RDWR | status_flags));
  if (!fd.valid() || ::ftruncate(fd.get(), 0) != 0) return Answer::error(errno);
  // And its access mode: O_RDWR for every program seen so far, else opened again.
  if (const int access = flags & O_ACCMODE; access != O_RDWR) {
    fd.reset(::open(target.object->path.c_str(), access | status_flags));
    if (!fd.valid()) return Answer::error(errno);
  }
  Answer answer = Answer::descriptor(fd.release());
  answer.cloexec = (flags & O_CLOEXEC) != 0;
  return answer;
}

bool ServiceMediator::handle(int listener, ActingThread& thread) {
  auto received = platform::receive_notification(listener);
  if (!received) return false;  // the caller died or was interrupted: nothing to answer
  Call call;
  call.notification = *received;
  call.abi = abi_of(call.notification);
  call.wide_abi = wide(call.abi);
  // By number: naming a syscall (a scan of libseccomp's table) is paid only for the
  // syscalls that are refused anyway.
  const ServedAbi* served = served_abi(call.abi);
  const int number = call.notification.syscall;
  const bool open = served != nullptr && number == served->mq_open;
  const bool unlink = served != nullptr && number == served->mq_unlink;
  const char* shm_call = nullptr;
  if (served != nullptr && number >= 0) {
    shm_call = number == served->open       ? "open"
               : number == served->openat   ? "openat"
               : number == served->unlink   ? "unlink"
               : number == served->unlinkat ? "unlinkat"
                                            : nullptr;
  }
  call.syscall = open     ? "mq_open"
                 : unlink ? "mq_unlink"
                 : shm_call != nullptr ? shm_call
                                       : syscall_name(call.abi, number);
  bool passed = false;

  Answer answer = [&]() -> Answer {
    if (served == nullptr) {
      std::lock_guard lock(mutex_);
      return refuse(call, "", cat("seccomp.architectures: ", architecture_name(call.abi)), EPERM,
                    false, service_.complain ? kForeignAbiRefusal : std::string_view{});
    }
    if (shm_call != nullptr) return mediate_shm_call(listener, call, passed, thread);
    if (!open && !unlink) {
      // What the line says is read before the lock (the caller's memory may be slow to read)
      // and only informs: the call is refused whatever it holds.
      const pid_t pid = call.pid();
      RefusedCall refused{call.syscall, {}, call.wide_abi, {}, {}};
      for (std::size_t i = 0; i < refused.args.size(); ++i) {
        refused.args[i] = call.notification.args[i];
      }
      refused.read_string = [pid](std::uint64_t address, std::size_t max) {
        auto text = platform::read_remote_string(pid, address, max);
        return text ? std::optional<std::string>(std::move(*text)) : std::nullopt;
      };
      refused.read_memory = [pid](std::uint64_t address, void* out, std::size_t size) {
        return platform::read_remote_memory(pid, address, out, size).has_value();
      };
      if (changes_ids(call.syscall)) {
        if (auto caller = read_caller_credentials(pid)) {
          refused.caller_ids = std::make_pair(caller->credentials.uid, caller->credentials.gid);
        }
      }
      const DenialAdvice advice =
          advise(refused, service_.need_for_syscall ? service_.need_for_syscall(call.syscall)
                                                    : "seccomp.allow: " + call.syscall);
      // Complain mode lets the call run, except what it never lets through.
      const std::string refusal =
          service_.complain ? complain_refusal(call.syscall, refused.args) : std::string();
      std::lock_guard lock(mutex_);
      return refuse(call, advice.argument, advice.need, EPERM, advice.recoverable, refusal);
    }
    if (open && !opens_by_name_) {
      // The name it asked for, as every denial's `arg` names what matters (SPEC §15): read
      // before the lock, and it only informs a refusal.
      auto name = platform::read_remote_string(call.pid(), call.notification.args[0], NAME_MAX);
      std::string argument;
      if (name) argument = name->starts_with('/') ? *name : cat('/', *name);
      std::lock_guard lock(mutex_);
      return refuse(call, argument,
                    "none: its queues are passed open from fd 3 (pass-queues, LISTEN_FDNAMES); "
                    "use those descriptors",
                    EPERM);
    }
    // Everything the decision and the call use is copied now, before the validity check:
    // what the caller changes afterwards is never read. The decision on the name comes
    // first, so that a refused call costs no more reads.
    const auto& args = call.notification.args;
    call.name = platform::read_remote_string(call.pid(), args[0], NAME_MAX);
    MediationDecision decision;
    if (call.name) {
      decision = open ? decide_mq_open(open_grants_, *call.name, call.flags())
                      : decide_mq_unlink(service_.grants, *call.name);
      for (const auto& queue : service_.passed) {
        if (open && !decision.allowed && queue.path == decision.queue_path) {
          decision.need = cat("none: ", queue.path, " is passed open at fd ", queue.fd,
                              " (pass-queues); use that descriptor");
        }
      }
    }
    if (decision.allowed && open && args[3] != 0) {
      // The kernel copies the attributes whenever the pointer is set, O_CREAT or not.
      call.has_attributes = true;
      call.attributes_read = call.wide_abi
                                 ? read_attributes<std::int64_t>(
                                       call.pid(), args[3], call.max_messages, call.message_size)
                                 : read_attributes<std::int32_t>(
                                       call.pid(), args[3], call.max_messages, call.message_size);
    }
    if (decision.allowed) {
      // The umask is read only for a create through a pattern, the one answer it changes.
      const bool through_pattern = open && (call.flags() & O_CREAT) != 0 &&
                                   !decision.open_existing_only && decision.grant != nullptr &&
                                   is_pattern(*decision.grant);
      call.caller = service_.fixed_credentials && !through_pattern
                        ? CallerCredentials{*service_.fixed_credentials}
                        : read_caller_credentials(call.pid());
    }
    // Only now: the copies belong to this very call, still blocked (the caller did not die
    // and its thread id was not reused by another task).
    if (!platform::notification_still_valid(listener, call.notification.id)) return Answer::drop();
    std::lock_guard lock(mutex_);
    return open ? mediate_open(call, decision, thread) : mediate_unlink(call, decision, thread);
  }();
  send(listener, call.notification.id, answer);
  return passed;
}

void ServiceMediator::send(int listener, std::uint64_t id, Answer& answer) {
  using Kind = Answer::Kind;
  switch (answer.kind) {
    case Kind::Drop:
      return;
    case Kind::Error:
      (void)platform::answer_error(listener, id, answer.errnum);
      return;
    case Kind::Value:
      (void)platform::answer_value(listener, id, 0);
      return;
    case Kind::Continue:
      (void)platform::answer_continue(listener, id);
      return;
    case Kind::Descriptor:
      // If the caller died meanwhile, ADDFD fails with ENOENT and the descriptor is just
      // closed. It waits until the caller runs to take the descriptor: only this service's
      // mediation thread waits (runtime/mediation/server.hpp).
      (void)platform::answer_with_fd(listener, id, answer.fd.get(), answer.cloexec);
      return;
  }
}

const Status& mediation_support() {
  static const Status support = []() -> Status {
    // The operator's switch back to filters alone (SPEC §5), e.g. to compare behaviour.
    if (const char* setting = std::getenv("IPCRT_MEDIATION");
        setting != nullptr && std::string_view(setting) == "off") {
      return fail("disabled by IPCRT_MEDIATION=off");
    }
    // The probe's child cost a whole `ipcrt run` of one service a tenth of its time (issue
    // 21); where its answer is certain it is not asked.
    if (platform::user_notification_certain()) return Status{};
    return platform::probe_user_notification();
  }();
  return support;
}

}  // namespace ipcrt::runtime
