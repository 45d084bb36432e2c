// Launch phases: stable names, a hint for each phase's common errnos, and what a LaunchFailure
// says. The expectations are written out here, not derived from the tables under test, so a
// renamed phase or a missing hint fails.
#include "runtime/launch_phase.hpp"

#include <CppUTest/TestHarness.h>

#include <cerrno>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "runtime/launch.hpp"

using ipcrt::runtime::LaunchFailure;
using ipcrt::runtime::LaunchPhase;

namespace {

// Names appear in logs and tests: they may not change.
const std::vector<std::pair<LaunchPhase, std::string>> kExpectedNames = {
    {LaunchPhase::Fork, "fork"},
    {LaunchPhase::Pipe, "pipe"},
    {LaunchPhase::Cgroup, "cgroup"},
    {LaunchPhase::Session, "session"},
    {LaunchPhase::Stdio, "stdio"},
    {LaunchPhase::CloseFds, "close-fds"},
    {LaunchPhase::OomScore, "oom-score"},
    {LaunchPhase::Namespaces, "namespaces"},
    {LaunchPhase::MountNamespace, "mount-namespace"},
    {LaunchPhase::MountPropagation, "mount-propagation"},
    {LaunchPhase::ReadonlyHost, "readonly-host"},
    {LaunchPhase::StateDirectory, "state-directory"},
    {LaunchPhase::AccountFiles, "account-files"},
    {LaunchPhase::PrivateDev, "private-dev"},
    {LaunchPhase::Devices, "devices"},
    {LaunchPhase::ShmBind, "shm-bind"},
    {LaunchPhase::ShmReadonly, "shm-readonly"},
    {LaunchPhase::PrivateShm, "private-shm"},
    {LaunchPhase::Proc, "proc"},
    {LaunchPhase::ReadonlyPaths, "readonly-paths"},
    {LaunchPhase::MaskedPaths, "masked-paths"},
    {LaunchPhase::PrivateTmp, "private-tmp"},
    {LaunchPhase::HideMqueue, "hide-mqueue"},
    {LaunchPhase::CapabilityBoundingSet, "capability-bounding-set"},
    {LaunchPhase::InheritableCapabilities, "inheritable-capabilities"},
    {LaunchPhase::Rlimits, "rlimits"},
    {LaunchPhase::ServiceInit, "service-init"},
    {LaunchPhase::PassQueues, "pass-queues"},
    {LaunchPhase::Setgroups, "setgroups"},
    {LaunchPhase::Setgid, "setgid"},
    {LaunchPhase::Setuid, "setuid"},
    {LaunchPhase::AmbientCapabilities, "ambient-capabilities"},
    {LaunchPhase::ParentDeathSignal, "parent-death-signal"},
    {LaunchPhase::WorkingDirectory, "working-directory"},
    {LaunchPhase::NoNewPrivs, "no-new-privs"},
    {LaunchPhase::Seccomp, "seccomp"},
    {LaunchPhase::TakeListener, "take-listener"},
    {LaunchPhase::Exec, "exec"},
    {LaunchPhase::Report, "report"},
    {LaunchPhase::Timeout, "timeout"},
};

// The errnos each phase commonly fails with; each needs a hint of its own.
const std::vector<std::pair<LaunchPhase, std::vector<int>>> kCommonErrnos = {
    {LaunchPhase::Fork, {EAGAIN, ENOMEM}},
    {LaunchPhase::Pipe, {EMFILE, ENFILE}},
    {LaunchPhase::Cgroup, {EBUSY, EACCES, ENOENT}},
    {LaunchPhase::Session, {EPERM}},
    {LaunchPhase::Stdio, {EBADF}},
    {LaunchPhase::CloseFds, {ENOENT, EACCES, EMFILE}},
    {LaunchPhase::OomScore, {EACCES}},
    {LaunchPhase::Namespaces, {EPERM, ENOSPC, EINVAL}},
    {LaunchPhase::MountNamespace, {EPERM, ENOSPC, EINVAL}},
    {LaunchPhase::MountPropagation, {EPERM, EINVAL}},
    {LaunchPhase::ReadonlyHost, {EPERM, EACCES}},
    {LaunchPhase::StateDirectory, {ENOENT, EPERM}},
    {LaunchPhase::AccountFiles, {ENOSPC, EPERM}},
    {LaunchPhase::PrivateDev, {ENOENT, EPERM, ENODEV}},
    {LaunchPhase::Devices, {EPERM, EEXIST}},
    {LaunchPhase::ShmBind, {ENOENT, EPERM}},
    {LaunchPhase::ShmReadonly, {EPERM, EINVAL}},
    {LaunchPhase::PrivateShm, {ENOENT, EPERM}},
    {LaunchPhase::Proc, {EPERM, EBUSY}},
    {LaunchPhase::ReadonlyPaths, {EPERM, EACCES}},
    {LaunchPhase::MaskedPaths, {EPERM}},
    {LaunchPhase::PrivateTmp, {EPERM, ENOMEM}},
    {LaunchPhase::HideMqueue, {ENOENT, ENODEV, EPERM}},
    {LaunchPhase::CapabilityBoundingSet, {EPERM}},
    {LaunchPhase::InheritableCapabilities, {EPERM}},
    {LaunchPhase::Rlimits, {EPERM, EINVAL}},
    {LaunchPhase::ServiceInit, {EAGAIN, ENOMEM}},
    {LaunchPhase::PassQueues, {ENOENT, EMFILE, EBADF}},
    {LaunchPhase::Setgroups, {EPERM, EINVAL}},
    {LaunchPhase::Setgid, {EPERM, EINVAL}},
    {LaunchPhase::Setuid, {EPERM, EINVAL, EAGAIN}},
    {LaunchPhase::AmbientCapabilities, {EPERM, EINVAL}},
    {LaunchPhase::ParentDeathSignal, {ESRCH}},
    {LaunchPhase::WorkingDirectory, {ENOENT, EACCES, ENOTDIR}},
    {LaunchPhase::NoNewPrivs, {EINVAL}},
    {LaunchPhase::Seccomp, {EINVAL, EACCES, ENOMEM, EBUSY}},
    {LaunchPhase::TakeListener, {ENOSYS, EPERM}},
    {LaunchPhase::Exec, {ENOENT, EACCES, ENOEXEC, ENOTDIR, ETXTBSY, E2BIG, EPERM}},
    {LaunchPhase::Report, {EIO}},
    {LaunchPhase::Timeout, {ETIMEDOUT}},
};

bool is_kebab_case(const std::string& name) {
  if (name.empty() || name.front() == '-' || name.back() == '-') return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || c == '-')) return false;
  }
  return name.find("--") == std::string::npos;
}

