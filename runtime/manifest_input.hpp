// The manifest as every command reads it: parsed with queue patterns allowed exactly where
// name-level mediation runs (so `validate` and `run` agree), then connected; and the one
// planning prelude of `plan`, `policy` and `run` (load, users, kernel, plan).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "config/board.hpp"
#include "config/connections.hpp"
#include "config/diagnostics.hpp"
#include "config/manifest.hpp"
#include "config/paths.hpp"
#include "platform/id_registry.hpp"
#include "platform/lock_file.hpp"
#include "runtime/exit_code.hpp"
#include "runtime/plan.hpp"

namespace ipcrt::runtime {

struct ConnectedManifest {
  std::optional<config::Manifest> manifest;  // set only when diagnostics has no errors
  std::vector<config::Connection> connections;
  config::Diagnostics diagnostics;  // errors and warnings of parsing and connecting
};

[[nodiscard]] ConnectedManifest load_connected_manifest(const std::string& path);

// Why a step of getting a manifest planned or running did not succeed.
struct StepFailure {
  ExitCode exit_code = kExitBootFailed;
  std::string step;            // "manifest", "users", "kernel-state", "plan", ...
  std::optional<Error> error;  // none when the diagnostics say everything
};

// How the plan learns who each service runs as.
enum class IdentityMode {
  Skip,      // `policy`: only the grants matter
  Preview,   // `plan`: the ids `run` would use now; nothing written or locked
  Allocate,  // `run`: the manifest's lock taken, then new dynamic ids allocated in the
             // registry, which the caller saves
  Reload,    // a running runtime's reload (SPEC §12): as Allocate, under the lock it holds
};

// Where `run` takes its manifest's lock (SPEC §4.1): /run/ipcrt/<name>.lock.
inline constexpr std::string_view kRunDir = config::kRunDirectory;

struct PlanRequest {
  std::string manifest_path;
  IdentityMode identities = IdentityMode::Preview;
  const config::Board* board = nullptr;  // planned against the sysctls it will write
  // Every service planned with this confinement instead of its own (`ipcrt suggest` runs the
  // manifest in complain mode); the file is not changed.
  std::optional<config::Confinement> confinement = std::nullopt;
  // Reload: the queues the running manifest declares. Planned as if absent (create, not
  // adopt): the reload itself keeps, recreates or refuses each (SPEC §12).
  std::vector<std::string> running_queues{};
};

struct PlannedManifest {
  config::Manifest manifest;
  std::vector<config::Connection> connections;
  Plan plan;
  std::optional<platform::IdRegistry> registry;  // Allocate: locked until saved or dropped
  std::optional<platform::LockFile> lock;        // Allocate: one `run` per manifest name
};

// Loads, connects, resolves users, reads the kernel and plans; changes nothing on the system.
// `diagnostics` receives every error and warning, for the caller to print.
[[nodiscard]] std::expected<PlannedManifest, StepFailure> plan_manifest(
    const PlanRequest& request, config::Diagnostics& diagnostics);

}  // namespace ipcrt::runtime
