// Fork, confine, exec. The child between fork and exec allocates nothing and calls only
// async-signal-safe syscalls; everything it reads was laid out by begin_launch() before fork.
#include "runtime/launch.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <mqueue.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "common/service_env.hpp"
#include "common/text.hpp"
#include "platform/capabilities.hpp"
#include "platform/descriptors.hpp"
#include "platform/id_syscalls.hpp"
#include "platform/memory.hpp"
#include "platform/mount.hpp"
#include "platform/namespace.hpp"
#include "platform/pidfd.hpp"
#include "platform/process.hpp"
#include "platform/seccomp_notify.hpp"
#include "platform/signalfd.hpp"
#include "runtime/gateway_sandbox.hpp"

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

// A run of what the child reads, laid out in its ChildImage.
template <class T>
struct Items {
  const T* data = nullptr;
  std::uint32_t count = 0;
  [[nodiscard]] const T* begin() const noexcept { return data; }
  [[nodiscard]] const T* end() const noexcept { return data + count; }
  [[nodiscard]] bool empty() const noexcept { return count == 0; }
  const T& operator[](std::uint32_t index) const noexcept { return data[index]; }
};

struct BindToMake {  // a ShmMount
  const char* source;
  const char* target;
  bool read_only;
};
struct NodeToMake {  // Sandbox::device_nodes: a standard node made as the host has it
  const char* source;
  const char* target;
  dev_t number;  // the source's st_rdev; 0: not on the host
};
struct LinkToMake {
  const char* target;
  const char* link;
};
struct DeviceToMake {  // a DeviceNode of SPEC §4a
  const char* target;
  mode_t mode;
  dev_t rdev;
  gid_t gid;
};

// A sandboxed child's Sandbox and GatewayLaunch. nullptr for a path of the Sandbox that is "".
struct SandboxPlan {
  const char* staging = nullptr;
  const char* dev_options = nullptr;
  const char* shm_options = nullptr;
  const char* tmp_options = nullptr;
  const char* staged_shm = nullptr;
  const char* staged_pts = nullptr;
  const char* notify_socket = nullptr;
  const char* staged_notify = nullptr;
  const char* state_directory = nullptr;
  const char* staged_passwd = nullptr;
  const char* staged_group = nullptr;
  Items<const char*> readonly_mounts;
  Items<const char*> writable_mounts;
  Items<const char*> writable_paths;
  Items<NodeToMake> standard_nodes;
  Items<LinkToMake> symlinks;
  Items<const char*> device_dirs;
  Items<DeviceToMake> devices;
};

// The child's view of its launch: scalars, and pointers into its ChildImage, a private
// mapping apart from the heap. The child is forked without the supervisor's heap (only the
// pages of its thread's TLS), so it reads no LaunchSpec, no std::string, no vector.
struct ChildPlan {
  const char* const* argv = nullptr;
  const char* const* envp = nullptr;
  sock_fprog filter{};
  bool capture_output = false;
  bool new_mount_namespace = false;
  int last_capability = -1;
  Items<BindToMake> shm_mounts;
  const char* private_shm_dir = nullptr;  // nullptr: the host's /dev/shm
  Items<const char*> hidden_mounts;
  Items<ResourceLimit> rlimits;
  SandboxPlan sandbox;
  pid_t parent = 0;
  int report_fd = -1;
  int resume_fd = -1;       // the parent writes one byte once it has taken the listener
  int exit_status_fd = -1;  // sandboxed: the init writes the service's wait status here
  int null_fd = -1;         // capture_output: /dev/null for stdin
  int output_fd = -1;       // and the write ends of the stdout and stderr pipes
  int errors_fd = -1;
  int control_fd = -1;  // LaunchSpec::control_fd
  // pass-queues: the queues opened before fork, all at descriptor_floor() or above, to be
  // dup2()ed to 3…; and the value of LISTEN_PID in envp, written once the pid is known.
  const int* passed_fds = nullptr;
  std::uint32_t passed_count = 0;
  char* listen_pid = nullptr;
  int cgroup_procs_fd = -1;  // the kernel lacks CLONE_INTO_CGROUP: the child joins through it
  // Sandboxed: the namespaces the child makes itself (mount, IPC), with unshare(2) on its own
  // CPU time instead of the supervisor's inside clone (issue 21); the pid namespace is the
  // clone's, so that the child is its pid 1.
  unsigned long unshared_namespaces = 0;
  bool sandboxed = false;
  bool change_identity = false;
  uid_t uid = 0;
  gid_t gid = 0;
  const gid_t* groups = nullptr;
  std::size_t group_count = 0;
  unsigned long long ambient_capabilities = 0;
  bool uses_notify = false;
  const char* working_directory = nullptr;  // nullptr: the runtime's
};

// The signals ipcrt's init passes on to the service: every stop signal a manifest may name
// (config/quantities), SIGABRT of the watchdog, SIGHUP. An init gets a signal from outside its pid
// namespace only if it has a handler for it, so each gets this one (never run: they are
// blocked and taken with sigwaitinfo).
constexpr int kForwardedSignals[] = {SIGTERM, SIGINT,  SIGHUP,  SIGQUIT,  SIGUSR1,
                                     SIGUSR2, SIGABRT, SIGALRM, SIGWINCH, SIGPWR};
void never_runs(int) {}

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