std::string label(LaunchPhase phase, int errnum = 0) {
  return std::string(ipcrt::runtime::launch_phase_name(phase)) + " " + std::to_string(errnum);
}

}  // namespace

TEST_GROUP(LaunchPhases){};

TEST(LaunchPhases, EveryPhaseHasItsStableKebabCaseName) {
  LONGS_EQUAL(ipcrt::runtime::kLaunchPhaseCount, kExpectedNames.size());
  std::set<std::string> seen;
  for (std::size_t i = 0; i < ipcrt::runtime::kLaunchPhaseCount; ++i) {
    auto phase = static_cast<LaunchPhase>(i);
    std::string name(ipcrt::runtime::launch_phase_name(phase));
    CHECK_TEXT(is_kebab_case(name), name.c_str());
    CHECK_TEXT(seen.insert(name).second, name.c_str());
    CHECK_TEXT(!ipcrt::runtime::launch_phase_hint(phase).empty(), name.c_str());
  }
  for (const auto& [phase, name] : kExpectedNames) {
    STRCMP_EQUAL(name.c_str(), std::string(ipcrt::runtime::launch_phase_name(phase)).c_str());
  }
}

TEST(LaunchPhases, EveryPhaseHasAHintForEachOfItsCommonErrnos) {
  LONGS_EQUAL_TEXT(ipcrt::runtime::kLaunchPhaseCount, kCommonErrnos.size(),
                   "a new phase needs its common errnos listed here");
  std::set<LaunchPhase> covered;
  for (const auto& [phase, errnos] : kCommonErrnos) {
    covered.insert(phase);
    for (int errnum : errnos) {
      auto hint = ipcrt::runtime::launch_errno_hint(phase, errnum);
      CHECK_TEXT(!hint.empty(), label(phase, errnum).c_str());
      CHECK_TEXT(hint != ipcrt::runtime::launch_phase_hint(phase), label(phase, errnum).c_str());
    }
  }
  LONGS_EQUAL(ipcrt::runtime::kLaunchPhaseCount, covered.size());
  // An errno no phase expects has no hint of its own.
  CHECK_TRUE(ipcrt::runtime::launch_errno_hint(LaunchPhase::Exec, EDOM).empty());
}

