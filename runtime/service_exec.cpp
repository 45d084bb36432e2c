// `ipcrt exec`: the caller's fork, the helper's setns, the command's confinement and exec.
// Between fork and exec only syscalls, on what was laid out before fork (as in launch.cpp).
#include "runtime/service_exec.hpp"

#include <poll.h>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>

#include "common/file.hpp"
#include "common/text.hpp"
#include "platform/capabilities.hpp"
#include "platform/descriptors.hpp"
#include "platform/id_syscalls.hpp"
#include "platform/namespace.hpp"
#include "platform/pidfd.hpp"
#include "platform/proc_status.hpp"
#include "platform/process.hpp"
#include "platform/seccomp.hpp"
#include "platform/signalfd.hpp"

namespace ipcrt::runtime {
namespace {

// The helper's and the command's reports: fixed size, far below PIPE_BUF.
struct ExecReport {
  enum class Kind : std::uint8_t { Started = 1, Failure = 2, ListenerReady = 3, Ended = 4 };
  Kind kind;
  LaunchPhase phase;    // Failure
  std::int32_t errnum;  // Failure
  std::int32_t value;   // Started: the command's pid; ListenerReady: its fd; Ended: status
};
static_assert(sizeof(ExecReport) <= PIPE_BUF);

struct ExecPlan {
  const LaunchSpec* spec = nullptr;
  bool enter_namespaces = false;
  int pidfd = -1;
  unsigned long namespaces = 0;
  int cgroup_procs_fd = -1;
  int report_fd = -1;
  int resume_fd = -1;
  pid_t parent = 0;  // the CLI: the helper ends if it is gone
  const char* const* candidates = nullptr;  // the program's paths to try, in PATH order
  const char* const* argv = nullptr;
  const char* const* envp = nullptr;
  const std::vector<ResourceLimit>* rlimits = nullptr;
  const char* working_directory = nullptr;
};

void send(const ExecPlan& plan, ExecReport report) noexcept {
  [[maybe_unused]] ssize_t written = ::write(plan.report_fd, &report, sizeof report);
}

[[noreturn]] void fail_child(const ExecPlan& plan, LaunchPhase phase, int errnum) noexcept {
  send(plan, {ExecReport::Kind::Failure, phase, errnum, 0});
  ::_exit(127);
}

void check(const ExecPlan& plan, LaunchPhase phase, long result) noexcept {
  if (result < 0) fail_child(plan, phase, result == -1 ? errno : static_cast<int>(-result));
}

// The command, inside the service's namespaces: the service's confinement, in launch order.
[[noreturn]] void run_command(const ExecPlan& plan) noexcept {
  const LaunchSpec& spec = *plan.spec;
  platform::reset_signal_dispositions();
  platform::unblock_all_signals();
  // The caller's terminal stays its stdio, but is not its controlling terminal: a process of
  // the service that took over the command could otherwise type into the caller's shell
  // (TIOCSTI) once it returns.
  check(plan, LaunchPhase::Session, ::setsid());
  check(plan, LaunchPhase::CloseFds, platform::mark_descriptors_cloexec(3));
  check(plan, LaunchPhase::ParentDeathSignal, ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0));
  // The helper may have died before that took hold (its parent is outside this pid namespace,
  // so getppid() cannot tell): only the CLI holds the resume pipe's write end, and its end
  // (which ends the helper) is the pipe's hang-up.
  pollfd cli{plan.resume_fd, POLLIN, 0};
  if (::poll(&cli, 1, 0) > 0 && (cli.revents & POLLHUP) != 0) {
    fail_child(plan, LaunchPhase::ParentDeathSignal, ESRCH);
  }
  for (const auto& limit : *plan.rlimits) {
    check(plan, LaunchPhase::Rlimits,
          ::setrlimit(static_cast<__rlimit_resource>(limit.resource), &limit.value));
  }
  if (spec.last_capability >= 0) {
    check(plan, LaunchPhase::CapabilityBoundingSet,
          platform::drop_capability_bounding_set_except(spec.last_capability,
                                                        spec.ambient_capabilities));
    check(plan, LaunchPhase::InheritableCapabilities, platform::clear_inheritable_capabilities());
  }
  const auto& identity = spec.identity;
  if (spec.ambient_capabilities != 0) {
    check(plan, LaunchPhase::AmbientCapabilities, ::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
  }
  check(plan, LaunchPhase::Setgroups,
        ::syscall(platform::kSysSetgroups, identity.groups.size(), identity.groups.data()));
  check(plan, LaunchPhase::Setgid,
        ::syscall(platform::kSysSetresgid, identity.gid, identity.gid, identity.gid));
  check(plan, LaunchPhase::Setuid,
        ::syscall(platform::kSysSetresuid, identity.uid, identity.uid, identity.uid));
  if (spec.ambient_capabilities != 0) {
    check(plan, LaunchPhase::AmbientCapabilities,
          platform::set_ambient_capabilities(spec.ambient_capabilities));
  }
  check(plan, LaunchPhase::ParentDeathSignal, ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0));
  // Where the service is; its root if that is gone.
  if (::chdir(plan.working_directory) != 0) (void)::chdir("/");
  check(plan, LaunchPhase::NoNewPrivs, platform::set_no_new_privs());
  if (!spec.filter.instructions.empty()) {
    sock_fprog program{};
    program.len = static_cast<unsigned short>(spec.filter.instructions.size());
    program.filter = const_cast<sock_filter*>(spec.filter.instructions.data());
    const int loaded = platform::load_seccomp_filter(program, spec.filter.uses_notify);
    if (loaded < 0) fail_child(plan, LaunchPhase::Seccomp, -loaded);
    if (spec.filter.uses_notify) {
      send(plan, {ExecReport::Kind::ListenerReady, LaunchPhase::Seccomp, 0, loaded});
      char resume = 0;
      if (::read(plan.resume_fd, &resume, 1) != 1) ::_exit(127);
    }
  }
  int error = ENOENT;
  for (const char* const* candidate = plan.candidates; *candidate != nullptr; ++candidate) {
    ::execve(*candidate, const_cast<char* const*>(plan.argv), const_cast<char* const*>(plan.envp));
    if (errno != ENOENT && errno != ENOTDIR) error = errno;
  }
  fail_child(plan, LaunchPhase::Exec, error);
}

// The helper: joins the service's cgroup and namespaces, forks the command into them, and
// reports its pid and, once it ends, its wait status.
[[noreturn]] void run_helper(const ExecPlan& plan) noexcept {
  // First: a CLI that is gone must not leave a command running in the service's sandbox.
  check(plan, LaunchPhase::ParentDeathSignal, ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0));
  if (::getppid() != plan.parent) fail_child(plan, LaunchPhase::ParentDeathSignal, ESRCH);
  if (plan.cgroup_procs_fd >= 0)
    check(plan, LaunchPhase::Cgroup, ::write(plan.cgroup_procs_fd, "0", 1));
  if (plan.enter_namespaces) {
    check(plan, LaunchPhase::Namespaces, ::setns(plan.pidfd, static_cast<int>(plan.namespaces)));
  }
  const long command = platform::fork_raw();
  if (command < 0) fail_child(plan, LaunchPhase::Fork, static_cast<int>(-command));
  if (command == 0) run_command(plan);
  send(plan, {ExecReport::Kind::Started, LaunchPhase::Fork, 0, static_cast<std::int32_t>(command)});
  ::close(plan.resume_fd);
  int status = 0;
  while (::waitpid(static_cast<pid_t>(command), &status, 0) < 0) {
    if (errno != EINTR) ::_exit(127);
  }
  send(plan, {ExecReport::Kind::Ended, LaunchPhase::Fork, 0, status});
  ::_exit(0);
}

