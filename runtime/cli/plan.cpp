// `ipcrt plan MANIFEST [--json]` (SPEC §3, §7): what `run` would create and start, with every
// kernel limit checked; changes nothing on the system.
#include <algorithm>
#include <cstdio>

#include "common/text.hpp"
#include "runtime/cli/commands.hpp"
#include "runtime/identities.hpp"
#include "runtime/kernel_state.hpp"
#include "runtime/manifest_input.hpp"
#include "runtime/plan.hpp"
#include "runtime/cli/plan_output.hpp"

namespace ipcrt::runtime {

int command_plan(const CommandLine& command_line) {
  const std::string& path = command_line.positionals.at(0);
  auto loaded = load_connected_manifest(path);
  config::Diagnostics& diagnostics = loaded.diagnostics;
  if (diagnostics.has_errors()) {
    std::fputs(diagnostics.format(path).c_str(), stderr);
    return kExitInvalidManifest;
  }
  auto kernel = read_kernel_state();
  if (!kernel) {
    std::fputs(diagnostics.format(path).c_str(), stderr);
    std::fprintf(stderr, "ipcrt: plan: reading kernel limits failed: %s\n",
                 kernel.error().describe().c_str());
    return kExitBootFailed;
  }
  // As `run` does: who each service runs as (dynamic ids as `run` would allocate them now,
  // nothing written), and queues it would adopt must belong to their slot's user.
  auto identities = preview_identities(*loaded.manifest, loaded.connections);
  if (!identities) {
    std::fputs(diagnostics.format(path).c_str(), stderr);
    std::fprintf(stderr, "ipcrt: plan: users: %s\n", identities.error().describe().c_str());
    return kExitBootFailed;
  }
  config::Diagnostics plan_diagnostics;
  auto plan =
      make_plan(*loaded.manifest, loaded.connections, *kernel, plan_diagnostics, &*identities);
  diagnostics.append(plan_diagnostics);
  std::fputs(diagnostics.format(path).c_str(), stderr);
  if (!plan) return kExitBootFailed;

  // The JSON's warnings list everything `plan` warned about, connections included.
  std::vector<std::string> warnings;
  for (const auto& item : diagnostics.items()) {
    if (item.severity != config::Severity::Warning) continue;
    std::string text = item.pointer.empty() ? item.text() : cat(item.pointer, ": ", item.text());
    if (std::find(warnings.begin(), warnings.end(), text) == warnings.end())
      warnings.push_back(text);
  }
  plan->warnings = std::move(warnings);

  const std::string text =
      command_line.flag("--json") ? render_plan_json(*plan) : render_plan_text(*plan);
  std::fputs(text.c_str(), stdout);
  return kExitOk;
}

}  // namespace ipcrt::runtime
