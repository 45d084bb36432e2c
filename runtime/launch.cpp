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
#include <csignal>
#include <cstring>

#include "common/text.hpp"
#include "platform/capabilities.hpp"
#include "platform/mount.hpp"
#include "platform/namespace.hpp"
#include "platform/pidfd.hpp"
#include "platform/seccomp_notify.hpp"
#include "platform/signalfd.hpp"

namespace ipcrt::runtime {
namespace {

// What the child writes to the error pipe; fixed size so one read gets all of it.
struct ChildReport {
  char phase[32];
  int errnum;
};

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

#ifndef CLOSE_RANGE_CLOEXEC
constexpr unsigned kCloseRangeCloexec = 1U << 2U;
#else
constexpr unsigned kCloseRangeCloexec = CLOSE_RANGE_CLOEXEC;
#endif

// The report that is not a failure: "the listener is fd N, take it".
constexpr const char* kListenerPhase = "listener";

[[noreturn]] void report_and_exit(int fd, const char* phase, int errnum) noexcept {
  ChildReport report{};
  for (std::size_t i = 0; i + 1 < sizeof report.phase && phase[i] != '\0'; ++i) {
    report.phase[i] = phase[i];
  }
  report.errnum = errnum;
  [[maybe_unused]] ssize_t written = ::write(fd, &report, sizeof report);
  ::_exit(127);
}

// `result` is 0 or -errno (platform wrappers) or a raw syscall result with errno set.
void check(const ChildPlan& plan, const char* phase, int result) noexcept {
  if (result < 0) report_and_exit(plan.report_fd, phase, result == -1 ? errno : -result);
}

int raw(int result) noexcept {
  return result == 0 ? 0 : -errno;
}

// The confinement of one service, in order (SPEC §4.3). Runs in the child; never returns.
[[noreturn]] void exec_service_child(const ChildPlan& plan) noexcept {
  const LaunchSpec& spec = *plan.spec;
  platform::unblock_all_signals();  // the supervisor's signalfd mask is inherited
  // Its own session: no controlling terminal (TIOCSTI could type into an operator's shell).
  check(plan, "session", ::setsid() < 0 ? -errno : 0);
  // Descriptors the runtime itself inherited must not reach the service; ours are all
  // close-on-exec already. Best effort: close_range needs Linux 5.11.
  ::syscall(SYS_close_range, 3U, ~0U, kCloseRangeCloexec);
  // ...except the control plug's connection, the one descriptor a service inherits (§10).
  if (spec.control_fd >= 0) check(plan, "control-fd", raw(::fcntl(spec.control_fd, F_SETFD, 0)));

  if (spec.new_mount_namespace) {
    check(plan, "mount-namespace", platform::enter_new_mount_namespace());
    check(plan, "mount-propagation", platform::make_mounts_slave());
  }
  if (!spec.private_shm_dir.empty()) {
    // Objects are bound into the private dir while the host /dev/shm is still visible; the
    // recursive bind of the dir over /dev/shm then carries them, read-only flags included.
    for (std::size_t i = 0; i < spec.shm_mounts.size(); ++i) {
      check(plan, "shm-bind",
            platform::bind_mount(plan.mount_sources[i], plan.mount_targets[i], false));
      if (spec.shm_mounts[i].read_only) {
        check(plan, "shm-readonly", platform::remount_bind_readonly(plan.mount_targets[i]));
      }
    }
    check(plan, "private-shm",
          platform::bind_mount(spec.private_shm_dir.c_str(), "/dev/shm", true));
  }
  for (const auto& hidden : spec.hidden_mounts) {
    check(plan, "hide-mqueue", platform::cover_with_empty_tmpfs(hidden.c_str()));
  }
  if (spec.last_capability >= 0) {
    check(plan, "capability-bounding-set",
          platform::drop_capability_bounding_set(spec.last_capability));
    check(plan, "inheritable-capabilities", platform::clear_inheritable_capabilities());
  }
  for (const auto& limit : spec.rlimits) {
    check(plan, "rlimits",
          raw(::setrlimit(static_cast<__rlimit_resource>(limit.resource), &limit.value)));
  }
  if (spec.change_identity) {
    const auto& identity = spec.identity;
    check(plan, "setgroups", raw(::setgroups(identity.groups.size(), identity.groups.data())));
    check(plan, "setgid", raw(::setresgid(identity.gid, identity.gid, identity.gid)));
    check(plan, "setuid", raw(::setresuid(identity.uid, identity.uid, identity.uid)));
  }
  // Set after the uid change, which clears it; a runtime that died before this line is
  // caught by the getppid() check.
  check(plan, "parent-death-signal", raw(::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)));
  if (::getppid() != plan.parent) report_and_exit(plan.report_fd, "parent-death-signal", ESRCH);
  if (!spec.working_directory.empty()) {
    check(plan, "working-directory", raw(::chdir(spec.working_directory.c_str())));
  }
  check(plan, "no-new-privs", platform::set_no_new_privs());
  if (!spec.filter.instructions.empty()) {
    int loaded = platform::load_seccomp_filter(plan.filter, spec.filter.uses_notify);
    check(plan, "seccomp", loaded < 0 ? loaded : 0);
    if (spec.filter.uses_notify) {
      // Only write and read from here on: the filter need not allow sendmsg. The listener is
      // close-on-exec, so the parent takes it (pidfd_getfd) while we wait.
      ChildReport report{};
      for (std::size_t i = 0; kListenerPhase[i] != '\0'; ++i) report.phase[i] = kListenerPhase[i];
      report.errnum = loaded;
      if (::write(plan.report_fd, &report, sizeof report) != sizeof report) ::_exit(127);
      char resume = 0;
      if (::read(plan.resume_fd, &resume, 1) != 1) ::_exit(127);
    }
  }
  ::execve(plan.argv[0], const_cast<char* const*>(plan.argv), const_cast<char* const*>(plan.envp));
  report_and_exit(plan.report_fd, "exec", errno);
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

