// `ipcrt plan MANIFEST [--json]` (SPEC §3, §7): what `run` would create and start, with every
// kernel limit checked; changes nothing on the system.
#include <algorithm>
#include <cstdio>

#include "common/text.hpp"
#include "runtime/boot.hpp"
#include "runtime/cli/commands.hpp"
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
  config::Diagnostics plan_diagnostics;
  // As `run` does: queues it would adopt must belong to their slot's user. A user that does
  // not resolve here fails `run` before anything else; `plan` says so and goes on.
  auto identities = resolve_identities(*loaded.manifest);
  if (!identities) {
    plan_diagnostics.warning("", cat("owners of existing queues not checked: ",
                                     identities.error().describe(), "; run would fail"));
  }
  auto plan = make_plan(*loaded.manifest, loaded.connections, *kernel, plan_diagnostics,
                        identities ? &*identities : nullptr);
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

  const std::string text = command_line.flag("--json") ? render_plan_json(*plan, *loaded.manifest)
                                                       : render_plan_text(*plan, *loaded.manifest);
  std::fputs(text.c_str(), stdout);
  return kExitOk;
}

}  // namespace ipcrt::runtime
