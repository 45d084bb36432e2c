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
[[nodiscard]] Result<CompiledPolicy> compile_service_policy(
    const config::Service& service, const PlannedService& planned,
    std::string_view architecture = "native");

// The service's filter for the native ABI (plus seccomp.architectures). Confinement `off`
// gives an empty program: nothing is loaded.
[[nodiscard]] Result<platform::BpfProgram> compile_service_filter(const config::Service& service,
                                                                  const PlannedService& planned);

}  // namespace ipcrt::runtime
