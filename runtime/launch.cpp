// Fork, confine, exec. The child between fork and exec allocates nothing and calls only
// async-signal-safe syscalls; everything it reads was laid out by begin_launch() before fork.
#include "runtime/launch.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "common/text.hpp"
#include "platform/capabilities.hpp"
#include "platform/descriptors.hpp"
#include "platform/mount.hpp"
#include "platform/namespace.hpp"
#include "platform/pidfd.hpp"
#include "platform/seccomp_notify.hpp"
#include "platform/signalfd.hpp"

namespace ipcrt::runtime {
namespace {

// What the child writes to the report pipe: fixed size and far below PIPE_BUF, so each write
// arrives whole and one read gets all of it.
struct ChildReport {
  enum class Kind : std::uint8_t { Failure = 1, ListenerReady = 2 };
  Kind kind;
  LaunchPhase phase;         // Failure: the phase that failed
  std::uint32_t item;        // Failure: the index of the shm mount or hidden mount it failed on
  std::int32_t errnum;       // Failure
  std::int32_t listener_fd;  // ListenerReady: the child's listener, for pidfd_getfd
};
static_assert(std::is_trivially_copyable_v<ChildReport> && std::is_standard_layout_v<ChildReport>);
static_assert(sizeof(ChildReport) <= PIPE_BUF);

// The child's view: raw pointers into the LaunchSpec and the vectors built below.
struct ChildPlan {
  const LaunchSpec* spec = nullptr;
  const char* const* argv = nullptr;
  const char* const* envp = nullptr;
  const char* const* mount_sources = nullptr;
  const char* const* mount_targets = nullptr;
  sock_fprog filter{};
  pid_t parent = 0;
  int report_fd = -1;
  int resume_fd = -1;  // the parent writes one byte once it has taken the listener
};

[[noreturn]] void report_failure(const ChildPlan& plan, LaunchPhase phase, int errnum,
                                 std::uint32_t item = 0) noexcept {
  ChildReport report{};
  report.kind = ChildReport::Kind::Failure;
  report.phase = phase;
  report.item = item;
  report.errnum = errnum;
  [[maybe_unused]] ssize_t written = ::write(plan.report_fd, &report, sizeof report);
  ::_exit(127);
}

// `status` is 0 or -errno, as the platform wrappers return and syscall_status() makes of a
// raw call. `item` says which mount of a per-mount phase failed.
void check(const ChildPlan& plan, LaunchPhase phase, int status, std::uint32_t item = 0) noexcept {
  if (status < 0) report_failure(plan, phase, -status, item);
}

// A raw syscall's result (negative with errno set on failure) as 0 or -errno.
int syscall_status(long result) noexcept {
  return result < 0 ? -errno : 0;
}

// The confinement of one service, in order (SPEC §4.3). Runs in the child; never returns.
[[noreturn]] void exec_service_child(const ChildPlan& plan) noexcept {
  const LaunchSpec& spec = *plan.spec;
  platform::unblock_all_signals();  // the supervisor's signalfd mask is inherited
  // Its own session: no controlling terminal (TIOCSTI could type into an operator's shell).
  check(plan, LaunchPhase::Session, syscall_status(::setsid()));
  // Descriptors the runtime itself inherited must not reach the service; ours are all
  // close-on-exec already.
  check(plan, LaunchPhase::CloseFds, platform::mark_descriptors_cloexec(3));

  if (spec.new_mount_namespace) {
    check(plan, LaunchPhase::MountNamespace, platform::enter_new_mount_namespace());
    check(plan, LaunchPhase::MountPropagation, platform::make_mounts_slave());
  }
  if (!spec.private_shm_dir.empty()) {
    // Objects are bound into the private dir while the host /dev/shm is still visible; the
    // recursive bind of the dir over /dev/shm then carries them, read-only flags included.
    for (std::uint32_t i = 0; i < spec.shm_mounts.size(); ++i) {
      check(plan, LaunchPhase::ShmBind,
            platform::bind_mount(plan.mount_sources[i], plan.mount_targets[i], false), i);
      if (spec.shm_mounts[i].read_only) {
        check(plan, LaunchPhase::ShmReadonly,
              platform::remount_bind_readonly(plan.mount_targets[i]), i);
      }
    }
    check(plan, LaunchPhase::PrivateShm,
          platform::bind_mount(spec.private_shm_dir.c_str(), "/dev/shm", true));
  }
  for (std::uint32_t i = 0; i < spec.hidden_mounts.size(); ++i) {
    check(plan, LaunchPhase::HideMqueue,
          platform::cover_with_empty_tmpfs(spec.hidden_mounts[i].c_str()), i);
  }
  if (spec.last_capability >= 0) {
    check(plan, LaunchPhase::CapabilityBoundingSet,
          platform::drop_capability_bounding_set(spec.last_capability));
    check(plan, LaunchPhase::InheritableCapabilities, platform::clear_inheritable_capabilities());
  }
  for (const auto& limit : spec.rlimits) {
    check(
        plan, LaunchPhase::Rlimits,
        syscall_status(::setrlimit(static_cast<__rlimit_resource>(limit.resource), &limit.value)));
  }
  if (spec.change_identity) {
    const auto& identity = spec.identity;
    check(plan, LaunchPhase::Setgroups,
          syscall_status(::setgroups(identity.groups.size(), identity.groups.data())));
    check(plan, LaunchPhase::Setgid,
          syscall_status(::setresgid(identity.gid, identity.gid, identity.gid)));
    check(plan, LaunchPhase::Setuid,
          syscall_status(::setresuid(identity.uid, identity.uid, identity.uid)));
  }
  // Set after the uid change, which clears it; a runtime that died before this line is
  // caught by the getppid() check.
  check(plan, LaunchPhase::ParentDeathSignal,
        syscall_status(::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)));
  if (::getppid() != plan.parent) report_failure(plan, LaunchPhase::ParentDeathSignal, ESRCH);
  if (!spec.working_directory.empty()) {
    check(plan, LaunchPhase::WorkingDirectory,
          syscall_status(::chdir(spec.working_directory.c_str())));
  }
  check(plan, LaunchPhase::NoNewPrivs, platform::set_no_new_privs());
  if (!spec.filter.instructions.empty()) {
    // From here on only kSyscallsAfterFilterLoad: the filter need not allow sendmsg.
    int loaded = platform::load_seccomp_filter(plan.filter, spec.filter.uses_notify);
    check(plan, LaunchPhase::Seccomp, loaded < 0 ? loaded : 0);
    if (spec.filter.uses_notify) {
      // The listener is close-on-exec, so the parent takes it (pidfd_getfd) while we wait.
      ChildReport ready{};
      ready.kind = ChildReport::Kind::ListenerReady;
      ready.listener_fd = loaded;
      if (::write(plan.report_fd, &ready, sizeof ready) != sizeof ready) ::_exit(127);
      char resume = 0;
      if (::read(plan.resume_fd, &resume, 1) != 1) ::_exit(127);
    }
  }
  ::execve(plan.argv[0], const_cast<char* const*>(plan.argv), const_cast<char* const*>(plan.envp));
  report_failure(plan, LaunchPhase::Exec, errno);
}

std::vector<const char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<const char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (const auto& text : strings) pointers.push_back(text.c_str());
  pointers.push_back(nullptr);
  return pointers;
}

}  // namespace