  spec.change_identity = service.user.has_value() || service.group.has_value();
  spec.identity = identity;
  spec.working_directory = service.working_directory.value_or("");
  spec.filter = std::move(filter);
  return spec;
}

std::string LaunchFailure::errno_name() const {
  const char* name = ::strerrorname_np(errnum);
  return name != nullptr ? name : std::to_string(errnum);
}

std::string LaunchFailure::describe() const {
  return cat("phase=", phase, " errno=", errno_name());
}

namespace {

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
  if (spec.arguments.empty()) return std::unexpected(LaunchFailure{"exec", ENOEXEC});
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

  int report_fds[2];
  if (::pipe2(report_fds, O_CLOEXEC) != 0) return std::unexpected(LaunchFailure{"pipe", errno});
  platform::UniqueFd report_read(report_fds[0]);
  platform::UniqueFd report_write(report_fds[1]);
  int resume_fds[2];
  if (::pipe2(resume_fds, O_CLOEXEC) != 0) return std::unexpected(LaunchFailure{"pipe", errno});
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
  if (pid < 0) return std::unexpected(LaunchFailure{"fork", errno});
  if (pid == 0) {
    ::close(report_fds[0]);
    exec_service_child(plan);
  }
  PendingLaunch pending;
  pending.pid = pid;
  pending.report = std::move(report_read);
  pending.resume = std::move(resume_write);
  return pending;
}

std::expected<bool, LaunchFailure> continue_launch(PendingLaunch& pending) {
  // EOF: the write end closed on a successful exec (O_CLOEXEC). A report: a phase failed, or
  // the listener is ready to be taken.
  ChildReport report{};
  ssize_t n = read_report(pending.report.get(), report);
  if (n == 0) return true;
  if (n == static_cast<ssize_t>(sizeof report) &&
      std::strncmp(report.phase, kListenerPhase, sizeof report.phase) == 0) {
    auto taken = platform::pidfd_open(pending.pid);
    if (taken) {
      auto listener = platform::pidfd_getfd(taken->get(), report.errnum);
      if (listener) pending.listener = std::move(*listener);
    }
    if (pending.listener.valid() && ::write(pending.resume.get(), "g", 1) == 1) return false;
    // Without the listener the service must not run: its mediated calls would fail oddly.
    int saved = errno;
    ::kill(pending.pid, SIGKILL);
    report = ChildReport{};
    std::strncpy(report.phase, "take-listener", sizeof report.phase - 1);
    report.errnum = saved != 0 ? saved : EIO;
    n = sizeof report;
  }
  int status = 0;
  while (::waitpid(pending.pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (n != static_cast<ssize_t>(sizeof report)) {
    return std::unexpected(LaunchFailure{"report", EIO});
  }
  report.phase[sizeof report.phase - 1] = '\0';
  return std::unexpected(LaunchFailure{report.phase, report.errnum});
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
