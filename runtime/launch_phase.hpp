// The phases a service's start can fail in (SPEC §4.3, §15), like systemd's EXIT_* statuses:
// the parent's own steps (fork, pipe, take-listener, report, timeout) and the child's
// confinement steps between fork and exec, in the order exec_service_child() runs them. Each
// has a stable kebab-case name, used in logs (`phase=setuid`) and tests, and hints that say
// what to change for its common errnos.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ipcrt::runtime {

enum class LaunchPhase : std::uint8_t {
  Fork,
  Pipe,
  Cgroup,
  Session,
  Stdio,
  CloseFds,
  OomScore,
  Namespaces,
  MountNamespace,
  MountPropagation,
  ReadonlyHost,
  StateDirectory,
  AccountFiles,
  PrivateDev,
  Devices,
  ShmBind,
  ShmReadonly,
  PrivateShm,
  Proc,
  ReadonlyPaths,
  MaskedPaths,
  PrivateTmp,
  HideMqueue,
  CapabilityBoundingSet,
  InheritableCapabilities,
  Rlimits,
  ServiceInit,
  PassQueues,
  Setgroups,
  Setgid,
  Setuid,
  AmbientCapabilities,
  ParentDeathSignal,
  WorkingDirectory,
  NoNewPrivs,
  Seccomp,
  TakeListener,
  Exec,
  Report,
  Timeout,  // keep last: kLaunchPhaseCount counts up to it
};

inline constexpr std::size_t kLaunchPhaseCount = static_cast<std::size_t>(LaunchPhase::Timeout) + 1;

// A report read from the pipe carries the phase as a number: only these are phases.
[[nodiscard]] constexpr bool is_launch_phase(std::uint8_t value) noexcept {
  return value < kLaunchPhaseCount;
}

// "setuid", "working-directory", ...: stable, they appear in logs and tests.
[[nodiscard]] std::string_view launch_phase_name(LaunchPhase phase) noexcept;

// What to do when `phase` failed with `errnum`, for the errnos it commonly fails with ("" for
// any other errno).
[[nodiscard]] std::string_view launch_errno_hint(LaunchPhase phase, int errnum) noexcept;

// What the phase does and where to look, for errnos without a hint of their own.
[[nodiscard]] std::string_view launch_phase_hint(LaunchPhase phase) noexcept;

}  // namespace ipcrt::runtime
