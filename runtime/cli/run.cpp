// `ipcrt run MANIFEST [--board NAME]` (SPEC §4): validate, plan, compile the filters, resolve
// users, boot the resources, then supervise until everything has ended or a stop is requested.
// Everything that can fail without side effects is done before the first resource is created.
#include <signal.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <memory>

#include "common/log.hpp"
#include "common/text.hpp"
#include "config/board.hpp"
#include "runtime/board_sysctls.hpp"
#include "runtime/boot.hpp"
#include "runtime/cli/commands.hpp"
#include "runtime/kernel_state.hpp"
#include "runtime/launch.hpp"
#include "runtime/manifest_input.hpp"
#include "runtime/mediation/server.hpp"
#include "runtime/seccomp/service_policy.hpp"
#include "runtime/supervisor.hpp"

namespace ipcrt::runtime {
namespace {

int boot_failed(const std::string& what, const Error& error) {
  log_error("boot failed").field("step", what).field("error", error.describe());
  return kExitBootFailed;
}

// The supervisor's side of every mediated service (SPEC §6): one MediatedService and one
// rate-limited DenialLog per service, kept across restarts; each listener is served by the
// supervisor's epoll loop until the service's last task is gone (EPOLLHUP).

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
    auto board = config::find_board(*board_name);
    if (!board) {
      std::fprintf(stderr, "ipcrt: run: %s\n", board.error().describe().c_str());
      return kExitUsage;
    }
    if (auto applied = apply_board_sysctls(*board); !applied) {
      return boot_failed("board-sysctls", applied.error());
    }
  }

  // Said once at boot; without it the filters alone apply (SPEC §5) and queue patterns, which
  // only mediation can enforce, are refused by the parser.
  const Status& mediation = mediation_support();
  if (!mediation) {
    log_warn("name-level mediation unavailable: seccomp filters only")
        .field("reason", mediation.error().describe());
  }
  auto loaded = load_connected_manifest(path);
  config::Diagnostics& diagnostics = loaded.diagnostics;
  if (diagnostics.has_errors()) {
    std::fputs(diagnostics.format(path).c_str(), stderr);
    return kExitInvalidManifest;
  }
  const config::Manifest& manifest = *loaded.manifest;
  const std::vector<config::Connection>& connections = loaded.connections;

  // Users first: the plan checks that queues it would adopt belong to their slot's user.
  auto identities = resolve_identities(manifest);
  if (!identities) {
    std::fputs(diagnostics.format(path).c_str(), stderr);
    return boot_failed("users", identities.error());
  }

  auto kernel = read_kernel_state();
  if (!kernel) return boot_failed("kernel-state", kernel.error());
  auto plan = make_plan(manifest, connections, *kernel, diagnostics, &*identities);
  std::fputs(diagnostics.format(path).c_str(), stderr);
  if (!plan) return kExitBootFailed;  // limits, foreign queues: nothing was created

  std::vector<platform::BpfProgram> filters;
  FilterCache filter_cache;
  for (const auto& planned : plan->services) {
    auto filter = filter_cache.filter_for(*manifest.find_service(planned.name), planned,
                                          mediation.has_value());
    if (!filter) return boot_failed(cat("seccomp-compile ", planned.name), filter.error());
    filters.push_back(std::move(*filter));
  }

  auto resources = boot_resources(*plan, *identities);
  if (!resources) return boot_failed("resources", resources.error());

  std::vector<SupervisedService> services;
  for (std::size_t i = 0; i < plan->services.size(); ++i) {
    const auto& planned = plan->services[i];
    const config::Service& service = *manifest.find_service(planned.name);
    SupervisedService supervised_service;
    supervised_service.spec =
        prepare_launch(service, planned, identities->at(planned.name), std::move(filters[i]),
                       resources->service_default_rlimits);
    supervised_service.restart = service.restart;
    supervised_service.restart_delay_ms = service.restart_delay_ms;
    supervised_service.depends_on = service_dependencies(manifest, *plan, planned.name);
    services.push_back(std::move(supervised_service));
  }

  MediationServer mediation_server(manifest, *plan, *identities);
  SupervisorOptions options;
  options.on_listener = mediation_server.handler();
  Supervisor supervisor(std::move(services), std::move(options));
  auto result = supervisor.run();
  mediation_server.flush();
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
