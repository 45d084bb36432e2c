#include "runtime/daemon.hpp"

#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>

#include <cstdio>

#include "common/file.hpp"
#include "common/log.hpp"
#include "common/text.hpp"
#include "platform/signalfd.hpp"
#include "platform/sysctl.hpp"
#include "runtime/board_sysctls.hpp"
#include "runtime/control/server.hpp"
#include "runtime/gateway_sandbox.hpp"
#include "runtime/host_notify.hpp"
#include "runtime/kernel_state.hpp"
#include "runtime/launch.hpp"
#include "runtime/logs/runtime_log.hpp"
#include "runtime/manifest_input.hpp"
#include "runtime/mediation/server.hpp"
#include "runtime/notify_sockets.hpp"
#include "runtime/reload.hpp"
#include "runtime/seccomp/service_policy.hpp"

namespace ipcrt::runtime {
namespace {

// The manifest as `status` shows it: absolute, whatever directory `run` was started in.
std::string absolute_path(const std::string& path) {
  char resolved[PATH_MAX];
  return ::realpath(path.c_str(), resolved) != nullptr ? std::string(resolved) : path;
}

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
#ifdef M_MMAP_THRESHOLD
  // Every allocation of the supervisor below 8 MiB from the heap, none from a mapping of its
  // own: the heap is what each service's init drops of the supervisor it was forked from
  // (launch.cpp, init_heap_end); a mapping it would keep, and its exit would tear it down.
  ::mallopt(M_MMAP_THRESHOLD, 8 << 20);
#endif
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
  PlanRequest request;
  request.manifest_path = path;
  request.identities = IdentityMode::Allocate;  // new dynamic ids are saved by boot()
  request.board = daemon->options_.board ? &*daemon->options_.board : nullptr;
  request.confinement = daemon->options_.confinement;
  auto planned = plan_manifest(request, diagnostics);
  if (!planned) return std::unexpected(planned.error());
  daemon->manifest_ = std::move(planned->manifest);
  daemon->connections_ = std::move(planned->connections);
  daemon->plan_ = std::move(planned->plan);
  daemon->registry_ = std::move(planned->registry);
  daemon->lock_ = std::move(planned->lock);
  daemon->manifest_text_ = read_text_file(path).value_or(std::string());
  const config::Manifest& manifest = daemon->manifest_;

