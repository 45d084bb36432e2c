// Loading and connecting a manifest for the commands.
#include "runtime/manifest_input.hpp"

#include <algorithm>

#include "common/text.hpp"
#include "config/parser.hpp"
#include "runtime/board_sysctls.hpp"
#include "runtime/identities.hpp"
#include "runtime/kernel_state.hpp"
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

std::expected<PlannedManifest, StepFailure> plan_manifest(const PlanRequest& request,
                                                         config::Diagnostics& diagnostics) {
  auto fail_at = [](ExitCode code, std::string step, std::optional<Error> error = std::nullopt) {
    return std::unexpected(StepFailure{code, std::move(step), std::move(error)});
  };
  auto loaded = load_connected_manifest(request.manifest_path);
  diagnostics.append(loaded.diagnostics);
  if (!loaded.manifest) return fail_at(kExitInvalidManifest, "manifest");
  PlannedManifest planned;
  planned.manifest = std::move(*loaded.manifest);
  planned.connections = std::move(loaded.connections);
  if (request.confinement) {
    for (auto& service : planned.manifest.services) service.confinement = *request.confinement;
  }

  if (request.identities == IdentityMode::Allocate) {
    // One `run` per manifest name, before anything else is touched: a second one would share
    // (and at its end delete) the first one's queues and directories.
    const std::string& name = planned.manifest.name;
    pid_t holder = 0;
    auto lock = platform::LockFile::acquire(cat(kRunDir, "/", name, ".lock"), &holder);
    if (!lock && lock.error().errnum != EWOULDBLOCK) {
      return fail_at(kExitBootFailed, "lock", lock.error());
    }
    if (!lock) {
      return fail_at(kExitBootFailed, "lock",
                     Error{cat("manifest ", name, " is already running (ipcrt pid ", holder, ")"),
                           0,
                           cat("stop it first (kill -TERM ", holder,
                               ") or give this manifest another name")});
    }
    planned.lock = std::move(*lock);
  }

  // Users first: the plan checks that queues it would adopt belong to their slot's user.
  std::optional<Identities> identities;
  if (request.identities == IdentityMode::Allocate || request.identities == IdentityMode::Reload) {
    auto allocated = allocate_identities(planned.manifest, planned.connections);
    if (!allocated) return fail_at(kExitBootFailed, "users", allocated.error());
    identities = std::move(allocated->identities);
    planned.registry = std::move(allocated->registry);
  } else if (request.identities == IdentityMode::Preview) {
    auto previewed = preview_identities(planned.manifest, planned.connections);
    if (!previewed) return fail_at(kExitBootFailed, "users", previewed.error());
    identities = std::move(*previewed);
  }

  auto kernel = read_kernel_state();
  if (!kernel) return fail_at(kExitBootFailed, "kernel-state", kernel.error());
  // Planned against the limits the board is about to write: nothing is written unless the
  // manifest fits them (SPEC §4.1).
  if (request.board != nullptr) kernel->limits = limits_after_board(kernel->limits, *request.board);
  std::erase_if(kernel->existing_queues, [&](const ExistingQueue& queue) {
    return std::find(request.running_queues.begin(), request.running_queues.end(), queue.path) !=
           request.running_queues.end();
  });
  auto plan = make_plan(planned.manifest, planned.connections, *kernel, diagnostics,
                        identities ? &*identities : nullptr);
  if (!plan) return fail_at(kExitBootFailed, "plan");  // limits, foreign queues: diagnostics
  planned.plan = std::move(*plan);
  return planned;
}

}  // namespace ipcrt::runtime