namespace {

// Manifest values are 64-bit; rlim_t is 32-bit on 32-bit ARM, where anything from
// RLIM_INFINITY up means "unlimited".
rlim_t to_rlim(std::uint64_t value) {
  constexpr auto kInfinity = static_cast<std::uint64_t>(RLIM_INFINITY);
  return value >= kInfinity ? RLIM_INFINITY : static_cast<rlim_t>(value);
}

}  // namespace

LaunchSpec prepare_launch(const config::Service& service, const PlannedService& planned,
                          const platform::Identity& identity, platform::BpfProgram filter,
                          const std::vector<ResourceLimit>& default_rlimits) {
  LaunchSpec spec;
  spec.service = service.name;
  spec.arguments = service.command;

  bool has_path = false;
  for (const auto& [key, value] : service.environment) has_path = has_path || key == "PATH";
  if (!has_path) spec.environment.push_back(cat("PATH=", kDefaultPath));
  for (const auto& [key, value] : service.environment)
    spec.environment.push_back(key + "=" + value);
  // The runtime's variables come last: glibc's getenv returns the first match, so drop any
  // manifest entry of the same name.
  for (const auto& [key, value] : planned.environment) {
    std::erase_if(spec.environment,
                  [&](const std::string& entry) { return entry.starts_with(key + "="); });
    spec.environment.push_back(key + "=" + value);
  }

  bool confined = service.confinement != config::Confinement::Off;
  spec.new_mount_namespace = confined;
  if (confined) {
    spec.last_capability = platform::last_capability();
    auto mqueue_mounts = platform::mount_points_of_type("mqueue");
    // Unreadable mountinfo: hide the usual place rather than none (the child fails the launch
    // if it cannot, instead of starting a service that could go around mediation).
    spec.hidden_mounts =
        mqueue_mounts ? std::move(*mqueue_mounts) : std::vector<std::string>{"/dev/mqueue"};
  }
  if (confined && !planned.shm_dir.empty()) {
    spec.private_shm_dir = planned.shm_dir;
    for (const auto& grant : planned.shm) {
      spec.shm_mounts.push_back(
          {"/dev/shm/" + grant.name, planned.shm_dir + "/" + grant.name, !grant.writable});
    }
  }

  for (const auto& limit : service.rlimits) {
    spec.rlimits.push_back({limit.resource, {to_rlim(limit.soft), to_rlim(limit.hard)}});
  }
  for (const auto& fallback : default_rlimits) {
    bool overridden = false;
    for (const auto& limit : spec.rlimits)
      overridden = overridden || limit.resource == fallback.resource;
    if (!overridden) spec.rlimits.push_back(fallback);
  }

  // Every service runs as its own user: the manifest's, or a dynamic one (SPEC §4.3).
  spec.change_identity = true;
  spec.identity = identity;
  spec.working_directory = service.working_directory.value_or("");
  spec.filter = std::move(filter);
  return spec;
}

