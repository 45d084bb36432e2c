// Starting one service (SPEC §4.3): everything that can allocate or fail is prepared in the
// parent into a LaunchSpec; the child then only makes syscalls, in the order of
// exec_service_child() in launch.cpp, and reports a failing phase through a pipe.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <array>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "config/manifest.hpp"
#include "platform/fd.hpp"
#include "platform/mount.hpp"
#include "platform/seccomp.hpp"
#include "platform/users.hpp"
#include "runtime/launch_phase.hpp"
#include "runtime/plan.hpp"

namespace ipcrt::runtime {

// One shared-memory object made visible in the service's private /dev/shm.
struct ShmMount {
  std::string source;  // "/run/ipcrt/gateway/shm/frames": in the runtime's shm store
  std::string target;  // "/run/ipcrt/gateway/staging/uploader/frames": inside the private dir
  bool read_only = false;
};

struct ResourceLimit {
  int resource = 0;
  rlimit value{};
};

// The sandbox of a confined service (SPEC §4.3), as the child builds it in its own pid, mount
// (and where mediation runs, IPC) namespace: a fresh /proc, a minimal /dev assembled in
// `staging` (a directory of the host that the new /dev tmpfs is first mounted on, then moved
// over /dev), its own /dev/shm tmpfs with the granted objects bound in, private /tmp and
// /var/tmp, the OCI set of read-only and masked paths, /run/ipcrt and /run/systemd masked,
// and for a service running as uid 0 every host mount read-only.
// What every sandbox makes read-only, masks (with /dev/null) and gives a private tmpfs, as OCI
// runtimes do (SPEC §4.3).
inline constexpr const char* kReadonlyPaths[] = {"/proc/sys", "/proc/sysrq-trigger", "/proc/irq",
                                                 "/proc/bus", "/proc/fs",           "/sys"};
inline constexpr const char* kMaskedPaths[] = {"/proc/kcore",   "/proc/keys", "/proc/timer_list",
                                               "/sys/firmware", "/run/ipcrt", "/run/systemd"};
inline constexpr const char* kPrivateTmpPaths[] = {"/tmp", "/var/tmp"};

struct Sandbox {
  std::string staging;      // "/run/ipcrt/<manifest>/staging/<service>": made by the boot
  std::string dev_options;  // tmpfs options of the new /dev
  std::string shm_options;  // of its /dev/shm: "size=16777216,mode=1777"
  std::string tmp_options;  // of /tmp and /var/tmp
  bool new_ipc_namespace = false;
  // Paths under `staging`, laid out before fork so the child only makes syscalls.
  std::string staged_shm;   // staging + "/shm"
  std::string staged_pts;   // staging + "/pts"
  std::vector<ShmMount> device_nodes;  // host /dev/null, ...: made as staging/null, ... (mknod)
  std::vector<std::pair<std::string, std::string>> symlinks;  // target, link under staging
  // A notify service's socket (SPEC §11): the runtime's host path, bound onto staged_notify
  // (staging + "/ipcrt-notify", its /dev/ipcrt-notify); "" for other services.
  std::string notify_socket;
  std::string staged_notify;
  // uid 0: the host's mount points, made read-only (parents before children), but for the
  // manifest's writable-paths. Where the kernel has mount_setattr(2) the whole tree is made
  // read-only at once instead (also what was mounted after the list was read) and
  // `writable_mounts` (the runtime's shm store) writable again; the list is the fallback.
  std::vector<std::string> readonly_mounts;
  std::vector<std::string> writable_mounts;
  std::vector<std::string> writable_paths;
  // SPEC §4a (runtime/gateway_sandbox.hpp). The state directory, bound writable again when
  // the host is read-only (uid 0); "" for none.
  std::string state_directory;
  // The view's generated /etc/passwd and /etc/group, written to staged_passwd and
  // staged_group before each fork and bound read-only over the host's; "" for none.
  std::string passwd;
  std::string group;
  std::string staged_passwd;  // staging + "/passwd"
  std::string staged_group;   // staging + "/group"
  // The granted device nodes and patterns, resolved at each launch, each node made in the
  // service's /dev with `gid` as its group.
  struct Device {
    std::string path;  // "/dev/ttyUSB0" or "/dev/ttyACM*"
    bool read = false;
    bool write = false;
    gid_t gid = 0;
  };
  std::vector<Device> devices;
};

struct LaunchSpec {
  std::string service;
  std::vector<std::string> arguments;    // argv; arguments[0] is the absolute program path
  std::vector<std::string> environment;  // "KEY=value"
  bool new_mount_namespace = false;      // confinement strict/complain
  // The whole sandbox (implies the mount namespace). Without it, a mount namespace alone
  // binds `private_shm_dir` over /dev/shm (the layout of tests that need no pid namespace).
  bool sandboxed = false;
  Sandbox sandbox;
  // stdin /dev/null, stdout and stderr pipes the supervisor reads (PendingLaunch::output).
  bool capture_output = false;
  std::string private_shm_dir;           // bound over /dev/shm; "" keeps the host's
  // The granted objects: targets are under sandbox.staged_shm when sandboxed.
  std::vector<ShmMount> shm_mounts;
  // Mount points of the mqueue filesystem, covered with an empty tmpfs in the service's mount
  // namespace: through them a service could open, create or unlink any queue by file calls,
  // around name-level mediation.
  std::vector<std::string> hidden_mounts;
  // Confined services keep no capability, whatever their uid; -1 leaves them (confinement off).
  int last_capability = -1;
  // SPEC §4a: the capabilities it keeps (bit N: CAP_N), as ambient capabilities across the uid
  // change and execve; everything else is dropped, the bounding set included.
  unsigned long long ambient_capabilities = 0;
  std::vector<ResourceLimit> rlimits;
  bool change_identity = false;  // user or group given in the manifest
  platform::Identity identity;
  std::string working_directory;  // "" keeps the runtime's
  platform::BpfProgram filter;    // empty: no filter (confinement off)
  // The service's ipcrt-control connection (SPEC §10), set before each launch: the one
  // descriptor the child keeps open across exec, at this number (IPCRT_CONTROL_FD); -1: none.
  int control_fd = -1;
  // pass-queues (SPEC §11): opened by begin_launch() before fork with these access modes, and
  // placed at fds 3… in the child; LISTEN_PID in `environment` gets the pid the service sees.
  std::vector<PassedQueue> passed_queues;
  // SPEC §13: the service's cgroup, a directory descriptor the runtime keeps open: the child
  // starts in it (CLONE_INTO_CGROUP) and the supervisor kills it whole (cgroup.kill) when the
  // main process ends. -1 and "": no cgroup v2, its PID namespace alone contains it.
  int cgroup_fd = -1;
  std::string cgroup;
};

// The lowest descriptor number a launch hook may give the child (LaunchSpec::control_fd):
// those below are the passed queues' (3…), which the child dup2()s into place.
[[nodiscard]] inline int descriptor_floor(const LaunchSpec& spec) {
  return kFirstPassedFd + static_cast<int>(spec.passed_queues.size());
}

// What a run decides for every service's launch.
struct LaunchOptions {
  bool capture_output = false;     // the supervisor reads the services' stdout and stderr
  bool new_ipc_namespace = false;  // where mediation runs: SysV IPC private to each service
  // The host's mounts (platform::mount_table()), read once for the launches a boot prepares
  // together, as nothing mounts in between; nullptr: read for this one. Re-reading
  // /proc/self/mountinfo per service was an eighth of the supervisor's time per service at
  // the boot of 256 (issue 21).
  const Result<std::vector<platform::MountEntry>>* host_mounts = nullptr;
};

// Builds the LaunchSpec of a planned service. `default_rlimits` apply unless the manifest
// sets the same resource (the runtime's own RLIMIT_MSGQUEUE before it raised it). A confined
// service is sandboxed (SPEC §4.3) with its private /dev assembled in `planned.shm_dir`.
[[nodiscard]] LaunchSpec prepare_launch(const config::Service& service,
                                        const PlannedService& planned,
                                        const platform::Identity& identity,
                                        platform::BpfProgram filter,
                                        const std::vector<ResourceLimit>& default_rlimits = {},
                                        const LaunchOptions& options = {});

// The syscalls the launch itself makes once the service's filter is loaded: writing the
// listener report and reading the resume byte, execve, and _exit when execve fails (glibc's
// _exit falls back to exit if exit_group is refused). The service's policy never lets
// seccomp.deny take one away: the service could not start.
inline constexpr std::array<std::string_view, 5> kSyscallsAfterFilterLoad = {
    "read", "write", "execve", "exit", "exit_group"};

// Why a service did not start: the phase that failed, before or after fork, and its errno.
struct LaunchFailure {
  LaunchPhase phase = LaunchPhase::Report;
  int errnum = 0;
  // What the phase worked on, where that names the fix: command[0] (exec), the working
  // directory, the host object (shm-bind, shm-readonly), the private shm directory
  // (private-shm), the mqueue mount point (hide-mqueue), the queue (pass-queues); "" for the
  // other phases.
  std::string path;

