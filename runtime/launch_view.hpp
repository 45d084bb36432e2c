// What a service sees of the filesystem (SPEC §4.3, §15: `plan` shows each service's view),
// described from the very LaunchSpec its launch would build, so the description cannot drift
// from the sandbox.
#pragma once

#include <string>
#include <vector>

#include "runtime/launch.hpp"

namespace ipcrt::runtime {

// One line per place: "/dev/shm  its own tmpfs (size=16777216): frames read-write".
[[nodiscard]] std::vector<std::string> describe_view(const LaunchSpec& spec);

}  // namespace ipcrt::runtime
