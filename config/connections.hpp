// Connection resolution (SPEC §2.5): explicit connections, auto-connection by identifier and
// publisher, ambiguity errors, unconnected-plug warnings, no connections within one service.
#pragma once

#include <string>
#include <vector>

#include "config/diagnostics.hpp"
#include "config/manifest.hpp"

namespace ipcrt::config {

// The implicit slot a private shared-memory plug connects to, as `snap connect` names it.
inline constexpr std::string_view kSystemShmSlot = ":shared-memory";

struct Connection {
  std::string plug_service;
  std::string plug;
  std::string slot_service;  // empty for a private shared-memory plug (the implicit system slot)
  std::string slot;
  Interface interface = Interface::PosixMq;
  bool automatic = false;  // false: listed in the manifest's `connections`

  // "uploader:telemetry"
  [[nodiscard]] std::string plug_ref() const { return plug_service + ":" + plug; }
  // "sensor-hub:telemetry", or ":shared-memory" for the implicit system slot
  [[nodiscard]] std::string slot_ref() const { return slot_service + ":" + slot; }
};

// Resolves every plug of `manifest`. Errors and warnings go to `diagnostics`; the returned
// connections are in document order of the plugs (services, then their plugs).
[[nodiscard]] std::vector<Connection> resolve_connections(const Manifest& manifest,
                                                          Diagnostics& diagnostics);

}  // namespace ipcrt::config
