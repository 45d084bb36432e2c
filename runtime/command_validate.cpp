// `ipcrt validate MANIFEST`: parse, validate and connect; print every diagnostic.
#include <cstdio>

#include "config/parser.hpp"
#include "runtime/commands.hpp"

namespace ipcrt::runtime {

int command_validate(const CommandLine& command_line) {
  const std::string& path = command_line.positionals.at(0);
  auto result = config::load_manifest(path);
  std::fputs(result.diagnostics.format(path).c_str(), stderr);
  if (result.diagnostics.has_errors()) return kExitInvalidManifest;
  std::printf("%s: valid\n", path.c_str());
  return kExitOk;
}

}  // namespace ipcrt::runtime
