// The composition root: one running manifest (SPEC §4). A Daemon owns everything `ipcrt run`
// wires together (the manifest and its connections, the users, the kernel's state, the plan,
// the compiled filters, the resources it created, the mediation server and the supervisor),
// and is what `run`, PID-1 mode and the benchmarks use. Status, per-service control and
// reload hang here.
//
// Its life has two steps, so that nothing on the system changes unless everything that can be
// checked first was: prepare() validates, resolves users, reads the kernel, plans (against the
// board's sysctls) and compiles the filters, touching nothing; run() then saves new dynamic ids,
// writes the board's sysctls, creates the resources (rolled back on failure), supervises, and
// cleans up.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "config/board.hpp"
#include "config/diagnostics.hpp"
#include "config/manifest.hpp"
#include "platform/lock_file.hpp"
#include "runtime/board_sysctls.hpp"
#include "runtime/boot.hpp"
#include "runtime/cgroups/service_cgroups.hpp"
#include "runtime/control/methods.hpp"
#include "runtime/control/options.hpp"
#include "runtime/exit_code.hpp"
#include "runtime/hardware_watchdog.hpp"
#include "runtime/identities.hpp"
#include "runtime/logs/logs.hpp"
#include "runtime/manifest_input.hpp"
#include "runtime/mediation/notification.hpp"
#include "runtime/plan.hpp"
#include "runtime/sd_notify.hpp"
#include "runtime/supervisor.hpp"

namespace ipcrt::runtime {

class MediationServer;
class Reloader;
class NotifySockets;
class HostNotifier;
namespace control {
class ControlServer;
}

struct DaemonOptions {
  std::string manifest_path;
  std::optional<config::Board> board;  // its mqueue sysctls are planned against and written
  SupervisorOptions supervisor;        // tests and benchmarks shorten timeouts
  control::ControlOptions control;     // the control socket (SPEC §10)
  LogOptions logs;                     // the manifest's `log` replaces ring_bytes and files
  // `ipcrt suggest` (SPEC §15): every service in this confinement (a plan-time override), the
  // run stopped as by SIGTERM after `run_for`, and every refused call given to `on_denial`.
  std::optional<config::Confinement> confinement;
  std::optional<std::chrono::milliseconds> run_for;
  DenialObserver on_denial;
  // The host systemd's socket (SPEC §11): run_manifest takes it from ipcrt's environment.
  NotifyClient host_notify;
  bool pid1 = false;  // PID-1 mode: the caller carries out the failure action
  // The file SIGHUP reloads when it is not manifest_path: after PID-1 mode fell back to the
  // last known good manifest, the one found at boot, so that fixing it and sending SIGHUP
  // applies it (on such a device no process may call Reload, SPEC §10).
  std::string reload_path;
  // PID-1 mode's hardware watchdog (owned by run_pid1): petted from the supervisor's loop.
  HardwareWatchdog* watchdog = nullptr;
};

// Why prepare() or run() did not get the device running.
using DaemonFailure = StepFailure;

class Daemon {
 public:
  // Everything before the first change to the system. `diagnostics` receives the manifest's
  // and the plan's errors and warnings, for the caller to print.
  [[nodiscard]] static std::expected<std::unique_ptr<Daemon>, DaemonFailure> prepare(
      DaemonOptions options, config::Diagnostics& diagnostics);

  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;
  ~Daemon();

  // Writes the board's sysctls and creates the plan's resources (everything rolled back on
  // failure); the services are then ready to launch.
  [[nodiscard]] std::expected<void, DaemonFailure> boot();
  // After boot(): supervises until every service has ended for good or a shutdown completed,
  // then releases what boot() created. The exit status of SPEC §4.4: 0 or 4.
  [[nodiscard]] ExitCode supervise();
  // boot(), then supervise(): 0, 3 (boot failed, logged) or 4.
  [[nodiscard]] ExitCode run();

