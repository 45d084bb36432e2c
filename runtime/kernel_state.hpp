// Reads the machine's side of planning (SPEC §3): the mqueue sysctls and RLIMIT_MSGQUEUE, the
// queues that already exist (with their attributes and owner), whether this process may
// raise RLIMIT_MSGQUEUE (CAP_SYS_RESOURCE in its effective set), and the runtime's own paths
// that no writable path may reach (SPEC §4a: its binary, state root, boards directories).
#pragma once

#include "common/error.hpp"
#include "runtime/plan.hpp"

namespace ipcrt::runtime {

[[nodiscard]] Result<KernelState> read_kernel_state();

// CAP_SYS_RESOURCE in the CapEff line of a /proc/<pid>/status text.
[[nodiscard]] bool has_cap_sys_resource(const std::string& proc_status_text);

}  // namespace ipcrt::runtime