// The service's limits as they are now, from /proc/PID/limits (prlimit(2) of another user's
// process needs CAP_SYS_RESOURCE, which a runtime under a container may lack): one line per
// resource in RLIMIT_* order after the header, columns "%-25s %-20s %-20s".
Result<std::vector<ResourceLimit>> rlimits_of(pid_t pid) {
  const std::string path = cat("/proc/", pid, "/limits");
  auto text = read_text_file(path);
  if (!text) return std::unexpected(text.error());
  auto value_of = [](std::string_view cell, rlim_t& value) {
    while (!cell.empty() && cell.back() == ' ') cell.remove_suffix(1);
    if (cell == "unlimited") {
      value = RLIM_INFINITY;
      return true;
    }
    char* end = nullptr;
    const std::string digits(cell);
    value = static_cast<rlim_t>(std::strtoull(digits.c_str(), &end, 10));
    return !digits.empty() && *end == '\0';
  };
  std::vector<ResourceLimit> limits;
  std::size_t start = text->find('\n');
  for (int resource = 0; resource < RLIMIT_NLIMITS && start != std::string::npos; ++resource) {
    const std::size_t end = text->find('\n', start + 1);
    const std::string line = text->substr(start + 1, end - start - 1);
    start = end;
    ResourceLimit limit{resource, {}};
    if (line.size() < 67 || !value_of(std::string_view(line).substr(26, 20), limit.value.rlim_cur) ||
        !value_of(std::string_view(line).substr(47, 20), limit.value.rlim_max)) {
      return fail(cat(path, ": line ", resource + 2, " is not a limit: \"", line, "\""));
    }
    limits.push_back(limit);
  }
  return limits;
}