  // After boot(), before supervise(): the services as the supervisor will launch them (the
  // benchmarks launch them by hand).
  [[nodiscard]] const std::vector<SupervisedService>& services() const { return services_; }
  [[nodiscard]] const config::Manifest& manifest() const { return manifest_; }
  [[nodiscard]] const Plan& plan() const { return plan_; }
  [[nodiscard]] const Identities& identities() const { return plan_.identities; }
  // Valid from run()'s start to its end.
  [[nodiscard]] Supervisor* supervisor() { return supervisor_.get(); }
  // The log subsystem (SPEC §14): from boot() to the Daemon's end, so what was logged can
  // still be read after run().
  [[nodiscard]] Logs* logs() { return logs_.get(); }
  // The services' cgroups from boot() to the end of supervise(); nullptr without cgroup v2.
  [[nodiscard]] const ServiceCgroups* cgroups() const { return cgroups_.get(); }
  // After supervise(): what the device must do because a critical service failed for good
  // (SPEC §11); None if none did or the manifest says so.
  [[nodiscard]] config::FailureAction failure_action_due() const { return failure_action_due_; }

 private:
  friend class Reloader;
  Daemon() = default;
  void release();
  // What a service that ended during the shutdown leaves that is its alone (its cgroup, a
  // private /dev/shm directory not on the staging tmpfs): removed at its end rather than after
  // the last service's.
  void release_service(const std::string& service);
  // What the supervisor gets for one planned service of `manifest`; `host_mounts` as in
  // LaunchOptions.
  [[nodiscard]] SupervisedService supervised(
      const config::Manifest& manifest, const Plan& plan, const PlannedService& planned,
      platform::BpfProgram filter,
      const Result<std::vector<platform::MountEntry>>* host_mounts = nullptr);
  void open_logs();

  DaemonOptions options_;
  config::Manifest manifest_;
  std::vector<config::Connection> connections_;
  // Locked from prepare() until boot() saves the ids the plan uses: a concurrent runtime of
  // another manifest cannot be given them meanwhile.
  std::optional<platform::IdRegistry> registry_;
  std::optional<platform::LockFile> lock_;  // one `run` per manifest name
  Plan plan_;
  std::vector<platform::BpfProgram> filters_;  // plan order, until boot() moves them
  AppliedSysctls sysctls_;
  std::optional<BootedResources> resources_;
  std::unique_ptr<ServiceCgroups> cgroups_;  // SPEC §13; none without cgroup v2
  std::vector<SupervisedService> services_;
  std::unique_ptr<Logs> logs_;  // before mediation_ and supervisor_, which use it, so it outlives them
  std::unique_ptr<NotifySockets> notify_;  // from boot() to release()
  std::unique_ptr<HostNotifier> host_;
  config::FailureAction failure_action_due_ = config::FailureAction::None;
  std::unique_ptr<MediationServer> mediation_;
  std::unique_ptr<Supervisor> supervisor_;
  std::unique_ptr<control::ControlServer> control_;  // after the supervisor it uses: dies first
  std::string manifest_text_;  // the file as prepare() planned it: what a reload compares
  control::ReloadCounts reload_counts_;
  std::unique_ptr<Reloader> reloader_;  // SPEC §12: from supervise() on, dies before the rest
};

// prepare() and run() as `ipcrt run` and PID-1 mode do them: diagnostics on stderr in the
// compiler's format, a failure logged with its step; returns the exit status.
// `failure_action`, if given, receives Daemon::failure_action_due(); outside PID-1 mode a due
// action is logged as left to the host.
// `rejected`, if given, is set when prepare() failed, i.e. before anything on the system
// changed: PID-1 mode then boots the last known good manifest instead (SPEC §12).
struct PrepareRejection {
  StepFailure failure;
  std::string diagnostics;  // as printed on stderr, one `FILE: pointer: error: ...` line each
};
[[nodiscard]] ExitCode run_manifest(DaemonOptions options,
                                    config::FailureAction* failure_action = nullptr,
                                    std::optional<PrepareRejection>* rejected = nullptr);

// Logs `failure` as `level=error msg="boot failed" step=... error=...`.
void log_daemon_failure(const DaemonFailure& failure);

}  // namespace ipcrt::runtime
