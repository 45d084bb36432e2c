// Connection resolution (SPEC §2.5), snapd-style: explicit connections first, then every plug
// not explicitly connected auto-connects to the one slot with its interface, identifier and
// publisher. A plug may be listed in several explicit connections (like `snap connect`).
#include "config/connections.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "common/text.hpp"

namespace ipcrt::config {
namespace {

struct SlotRef {
  const Service* service;
  const Slot* slot;
};

std::string example_connection(const std::string& plug_ref, const std::string& slot_ref) {
  return cat("{\"plug\": \"", plug_ref, "\", \"slot\": \"", slot_ref, "\"}");
}

// A connection to the system slot (":shared-memory", as `snap connect` writes it): only a
// private shared-memory plug connects there, and it would even without the entry.
std::optional<Connection> check_system_slot(const ConnectionSpec& spec, const Service* plug_service,
                                            Diagnostics& diagnostics) {
  const Plug* plug = plug_service ? plug_service->find_plug(spec.plug) : nullptr;
  if (plug_service == nullptr) {
    diagnostics.error(spec.pointer + "/plug", cat("no service named \"", spec.plug_service, "\""));
  } else if (plug == nullptr) {
    diagnostics.error(spec.pointer + "/plug", cat("service \"", spec.plug_service,
                                                  "\" has no plug named \"", spec.plug, "\""));
  }
  const std::string_view system_slot_name = kSystemShmSlot.substr(1);
  if (spec.slot != system_slot_name) {
    diagnostics.error(spec.pointer + "/slot",
                      cat("no system slot \":", spec.slot, "\": the only one is \"", kSystemShmSlot,
                          "\", for private shared-memory plugs"),
                      "name a slot as \"SERVICE:SLOT\"");
    return std::nullopt;
  }
  if (plug == nullptr) return std::nullopt;
  if (!plug->private_shm) {
    diagnostics.error(spec.pointer,
                      cat("plug ", spec.plug_service, ':', spec.plug,
                          " is not a private "
                          "shared-memory plug, the only kind the system slot ",
                          kSystemShmSlot, " serves"),
                      plug->interface == Interface::SharedMemory
                          ? std::string("add \"private\": true to the plug, or connect it to a "
                                        "service's slot")
                          : std::string("connect it to a service's slot"));
    return std::nullopt;
  }
  return Connection{spec.plug_service,       spec.plug, "", std::string(system_slot_name),
                    Interface::SharedMemory, false};
}

// Checks one entry of `connections`; returns the connection when it is valid.
std::optional<Connection> check_explicit(const Manifest& manifest, const ConnectionSpec& spec,
                                         Diagnostics& diagnostics) {
  const Service* plug_service = manifest.find_service(spec.plug_service);
  if (spec.slot_service.empty()) return check_system_slot(spec, plug_service, diagnostics);
  const Service* slot_service = manifest.find_service(spec.slot_service);
  const Plug* plug = plug_service ? plug_service->find_plug(spec.plug) : nullptr;
  const Slot* slot = slot_service ? slot_service->find_slot(spec.slot) : nullptr;
  bool ok = true;
  if (plug_service == nullptr) {
    diagnostics.error(spec.pointer + "/plug", cat("no service named \"", spec.plug_service, "\""));
    ok = false;
  } else if (plug == nullptr) {
    diagnostics.error(spec.pointer + "/plug", cat("service \"", spec.plug_service,
                                                  "\" has no plug named \"", spec.plug, "\""));
    ok = false;
  }
  if (slot_service == nullptr) {
    diagnostics.error(spec.pointer + "/slot", cat("no service named \"", spec.slot_service, "\""));
    ok = false;
  } else if (slot == nullptr) {
    diagnostics.error(spec.pointer + "/slot", cat("service \"", spec.slot_service,
                                                  "\" has no slot named \"", spec.slot, "\""));
    ok = false;
  }
  if (!ok) return std::nullopt;
  if (plug_service == slot_service) {
    diagnostics.error(spec.pointer,
                      "a plug and a slot of the same service cannot connect: the "
                      "slot's service already has every permission on its slot");
    return std::nullopt;
  }
  if (plug->interface != slot->interface) {
    diagnostics.error(
        spec.pointer,
        cat("plug ", spec.plug_service, ':', spec.plug, " is ", interface_name(plug->interface),
            " but slot ", spec.slot_service, ':', spec.slot, " is ",
            interface_name(slot->interface), ": connect plugs and slots of the same interface"));
    return std::nullopt;
  }
  if (plug->private_shm) {
    diagnostics.error(spec.pointer,
                      cat("plug ", spec.plug_service, ':', spec.plug,
                          " is private: it connects to the implicit system slot, not to ",
                          spec.slot_service, ':', spec.slot),
                      cat("remove this connection, or make its slot \"", kSystemShmSlot, "\""));
    return std::nullopt;
  }
  if (plug->identifier != slot->identifier) {
    diagnostics.error(
        spec.pointer,
        cat("plug ", spec.plug_service, ':', spec.plug, " has ", interface_name(plug->interface),
            " identifier \"", plug->identifier, "\" but slot ", spec.slot_service, ':', spec.slot,
            " has \"", slot->identifier, "\": give both the same identifier"));
    return std::nullopt;
  }
  return Connection{spec.plug_service, spec.plug,       spec.slot_service,
                    spec.slot,         plug->interface, false};
}

}  // namespace

std::vector<Connection> resolve_connections(const Manifest& manifest, Diagnostics& diagnostics) {
  // Explicit connections, grouped by plug so the result can follow the plugs' document order.
  std::map<std::string, std::vector<Connection>> explicit_by_plug;
  std::set<std::pair<std::string, std::string>> seen;
  // A plug named in any explicit connection, even a wrong one, is meant to be connected by hand:
  // it neither auto-connects nor warns.
  std::set<std::string> named;
  for (const auto& spec : manifest.connections) {
    named.insert(spec.plug_service + ":" + spec.plug);
    auto connection = check_explicit(manifest, spec, diagnostics);
    if (!connection) continue;
    if (!seen.emplace(connection->plug_ref(), connection->slot_ref()).second) {
      diagnostics.error(spec.pointer, cat("connection ", connection->plug_ref(), " -> ",
                                          connection->slot_ref(), " is listed twice: keep one"));
      continue;
    }
    explicit_by_plug[connection->plug_ref()].push_back(std::move(*connection));
  }

  std::vector<Connection> connections;
  for (const auto& service : manifest.services) {
    for (const auto& plug : service.plugs) {
      const std::string plug_ref = service.name + ":" + plug.name;
      if (auto it = explicit_by_plug.find(plug_ref); it != explicit_by_plug.end()) {
        connections.insert(connections.end(), it->second.begin(), it->second.end());
        continue;
      }
      if (named.contains(plug_ref)) continue;
      if (plug.private_shm) {
        connections.push_back({service.name, plug.name, "", std::string(kSystemShmSlot.substr(1)),
                               Interface::SharedMemory, true});
        continue;
      }
      std::vector<SlotRef> candidates;
      for (const auto& other : manifest.services) {
        if (&other == &service || other.publisher != service.publisher) continue;
        for (const auto& slot : other.slots) {
          if (slot.interface == plug.interface && slot.identifier == plug.identifier) {
            candidates.push_back({&other, &slot});
          }
        }
      }
      if (candidates.size() == 1) {
        connections.push_back({service.name, plug.name, candidates[0].service->name,
                               candidates[0].slot->name, plug.interface, true});
      } else if (candidates.empty()) {
        const std::string publisher = service.publisher.empty()
                                          ? std::string()
                                          : cat(" and publisher \"", service.publisher, "\"");
        diagnostics.warning(plug.pointer,
                            cat("no slot with ", interface_name(plug.interface), " identifier \"",
                                plug.identifier, "\"", publisher,
                                ": the plug stays unconnected (add such a slot, or an explicit "
                                "connection)"));
      } else {
        std::vector<std::string> refs;
        for (const auto& candidate : candidates) {
          refs.push_back(candidate.service->name + ":" + candidate.slot->name);
        }
        diagnostics.error(plug.pointer,
                          cat("ambiguous: ", candidates.size(), " slots match ",
                              interface_name(plug.interface), " identifier \"", plug.identifier,
                              "\" (", join(refs, ", "), "): add an explicit connection such as ",
                              example_connection(plug_ref, refs.front())));
      }
    }
  }
  return connections;
}

}  // namespace ipcrt::config