// The first number of a /proc/PID/status field ("Uid:\t61184\t61184\t..." -> 61184).
std::optional<unsigned long> status_number(const std::string& status, std::string_view field) {
  auto value = platform::proc_status_field(status, field);
  if (!value) return std::nullopt;
  char* end = nullptr;
  const unsigned long number = std::strtoul(std::string(*value).c_str(), &end, 10);
  return number;
}

std::vector<const char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<const char*> pointers;
  for (const auto& text : strings) pointers.push_back(text.c_str());
  pointers.push_back(nullptr);
  return pointers;
}

std::vector<std::string> path_entries(const std::string& path) {
  std::vector<std::string> entries;
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto colon = std::min(path.find(':', start), path.size());
    if (colon > start) entries.push_back(path.substr(start, colon - start));
    start = colon + 1;
  }
  return entries;
}

// Forwarded to the command, as a terminal's job control would: the caller's Ctrl-C.
pid_t g_command = 0;
void forward_signal(int signal) {
  if (g_command > 0) ::kill(g_command, signal);
}

}  // namespace

Result<int> exec_in_service(const ExecRequest& request) {
  const LaunchSpec& spec = *request.spec;
  if (request.command.empty()) return fail("no command to run");
  // The service's process (the runtime reports it, not its init): setns() through its pidfd
  // enters the namespaces it runs in.
  const pid_t service = request.main_pid;
  auto pidfd = platform::pidfd_open(service);
  if (!pidfd) return std::unexpected(pidfd.error());
  // The sandbox the manifest describes, not one from before a change of it.
  auto status = read_text_file(cat("/proc/", service, "/status"));
  if (!status) return std::unexpected(status.error());
  const auto uid = status_number(*status, "Uid");
  if (!uid || *uid != spec.identity.uid) {
    return fail(cat("service ", spec.service, " runs as uid ", uid ? std::to_string(*uid) : "?",
                    ", its manifest now says ", spec.identity.uid),
                "restart it (ipcrt restart) or reload the manifest, then exec again");
  }
  auto rlimits = rlimits_of(service);
  if (!rlimits) return std::unexpected(rlimits.error());
  std::string working_directory = "/";
  char link[PATH_MAX];
  const ssize_t length = ::readlink(cat("/proc/", service, "/cwd").c_str(), link, sizeof link - 1);
  if (length > 0) working_directory.assign(link, static_cast<std::size_t>(length));

  // The program's candidates: as given if it has a '/', else along the service's PATH.
  std::vector<std::string> candidates;
  const std::string& program = request.command.front();
  if (program.find('/') != std::string::npos) {
    candidates.push_back(program);
  } else {
    std::string path = kDefaultPath;
    for (const auto& entry : spec.environment) {
      if (entry.starts_with("PATH=")) path = entry.substr(5);
    }
    for (const auto& dir : path_entries(path)) candidates.push_back(cat(dir, '/', program));
  }
  auto candidate_pointers = c_strings(candidates);
  auto argv = c_strings(request.command);
  auto envp = c_strings(spec.environment);

  platform::UniqueFd cgroup_procs;
  if (!spec.cgroup.empty()) {
    cgroup_procs.reset(::open(cat(spec.cgroup, "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
    if (!cgroup_procs.valid()) return fail_errno(cat("open ", spec.cgroup, "/cgroup.procs"));
  }
  int report_fds[2];
  int resume_fds[2];
  if (::pipe2(report_fds, O_CLOEXEC) != 0) return fail_errno("pipe");
  platform::UniqueFd report_read(report_fds[0]);
  platform::UniqueFd report_write(report_fds[1]);
  if (::pipe2(resume_fds, O_CLOEXEC) != 0) return fail_errno("pipe");
  platform::UniqueFd resume_read(resume_fds[0]);
  platform::UniqueFd resume_write(resume_fds[1]);

  ExecPlan plan;
  plan.spec = &spec;
  plan.enter_namespaces = spec.sandboxed;
  plan.pidfd = pidfd->get();
  plan.namespaces = CLONE_NEWNS | CLONE_NEWPID;
  if (spec.sandbox.new_ipc_namespace) plan.namespaces |= CLONE_NEWIPC;
  plan.cgroup_procs_fd = cgroup_procs.get();
  plan.report_fd = report_write.get();
  plan.parent = ::getpid();
  plan.resume_fd = resume_read.get();
  plan.candidates = candidate_pointers.data();
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.rlimits = &*rlimits;
  plan.working_directory = working_directory.c_str();

  const long helper = platform::fork_raw();
  if (helper < 0) return fail_errno("fork", static_cast<int>(-helper));
  if (helper == 0) {
    ::close(resume_write.get());  // only the CLI holds it: its end is the pipe's hang-up
    run_helper(plan);
  }
  report_write.reset();
  resume_read.reset();

  struct sigaction forward {};
  forward.sa_handler = forward_signal;
  for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::sigaction(signal, &forward, nullptr);

  std::optional<Error> failure;
  int command_status = -1;
  int listener_fd = -1;  // the command's, until its pid (from the helper) is known too
  // Takes the command's listener, has it served like the service's, and lets it exec.
  auto take_listener = [&] {
    auto command_fd = platform::pidfd_open(g_command);
    Result<platform::UniqueFd> listener =
        command_fd ? platform::pidfd_getfd(command_fd->get(), listener_fd)
                   : Result<platform::UniqueFd>(std::unexpected(command_fd.error()));
    listener_fd = -1;
    Status served = listener ? Status{} : Status(std::unexpected(listener.error()));
    if (served && request.mediation == nullptr) served = fail("no mediation for the command");
    if (served) served = request.mediation->serve(spec.service, std::move(*listener));
    if (!served) {
      ::kill(g_command, SIGKILL);  // its mediated calls would fail oddly
      failure = served.error();
      return;
    }
    if (::write(resume_write.get(), "g", 1) != 1) failure = Error{"resume the command", errno, {}};
  };
  for (;;) {
    ExecReport report{};
    ssize_t n = ::read(report_read.get(), &report, sizeof report);
    if (n < 0 && errno == EINTR) continue;
    if (n != static_cast<ssize_t>(sizeof report)) break;  // the helper and command are gone
    if (report.kind == ExecReport::Kind::Started) {
      g_command = report.value;
      if (listener_fd >= 0) take_listener();
    } else if (report.kind == ExecReport::Kind::Failure) {
      failure = Error{
          cat("phase ", launch_phase_name(report.phase), " failed: ", std::strerror(report.errnum)),
          report.errnum, std::string(launch_errno_hint(report.phase, report.errnum))};
    } else if (report.kind == ExecReport::Kind::ListenerReady) {
      listener_fd = report.value;
      if (g_command > 0) take_listener();
    } else if (report.kind == ExecReport::Kind::Ended) {
      command_status = report.value;
    }
  }
  int helper_status = 0;
  while (::waitpid(static_cast<pid_t>(helper), &helper_status, 0) < 0 && errno == EINTR) {
  }
  g_command = 0;
  if (failure) return std::unexpected(std::move(*failure));
  if (command_status < 0) return fail("the command's helper ended before the command did");
  return command_status;
}

}  // namespace ipcrt::runtime
