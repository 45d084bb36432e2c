// Helpers shared by the example services: the runtime's IPCRT_<NAME>_PATHS variables and a
// tiny argument parser. Deliberately independent of ipcrt's libraries: a service only needs
// the environment the runtime gives it.
#pragma once

#include <cctype>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace examples {

// "telemetry" -> value of IPCRT_TELEMETRY_PATHS split at ':'; empty when unset.
inline std::vector<std::string> slot_paths(std::string_view slot) {
  std::string variable = "IPCRT_";
  for (char c : slot) variable += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  variable += "_PATHS";
  std::vector<std::string> paths;
  const char* value = std::getenv(variable.c_str());
  if (value == nullptr) return paths;
  std::string_view rest = value;
  while (!rest.empty()) {
    auto colon = rest.find(':');
    if (colon != 0) paths.emplace_back(rest.substr(0, colon));
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return paths;
}

inline const char* service_name() {
  const char* name = std::getenv("IPCRT_SERVICE");
  return name != nullptr ? name : "example";
}

}  // namespace examples