// `value` in decimal at `out`, NUL-terminated: what LISTEN_PID needs, without the allocating
// and locale-reading formatters.
void write_decimal(char* out, long value) noexcept {
  char digits[24];
  int count = 0;
  do {
    digits[count++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0 && count < static_cast<int>(sizeof digits));
  for (int i = 0; i < count; ++i) out[i] = digits[count - 1 - i];
  out[count] = '\0';
}

// `status` is 0 or -errno, as the platform wrappers return and syscall_status() makes of a
// raw call. `item` says which mount of a per-mount phase failed.
void check(const ChildPlan& plan, LaunchPhase phase, int status, std::uint32_t item = 0) noexcept {
  if (status < 0) report_failure(plan, phase, -status, item);
}

using platform::kSysSetgroups;
using platform::kSysSetresgid;
using platform::kSysSetresuid;

// A raw syscall's result (negative with errno set on failure) as 0 or -errno.
int syscall_status(long result) noexcept {
  return result < 0 ? -errno : 0;
}

int reset_oom_score() noexcept {
  const int fd = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? 0 : -errno;
  const int status = ::write(fd, "0", 1) == 1 ? 0 : -errno;
  ::close(fd);
  return status;
}

// /dev itself read-only: nothing can be added to it; the mounts inside (/dev/pts, /dev/shm)
// keep their own flags. The device nodes made in it need it without nodev; they are the only
// ones it holds, and the service has no CAP_MKNOD to add any.
int remount_dev_readonly() noexcept {
  const unsigned long flags = MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC;
  return ::mount(nullptr, "/dev", nullptr, flags, nullptr) == 0 ? 0 : -errno;
}

// The standard nodes (null, zero, ...) made with mknod as the host has them: a node on the
// service's /dev tmpfs, not a mount of the host's (six fewer mounts to make at each start and
// to tear down at each exit). Without CAP_MKNOD (ipcrt in a container) the host's is bound.
int make_standard_node(const char* source, const char* target, dev_t number) noexcept {
  if (number == 0) return 0;  // not on the host: none in the service's view either
  if (::mknod(target, S_IFCHR | 0666, number) != 0) {
    return errno == EPERM ? platform::bind_file(source, target, 0666) : -errno;
  }
  return ::chmod(target, 0666) == 0 ? 0 : -errno;  // mknod's mode went through the umask
}

// SPEC §4a, before the staging directory is covered: the state directory writable again on a
// read-only host, the generated passwd and group over the host's (where it has them).
void build_gateway_view(const ChildPlan& plan) noexcept {
  const SandboxPlan& sandbox = plan.sandbox;
  if (sandbox.state_directory != nullptr && !sandbox.readonly_mounts.empty()) {
    const char* dir = sandbox.state_directory;
    check(plan, LaunchPhase::StateDirectory, platform::bind_mount(dir, dir, true));
    check(plan, LaunchPhase::StateDirectory, platform::remount_writable(dir));
  }
  const std::pair<const char*, const char*> files[] = {{sandbox.staged_passwd, "/etc/passwd"},
                                                       {sandbox.staged_group, "/etc/group"}};
  for (std::uint32_t i = 0; i < 2; ++i) {
    const auto& [staged, target] = files[i];
    if (staged == nullptr) continue;
    struct stat info {};
    if (::stat(target, &info) != 0) continue;  // an initramfs without one: nothing to cover
    check(plan, LaunchPhase::AccountFiles, platform::bind_mount(staged, target, false), i);
    check(plan, LaunchPhase::AccountFiles, platform::remount_bind_readonly(target), i);
  }
}

// SPEC §4a: the granted device nodes, made in the new /dev (root's, the device's group, the
// manifest's access), so the host's nodes and their owners stay as they are.
void make_device_nodes(const ChildPlan& plan) noexcept {
  for (const char* dir : plan.sandbox.device_dirs) {
    check(plan, LaunchPhase::Devices, syscall_status(::mkdir(dir, 0755)));
  }
  for (std::uint32_t i = 0; i < plan.sandbox.devices.count; ++i) {
    const DeviceToMake& node = plan.sandbox.devices[i];
    const char* target = node.target;
    check(plan, LaunchPhase::Devices, syscall_status(::mknod(target, node.mode, node.rdev)), i);
    // mknod's mode went through the umask.
    check(plan, LaunchPhase::Devices, syscall_status(::chmod(target, node.mode & 07777)), i);
    check(plan, LaunchPhase::Devices, syscall_status(::chown(target, 0, node.gid)), i);
  }
}

// The view of a sandboxed service (SPEC §4.3), built in its new mount namespace while it is
// still root. Order matters: host mounts are made read-only before ipcrt's own are mounted
// (those stay writable), and the new /dev is assembled beside the host's, whose objects it
// binds, before it is moved over /dev.
void build_sandbox(const ChildPlan& plan) noexcept {
  const SandboxPlan& sandbox = plan.sandbox;
  check(plan, LaunchPhase::Namespaces, syscall_status(::unshare(plan.unshared_namespaces)));
  check(plan, LaunchPhase::MountPropagation, platform::make_mounts_slave());
  const int whole = sandbox.readonly_mounts.empty()
                        ? 0
                        : platform::set_mount_readonly("/", true, /*recursive=*/true);
  if (whole == -ENOSYS || whole == -EPERM) {  // before Linux 5.12, or a container's filter
    for (const char* mount : sandbox.readonly_mounts) {
      // ENOENT, EINVAL: unmounted since the list was read (another run's tmpfs).
      const int status = platform::remount_readonly(mount);
      if (status != -ENOENT && status != -EINVAL) check(plan, LaunchPhase::ReadonlyHost, status);
    }
  } else {
    check(plan, LaunchPhase::ReadonlyHost, whole);
    for (const char* mount : sandbox.writable_mounts) {
      check(plan, LaunchPhase::ReadonlyHost, platform::set_mount_readonly(mount, false, false));
    }
  }
  // A bind of each writable path onto itself is a mount of its own, writable again.
  for (const char* path : sandbox.writable_paths) {
    check(plan, LaunchPhase::ReadonlyHost, platform::bind_mount(path, path, true));
    check(plan, LaunchPhase::ReadonlyHost, platform::remount_writable(path));
  }
  build_gateway_view(plan);

  const char* staging = sandbox.staging;
  check(plan, LaunchPhase::PrivateDev, platform::mount_tmpfs(staging, sandbox.dev_options));
  for (std::uint32_t i = 0; i < sandbox.standard_nodes.count; ++i) {
    const NodeToMake& node = sandbox.standard_nodes[i];
    check(plan, LaunchPhase::PrivateDev, make_standard_node(node.source, node.target, node.number),
          i);
  }
  for (const auto& [target, link] : sandbox.symlinks) {
    check(plan, LaunchPhase::PrivateDev, syscall_status(::symlink(target, link)));
  }
  make_device_nodes(plan);
  // A notify service's socket, the one socket of the runtime's it can reach.
  if (sandbox.notify_socket != nullptr) {
    check(plan, LaunchPhase::PrivateDev,
          platform::bind_file(sandbox.notify_socket, sandbox.staged_notify, 0600));
  }
  check(plan, LaunchPhase::PrivateDev, syscall_status(::mkdir(sandbox.staged_pts, 0755)));
  check(plan, LaunchPhase::PrivateDev, platform::mount_devpts(sandbox.staged_pts));
  // Its own /dev/shm, fresh at each start, size-limited; the granted objects bound in while
  // the host's /dev/shm is still in view.
  check(plan, LaunchPhase::PrivateShm, syscall_status(::mkdir(sandbox.staged_shm, 01777)));
  check(plan, LaunchPhase::PrivateShm,
        platform::mount_tmpfs(sandbox.staged_shm, sandbox.shm_options));
  for (std::uint32_t i = 0; i < plan.shm_mounts.count; ++i) {
    const BindToMake& mount = plan.shm_mounts[i];
    check(plan, LaunchPhase::ShmBind, platform::bind_file(mount.source, mount.target, 0600), i);
    if (mount.read_only) {
      check(plan, LaunchPhase::ShmReadonly, platform::remount_bind_readonly(mount.target), i);
    }
  }
  check(plan, LaunchPhase::PrivateDev, platform::move_mount_to(staging, "/dev"));
  check(plan, LaunchPhase::PrivateDev, remount_dev_readonly());

  // A /proc of its own pid namespace: it sees and can signal only its own processes.
  check(plan, LaunchPhase::Proc, platform::mount_proc("/proc"));
  for (const char* path : kReadonlyPaths) {
    check(plan, LaunchPhase::ReadonlyPaths, platform::make_path_readonly(path));
  }
  for (const char* path : kMaskedPaths) {
    check(plan, LaunchPhase::MaskedPaths, platform::mask_path(path, "/dev/null"));
  }
  for (const char* path : kPrivateTmpPaths) {
    const int status = platform::mount_tmpfs(path, sandbox.tmp_options);
    if (status != -ENOENT) check(plan, LaunchPhase::PrivateTmp, status);
  }
}

// ipcrt's minimal init: pid 1 of the service's pid namespace (SPEC §4.3). Forks the service
// as pid 2 and returns in it; in pid 1 it passes signals on, reaps orphans, and exits once the
// service has, after writing its wait status for the supervisor. When it exits, the kernel
// kills every process left in the namespace. It keeps only CAP_KILL (to signal the service
// whatever its uid) and allocates nothing.
void become_init_of(const ChildPlan& plan) noexcept {
  // The runtime may have died before PR_SET_PDEATHSIG took hold; getppid() says 0 to a pid
  // namespace's init, but the end of the resume pipe the runtime holds tells.
  check(plan, LaunchPhase::ParentDeathSignal,
        syscall_status(::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)));
  pollfd runtime{plan.resume_fd, POLLIN, 0};
  if (::poll(&runtime, 1, 0) > 0 && (runtime.revents & POLLHUP) != 0) {
    report_failure(plan, LaunchPhase::ParentDeathSignal, ESRCH);
  }
  struct sigaction forward {};
  forward.sa_handler = never_runs;
  for (int signal : kForwardedSignals) ::sigaction(signal, &forward, nullptr);
  sigset_t all;
  sigfillset(&all);
  ::sigprocmask(SIG_BLOCK, &all, nullptr);

  // What the service's fork copies is what the init still holds: of the descriptors only what
  // the service execs with (its passed queues, its control plug, the pipes of its report),
  // and of memory the stack, the ChildImage and the program's data (the supervisor left its
  // heap out of the init's fork). The service never needed the rest; the init does not from
  // here on (it reads only its stack).
  // More passed queues than close_descriptors_except_these() takes: the service inherits all,
  // as it did, and closes them at exec.
  int kept[64] = {plan.report_fd, plan.resume_fd, plan.exit_status_fd, plan.control_fd};
  if (plan.passed_count <= 64 - 4) {
    for (std::uint32_t i = 0; i < plan.passed_count; ++i) kept[4 + i] = plan.passed_fds[i];
    (void)platform::close_descriptors_except_these(kept, 4 + plan.passed_count);
  }
  const long service = platform::fork_raw();
  if (service < 0) report_failure(plan, LaunchPhase::ServiceInit, static_cast<int>(-service));
  if (service == 0) {
    // Not the init's forwarding handlers: a stop signal forwarded before exec ends the service.
    platform::reset_signal_dispositions();
    platform::unblock_all_signals();
    ::close(plan.exit_status_fd);
    return;
  }
  // The service reports its own phases and exec; only its copy of the pipe may stay open,
  // so that end-of-file still means "exec'd".
  // Nor anything of the runtime's (its lock, sockets, epoll): only the pipe it reports on.
  (void)platform::close_descriptors_except(plan.exit_status_fd);
  if (plan.output_fd >= 0) ::close(STDOUT_FILENO);  // nor keep the service's pipes open
  if (plan.errors_fd >= 0) ::close(STDERR_FILENO);
  (void)::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  (void)platform::keep_only_capability(CAP_KILL);
  (void)platform::set_no_new_privs();
  for (;;) {
    siginfo_t info{};
    const int signal = ::sigwaitinfo(&all, &info);
    if (signal == SIGCHLD) {
      int status = 0;
      long reaped;
      while ((reaped = ::waitpid(-1, &status, WNOHANG)) > 0) {
        if (reaped != service) continue;  // an orphan of the service
        [[maybe_unused]] auto written = ::write(plan.exit_status_fd, &status, sizeof status);
        ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
      }
    } else if (signal > 0) {
      ::kill(static_cast<pid_t>(service), signal);
    }
  }
}

