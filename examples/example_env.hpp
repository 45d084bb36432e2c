// Helpers shared by the example services: reading the runtime's IPCRT_<NAME>_PATHS and
// IPCRT_SERVICE variables. Independent of ipcrt's libraries: a service only needs the environment
// the runtime gives it, whose names come from the header-only common/service_env.hpp.
#pragma once

#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "common/service_env.hpp"

namespace examples {

// "telemetry" -> value of IPCRT_TELEMETRY_PATHS split into paths; empty when unset.
inline std::vector<std::string> slot_paths(std::string_view slot) {
  std::vector<std::string> paths;
  const char* value = std::getenv(ipcrt::paths_variable(slot).c_str());
  if (value == nullptr) return paths;
  std::string_view rest = value;
  while (!rest.empty()) {
    auto separator = rest.find(ipcrt::kPathListSeparator);
    if (separator != 0) paths.emplace_back(rest.substr(0, separator));
    if (separator == std::string_view::npos) break;
    rest.remove_prefix(separator + ipcrt::kPathListSeparator.size());
  }
  return paths;
}

inline const char* service_name() {
  const char* name = std::getenv(ipcrt::kServiceNameVariable);
  return name != nullptr ? name : "example";
}

}  // namespace examples
