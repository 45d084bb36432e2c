// Starting one service (SPEC §4.3): everything that can allocate or fail is prepared in the
// parent into a LaunchSpec; the child then only makes syscalls, in the order of
// exec_service_child() in launch.cpp, and reports a failing phase through a pipe.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <expected>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "config/manifest.hpp"
#include "platform/fd.hpp"
#include "platform/seccomp.hpp"
#include "platform/users.hpp"
#include "runtime/plan.hpp"

namespace ipcrt::runtime {

// One shared-memory object made visible in the service's private /dev/shm.
struct ShmMount {
  std::string source;  // "/dev/shm/frames" on the host
  std::string target;  // "/dev/shm/ipcrt.gateway.uploader/frames": inside the private dir
  bool read_only = false;
};

struct ResourceLimit {
  int resource = 0;
  rlimit value{};
};

struct LaunchSpec {
  std::string service;
  std::vector<std::string> arguments;    // argv; arguments[0] is the absolute program path
  std::vector<std::string> environment;  // "KEY=value"
  bool new_mount_namespace = false;      // confinement strict/complain
  std::string private_shm_dir;           // bound over /dev/shm; "" keeps the host's
  std::vector<ShmMount> shm_mounts;
  // Mount points of the mqueue filesystem, covered with an empty tmpfs in the service's mount
  // namespace: through them a service could open, create or unlink any queue by file calls,
  // around name-level mediation.
  std::vector<std::string> hidden_mounts;
  // Confined services keep no capability, whatever their uid; -1 leaves them (confinement off).
  int last_capability = -1;
  std::vector<ResourceLimit> rlimits;
  bool change_identity = false;  // user or group given in the manifest
  platform::Identity identity;
  std::string working_directory;  // "" keeps the runtime's
  platform::BpfProgram filter;    // empty: no filter (confinement off)
  // The service's ipcrt-control connection (SPEC §10), set before each launch: the one
  // descriptor the child keeps open across exec, at this number (IPCRT_CONTROL_FD); -1: none.
  int control_fd = -1;
};

// The runtime's PATH for services unless the manifest sets one.
inline constexpr const char* kDefaultPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Builds the LaunchSpec of a planned service. `default_rlimits` apply unless the manifest
// sets the same resource (the runtime's own RLIMIT_MSGQUEUE before it raised it).
[[nodiscard]] LaunchSpec prepare_launch(const config::Service& service,
                                        const PlannedService& planned,
                                        const platform::Identity& identity,
                                        platform::BpfProgram filter,
                                        const std::vector<ResourceLimit>& default_rlimits = {});

// A phase of the child that failed before exec.
struct LaunchFailure {
  std::string phase;  // "mount-namespace", "shm-bind", "setuid", "seccomp", "exec", ...
  int errnum = 0;
  [[nodiscard]] std::string errno_name() const;  // "EPERM"
  [[nodiscard]] std::string describe() const;    // "phase=setuid errno=EPERM"
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
  pid_t pid = 0;
  platform::UniqueFd report;    // the child's reports; end-of-file once it has exec'd
  platform::UniqueFd resume;    // one byte tells the child its listener was taken
  platform::UniqueFd listener;  // taken from the child (SECCOMP_RET_USER_NOTIF filters)
};

// Forks the child, which confines itself and execs; nothing here waits for it.
[[nodiscard]] std::expected<PendingLaunch, LaunchFailure> begin_launch(const LaunchSpec& spec);

// Handles the child's next report (one read of `report`: call it when readable). true: the
// program was exec'd; false: the listener was taken, the child goes on; a failure: the
// failing phase, and the child has been reaped.
[[nodiscard]] std::expected<bool, LaunchFailure> continue_launch(PendingLaunch& pending);

// begin_launch(), then continue_launch() until the end: returns once the program was exec'd,
// or the failing phase (the child has then been reaped).
[[nodiscard]] std::expected<Launched, LaunchFailure> launch(const LaunchSpec& spec);

}  // namespace ipcrt::runtime
