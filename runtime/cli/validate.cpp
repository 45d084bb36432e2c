// `ipcrt validate MANIFEST`: parse, validate and connect; print every diagnostic to stderr and,
// when the manifest is valid, a one-line summary to stdout.
#include <cstdio>

#include "common/text.hpp"
#include "runtime/cli/commands.hpp"
#include "runtime/manifest_input.hpp"

namespace ipcrt::runtime {
namespace {

std::string count(std::size_t n, const char* noun) {
  return cat(n, ' ', noun, n == 1 ? "" : "s");
}

}  // namespace

int command_validate(const CommandLine& command_line) {
  const std::string& path = command_line.positionals.at(0);
  auto result = load_connected_manifest(path);
  std::fputs(result.diagnostics.format(path).c_str(), stderr);
  if (result.diagnostics.has_errors()) return kExitInvalidManifest;

  std::size_t slots = 0;
  std::size_t plugs = 0;
  for (const auto& service : result.manifest->services) {
    slots += service.slots.size();
    plugs += service.plugs.size();
  }
  const std::size_t warnings = result.diagnostics.items().size();
  std::string summary = cat(path, ": valid: ", count(result.manifest->services.size(), "service"),
                            ", ", count(slots, "slot"), ", ", count(plugs, "plug"), ", ",
                            count(result.connections.size(), "connection"));
  if (warnings > 0) summary += ", " + count(warnings, "warning");
  std::printf("%s\n", summary.c_str());
  return kExitOk;
}

}  // namespace ipcrt::runtime
