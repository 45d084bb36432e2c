// `ipcrt run MANIFEST [--board NAME]` (SPEC §4): validate, plan, compile the filters, resolve
// users, boot the resources, then supervise until everything has ended or a stop is requested.
// Everything that can fail without side effects is done before the first resource is created.
#include <signal.h>

#include <cstdio>

#include "common/log.hpp"
#include "common/text.hpp"
#include "config/connections.hpp"
#include "config/parser.hpp"
#include "runtime/board.hpp"
#include "runtime/boot.hpp"
#include "runtime/commands.hpp"
#include "runtime/kernel_state.hpp"
#include "runtime/launch.hpp"
#include "runtime/policy.hpp"
#include "runtime/supervisor.hpp"

namespace ipcrt::runtime {
namespace {

int boot_failed(const std::string& what, const Error& error) {
  log_error("boot failed").field("step", what).field("error", error.describe());
  return kExitBootFailed;
}

bool needs_user_database(const config::Manifest& manifest) {
  for (const auto& service : manifest.services) {
    if (service.user || service.group) return true;
  }
  return false;
}

}  // namespace

int command_run(const CommandLine& command_line) {
  const std::string& path = command_line.positionals.at(0);
  // Signals that arrive during boot stay pending until the supervisor's signalfd reads them,
  // so a SIGTERM now still stops cleanly instead of leaving half-built state behind.
  sigset_t supervised;
  sigemptyset(&supervised);
  for (int signal : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&supervised, signal);
  sigprocmask(SIG_BLOCK, &supervised, nullptr);

  if (auto board_name = command_line.option("--board")) {
    auto board = find_board(*board_name);
    if (!board) {
      std::fprintf(stderr, "ipcrt: run: %s\n", board.error().describe().c_str());
      return kExitUsage;
    }
    if (auto applied = apply_board_sysctls(*board); !applied) {
      return boot_failed("board-sysctls", applied.error());
    }
  }

  auto parsed = config::load_manifest(path);
  config::Diagnostics diagnostics = parsed.diagnostics;
  std::vector<config::Connection> connections;
  if (parsed.manifest) connections = config::resolve_connections(*parsed.manifest, diagnostics);
  if (diagnostics.has_errors()) {
    std::fputs(diagnostics.format(path).c_str(), stderr);
    return kExitInvalidManifest;
  }
  const config::Manifest& manifest = *parsed.manifest;

  auto kernel = read_kernel_state();
  if (!kernel) return boot_failed("kernel-state", kernel.error());
  auto plan = make_plan(manifest, connections, *kernel, diagnostics);
  std::fputs(diagnostics.format(path).c_str(), stderr);
  if (!plan) return kExitBootFailed;  // limits: nothing was created

  std::vector<platform::BpfProgram> filters;
  for (const auto& planned : plan->services) {
    auto filter = compile_service_filter(*manifest.find_service(planned.name), planned);
    if (!filter) return boot_failed(cat("seccomp-compile ", planned.name), filter.error());
    filters.push_back(std::move(*filter));
  }

  Identities identities;
  if (needs_user_database(manifest)) {
    auto users = platform::UserDatabase::load();
    if (!users) return boot_failed("users", users.error());
    auto resolved = resolve_identities(manifest, *users);
    if (!resolved) return boot_failed("users", resolved.error());
    identities = std::move(*resolved);
  } else {
    auto resolved = resolve_identities(manifest, platform::UserDatabase({}, {}));
    if (!resolved) return boot_failed("users", resolved.error());
    identities = std::move(*resolved);
  }

  auto resources = boot_resources(*plan, identities);
  if (!resources) return boot_failed("resources", resources.error());

  std::vector<SupervisedService> services;
  for (std::size_t i = 0; i < plan->services.size(); ++i) {
    const auto& planned = plan->services[i];
    const config::Service& service = *manifest.find_service(planned.name);
    SupervisedService supervised_service;
    supervised_service.spec =
        prepare_launch(service, planned, identities.at(planned.name), std::move(filters[i]),
                       resources->service_default_rlimits);
    supervised_service.restart = service.restart;
    supervised_service.restart_delay_ms = service.restart_delay_ms;
    supervised_service.depends_on = service_dependencies(manifest, *plan, planned.name);
    services.push_back(std::move(supervised_service));
  }

  Supervisor supervisor(std::move(services));
  auto result = supervisor.run();
  release_resources(*resources);
  if (!result) {
    log_error("supervisor failed").field("error", result.error().describe());
    return kExitServiceFailed;
  }
  int status = result->any_failed ? kExitServiceFailed : kExitOk;
  log_info(result->outcome == SupervisorOutcome::Stopped ? "stopped" : "all services ended")
      .field("status", status);
  return status;
}

}  // namespace ipcrt::runtime
