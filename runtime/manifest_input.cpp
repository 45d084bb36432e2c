// Loading and connecting a manifest for the commands.
#include "runtime/manifest_input.hpp"

#include "config/parser.hpp"
#include "runtime/mediation/notification.hpp"
#include "runtime/seccomp/syscall_names.hpp"

namespace ipcrt::runtime {

ConnectedManifest load_connected_manifest(const std::string& path) {
  auto parsed =
      config::load_manifest(path, {.allow_queue_patterns = mediation_support().has_value(),
                                   .seccomp_entry_problem = seccomp_entry_problem});
  ConnectedManifest loaded;
  loaded.diagnostics = std::move(parsed.diagnostics);
  if (!parsed.manifest) return loaded;
  loaded.connections = config::resolve_connections(*parsed.manifest, loaded.diagnostics);
  if (!loaded.diagnostics.has_errors()) loaded.manifest = std::move(parsed.manifest);
  return loaded;
}

}  // namespace ipcrt::runtime
