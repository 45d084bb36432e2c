// Names and hints of the launch phases: two tables, checked at compile time against the enum.
#include "runtime/launch_phase.hpp"

#include <array>
#include <cerrno>

namespace ipcrt::runtime {
namespace {

struct PhaseRow {
  LaunchPhase phase;
  std::string_view name;
  std::string_view hint;  // for errnos the errno table has no row for
};

// In enum order (checked below), so a phase indexes its own row.
constexpr std::array kPhases{
    PhaseRow{LaunchPhase::Fork, "fork", "ipcrt could not fork the service's process"},
    PhaseRow{LaunchPhase::Pipe, "pipe",
             "ipcrt could not create the pipes it starts the service through"},
    PhaseRow{LaunchPhase::Cgroup, "cgroup",
             "the service could not be started inside its cgroup (SPEC §13)"},
    PhaseRow{LaunchPhase::Session, "session",
             "setsid(2) failed: the service could not get a session of its own"},
    PhaseRow{LaunchPhase::Stdio, "stdio",
             "stdin, stdout or stderr of the service could not be set up"},
    PhaseRow{LaunchPhase::CloseFds, "close-fds",
             "the descriptors ipcrt inherited could not be marked close-on-exec"},
    PhaseRow{LaunchPhase::OomScore, "oom-score",
             "the service's oom_score_adj could not be reset to 0 (ipcrt itself runs at -1000)"},
    PhaseRow{LaunchPhase::Namespaces, "namespaces",
             "clone(2) into a new pid namespace, or unshare(2) of the mount and IPC "
             "namespaces, failed"},
    PhaseRow{LaunchPhase::MountNamespace, "mount-namespace",
             "unshare(CLONE_NEWNS) failed: the service's private filesystem view needs a mount "
             "namespace (CONFIG_NAMESPACES)"},
    PhaseRow{LaunchPhase::MountPropagation, "mount-propagation",
             "making the service's mounts slaves of the host's failed"},
    PhaseRow{LaunchPhase::ReadonlyHost, "readonly-host",
             "a host mount could not be made read-only for a service running as root"},
    PhaseRow{LaunchPhase::StateDirectory, "state-directory",
             "the service's state directory could not be made writable in its read-only view"},
    PhaseRow{LaunchPhase::AccountFiles, "account-files",
             "the generated /etc/passwd and /etc/group of the service's view could not be "
             "written to its staging directory or bound over the host's"},
    PhaseRow{LaunchPhase::PrivateDev, "private-dev",
             "the service's minimal /dev could not be assembled"},
    PhaseRow{LaunchPhase::Devices, "devices",
             "a device node of \"devices\" could not be made in the service's /dev"},
    PhaseRow{LaunchPhase::ShmBind, "shm-bind",
             "a granted shared-memory object could not be bound into the service's private "
             "/dev/shm"},
    PhaseRow{LaunchPhase::ShmReadonly, "shm-readonly",
             "a shared-memory object granted for reading could not be made read-only"},
    PhaseRow{LaunchPhase::PrivateShm, "private-shm",
             "the service's private /dev/shm could not be bound over /dev/shm"},
    PhaseRow{LaunchPhase::Proc, "proc",
             "the service's own /proc could not be mounted"},
    PhaseRow{LaunchPhase::ReadonlyPaths, "readonly-paths",
             "a path of /proc or /sys could not be made read-only"},
    PhaseRow{LaunchPhase::MaskedPaths, "masked-paths",
             "a path of /proc, /sys or /run could not be masked"},
    PhaseRow{LaunchPhase::PrivateTmp, "private-tmp",
             "the service's private /tmp or /var/tmp could not be mounted"},
    PhaseRow{LaunchPhase::HideMqueue, "hide-mqueue",
             "a mount of the mqueue filesystem could not be covered with an empty tmpfs"},
    PhaseRow{LaunchPhase::CapabilityBoundingSet, "capability-bounding-set",
             "the capability bounding set could not be emptied"},
    PhaseRow{LaunchPhase::InheritableCapabilities, "inheritable-capabilities",
             "the inheritable and ambient capabilities could not be cleared"},
    PhaseRow{LaunchPhase::Rlimits, "rlimits", "a limit of \"rlimits\" could not be set"},
    PhaseRow{LaunchPhase::ServiceInit, "service-init",
             "ipcrt's init (pid 1 of the service's pid namespace) could not start the service"},
    PhaseRow{LaunchPhase::PassQueues, "pass-queues",
             "a queue of \"pass-queues\" could not be opened before fork, or placed at its "
             "descriptor (3 and up) in the service"},
    PhaseRow{LaunchPhase::Setgroups, "setgroups",
             "the service's supplementary groups could not be set"},
    PhaseRow{LaunchPhase::Setgid, "setgid", "the service's group could not be set"},
    PhaseRow{LaunchPhase::Setuid, "setuid", "the service's user could not be set"},
    PhaseRow{LaunchPhase::AmbientCapabilities, "ambient-capabilities",
             "the capabilities of \"capabilities\" could not be kept as ambient capabilities "
             "across the uid change (a kernel before 4.3 has none)"},
    PhaseRow{LaunchPhase::ParentDeathSignal, "parent-death-signal",
             "the service could not be tied to ipcrt's life (PR_SET_PDEATHSIG)"},
    PhaseRow{LaunchPhase::WorkingDirectory, "working-directory",
             "the service could not enter its working directory"},
    PhaseRow{LaunchPhase::NoNewPrivs, "no-new-privs", "PR_SET_NO_NEW_PRIVS could not be set"},
    PhaseRow{LaunchPhase::Seccomp, "seccomp",
             "the kernel refused the service's seccomp filter (see `ipcrt policy`)"},
    PhaseRow{LaunchPhase::TakeListener, "take-listener",
             "ipcrt could not take the seccomp listener out of the child, so it cannot mediate"},
    PhaseRow{LaunchPhase::Exec, "exec", "execve(2) of command[0] failed"},
    PhaseRow{LaunchPhase::Report, "report",
             "the child's report was cut short: it died before it could say why"},
    PhaseRow{LaunchPhase::Timeout, "timeout", "the child stalled before exec and was killed"},
};

constexpr bool rows_follow_the_enum() {
  if (kPhases.size() != kLaunchPhaseCount) return false;
  for (std::size_t i = 0; i < kPhases.size(); ++i) {
    if (static_cast<std::size_t>(kPhases[i].phase) != i) return false;
  }
  return true;
}
static_assert(rows_follow_the_enum(), "kPhases needs one row per LaunchPhase, in enum order");

struct ErrnoHint {
  LaunchPhase phase;
  int errnum;
  std::string_view hint;
};

constexpr std::string_view kNeedsRoot = "confinement needs root (or set \"confinement\": \"off\")";
constexpr std::string_view kSwitchNeedsRoot = "ipcrt must run as root to switch users";

constexpr ErrnoHint kErrnoHints[] = {
    {LaunchPhase::Fork, EAGAIN,
     "too many processes: the pids cgroup's pids.max or RLIMIT_NPROC of ipcrt's user is "
     "reached (or kernel.threads-max)"},
    {LaunchPhase::Fork, ENOMEM, "the system is out of memory"},
    {LaunchPhase::Pipe, EMFILE, "ipcrt ran out of descriptors: raise its RLIMIT_NOFILE"},
    {LaunchPhase::Pipe, ENFILE, "the system ran out of open files: raise fs.file-max"},
    {LaunchPhase::Session, EPERM, "the child already leads a process group: a bug of ipcrt"},
    {LaunchPhase::CloseFds, ENOENT,
     "without close_range(2) (Linux 5.11) the child lists /proc/self/fd: mount /proc"},
    {LaunchPhase::CloseFds, EACCES,
     "without close_range(2) (Linux 5.11) the child lists /proc/self/fd, which it may not "
     "read: check /proc's hidepid mount option"},
    {LaunchPhase::CloseFds, EMFILE,
     "the child had no descriptor left to list /proc/self/fd: raise ipcrt's RLIMIT_NOFILE"},
    {LaunchPhase::MountNamespace, EPERM, kNeedsRoot},
    {LaunchPhase::MountNamespace, ENOSPC,
     "too many mount namespaces: raise user.max_mnt_namespaces"},
    {LaunchPhase::MountNamespace, EINVAL,
     "the kernel has no mount namespaces: it needs CONFIG_NAMESPACES (or set \"confinement\": "
     "\"off\")"},
    {LaunchPhase::MountPropagation, EPERM, kNeedsRoot},
    {LaunchPhase::MountPropagation, EINVAL,
     "/ is not a mount point (ipcrt in a chroot?): run it where / is a mount"},
    {LaunchPhase::ShmBind, ENOENT,
     "the object or its mount point in the service's private /dev/shm is gone: both are made "
     "at boot, so something removed them while ipcrt ran"},
    {LaunchPhase::ShmBind, EPERM, kNeedsRoot},
    {LaunchPhase::ShmReadonly, EPERM, kNeedsRoot},
    {LaunchPhase::ShmReadonly, EINVAL, "the object's mount point is not a bind mount"},
    {LaunchPhase::PrivateShm, ENOENT,
     "the service's private /dev/shm directory is gone: it is made at boot, so something "
     "removed it while ipcrt ran"},
    {LaunchPhase::PrivateShm, EPERM, kNeedsRoot},
    {LaunchPhase::PassQueues, ENOENT,
     "the queue no longer exists (a service with \"delete\" on it unlinked it): restart "
     "ipcrt to create it again, or take \"delete\" away"},
    {LaunchPhase::PassQueues, EMFILE, "ipcrt ran out of descriptors: raise its RLIMIT_NOFILE"},
    {LaunchPhase::PassQueues, EBADF,
     "the service's rlimits.nofile does not reach its last passed queue (3 plus the number "
     "of queues): raise it"},
    {LaunchPhase::HideMqueue, ENOENT,
     "the mqueue mount point went away after ipcrt read /proc/self/mountinfo"},
    {LaunchPhase::HideMqueue, ENODEV, "the kernel has no tmpfs: it needs CONFIG_TMPFS"},
    {LaunchPhase::HideMqueue, EPERM, kNeedsRoot},
    {LaunchPhase::CapabilityBoundingSet, EPERM,
     "dropping capabilities needs CAP_SETPCAP: run ipcrt as root (or set \"confinement\": "
     "\"off\")"},
    {LaunchPhase::InheritableCapabilities, EPERM,
     "capset(2) was refused: run ipcrt as root (or set \"confinement\": \"off\")"},
    {LaunchPhase::StateDirectory, ENOENT,
     "the state directory is gone (it is made at boot): something removed it while ipcrt ran"},
    {LaunchPhase::StateDirectory, EPERM, kNeedsRoot},
    {LaunchPhase::AccountFiles, ENOSPC,
     "/run is full: the generated passwd and group files of the service's view live in its "
     "staging directory, /run/ipcrt/<manifest>/staging/<service>"},
    {LaunchPhase::AccountFiles, EPERM, kNeedsRoot},
    {LaunchPhase::Devices, EPERM, "making device nodes needs CAP_MKNOD: run ipcrt as root"},
    {LaunchPhase::Devices, EEXIST,
     "two entries of \"devices\" name the same node (or a directory and a node): list it once"},
    {LaunchPhase::AmbientCapabilities, EPERM,
     "a capability of \"capabilities\" is not in ipcrt's own bounding or permitted set: run "
     "ipcrt as root with that capability"},
    {LaunchPhase::AmbientCapabilities, EINVAL,
     "the kernel has no ambient capabilities (before 4.3) or not that capability: remove it "
     "from \"capabilities\""},
    {LaunchPhase::Rlimits, EPERM,
     "raising a hard limit needs root: lower the value in \"rlimits\" or run ipcrt as root"},
    {LaunchPhase::Rlimits, EINVAL,
     "a soft limit is above its hard limit, or nofile is above fs.nr_open: check \"rlimits\""},
    {LaunchPhase::Setgroups, EPERM, kSwitchNeedsRoot},
    {LaunchPhase::Setgroups, EINVAL, "more supplementary groups than the kernel's NGROUPS_MAX"},
    {LaunchPhase::Setgid, EPERM, kSwitchNeedsRoot},
    {LaunchPhase::Setgid, EINVAL, "the gid has no mapping in ipcrt's user namespace"},
    {LaunchPhase::Setuid, EPERM, kSwitchNeedsRoot},
    {LaunchPhase::Setuid, EINVAL, "the uid has no mapping in ipcrt's user namespace"},
    {LaunchPhase::Setuid, EAGAIN,
     "the service's user is at its RLIMIT_NPROC: raise \"nproc\" in \"rlimits\" or end some of "
     "its processes"},
    {LaunchPhase::ParentDeathSignal, ESRCH, "ipcrt ended while the service was starting"},
    {LaunchPhase::WorkingDirectory, ENOENT,
     "the working directory does not exist in the service's view (its /tmp, /var/tmp and "
     "/dev/shm are private and start empty)"},
    {LaunchPhase::WorkingDirectory, EACCES,
     "the service's user may not search the working directory or one above it: check their "
     "owners and modes"},
    {LaunchPhase::WorkingDirectory, ENOTDIR,
     "the working directory, or a path component of it, is not a directory"},
    {LaunchPhase::NoNewPrivs, EINVAL, "the kernel has no PR_SET_NO_NEW_PRIVS (Linux 3.5)"},
    {LaunchPhase::Seccomp, EINVAL,
     "the kernel cannot load this filter: it needs CONFIG_SECCOMP_FILTER, and mediation needs "
     "Linux 5.0 (or set \"confinement\": \"off\")"},
    {LaunchPhase::Seccomp, EACCES,
     "a filter needs no_new_privs or CAP_SYS_ADMIN, and no-new-privs ran before it: a bug of "
     "ipcrt"},
    {LaunchPhase::Seccomp, ENOMEM,
     "the filter and those ipcrt runs under pass the kernel's 32768 instructions: allow whole "
     "groups rather than many single syscalls"},
    {LaunchPhase::Seccomp, EBUSY,
     "ipcrt already runs under a filter with a listener (a container's?), and listeners do "
     "not nest: run ipcrt outside it"},
    {LaunchPhase::TakeListener, ENOSYS, "pidfd_getfd(2) needs Linux 5.6; mediation needs it"},
    {LaunchPhase::TakeListener, EPERM,
     "pidfd_getfd(2) needs ptrace access to the child: check kernel.yama.ptrace_scope and the "
     "LSM"},
    {LaunchPhase::Exec, ENOENT,
     "command[0] does not exist in the service's view (or, for a script or a dynamically "
     "linked program, its interpreter or loader does not)"},
    {LaunchPhase::Exec, EACCES,
     "command[0] is not executable by the service's user (check its mode and the mount's "
     "noexec)"},
    {LaunchPhase::Exec, ENOEXEC,
     "command[0] is not a program this kernel runs: another architecture, or a script "
     "without #!"},
    {LaunchPhase::Exec, ENOTDIR, "a path component of command[0] is not a directory"},
    {LaunchPhase::Exec, ETXTBSY, "command[0] is open for writing (being updated?)"},
    {LaunchPhase::Exec, E2BIG, "the arguments and environment are too long for execve(2)"},
    {LaunchPhase::Exec, EPERM, "an LSM (SELinux, AppArmor) refused to run command[0]"},
    {LaunchPhase::Stdio, EBADF, "a descriptor ipcrt prepared for the service's stdio was closed: a bug of ipcrt"},
    {LaunchPhase::OomScore, EACCES, "writing /proc/self/oom_score_adj was refused: is /proc mounted read-only?"},
    {LaunchPhase::Cgroup, EBUSY, "the service's cgroup passes controllers to children of its own (cgroup.subtree_control): it must be a leaf"},
    {LaunchPhase::Cgroup, EACCES, "ipcrt may not move processes into the service's cgroup: run it as root, or under systemd with Delegate=yes"},
    {LaunchPhase::Cgroup, ENOENT, "the service's cgroup was removed while ipcrt ran: restart the runtime"},
    {LaunchPhase::Namespaces, EPERM, kNeedsRoot},
    {LaunchPhase::Namespaces, ENOSPC, "too many namespaces: raise user.max_pid_namespaces and user.max_mnt_namespaces"},
    {LaunchPhase::Namespaces, EINVAL, "the kernel lacks pid or IPC namespaces: it needs CONFIG_PID_NS and CONFIG_IPC_NS (or set \"confinement\": \"off\")"},
    {LaunchPhase::ReadonlyHost, EPERM, kNeedsRoot},
    {LaunchPhase::ReadonlyHost, EACCES, "a host mount refused a read-only remount: give the service a \"user\" instead of root"},
    {LaunchPhase::PrivateDev, ENOENT, "the staging directory under /run/ipcrt/<manifest>/staging is gone: it is made at boot, so something removed it while ipcrt ran"},
    {LaunchPhase::PrivateDev, EPERM, kNeedsRoot},
    {LaunchPhase::PrivateDev, ENODEV, "the kernel has no tmpfs or devpts: it needs CONFIG_TMPFS and CONFIG_UNIX98_PTYS"},
    {LaunchPhase::Proc, EPERM, kNeedsRoot},
    {LaunchPhase::Proc, EBUSY, "/proc is busy in the service's view: a bug of ipcrt"},
    {LaunchPhase::ReadonlyPaths, EPERM, kNeedsRoot},
    {LaunchPhase::ReadonlyPaths, EACCES, "a /proc or /sys path refused a read-only bind: check the LSM"},
    {LaunchPhase::MaskedPaths, EPERM, kNeedsRoot},
    {LaunchPhase::PrivateTmp, EPERM, kNeedsRoot},
    {LaunchPhase::PrivateTmp, ENOMEM, "the tmpfs size (resources.tmp-bytes) could not be reserved"},
    {LaunchPhase::ServiceInit, EAGAIN, "too many processes: the pids cgroup's pids.max or RLIMIT_NPROC is reached"},
    {LaunchPhase::ServiceInit, ENOMEM, "the system is out of memory"},
    {LaunchPhase::Report, EIO,
     "the child ended without a complete report (killed before exec, by the OOM killer?)"},
    {LaunchPhase::Timeout, ETIMEDOUT,
     "the child did not exec within the supervisor's launch timeout: check the working "
     "directory and the mounts it uses (a hung NFS mount?)"},
};

}  // namespace

std::string_view launch_phase_name(LaunchPhase phase) noexcept {
  auto index = static_cast<std::size_t>(phase);
  return index < kPhases.size() ? kPhases[index].name : "unknown";
}

std::string_view launch_errno_hint(LaunchPhase phase, int errnum) noexcept {
  for (const auto& row : kErrnoHints) {
    if (row.phase == phase && row.errnum == errnum) return row.hint;
  }
  return {};
}

std::string_view launch_phase_hint(LaunchPhase phase) noexcept {
  auto index = static_cast<std::size_t>(phase);
  return index < kPhases.size() ? kPhases[index].hint : std::string_view{};
}

}  // namespace ipcrt::runtime
