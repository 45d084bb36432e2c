// `ipcrt limits [--json]` (SPEC §3): the kernel's mqueue limits, current usage and headroom.
#include <cstdio>

#include "runtime/cli/commands.hpp"
#include "runtime/kernel_state.hpp"
#include "runtime/cli/plan_output.hpp"

namespace ipcrt::runtime {

int command_limits(const CommandLine& command_line) {
  auto kernel = read_kernel_state();
  if (!kernel) {
    std::fprintf(stderr, "ipcrt: limits: %s\n", kernel.error().describe().c_str());
    return kExitBootFailed;
  }
  const std::string text =
      command_line.flag("--json") ? render_limits_json(*kernel) : render_limits_text(*kernel);
  std::fputs(text.c_str(), stdout);
  return kExitOk;
}

}  // namespace ipcrt::runtime
