// Seccomp policy (SPEC §5): turns a planned service into a compiled BPF program, in the
// parent, before fork.
#pragma once

#include "common/error.hpp"
#include "config/manifest.hpp"
#include "platform/seccomp.hpp"
#include "runtime/plan.hpp"

namespace ipcrt::runtime {

// The service's filter for the native ABI (plus seccomp.architectures). Confinement `off`
// gives an empty program: nothing is loaded.
[[nodiscard]] Result<platform::BpfProgram> compile_service_filter(
    const config::Service& service, const PlannedService& planned);

}  // namespace ipcrt::runtime