[[noreturn]] void exec_service(const ChildPlan& plan) noexcept;

// The confinement of one service, in order (SPEC §4.3). Runs in the child; never returns.
[[noreturn]] void exec_service_child(const ChildPlan& plan) noexcept {
  // Before anything else runs: nothing of the service may happen outside its cgroup.
  if (plan.cgroup_procs_fd >= 0) {
    check(plan, LaunchPhase::Cgroup, syscall_status(::write(plan.cgroup_procs_fd, "0", 1)));
  }
  platform::reset_signal_dispositions();  // the runtime ignores most; execve keeps that
  platform::unblock_all_signals();        // the supervisor's signalfd mask is inherited
  // Its own session: no controlling terminal (TIOCSTI could type into an operator's shell).
  check(plan, LaunchPhase::Session, syscall_status(::setsid()));
  if (plan.capture_output) {
    // Never the runtime's terminal or file descriptions (SPEC §4.3): a service could block
    // them, or change their flags under the runtime.
    check(plan, LaunchPhase::Stdio, syscall_status(::dup2(plan.null_fd, STDIN_FILENO)));
    check(plan, LaunchPhase::Stdio, syscall_status(::dup2(plan.output_fd, STDOUT_FILENO)));
    check(plan, LaunchPhase::Stdio, syscall_status(::dup2(plan.errors_fd, STDERR_FILENO)));
  }
  // Descriptors the runtime itself inherited must not reach the service; ours are all
  // close-on-exec already.
  check(plan, LaunchPhase::CloseFds, platform::mark_descriptors_cloexec(3));
  // ...except the control plug's connection, the one descriptor a service inherits (§10).
  if (plan.control_fd >= 0) {
    check(plan, LaunchPhase::CloseFds, syscall_status(::fcntl(plan.control_fd, F_SETFD, 0)));
  }
  if (plan.sandboxed) {
    // The runtime protects itself from the OOM killer (-1000), which children inherit.
    check(plan, LaunchPhase::OomScore, reset_oom_score());
    build_sandbox(plan);
  }

  if (plan.new_mount_namespace && !plan.sandboxed) {
    check(plan, LaunchPhase::MountNamespace, platform::enter_new_mount_namespace());
    check(plan, LaunchPhase::MountPropagation, platform::make_mounts_slave());
  }
  if (plan.private_shm_dir != nullptr) {
    // Objects are bound into the private dir while the host /dev/shm is still visible; the
    // recursive bind of the dir over /dev/shm then carries them, read-only flags included.
    for (std::uint32_t i = 0; i < plan.shm_mounts.count; ++i) {
      const BindToMake& mount = plan.shm_mounts[i];
      check(plan, LaunchPhase::ShmBind, platform::bind_mount(mount.source, mount.target, false), i);
      if (mount.read_only) {
        check(plan, LaunchPhase::ShmReadonly, platform::remount_bind_readonly(mount.target), i);
      }
    }
    check(plan, LaunchPhase::PrivateShm,
          platform::bind_mount(plan.private_shm_dir, "/dev/shm", true));
  }
  for (std::uint32_t i = 0; i < plan.hidden_mounts.count; ++i) {
    const int status = platform::cover_with_empty_tmpfs(plan.hidden_mounts[i]);
    // Sandboxed, a mount point under a path the sandbox replaced (a private /tmp) is gone
    // from the service's view already.
    if (!(plan.sandboxed && status == -ENOENT)) check(plan, LaunchPhase::HideMqueue, status, i);
  }
  if (plan.last_capability >= 0) {
    check(plan, LaunchPhase::CapabilityBoundingSet,
          platform::drop_capability_bounding_set_except(plan.last_capability,
                                                        plan.ambient_capabilities));
    check(plan, LaunchPhase::InheritableCapabilities, platform::clear_inheritable_capabilities());
  }
  for (const auto& limit : plan.rlimits) {
    check(
        plan, LaunchPhase::Rlimits,
        syscall_status(::setrlimit(static_cast<__rlimit_resource>(limit.resource), &limit.value)));
  }
  if (plan.sandboxed) become_init_of(plan);  // returns in the service, pid 2
  exec_service(plan);
}