std::string_view LaunchFailure::phase_name() const {
  return launch_phase_name(phase);
}

std::string LaunchFailure::errno_name() const {
  const char* name = ::strerrorname_np(errnum);
  return name != nullptr ? name : std::to_string(errnum);
}

std::string LaunchFailure::describe() const {
  std::string text = cat("phase=", phase_name(), " errno=", errno_name());
  if (!path.empty()) text += cat(" path=", path);
  return text;
}

std::string_view LaunchFailure::hint() const {
  std::string_view specific = launch_errno_hint(phase, errnum);
  return specific.empty() ? launch_phase_hint(phase) : specific;
}

namespace {

LaunchPaths paths_of(const LaunchSpec& spec) {
  LaunchPaths paths;
  paths.program = spec.arguments.empty() ? std::string{} : spec.arguments.front();
  paths.working_directory = spec.working_directory;
  paths.private_shm_dir = spec.private_shm_dir;
  for (const auto& mount : spec.shm_mounts) paths.shm_objects.push_back(mount.source);
  paths.hidden_mounts = spec.hidden_mounts;
  return paths;
}

std::string item_of(const std::vector<std::string>& items, std::uint32_t index) {
  return index < items.size() ? items[index] : std::string{};
}

// The failure a child reported, with the path its phase worked on.
LaunchFailure failure_of(const ChildReport& report, const LaunchPaths& paths) {
  LaunchFailure failure{report.phase, report.errnum, {}};
  switch (report.phase) {
    case LaunchPhase::Exec:
      failure.path = paths.program;
      break;
    case LaunchPhase::WorkingDirectory:
      failure.path = paths.working_directory;
      break;
    case LaunchPhase::ShmBind:
    case LaunchPhase::ShmReadonly:
      failure.path = item_of(paths.shm_objects, report.item);
      break;
    case LaunchPhase::PrivateShm:
      failure.path = paths.private_shm_dir;
      break;
    case LaunchPhase::HideMqueue:
      failure.path = item_of(paths.hidden_mounts, report.item);
      break;
    default:
      break;
  }
  return failure;
}

bool is_well_formed(const ChildReport& report) {
  switch (report.kind) {
    case ChildReport::Kind::Failure:
      return is_launch_phase(static_cast<std::uint8_t>(report.phase));
    case ChildReport::Kind::ListenerReady:
      return true;
  }
  return false;
}

// Takes the child's listener and lets it go on to exec: 0, or -errno.
int take_listener(PendingLaunch& pending, int child_fd) {
  auto pidfd = platform::pidfd_open(pending.pid);
  if (!pidfd) return -pidfd.error().errnum;
  auto listener = platform::pidfd_getfd(pidfd->get(), child_fd);
  if (!listener) return -listener.error().errnum;
  pending.listener = std::move(*listener);
  if (::write(pending.resume.get(), "g", 1) != 1) return -errno;
  return 0;
}

// One report from the child: 0 on EOF (exec succeeded), else the report's size.
ssize_t read_report(int fd, ChildReport& report) {
  ssize_t n;
  do {
    n = ::read(fd, &report, sizeof report);
  } while (n < 0 && errno == EINTR);
  return n;
}

}  // namespace

