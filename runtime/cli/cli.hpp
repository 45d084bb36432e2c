// The command line of SPEC §7: parsing into a CommandLine, the exit codes, and dispatch to
// one handler per command (declared in commands.hpp).
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "runtime/exit_code.hpp"

namespace ipcrt::runtime {


struct CommandLine {
  std::string command;                        // "validate", "plan", ...
  std::vector<std::string> positionals;       // MANIFEST, SERVICE
  std::map<std::string, std::string> options;  // "--json" -> "", "--format" -> "pfc"

  [[nodiscard]] bool flag(const std::string& name) const { return options.contains(name); }
  [[nodiscard]] std::optional<std::string> option(const std::string& name) const {
    auto it = options.find(name);
    if (it == options.end()) return std::nullopt;
    return it->second;
  }
};

// Parses argv and runs the command; returns the process exit status.
[[nodiscard]] int run_cli(std::span<char* const> arguments);

}  // namespace ipcrt::runtime
