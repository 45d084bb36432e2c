// The manifest as every command reads it: parsed with queue patterns allowed exactly where
// name-level mediation runs (so `validate` and `run` agree), then connected.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/connections.hpp"
#include "config/diagnostics.hpp"
#include "config/manifest.hpp"

namespace ipcrt::runtime {

struct ConnectedManifest {
  std::optional<config::Manifest> manifest;  // set only when diagnostics has no errors
  std::vector<config::Connection> connections;
  config::Diagnostics diagnostics;  // errors and warnings of parsing and connecting
};

[[nodiscard]] ConnectedManifest load_connected_manifest(const std::string& path);

}  // namespace ipcrt::runtime