// The service's last steps, sandboxed after its init forked it: no LaunchSpec (its init has
// none), only the ChildPlan and the ChildImage.
[[noreturn]] void exec_service(const ChildPlan& plan) noexcept {
  // pass-queues (SPEC §11): every source is above the targets (begin_launch), so no dup2
  // overwrites a queue still to be placed or a descriptor still needed; a new descriptor
  // is not close-on-exec, while the sources are and go at exec.
  for (std::uint32_t i = 0; i < plan.passed_count; ++i) {
    check(plan, LaunchPhase::PassQueues,
          syscall_status(::dup2(plan.passed_fds[i], kFirstPassedFd + static_cast<int>(i))), i);
  }
  // The pid the service sees: 2 under its init, its own where it is not sandboxed.
  if (plan.listen_pid != nullptr) write_decimal(plan.listen_pid, ::getpid());
  if (plan.change_identity) {
    // The raw syscalls, not glibc's wrappers: those are setxid broadcasts that take glibc's
    // thread-list lock and signal every thread it knows of. This child was cloned raw from a
    // supervisor with mediation threads, so that state is theirs and may be locked; the
    // syscalls change this single-threaded process only.
    // SPEC §4a: the permitted set survives the uid change, to become the ambient set below.
    if (plan.ambient_capabilities != 0) {
      check(plan, LaunchPhase::AmbientCapabilities,
            syscall_status(::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0)));
    }
    check(plan, LaunchPhase::Setgroups,
          syscall_status(::syscall(kSysSetgroups, plan.group_count, plan.groups)));
    check(plan, LaunchPhase::Setgid,
          syscall_status(::syscall(kSysSetresgid, plan.gid, plan.gid, plan.gid)));
    check(plan, LaunchPhase::Setuid,
          syscall_status(::syscall(kSysSetresuid, plan.uid, plan.uid, plan.uid)));
  }
  // Only what the manifest keeps; PR_SET_NO_NEW_PRIVS below leaves ambient capabilities be.
  if (plan.ambient_capabilities != 0) {
    check(plan, LaunchPhase::AmbientCapabilities,
          platform::set_ambient_capabilities(plan.ambient_capabilities));
  }
  // Set after the uid change, which clears it; a runtime that died before this line is
  // caught by the getppid() check.
  check(plan, LaunchPhase::ParentDeathSignal,
        syscall_status(::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)));
  // Sandboxed, the parent is ipcrt's init, which checked for the runtime itself; its death
  // ends the whole pid namespace anyway.
  if (!plan.sandboxed && ::getppid() != plan.parent) {
    report_failure(plan, LaunchPhase::ParentDeathSignal, ESRCH);
  }
  if (plan.working_directory != nullptr) {
    check(plan, LaunchPhase::WorkingDirectory, syscall_status(::chdir(plan.working_directory)));
  }
  check(plan, LaunchPhase::NoNewPrivs, platform::set_no_new_privs());
  if (plan.filter.len != 0) {
    // From here on only kSyscallsAfterFilterLoad: the filter need not allow sendmsg.
    int loaded = platform::load_seccomp_filter(plan.filter, plan.uses_notify);
    check(plan, LaunchPhase::Seccomp, loaded < 0 ? loaded : 0);
    if (plan.uses_notify) {
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
                          const std::vector<ResourceLimit>& default_rlimits,
                          const LaunchOptions& options) {
  LaunchSpec spec;
  spec.service = service.name;
  // Planned without identities (unit tests), the command is the manifest's as it is.
  spec.arguments = planned.command.empty() ? service.command : planned.command;
  for (auto& [key, value] : service_environment(service, planned)) {
    spec.environment.push_back(key + "=" + value);
  }
  spec.passed_queues = planned.passed_queues;
  if (!spec.passed_queues.empty()) {
    // sd_listen_fds_with_names()'s variables (SPEC §11), added by the launch as the other
    // protocol variables are (NOTIFY_SOCKET, IPCRT_CONTROL_FD): validate keeps the manifest
    // from setting them, the erase keeps anything else from doubling them. LISTEN_PID is
    // written by the child once it knows the pid the service sees.
    std::vector<std::string> names;
    for (const auto& queue : spec.passed_queues) names.push_back(queue.path.substr(1));
    const std::pair<const char*, std::string> variables[] = {
        {kListenFdsVariable, std::to_string(spec.passed_queues.size())},
        {kListenFdNamesVariable, join(names, kPathListSeparator)},
        {kListenPidVariable, "0"}};
    for (const auto& [key, value] : variables) {
      const std::string prefix = cat(key, '=');
      std::erase_if(spec.environment,
                    [&](const std::string& entry) { return entry.starts_with(prefix); });
      spec.environment.push_back(prefix + value);
    }
  }

  const bool confined = service.confinement != config::Confinement::Off;
  spec.new_mount_namespace = confined;
  spec.capture_output = options.capture_output;
  if (confined) {
    spec.last_capability = platform::last_capability();
    std::optional<Result<std::vector<platform::MountEntry>>> read_now;
    if (options.host_mounts == nullptr) read_now.emplace(platform::mount_table());
    const auto& host_mounts = options.host_mounts != nullptr ? *options.host_mounts : *read_now;
    // Unreadable mountinfo: hide the usual place rather than none (the child fails the launch
    // if it cannot, instead of starting a service that could go around mediation). Those
    // under /dev go with the host's /dev.
    spec.hidden_mounts = host_mounts ? platform::mount_points_of_type("mqueue", *host_mounts)
                                     : std::vector<std::string>{"/dev/mqueue"};
    std::erase_if(spec.hidden_mounts, [](const std::string& path) {
      return path == "/dev" || path.starts_with("/dev/");
    });
    spec.sandboxed = true;
    Sandbox& sandbox = spec.sandbox;
    sandbox.staging = planned.shm_dir;
    sandbox.dev_options = "size=65536,mode=0755";
    // resources.shm-bytes and tmp-bytes (SPEC §13): budgets that need no cgroup.
    sandbox.shm_options = cat("size=", service.resources.shm_bytes, ",mode=1777");
    sandbox.tmp_options = cat("size=", service.resources.tmp_bytes, ",mode=1777");
    // Not in complain mode, whose calls the kernel runs as the service made them: in an IPC
    // namespace of its own, its mq_open would find none of the runtime's queues.
    sandbox.new_ipc_namespace =
        options.new_ipc_namespace && service.confinement == config::Confinement::Strict;
    sandbox.staged_shm = planned.shm_dir + "/shm";
    sandbox.staged_pts = planned.shm_dir + "/pts";
    for (const char* node : {"null", "zero", "full", "random", "urandom", "tty"}) {
      sandbox.device_nodes.push_back({cat("/dev/", node), cat(planned.shm_dir, "/", node), false});
    }
    for (const auto& [target, link] : std::initializer_list<std::pair<const char*, const char*>>{
             {"pts/ptmx", "ptmx"},
             {"/proc/self/fd", "fd"},
             {"/proc/self/fd/0", "stdin"},
             {"/proc/self/fd/1", "stdout"},
             {"/proc/self/fd/2", "stderr"}}) {
      sandbox.symlinks.emplace_back(target, cat(planned.shm_dir, "/", link));
    }
    // From the runtime's own tmpfs (SPEC §4.2), bound in before /run/ipcrt is masked.
    for (const auto& grant : planned.shm) {
      spec.shm_mounts.push_back({cat(planned.shm_store, '/', grant.name),
                                 sandbox.staged_shm + "/" + grant.name, !grant.writable});
    }
    // uid 0 keeps root's file access (not its capabilities): the host must be read-only to it.
    if (identity.uid == 0) {
      sandbox.readonly_mounts = host_mounts ? platform::mount_points_of_type({}, *host_mounts)
                                            : std::vector<std::string>{"/"};
      // ...but the runtime's shm store: a bind keeps its source mount's read-only flag, and
      // the objects it may write must stay writable. The store itself is out of its view
      // (/run/ipcrt is masked); what it may only read is bound read-only anyway.
      std::erase(sandbox.readonly_mounts, planned.shm_store);
      if (!planned.shm.empty()) sandbox.writable_mounts.push_back(planned.shm_store);
      // ...and what the manifest lists (checked at `plan`: existing, outside ipcrt's own).
      for (const auto& writable : service.writable_paths) {
        sandbox.writable_paths.push_back(writable.path);
      }
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
  for (const auto& queue : spec.passed_queues) paths.passed_queues.push_back(queue.path);
  paths.cgroup = spec.cgroup;
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
    case LaunchPhase::PassQueues:
      failure.path = item_of(paths.passed_queues, report.item);
      break;
    case LaunchPhase::Cgroup:
      failure.path = paths.cgroup;
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

// The process that holds the listener: the child itself, or sandboxed, the service its init
// forked (the init's only child while the service has not exec'd).
pid_t listener_holder(const PendingLaunch& pending) {
  if (!pending.sandboxed) return pending.pid;
  auto children = platform::child_pids(pending.pid);
  return children && children->size() == 1 ? children->front() : -1;
}

// Takes the child's listener and lets it go on to exec: 0, or -errno.
int take_listener(PendingLaunch& pending, int child_fd) {
  const pid_t holder = listener_holder(pending);
  if (holder <= 0) return -ESRCH;
  auto pidfd = platform::pidfd_open(holder);
  if (!pidfd) return -pidfd.error().errnum;
  auto listener = platform::pidfd_getfd(pidfd->get(), child_fd);
  if (!listener) return -listener.error().errnum;
  pending.listener = std::move(*listener);
  if (::write(pending.resume.get(), "g", 1) != 1) return -errno;
  return 0;
}

// Of the supervisor's heap, what a child must have: the pages of its thread's TLS and
// descriptor, which a static glibc places at the heap's start (before malloc's first chunk),
// and which every libc call the child makes reads (errno, the stack protector's canary). The
// child allocates nothing and reads nothing else of the heap (its ChildPlan and ChildImage).
// 0 (keep it all) where the heap's start is unknown or the TLS is not on the heap (a dynamic
// libc, whose lazy binding may read the heap). kThreadBlockSpan is more than glibc's
// static TLS block with its surplus and struct pthread, on every architecture ipcrt builds for.
std::uintptr_t init_heap_end() {
  constexpr std::uintptr_t kThreadBlockSpan = 64 * 1024;
  static const auto start = platform::heap_start();
  if (!start) return 0;
  const auto page = static_cast<std::uintptr_t>(::getpagesize());  // from the auxv: no syscall
  const auto end = platform::heap_end();
  const auto thread = reinterpret_cast<std::uintptr_t>(__builtin_thread_pointer());
  if (thread < *start || thread >= end) return 0;  // a dynamic libc: its TLS is elsewhere
  const std::uintptr_t kept = (thread + kThreadBlockSpan + page - 1) / page * page;
  return kept < end ? kept : 0;
}

// Lays out copies in one mapping. Without a base it only measures: the same calls then give
// the size a mapping needs, and nullptr for every copy.
class ImageArena {
 public:
  explicit ImageArena(char* base) : base_(base) {}
  [[nodiscard]] std::size_t size() const { return used_; }
  [[nodiscard]] bool laying_out() const { return base_ != nullptr; }  // not measuring

  char* take_bytes(std::size_t bytes, std::size_t alignment) {
    used_ = (used_ + alignment - 1) / alignment * alignment;  // the base is page-aligned
    char* at = base_ == nullptr ? nullptr : base_ + used_;
    used_ += bytes;
    return at;
  }
  void* copy_bytes(const void* from, std::size_t bytes, std::size_t alignment) {
    char* at = take_bytes(bytes, alignment);
    if (at != nullptr && bytes != 0) std::memcpy(at, from, bytes);
    return at;
  }
  template <class T>
  T* take(std::size_t count) {
    return reinterpret_cast<T*>(take_bytes(count * sizeof(T), alignof(T)));
  }
  const char* text(const std::string& text) {
    char* at = take<char>(text.size() + 1);
    if (at != nullptr) std::memcpy(at, text.c_str(), text.size() + 1);
    return at;
  }
  const char* text_or_none(const std::string& text) {
    return text.empty() ? nullptr : this->text(text);
  }
  // argv, envp: NULL-terminated, as execve takes them.
  const char** texts(const std::vector<std::string>& texts) {
    const char** at = take<const char*>(texts.size() + 1);
    for (std::size_t i = 0; i < texts.size(); ++i) {
      const char* copy = text(texts[i]);
      if (at != nullptr) at[i] = copy;
    }
    if (at != nullptr) at[texts.size()] = nullptr;
    return at;
  }
  // Each of `items` made into a T by `make` (which may copy texts itself).
  template <class T, class Range, class Make>
  Items<T> items(const Range& items, Make make) {
    T* at = take<T>(std::size(items));
    std::uint32_t count = 0;
    for (const auto& item : items) {
      T made = make(item);
      if (at != nullptr) at[count] = made;
      ++count;
    }
    return {at, count};
  }
  Items<const char*> text_items(const std::vector<std::string>& texts) {
    return {this->texts(texts), static_cast<std::uint32_t>(texts.size())};
  }
  // A copy of trivially copyable values.
  template <class T>
  const T* copy(const std::vector<T>& values) {
    static_assert(std::is_trivially_copyable_v<T>);
    return static_cast<const T*>(copy_bytes(values.data(), values.size() * sizeof(T), alignof(T)));
  }

 private:
  char* base_;
  std::size_t used_ = 0;
};

// Everything the child reads of its LaunchSpec and GatewayLaunch, copied out of the heap into
// one private mapping of its own (ChildPlan's pointers), so that the supervisor can fork it
// without its heap (begin_launch). The child's copy of the mapping outlives the parent's, which
// is unmapped once the child is forked; a sandboxed init's fork of the service copies only
// this mapping, the stack and the program's data.
struct ChildImage {
  platform::PrivateMapping mapping;
  const char** envp = nullptr;  // LISTEN_PID's entry may be pointed elsewhere

  static Result<ChildImage> lay_out(const LaunchSpec& spec, const GatewayLaunch& gateway,
                                    const std::vector<int>& passed_fds, ChildPlan& plan);
};

// Fills `plan` with what it takes from the spec: its scalars, and the arena's copies (nullptr
// in a measuring pass); returns envp. begin_launch adds the descriptors and pids.
const char** fill_child_plan(ImageArena& arena, const LaunchSpec& spec,
                             const GatewayLaunch& gateway, const std::vector<int>& passed_fds,
                             ChildPlan& plan) {
  plan.capture_output = spec.capture_output;
  plan.new_mount_namespace = spec.new_mount_namespace;
  plan.last_capability = spec.last_capability;
  plan.sandboxed = spec.sandboxed;
  plan.change_identity = spec.change_identity;
  plan.uid = spec.identity.uid;
  plan.gid = spec.identity.gid;
  plan.ambient_capabilities = spec.ambient_capabilities;
  plan.uses_notify = spec.filter.uses_notify;
  plan.control_fd = spec.control_fd;
  plan.argv = arena.texts(spec.arguments);
  const char** envp = arena.texts(spec.environment);
  plan.envp = envp;
  const auto& instructions = spec.filter.instructions;
  plan.filter.len = static_cast<unsigned short>(instructions.size());
  plan.filter.filter = const_cast<sock_filter*>(arena.copy(instructions));
  plan.groups = arena.copy(spec.identity.groups);
  plan.group_count = spec.identity.groups.size();
  plan.passed_fds = arena.copy(passed_fds);
  plan.passed_count = static_cast<std::uint32_t>(passed_fds.size());
  plan.working_directory = arena.text_or_none(spec.working_directory);
  plan.shm_mounts = arena.items<BindToMake>(spec.shm_mounts, [&](const ShmMount& mount) {
    return BindToMake{arena.text(mount.source), arena.text(mount.target), mount.read_only};
  });
  plan.private_shm_dir = arena.text_or_none(spec.private_shm_dir);
  plan.hidden_mounts = arena.text_items(spec.hidden_mounts);
  plan.rlimits = {arena.copy(spec.rlimits), static_cast<std::uint32_t>(spec.rlimits.size())};
  if (!spec.sandboxed) return envp;

  const Sandbox& sandbox = spec.sandbox;
  SandboxPlan& view = plan.sandbox;
  view.staging = arena.text(sandbox.staging);
  view.dev_options = arena.text(sandbox.dev_options);
  view.shm_options = arena.text(sandbox.shm_options);
  view.tmp_options = arena.text(sandbox.tmp_options);
  view.staged_shm = arena.text(sandbox.staged_shm);
  view.staged_pts = arena.text(sandbox.staged_pts);
  view.notify_socket = arena.text_or_none(sandbox.notify_socket);
  view.staged_notify = arena.text(sandbox.staged_notify);
  view.state_directory = arena.text_or_none(sandbox.state_directory);
  view.staged_passwd = arena.text_or_none(sandbox.staged_passwd);
  view.staged_group = arena.text_or_none(sandbox.staged_group);
  view.readonly_mounts = arena.text_items(sandbox.readonly_mounts);
  view.writable_mounts = arena.text_items(sandbox.writable_mounts);
  view.writable_paths = arena.text_items(sandbox.writable_paths);
  view.standard_nodes = arena.items<NodeToMake>(sandbox.device_nodes, [&](const ShmMount& each) {
    // The host's node as it is at this start (0: none, or not a character device).
    struct stat info {};
    const bool character =
        arena.laying_out() && ::stat(each.source.c_str(), &info) == 0 && S_ISCHR(info.st_mode);
    return NodeToMake{arena.text(each.source), arena.text(each.target),
                      character ? info.st_rdev : 0};
  });
  view.symlinks = arena.items<LinkToMake>(sandbox.symlinks, [&](const auto& each) {
    return LinkToMake{arena.text(each.first), arena.text(each.second)};
  });
  view.device_dirs = arena.text_items(gateway.device_dirs);
  view.devices = arena.items<DeviceToMake>(gateway.devices, [&](const DeviceNode& each) {
    return DeviceToMake{arena.text(each.target), each.mode, each.rdev, each.gid};
  });
  return envp;
}

Result<ChildImage> ChildImage::lay_out(const LaunchSpec& spec, const GatewayLaunch& gateway,
                                       const std::vector<int>& passed_fds, ChildPlan& plan) {
  ImageArena measure(nullptr);
  ChildPlan measured;
  (void)fill_child_plan(measure, spec, gateway, passed_fds, measured);
  auto mapping = platform::PrivateMapping::create(std::max<std::size_t>(measure.size(), 1));
  if (!mapping) return std::unexpected(mapping.error());
  ImageArena arena(mapping->data());
  ChildImage image;
  image.envp = fill_child_plan(arena, spec, gateway, passed_fds, plan);
  image.mapping = std::move(*mapping);
  return image;
}

// A launch's failure before its fork; out of line, as begin_launch has a dozen of them (the
// size budget of issue 12).
[[gnu::noinline]] std::unexpected<LaunchFailure> launch_failed(LaunchPhase phase, int errnum,
                                                               std::string path = {}) {
  return std::unexpected(LaunchFailure{phase, errnum, std::move(path)});
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

std::expected<PendingLaunch, LaunchFailure> begin_launch(const LaunchSpec& spec,
                                                         bool join_cgroup_in_child) {
  if (spec.arguments.empty()) return launch_failed(LaunchPhase::Exec, ENOEXEC);
  // Everything the child touches is laid out here, before fork. The child has its own copy
  // of this memory, so none of it needs to outlive this function.
  // pass-queues: opened here as the runtime, with the access the grants give (SPEC §11), a
  // description of their own at each start (so O_NONBLOCK set by one run is not the next's).
  std::vector<platform::UniqueFd> passed;
  for (const auto& queue : spec.passed_queues) {
    const mqd_t opened = ::mq_open(queue.path.c_str(), queue.access | O_CLOEXEC);
    if (opened < 0) {
      return launch_failed(LaunchPhase::PassQueues, errno, queue.path);
    }
    passed.emplace_back(opened);
  }
  if (spec.control_fd >= 0 && spec.control_fd < descriptor_floor(spec)) {
    // The launch hook must place it above the passed queues (descriptor_floor).
    return launch_failed(LaunchPhase::PassQueues, EBADF);
  }
  LaunchPaths paths = paths_of(spec);
  // SPEC §4a: devices resolved now (hotplugged nodes found at each start), passwd and group
  // written for this start.
  GatewayLaunch gateway;
  if (spec.sandboxed) {
    auto prepared = prepare_gateway_launch(spec.sandbox);
    if (!prepared) {
      return launch_failed(LaunchPhase::AccountFiles, prepared.error().errnum,
                           spec.sandbox.staging);
    }
    gateway = std::move(*prepared);
  }

  // The service's stdio and, sandboxed, the pipe its init reports the service's end on.
  platform::UniqueFd null_fd;
  platform::UniqueFd output_read;
  platform::UniqueFd output_write;
  platform::UniqueFd errors_read;
  platform::UniqueFd errors_write;
  platform::UniqueFd exit_read;
  platform::UniqueFd exit_write;
  auto make_pipe = [](platform::UniqueFd& read_end, platform::UniqueFd& write_end) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return false;
    read_end.reset(fds[0]);
    write_end.reset(fds[1]);
    return ::fcntl(read_end.get(), F_SETFL, O_NONBLOCK) == 0;
  };
  if (spec.capture_output) {
    null_fd.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!null_fd.valid() || !make_pipe(output_read, output_write) ||
        !make_pipe(errors_read, errors_write)) {
      return launch_failed(LaunchPhase::Pipe, errno);
    }
  }
  if (spec.sandboxed && !make_pipe(exit_read, exit_write)) {
    return launch_failed(LaunchPhase::Pipe, errno);
  }

  int report_fds[2];
  if (::pipe2(report_fds, O_CLOEXEC) != 0) {
    return launch_failed(LaunchPhase::Pipe, errno);
  }
  platform::UniqueFd report_read(report_fds[0]);
  platform::UniqueFd report_write(report_fds[1]);
  int resume_fds[2];
  if (::pipe2(resume_fds, O_CLOEXEC) != 0) {
    return launch_failed(LaunchPhase::Pipe, errno);
  }
  platform::UniqueFd resume_read(resume_fds[0]);
  platform::UniqueFd resume_write(resume_fds[1]);
  // Whatever the child uses goes above the numbers the passed queues take (3…), so that
  // placing them overwrites nothing.
  const int floor = descriptor_floor(spec);
  for (platform::UniqueFd* fd :
       {&null_fd, &output_write, &errors_write, &exit_write, &report_write, &resume_read}) {
    if (!fd->valid() || fd->get() >= floor) continue;
    const int moved = ::fcntl(fd->get(), F_DUPFD_CLOEXEC, floor);
    if (moved < 0) return launch_failed(LaunchPhase::Pipe, errno);
    fd->reset(moved);
  }
  std::vector<int> passed_fds;
  for (auto& fd : passed) {
    if (fd.get() < floor) {
      const int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, floor);
      if (moved < 0) return launch_failed(LaunchPhase::PassQueues, errno);
      fd.reset(moved);
    }
    passed_fds.push_back(fd.get());
  }
  ChildPlan plan;
  auto image = ChildImage::lay_out(spec, gateway, passed_fds, plan);
  if (!image) return launch_failed(LaunchPhase::Fork, image.error().errnum);
  std::array<char, 32> listen_pid{};
  char* listen_pid_value = nullptr;
  if (!passed.empty()) {
    const std::string prefix = cat(kListenPidVariable, '=');
    for (std::size_t i = 0; i < spec.environment.size(); ++i) {
      if (!spec.environment[i].starts_with(prefix)) continue;
      std::copy(prefix.begin(), prefix.end(), listen_pid.begin());
      listen_pid_value = listen_pid.data() + prefix.size();
      image->envp[i] = listen_pid.data();
    }
  }

  plan.parent = ::getpid();
  plan.report_fd = report_write.get();
  plan.resume_fd = resume_read.get();
  plan.exit_status_fd = exit_write.get();
  plan.null_fd = null_fd.get();
  plan.output_fd = output_write.get();
  plan.errors_fd = errors_write.get();
  plan.listen_pid = listen_pid_value;

  // The child reads its stack, the program's data, the ChildImage and its TLS, nothing else
  // of the heap: the heap beyond the TLS stays out of its fork (issue 21). Copying its page
  // tables, and the faults of the supervisor's next writes to pages the fork had made
  // copy-on-write, were a third of the supervisor's CPU per launch at 256 services. No other
  // thread may fork meanwhile: in the supervisor only its main thread, which launches, ever
  // forks (the mediation threads never do). Where the kernel refuses, the child gets the
  // heap, as any fork does: its copy is kept until the service's exec (the init's, until its
  // exit), memory and no harm.
  const platform::HeapOutOfForks heap_out_of_fork(init_heap_end());
  unsigned long namespaces = 0;
  if (spec.sandboxed) {
    namespaces = CLONE_NEWPID;
    plan.unshared_namespaces = CLONE_NEWNS;
    if (spec.sandbox.new_ipc_namespace) plan.unshared_namespaces |= CLONE_NEWIPC;
  }
  long forked;
  platform::UniqueFd cgroup_procs;
  if (spec.cgroup_fd >= 0) {
    forked =
        join_cgroup_in_child ? -ENOSYS : platform::fork_raw_into_cgroup(namespaces, spec.cgroup_fd);
    if (forked == -ENOSYS || forked == -EINVAL || forked == -E2BIG) {
      // Linux < 5.7, or asked: the child joins its cgroup as its first step.
      cgroup_procs.reset(::openat(spec.cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC));
      if (!cgroup_procs.valid()) {
        return launch_failed(LaunchPhase::Cgroup, errno, spec.cgroup);
      }
      // Written before the passed queues are placed, but above them all the same, as every
      // descriptor the child is given.
      if (cgroup_procs.get() < floor) {
        const int moved = ::fcntl(cgroup_procs.get(), F_DUPFD_CLOEXEC, floor);
        if (moved < 0) {
          return launch_failed(LaunchPhase::Cgroup, errno, spec.cgroup);
        }
        cgroup_procs.reset(moved);
      }
      plan.cgroup_procs_fd = cgroup_procs.get();
      forked = platform::fork_raw(namespaces);
    } else if (forked == -EBUSY || forked == -EOPNOTSUPP || forked == -EACCES || forked == -EBADF ||
               forked == -ENOENT) {
      return launch_failed(LaunchPhase::Cgroup, static_cast<int>(-forked), spec.cgroup);
    }
  } else {
    forked = platform::fork_raw(namespaces);
  }
  if (forked < 0) {
    return launch_failed(namespaces != 0 ? LaunchPhase::Namespaces : LaunchPhase::Fork,
                         static_cast<int>(-forked));
  }
  if (forked == 0) {
    ::close(report_read.get());
    // Only the runtime may hold the resume pipe's write end: its death is then the pipe's
    // hang-up, which the init checks for before its parent-death signal can catch it.
    ::close(resume_write.get());
    exec_service_child(plan);
  }
  PendingLaunch pending;
  pending.pid = static_cast<pid_t>(forked);
  pending.report = std::move(report_read);
  pending.resume = std::move(resume_write);
  pending.paths = std::move(paths);
  pending.sandboxed = spec.sandboxed;
  pending.exit_status = std::move(exit_read);
  pending.output = std::move(output_read);
  pending.errors = std::move(errors_read);
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

int service_wait_status(int exit_status_fd, int init_status) {
  if (exit_status_fd < 0) return init_status;
  int status = 0;
  ssize_t n;
  do {
    n = ::read(exit_status_fd, &status, sizeof status);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(sizeof status) ? status : init_status;
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