std::expected<PendingLaunch, LaunchFailure> begin_launch(const LaunchSpec& spec) {
  if (spec.arguments.empty()) return std::unexpected(LaunchFailure{LaunchPhase::Exec, ENOEXEC, {}});
  // Everything the child touches is laid out here, before fork. The child has its own copy
  // of this memory, so none of it needs to outlive this function.
  auto argv = c_strings(spec.arguments);
  auto envp = c_strings(spec.environment);
  std::vector<std::string> sources;
  std::vector<std::string> targets;
  for (const auto& mount : spec.shm_mounts) {
    sources.push_back(mount.source);
    targets.push_back(mount.target);
  }
  auto source_pointers = c_strings(sources);
  auto target_pointers = c_strings(targets);
  LaunchPaths paths = paths_of(spec);

  int report_fds[2];
  if (::pipe2(report_fds, O_CLOEXEC) != 0) {
    return std::unexpected(LaunchFailure{LaunchPhase::Pipe, errno, {}});
  }
  platform::UniqueFd report_read(report_fds[0]);
  platform::UniqueFd report_write(report_fds[1]);
  int resume_fds[2];
  if (::pipe2(resume_fds, O_CLOEXEC) != 0) {
    return std::unexpected(LaunchFailure{LaunchPhase::Pipe, errno, {}});
  }
  platform::UniqueFd resume_read(resume_fds[0]);
  platform::UniqueFd resume_write(resume_fds[1]);

  ChildPlan plan;
  plan.spec = &spec;
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.mount_sources = source_pointers.data();
  plan.mount_targets = target_pointers.data();
  plan.filter.len = static_cast<unsigned short>(spec.filter.instructions.size());
  plan.filter.filter = const_cast<sock_filter*>(spec.filter.instructions.data());
  plan.parent = ::getpid();
  plan.report_fd = report_fds[1];
  plan.resume_fd = resume_fds[0];

  pid_t pid = ::fork();
  if (pid < 0) return std::unexpected(LaunchFailure{LaunchPhase::Fork, errno, {}});
  if (pid == 0) {
    ::close(report_fds[0]);
    exec_service_child(plan);
  }
  PendingLaunch pending;
  pending.pid = pid;
  pending.report = std::move(report_read);
  pending.resume = std::move(resume_write);
  pending.paths = std::move(paths);
  return pending;
}

std::expected<bool, LaunchFailure> continue_launch(PendingLaunch& pending) {
  // EOF: the write end closed on a successful exec (O_CLOEXEC). A report: a phase failed, or
  // the listener is ready to be taken.
  ChildReport report{};
  ssize_t n = read_report(pending.report.get(), report);
  if (n == 0) return true;
  LaunchFailure failure{LaunchPhase::Report, EIO, {}};
  if (n == static_cast<ssize_t>(sizeof report) && is_well_formed(report)) {
    if (report.kind == ChildReport::Kind::Failure) {
      failure = failure_of(report, pending.paths);
    } else {
      int taken = take_listener(pending, report.listener_fd);
      if (taken == 0) return false;
      // Without the listener the service must not run: its mediated calls would fail oddly.
      failure = LaunchFailure{LaunchPhase::TakeListener, -taken, {}};
    }
  }
  // A child that reported its failure has exited; any other must not go on to exec a service
  // nobody supervises.
  if (failure.phase == LaunchPhase::Report || failure.phase == LaunchPhase::TakeListener) {
    ::kill(pending.pid, SIGKILL);
  }
  int status = 0;
  while (::waitpid(pending.pid, &status, 0) < 0 && errno == EINTR) {
  }
  return std::unexpected(std::move(failure));
}

std::expected<Launched, LaunchFailure> launch(const LaunchSpec& spec) {
  auto pending = begin_launch(spec);
  if (!pending) return std::unexpected(pending.error());
  for (;;) {
    auto execed = continue_launch(*pending);
    if (!execed) return std::unexpected(execed.error());
    if (*execed) return Launched{pending->pid, std::move(pending->listener)};
  }
}

}  // namespace ipcrt::runtime