  [[nodiscard]] std::string_view phase_name() const;  // "exec"
  [[nodiscard]] std::string errno_name() const;       // "ENOENT"
  [[nodiscard]] std::string describe() const;         // "phase=exec errno=ENOENT path=/usr/bin/x"
  // What to change: the hint for this phase and errno, else what the phase does.
  [[nodiscard]] std::string_view hint() const;
};

// What a failure of the child can name, copied from the LaunchSpec before fork: the child
// reports a phase and the index of the mount it failed on, and the LaunchSpec need not outlive
// the launch.
struct LaunchPaths {
  std::string program;
  std::string working_directory;
  std::string private_shm_dir;
  std::vector<std::string> shm_objects;  // ShmMount::source, in the order of shm_mounts
  std::vector<std::string> hidden_mounts;
  std::vector<std::string> passed_queues;
  std::string cgroup;
};

struct Launched {
  pid_t pid = 0;
  // The seccomp notify listener when the filter uses SECCOMP_RET_USER_NOTIF: taken out of
  // the child with pidfd_getfd after the filter was loaded and before exec.
  platform::UniqueFd listener;
};

// A child that is still confining itself. The supervisor watches `report` in its epoll loop
// and calls continue_launch() whenever it is readable, so a child that stalls before exec
// (a hung working directory, say) stalls only itself, and many children confine at once.
struct PendingLaunch {
  pid_t pid = 0;  // the main process: ipcrt's init of the service's pid namespace if sandboxed
  platform::UniqueFd report;    // the child's reports; end-of-file once it has exec'd
  platform::UniqueFd resume;    // one byte tells the child its listener was taken
  platform::UniqueFd listener;  // taken from the child (SECCOMP_RET_USER_NOTIF filters)
  LaunchPaths paths;            // for the LaunchFailure of a failing phase
  bool sandboxed = false;       // the service is pid 2 under ipcrt's init (pid 1)
  // Sandboxed: the service's wait status, written by the init just before it exits with a
  // status of its own (an init cannot die of the service's signal).
  platform::UniqueFd exit_status;
  platform::UniqueFd output;  // capture_output: the service's stdout (non-blocking)
  platform::UniqueFd errors;  // and its stderr
};

// The service's wait status as its init reported it on `exit_status`, else `init_status`.
[[nodiscard]] int service_wait_status(int exit_status_fd, int init_status);

// Forks the child, which confines itself and execs; nothing here waits for it. With
// `join_cgroup_in_child`, the child enters spec.cgroup by writing its cgroup.procs as its first
// syscall instead of being cloned into it (see SystemLauncher::contain).
[[nodiscard]] std::expected<PendingLaunch, LaunchFailure> begin_launch(
    const LaunchSpec& spec, bool join_cgroup_in_child = false);

// Handles the child's next report (one read of `report`: call it when readable). true: the
// program was exec'd; false: the listener was taken, the child goes on; a failure: the
// failing phase, and the child has been reaped.
[[nodiscard]] std::expected<bool, LaunchFailure> continue_launch(PendingLaunch& pending);

// begin_launch(), then continue_launch() until the end: returns once the program was exec'd,
// or the failing phase (the child has then been reaped).
[[nodiscard]] std::expected<Launched, LaunchFailure> launch(const LaunchSpec& spec);

}  // namespace ipcrt::runtime
