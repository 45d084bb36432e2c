#include "runtime/daemon.hpp"

#include <signal.h>

#include <cstdio>

#include "common/log.hpp"
#include "common/text.hpp"
#include "runtime/board_sysctls.hpp"
#include "runtime/kernel_state.hpp"
#include "runtime/launch.hpp"
#include "runtime/logs/runtime_log.hpp"
#include "runtime/manifest_input.hpp"
#include "runtime/mediation/server.hpp"
#include "runtime/seccomp/service_policy.hpp"

namespace ipcrt::runtime {
namespace {

std::unexpected<DaemonFailure> failed(ExitCode code, std::string step,
                                      std::optional<Error> error = std::nullopt) {
  return std::unexpected(DaemonFailure{code, std::move(step), std::move(error)});
}

}  // namespace

void log_daemon_failure(const DaemonFailure& failure) {
  auto line = log_error("boot failed");
  line.field("step", failure.step);
  if (failure.error) line.field("error", failure.error->describe());
}

std::expected<std::unique_ptr<Daemon>, DaemonFailure> Daemon::prepare(
    DaemonOptions options, config::Diagnostics& diagnostics) {
  std::unique_ptr<Daemon> daemon(new Daemon());
  daemon->options_ = std::move(options);
  const std::string& path = daemon->options_.manifest_path;

  // Said once at boot; without it the filters alone apply (SPEC §5) and queue patterns, which
  // only mediation can enforce, are refused by the parser.
  const Status& mediation = mediation_support();
  if (!mediation) {
    log_warn("name-level mediation unavailable: seccomp filters only")
        .field("reason", mediation.error().describe());
  }
  auto loaded = load_connected_manifest(path);
  diagnostics.append(loaded.diagnostics);
  if (!loaded.manifest) return failed(kExitInvalidManifest, "manifest");
  daemon->manifest_ = std::move(*loaded.manifest);
  daemon->connections_ = std::move(loaded.connections);
  const config::Manifest& manifest = daemon->manifest_;

  // Users first: the plan checks that queues it would adopt belong to their slot's user.
  auto identities = resolve_identities(manifest);
  if (!identities) return failed(kExitBootFailed, "users", identities.error());
  daemon->identities_ = std::move(*identities);

  auto kernel = read_kernel_state();
  if (!kernel) return failed(kExitBootFailed, "kernel-state", kernel.error());
  // Planned against the limits the board is about to write: nothing is written unless the
  // manifest fits them (SPEC §4.1).
  if (daemon->options_.board) {
    kernel->limits = limits_after_board(kernel->limits, *daemon->options_.board);
  }
  auto plan = make_plan(manifest, daemon->connections_, *kernel, diagnostics,
                        &daemon->identities_);
  if (!plan) return failed(kExitBootFailed, "plan");  // limits, foreign queues: in diagnostics
  daemon->plan_ = std::move(*plan);

  FilterCache filter_cache;
  for (const auto& planned : daemon->plan_.services) {
    auto filter = filter_cache.filter_for(*manifest.find_service(planned.name), planned,
                                          mediation.has_value());
    if (!filter) return failed(kExitBootFailed, cat("seccomp-compile ", planned.name), filter.error());
    daemon->filters_.push_back(std::move(*filter));
  }
  return daemon;
}

Daemon::~Daemon() {
  release();
}

// From boot on, the runtime's lines also go to the ring and the manifest's log files.
void Daemon::open_logs() {
  if (logs_) return;
  LogOptions log_options = options_.logs;
  if (manifest_.log) {
    // Both fit a 32-bit size_t: the parser bounds them (64 MiB, 1 GiB).
    log_options.ring_bytes = static_cast<std::size_t>(manifest_.log->ring_bytes);
    if (manifest_.log->dir) {
      log_options.files = LogFileOptions{
          *manifest_.log->dir, static_cast<std::size_t>(manifest_.log->max_bytes),
          manifest_.log->files};
    }
  }
  std::vector<std::string> names;
  for (const auto& planned : plan_.services) names.push_back(planned.name);
  logs_ = std::make_unique<Logs>(manifest_.name, names, std::move(log_options));
  logs_->open();
}

std::expected<void, DaemonFailure> Daemon::boot() {
  open_logs();
  if (options_.board) {
    auto applied = apply_board_sysctls(*options_.board);
    if (!applied) return failed(kExitBootFailed, "board-sysctls", applied.error());
    sysctls_ = std::move(*applied);
  }
  auto resources = boot_resources(plan_, identities_);
  if (!resources) {
    sysctls_.restore();
    return failed(kExitBootFailed, "resources", resources.error());
  }
  resources_ = std::move(*resources);
  for (std::size_t i = 0; i < plan_.services.size(); ++i) {
    const auto& planned = plan_.services[i];
    const config::Service& service = *manifest_.find_service(planned.name);
    SupervisedService supervised;
    LaunchOptions launch_options;
    launch_options.capture_output = true;
    launch_options.new_ipc_namespace = mediation_support().has_value();
    supervised.spec =
        prepare_launch(service, planned, identities_.at(planned.name), std::move(filters_[i]),
                       resources_->service_default_rlimits, launch_options);
    supervised.restart = service.restart;
    supervised.restart_delay_ms = service.restart_delay_ms;
    supervised.depends_on = planned.depends_on;
    services_.push_back(std::move(supervised));
  }
  filters_.clear();
  return {};
}

void Daemon::release() {
  if (!resources_) return;
  release_resources(*resources_);
  resources_.reset();
}

ExitCode Daemon::supervise() {
  open_logs();
  mediation_ = std::make_unique<MediationServer>(manifest_, plan_, identities_);
  mediation_->route_denials([logs = logs_.get()](const std::string& service,
                                                 std::string_view line) {
    logs->denial(service, line);
  });
  SupervisorOptions supervisor_options = options_.supervisor;
  supervisor_options.on_listener = mediation_->handler();
  supervisor_options.on_output = logs_->handler();
  supervisor_ = std::make_unique<Supervisor>(std::move(services_), std::move(supervisor_options));
  services_.clear();
  logs_->start(*supervisor_);
  auto result = supervisor_->run();
  mediation_->flush();
  logs_->finish();  // what the pipes still hold, before the supervisor goes
  release();
  supervisor_.reset();
  mediation_.reset();
  if (!result) {
    log_error("supervisor failed").field("error", result.error().describe());
    return kExitServiceFailed;
  }
  const ExitCode status = result->any_failed ? kExitServiceFailed : kExitOk;
  log_info(result->outcome == SupervisorOutcome::Stopped ? "stopped" : "all services ended")
      .field("status", static_cast<int>(status));
  return status;
}

ExitCode Daemon::run() {
  if (auto booted = boot(); !booted) {
    log_daemon_failure(booted.error());
    return booted.error().exit_code;
  }
  return supervise();
}

ExitCode run_manifest(DaemonOptions options) {
  // Signals that arrive during boot stay pending until the supervisor's signalfd reads them,
  // so a SIGTERM now still stops cleanly instead of leaving half-built state behind. They stay
  // blocked after the run: the process is about to exit with the run's status, which a late
  // SIGTERM must not replace.
  sigset_t supervised;
  sigemptyset(&supervised);
  for (int signal : kSupervisorSignals) sigaddset(&supervised, signal);
  ::pthread_sigmask(SIG_BLOCK, &supervised, nullptr);
  // The runtime's own log never blocks from here on (SPEC §14).
  install_runtime_log();

  const std::string path = options.manifest_path;
  config::Diagnostics diagnostics;
  auto daemon = Daemon::prepare(std::move(options), diagnostics);
  std::fputs(diagnostics.format(path).c_str(), stderr);
  if (!daemon) {
    if (daemon.error().error) log_daemon_failure(daemon.error());
    return daemon.error().exit_code;
  }
  return (*daemon)->run();
}

}  // namespace ipcrt::runtime
