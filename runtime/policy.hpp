// Seccomp policy (SPEC §5): turns a planned service into a compiled BPF program, in the
// parent, before fork.
#pragma once

#include <string_view>

#include "common/error.hpp"
#include "config/manifest.hpp"
#include "platform/seccomp.hpp"
#include "runtime/plan.hpp"
#include "runtime/policy_builder.hpp"

namespace ipcrt::runtime {

// The service's whole policy: @default, seccomp.allow/deny/architectures, the mq_* syscalls
// of its posix-mq grants. Strict denies with EPERM, complain logs and allows. Errors name the
// service and the manifest key. `architecture` is the native ABI ("native" or a libseccomp
// name, for inspecting a board's policy on another machine).
// `mediate`: the kernel supports user notification (SPEC §6); refused syscalls and every
// mq_open/mq_unlink go to the supervisor, which decides, answers and reports.
[[nodiscard]] Result<CompiledPolicy> compile_service_policy(
    const config::Service& service, const PlannedService& planned,
    std::string_view architecture = "native", bool mediate = false);

// The service's filter for the native ABI (plus seccomp.architectures). Confinement `off`
// gives an empty program: nothing is loaded.
[[nodiscard]] Result<platform::BpfProgram> compile_service_filter(const config::Service& service,
                                                                  const PlannedService& planned,
                                                                  bool mediate = false);

// For a denial line: what in the manifest would allow `syscall` for `service`
// ("seccomp.allow: @network-io", "seccomp.allow: ptrace", "removing it from seccomp.deny").
[[nodiscard]] std::string need_for_syscall(const config::Service& service,
                                           std::string_view syscall);

}  // namespace ipcrt::runtime
