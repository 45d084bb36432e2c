// Where a runtime's control socket is (SPEC §10): the one place both the server and the
// clients take it from.
#pragma once

#include <string>
#include <string_view>

#include "config/paths.hpp"

namespace ipcrt::runtime::control {

inline constexpr std::string_view kControlDirectory = config::kRunDirectory;
inline constexpr std::string_view kControlSocketSuffix = ".varlink";

// "/run/ipcrt/gateway.varlink"
[[nodiscard]] inline std::string control_socket_path(std::string_view manifest_name) {
  std::string path(kControlDirectory);
  path += '/';
  path += manifest_name;
  path += kControlSocketSuffix;
  return path;
}

}  // namespace ipcrt::runtime::control