TEST(LaunchPhases, HintsSayWhatToChange) {
  auto hint = [](LaunchPhase phase, int errnum) {
    return std::string(LaunchFailure{phase, errnum, {}}.hint());
  };
  STRCMP_CONTAINS("command[0] does not exist in the service's view",
                  hint(LaunchPhase::Exec, ENOENT).c_str());
  STRCMP_CONTAINS(
      "command[0] is not executable by the service's user (check its mode and the "
      "mount's noexec)",
      hint(LaunchPhase::Exec, EACCES).c_str());
  for (auto phase : {LaunchPhase::Setuid, LaunchPhase::Setgid, LaunchPhase::Setgroups}) {
    STRCMP_EQUAL_TEXT("ipcrt must run as root to switch users", hint(phase, EPERM).c_str(),
                      label(phase, EPERM).c_str());
  }
  STRCMP_EQUAL("confinement needs root (or set \"confinement\": \"off\")",
               hint(LaunchPhase::MountNamespace, EPERM).c_str());
  STRCMP_CONTAINS("raising a hard limit needs root", hint(LaunchPhase::Rlimits, EPERM).c_str());
  STRCMP_CONTAINS("pids", hint(LaunchPhase::Fork, EAGAIN).c_str());
  STRCMP_CONTAINS("RLIMIT_NPROC", hint(LaunchPhase::Fork, EAGAIN).c_str());
  STRCMP_CONTAINS("launch timeout", hint(LaunchPhase::Timeout, ETIMEDOUT).c_str());
  // Any other errno still gets what the phase does.
  STRCMP_EQUAL(std::string(ipcrt::runtime::launch_phase_hint(LaunchPhase::Seccomp)).c_str(),
               hint(LaunchPhase::Seccomp, EDOM).c_str());
}

TEST(LaunchPhases, DescribeNamesThePhaseTheErrnoAndThePath) {
  LaunchFailure exec{LaunchPhase::Exec, ENOENT, "/usr/bin/x"};
  STRCMP_EQUAL("phase=exec errno=ENOENT path=/usr/bin/x", exec.describe().c_str());
  LaunchFailure setuid{LaunchPhase::Setuid, EPERM, {}};
  STRCMP_EQUAL("phase=setuid errno=EPERM", setuid.describe().c_str());
  LaunchFailure orphaned{LaunchPhase::ParentDeathSignal, ESRCH, {}};
  STRCMP_EQUAL("parent-death-signal", std::string(orphaned.phase_name()).c_str());
  LaunchFailure timeout{LaunchPhase::Timeout, ETIMEDOUT, {}};
  STRCMP_EQUAL("ETIMEDOUT", timeout.errno_name().c_str());
}