  // Programs compiled by earlier runs, kept in /run (root only, checked before use: see
  // filter_store.hpp): a new kernel, which needs a reboot, never sees an old one.
  const auto store = FilterStore::open(cat(kRunDir, "/filters"));
  FilterCache filter_cache(store ? &*store : nullptr);
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
  // No service can make the OOM killer pick the supervisor (SPEC §4.4); each service starts
  // back at 0 (the launch resets it).
  if (::geteuid() == 0) {
    if (auto protected_ = platform::write_sysctl("/proc/self/oom_score_adj", -1000); !protected_) {
      log_warn("oom_score_adj not set")
          .field("errno", protected_.error().errnum)
          .field("hint", "lowering it needs CAP_SYS_RESOURCE, which ipcrt's own capabilities lack "
                         "here: the OOM killer may choose the supervisor");
    }
  }
  // The first change to the system: ids allocated for this plan stay allocated from now on.
  if (registry_) {
    if (auto saved = registry_->save(); !saved)
      return failed(kExitBootFailed, "users", saved.error());
    registry_.reset();
  }
  if (options_.board) {
    auto applied = apply_board_sysctls(*options_.board);
    if (!applied) return failed(kExitBootFailed, "board-sysctls", applied.error());
    sysctls_ = std::move(*applied);
  }
  // SPEC §13: the cgroups first, so that what a SIGKILLed run left running is gone before
  // this run creates anything.
  const CgroupSupport& cgroups = plan_.kernel.cgroups;
  if (cgroups.usable) {
    auto made = ServiceCgroups::create(cgroups, manifest_);
    if (!made) {
      sysctls_.restore();
      return failed(kExitBootFailed, "cgroups", made.error());
    }
    cgroups_ = std::move(*made);
  } else {
    log_info("no cgroups: services are contained by their PID namespaces")
        .field("reason", cgroups.why_not.describe());
  }
  auto resources = boot_resources(plan_);
  if (!resources) {
    cgroups_.reset();
    sysctls_.restore();
    return failed(kExitBootFailed, "resources", resources.error());
  }
  resources_ = std::move(*resources);
  // A socket for each notify service (SPEC §11), before the specs that bind it.
  std::vector<NotifyTarget> notify_targets;
  for (const auto& planned : plan_.services) {
    const config::Service& service = *manifest_.find_service(planned.name);
    if (service.type != config::ServiceType::Notify) continue;
    const auto& identity = plan_.identities.account(planned.name).identity;
    notify_targets.push_back({planned.name, identity.uid, identity.gid,
                              service.confinement != config::Confinement::Off});
  }
  auto notify = NotifySockets::create(notify_directory(kRunDir, manifest_.name), notify_targets);
  if (!notify) {
    release();
    sysctls_.restore();
    return failed(kExitBootFailed, "notify-sockets", notify.error());
  }
  notify_ = std::move(*notify);
  // Read once: nothing mounts between these launch specs.
  const auto host_mounts = platform::mount_table();
  for (std::size_t i = 0; i < plan_.services.size(); ++i) {
    const auto& planned = plan_.services[i];
    services_.push_back(
        supervised(manifest_, plan_, planned, std::move(filters_[i]), &host_mounts));
  }
  filters_.clear();
  return {};
}

SupervisedService Daemon::supervised(const config::Manifest& manifest, const Plan& plan,
                                     const PlannedService& planned, platform::BpfProgram filter,
                                     const Result<std::vector<platform::MountEntry>>* host_mounts) {
  const config::Service& service = *manifest.find_service(planned.name);
  SupervisedService supervised;
  LaunchOptions launch_options;
  launch_options.capture_output = true;
  launch_options.new_ipc_namespace = mediation_support().has_value();
  launch_options.host_mounts = host_mounts;
  supervised.spec =
      prepare_launch(service, planned, plan.identities.account(planned.name).identity,
                     std::move(filter), resources_->service_default_rlimits, launch_options);
  add_gateway_sandbox(supervised.spec, service, planned, plan.identities.account(planned.name),
                      plan.identities);
  if (cgroups_) {
    supervised.spec.cgroup_fd = cgroups_->fd_of(planned.name);
    supervised.spec.cgroup = cgroups_->path_of(planned.name);
  }
  supervised.restart = service.restart;
  supervised.restart_delay_ms = service.restart_delay_ms;
  supervised.depends_on = planned.depends_on;
  using std::chrono::milliseconds;
  supervised.type = service.type;
  supervised.start_timeout = milliseconds(service.start_timeout_ms);
  supervised.stop_signal = service.stop_signal;
  supervised.stop_timeout = milliseconds(service.stop_timeout_ms);
  if (service.watchdog_ms) supervised.watchdog = milliseconds(*service.watchdog_ms);
  supervised.restart_limit = service.restart_limit;
  supervised.critical = service.critical;
  if (service.type == config::ServiceType::Notify && notify_) {
    attach_notify_socket(supervised.spec, notify_->path_of(planned.name), supervised.watchdog);
  }
  return supervised;
}

void Daemon::release() {
  // Every service has ended: what a killed one left is killed with its cgroup.
  cgroups_.reset();
  notify_.reset();
  if (!resources_) return;
  release_resources(*resources_);
  resources_.reset();
}

void Daemon::release_service(const std::string& service) {
  if (cgroups_) cgroups_->release(service);
  if (!resources_) return;
  for (const auto& planned : plan_.services) {
    // One on the staging tmpfs goes with its unmount at the end of the run (release()), all at
    // once: removed here, each would cost the stop an open, a listing, unlinks and an rmdir.
    if (planned.name == service && !planned.shm_dir.empty() &&
        !on_staging_tmpfs(*resources_, planned.shm_dir)) {
      release_private_dir(*resources_, planned.shm_dir);
    }
  }
}

ExitCode Daemon::supervise() {
  open_logs();
  mediation_ = std::make_unique<MediationServer>(manifest_, plan_);
  mediation_->route_denials([logs = logs_.get()](const std::string& service,
                                                 std::string_view line) {
    logs->denial(service, line);
  });
  if (options_.on_denial) mediation_->observe_denials(options_.on_denial);
  control::ControlContext context;
  context.manifest = &manifest_;
  context.plan = &plan_;
  context.manifest_path = absolute_path(options_.manifest_path);
  context.mediation = mediation_support().has_value();
  context.cgroups = cgroups_.get();
  context.logs = logs_.get();
  context.reload = [this](std::string path, std::chrono::milliseconds confirm,
                          control::DeferredReply reply) {
    if (reloader_) reloader_->request(std::move(path), confirm, std::move(reply));
  };
  context.reload_counts = &reload_counts_;
  control_ = std::make_unique<control::ControlServer>(std::move(context), options_.control);
  // The device runs without its control socket rather than not at all; services' plug
  // connections do not need the socket.
  if (auto listening = control_->listen(); !listening) {
    log_error("control socket unavailable")
        .field("path", control_->socket_path())
        .field("error", listening.error().describe());
  }
  SupervisorOptions supervisor_options = options_.supervisor;
  supervisor_options.on_listener = mediation_->handler();
  supervisor_options.on_output = logs_->handler();
  supervisor_options.on_main_exit = [this](const std::string& service) {
    logs_->catch_up(service);
    // Shutting down, a service that ended never starts again in this run.
    if (supervisor_ != nullptr && supervisor_->shutting_down()) {
      release_service(service);
      mediation_->join_finished();  // the mediation threads of the services ended so far
    }
  };
  host_ = std::make_unique<HostNotifier>(std::move(options_.host_notify));
  supervisor_options.before_launch = [this](LaunchSpec& spec) {
    if (notify_) notify_->drain(spec.service);  // nothing of a previous run counts
    return control_->connect_plug(spec);
  };
  supervisor_options.on_state_change = [this](const std::string&) {
    control_->service_changed();
    host_->changed();
    if (reloader_) reloader_->service_changed();
  };
  // SIGHUP: the same file again (SPEC §12), with the default confirm window; the outcome is
  // logged.
  supervisor_options.on_reload_signal = [this] {
    if (reloader_) reloader_->request({}, std::chrono::milliseconds(30000), {});
  };
  supervisor_options.after_update = [this](Supervisor& supervisor) {
    host_->update(supervisor);
    logs_->end_step();
  };
  supervisor_ = std::make_unique<Supervisor>(std::move(services_), std::move(supervisor_options));
  services_.clear();
  {
    Generation running;
    running.path = absolute_path(options_.reload_path.empty() ? options_.manifest_path
                                                              : options_.reload_path);
    running.text = manifest_text_;
    running.manifest = manifest_;
    running.connections = connections_;
    running.plan = plan_;
    running.fingerprints = service_fingerprints(
        manifest_text_, plan_, options_.board ? options_.board->name : std::string());
    reloader_ = std::make_unique<Reloader>(*this, *supervisor_, std::move(running), reload_counts_);
  }
  if (options_.watchdog != nullptr) options_.watchdog->attach(*supervisor_);
  logs_->start(*supervisor_);
  if (cgroups_) {
    if (auto watched = cgroups_->watch(*supervisor_); !watched) {
      log_warn("cgroup events not watched: OOM kills and refused forks are not logged")
          .field("error", watched.error().describe());
    }
  }
  if (auto attached = control_->attach(*supervisor_); !attached) {
    log_error("control socket unavailable").field("error", attached.error().describe());
  }
  if (notify_) {
    // Without them no notify service could become ready: each would fail its start timeout.
    if (auto attached = notify_->attach(*supervisor_); !attached) {
      log_error("notify sockets not read").field("error", attached.error().describe());
    }
  }
  host_->attach(*supervisor_);
  if (options_.run_for) {
    // As SIGTERM would: consumers first, then providers, each with its stop signal.
    supervisor_->after(*options_.run_for,
                       [supervisor = supervisor_.get()] { supervisor->shutdown(); });
  }
  auto result = supervisor_->run();
  if (result && !result->critical_failure.empty()) {
    failure_action_due_ = manifest_.failure_action;
  }
  mediation_->flush();
  reloader_.reset();
  control_.reset();
  logs_->finish();  // what the pipes still hold, before the supervisor goes
  release();
  supervisor_.reset();
  host_.reset();
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

ExitCode run_manifest(DaemonOptions options, config::FailureAction* failure_action,
                      std::optional<PrepareRejection>* rejected) {
  // Signals that arrive during boot stay pending until the supervisor's signalfd reads them,
  // so a SIGTERM now still stops cleanly instead of leaving half-built state behind. They stay
  // blocked after the run: the process is about to exit with the run's status, which a late
  // SIGTERM must not replace.
  sigset_t supervised;
  sigemptyset(&supervised);
  for (int signal : kSupervisorSignals) sigaddset(&supervised, signal);
  ::pthread_sigmask(SIG_BLOCK, &supervised, nullptr);
  // Every other signal whose default would end or stop the runtime is ignored (SPEC §4.4):
  // SIGPIPE from a closed log reader, SIGTSTP from a terminal, a stray SIGUSR1.
  if (auto ignored = platform::ignore_fatal_signals(kSupervisorSignals); !ignored) {
    log_warn("signals not ignored").field("error", ignored.error().describe());
  }
  // The runtime's own log never blocks from here on (SPEC §14).
  install_runtime_log();
  // A host systemd's socket is ipcrt's, never its services' (SPEC §11).
  options.host_notify = NotifyClient::from_environment();
  const bool pid1 = options.pid1;

  const std::string path = options.manifest_path;
  config::Diagnostics diagnostics;
  auto daemon = Daemon::prepare(std::move(options), diagnostics);
  const std::string printed = diagnostics.format(path);
  std::fputs(printed.c_str(), stderr);
  if (!daemon) {
    if (daemon.error().error) log_daemon_failure(daemon.error());
    if (rejected != nullptr) *rejected = PrepareRejection{daemon.error(), printed};
    return daemon.error().exit_code;
  }
  const ExitCode status = (*daemon)->run();
  const config::FailureAction due = (*daemon)->failure_action_due();
  if (failure_action != nullptr) *failure_action = due;
  if (!pid1 && due != config::FailureAction::None) {
    // Never the machine's reboot from under a host init (SPEC §11): its unit decides.
    log_warn("failure action left to the host")
        .field("failure-action", due == config::FailureAction::Reboot ? "reboot" : "poweroff")
        .field("status", static_cast<int>(status))
        .field("hint",
               "set FailureAction= (or Restart=) on ipcrt's unit, as "
               "dist/systemd/ipcrt@.service shows, for the host to act");
  }
  return status;
}

}  // namespace ipcrt::runtime
