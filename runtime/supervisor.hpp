// The supervisor (SPEC §4.4, §11): one thread, one epoll loop over a signalfd, the services'
// pidfds and launch reports, and any other fd registered with watch() (seccomp listeners, the
// control socket, the services' notify sockets), plus timers. It starts services in plan order
// once their dependencies are ready (as their `type` defines it), bounds each start by its
// start timeout, watches notify services' watchdogs, restarts per policy with exponential
// backoff within the restart limit, stops them in reverse dependency order at shutdown (or when
// a critical service failed for good), and takes per-service start / stop / restart requests.
// Nothing in the loop blocks: a service that misbehaves delays only itself.
//
// The operating-system side of a service (fork and confine, signal, contain) goes through a
// Launcher, and time through an injectable clock, so that the state machine can be tested
// without forking.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "config/manifest.hpp"
#include "platform/epoll.hpp"
#include "platform/fd.hpp"
#include "runtime/launch.hpp"
#include "runtime/sd_notify.hpp"

namespace ipcrt::runtime {

struct SupervisedService {
  LaunchSpec spec;
  config::RestartPolicy restart = config::RestartPolicy::No;
  unsigned restart_delay_ms = 100;
  std::vector<std::string> depends_on;  // `after` plus the providers of its connections
  // SPEC §11. simple: ready once exec'd; notify: once it sends READY=1 (Supervisor::notified);
  // oneshot: once it exits 0.
  config::ServiceType type = config::ServiceType::Simple;
  std::chrono::milliseconds start_timeout{30000};  // from fork until ready; past it: failed
  int stop_signal = SIGTERM;
  std::optional<std::chrono::milliseconds> stop_timeout;  // unset: SupervisorOptions's
  std::optional<std::chrono::milliseconds> watchdog;      // WATCHDOG=1 at least this often
  config::RestartLimit restart_limit;
  bool critical = false;  // failing for good ends the run (SupervisorResult::critical_failure)
};

// A service's state as `ipcrt status` shows it (SPEC §10).
enum class ServiceState {
  Waiting,     // not forked yet: its dependencies have not started
  Starting,    // forked, confining itself; notify: until READY=1; oneshot: until it exits
  Running,     // ready: exec'd (simple), READY=1 sent (notify)
  Stopping,    // its stop signal was sent
  Restarting,  // waiting out its backoff
  Stopped,     // by an operator or a shutdown; starts again only when asked
  Exited,      // ended with 0 for good
  Failed,      // ended with a failure for good, or could never start
};

// "waiting", "starting", "ready", "stopping", "restarting", "stopped", "exited", "failed".
[[nodiscard]] const char* service_state_name(ServiceState state);

struct ServiceStatus {
  std::string name;
  ServiceState state = ServiceState::Waiting;
  pid_t pid = 0;  // the service's process while it runs (not its init), else 0
  unsigned restarts = 0;  // automatic restarts since the runtime started
  std::chrono::system_clock::time_point since{};  // of the current state
  std::optional<int> last_wait_status;  // of the last run that ended (waitpid's status)
  std::string last_failure;             // "phase=exec errno=ENOENT ..." of the last failed start
  // What readiness its type waits for and whether it came: "ready", "waiting for READY=1",
  // "waiting for exit 0", "done" (a oneshot that exited 0); "" while not forked or ended.
  std::string readiness;
  std::string status_text;  // its last STATUS= (notify)
};

// What the supervisor asks of the operating system for one service. The system one forks and
// confines (runtime/launch) and kills a service's session; a test's records the calls.
class Launcher {
 public:
  virtual ~Launcher() = default;
  // Forks the child, which confines itself; `report` of the result is watched for progress.
  [[nodiscard]] virtual std::expected<PendingLaunch, LaunchFailure> begin(
      const LaunchSpec& spec) = 0;
  // One step of the child's progress (its report fd is readable): true once it exec'd.
  [[nodiscard]] virtual std::expected<bool, LaunchFailure> advance(PendingLaunch& pending) = 0;
  // A child that missed its launch deadline: killed; its zombie is reaped as an orphan.
  virtual void abandon(PendingLaunch& pending) = 0;
  // A pidfd of the running main process to watch for its exit; invalid if there is none.
  [[nodiscard]] virtual platform::UniqueFd exit_fd(pid_t pid) = 0;
  // Sends `signal` to the main process (through `pidfd` when valid).
  virtual void signal(pid_t pid, int pidfd, int signal) = 0;
  // The main process `pid` of `spec`'s service has ended and is not reaped yet: kill what is
  // left of the service. Must not wait for the killed processes.
  virtual void contain(const LaunchSpec& spec, pid_t pid) = 0;
};

// The Launcher of a real run: runtime/launch and runtime/session_sweep.
[[nodiscard]] Launcher& system_launcher();

// The signals the supervisor reads from its signalfd: blocked from the start of a boot, so that
// one arriving before the loop runs waits for it instead of ending a half-built runtime.
inline constexpr std::array<int, 4> kSupervisorSignals = {SIGCHLD, SIGTERM, SIGINT, SIGHUP};

class Supervisor;

// Called when a service starts with a seccomp notify listener (SPEC §6). The callee owns the
// fd; it typically registers it with Supervisor::watch() and unwatches it on EPOLLHUP (the
// service exited). Without a handler the listener is closed and the service's mediated calls
// fail with ENOSYS.
using ListenerHandler = std::function<void(Supervisor& supervisor, const std::string& service,
                                           pid_t pid, platform::UniqueFd listener)>;

// Called when a service whose LaunchSpec captures its output has exec'd, with the read ends
// of its stdout and stderr pipes (non-blocking). The callee owns them.
using OutputHandler = std::function<void(Supervisor& supervisor, const std::string& service,
                                         platform::UniqueFd output, platform::UniqueFd errors)>;

// Called before each launch of a service: may hand the child more descriptors by changing its
// spec (the control plug's connection, SPEC §10). What it returns is the parent's copy of the
// child's end, closed once the child has forked.
using LaunchHook = std::function<platform::UniqueFd(LaunchSpec& spec)>;

struct SupervisorOptions {
  using Clock = std::chrono::steady_clock;
  std::chrono::milliseconds stop_timeout{5000};   // stop signal, then SIGKILL after this
  std::chrono::milliseconds backoff_cap{30000};   // restart delay never exceeds this
  std::chrono::milliseconds stable_after{10000};  // a run this long resets the backoff
  bool subreaper = true;                          // PR_SET_CHILD_SUBREAPER (implicit as PID 1)
  // From fork to exec: a child still confining itself after this is killed (start failed).
  std::chrono::milliseconds launch_timeout{10000};
  ListenerHandler on_listener;
  OutputHandler on_output;
  // Called when a service's main process has ended, before its exit is logged: what it wrote
  // just before comes first in the log (Logs::catch_up).
  std::function<void(const std::string& service)> on_main_exit;

  LaunchHook before_launch;
  // Called whenever a service changes state, from inside the supervisor: it must not call
  // back into it (the control server only schedules a look at its waiting calls).
  std::function<void(const std::string& service)> on_state_change;
  // Called from the loop after each of its steps, when the services' states are settled for
  // now: may read the supervisor and set timers (the host's sd_notify, SPEC §11).
  std::function<void(Supervisor& supervisor)> after_update;
  // SIGHUP (SPEC §4.4, §12), from the loop; without it SIGHUP is logged and ignored.
  std::function<void()> on_reload_signal;
  Launcher* launcher = nullptr;                // nullptr: system_launcher()
  std::function<Clock::time_point()> now;      // empty: steady_clock::now
};

enum class SupervisorOutcome { AllEnded, Stopped };

struct SupervisorResult {
  SupervisorOutcome outcome = SupervisorOutcome::AllEnded;
  bool any_failed = false;  // a service ended for good with a failure or never started
  // The critical service whose failure for good stopped the run; "" if none did.
  std::string critical_failure;
};

// The delay before restart number `consecutive` + 1: `start` doubled `consecutive` times,
// capped at `cap`.
[[nodiscard]] std::chrono::milliseconds restart_delay(std::chrono::milliseconds start,
                                                      unsigned consecutive,
                                                      std::chrono::milliseconds cap);

class Supervisor {
 public:
  using Clock = SupervisorOptions::Clock;
  // Identifies one registration: a later registration of the same fd number gets another id,
  // so an event still queued for a closed fd never reaches the new one's handler.
  using WatchId = std::uint64_t;
  using FdHandler = std::function<void(std::uint32_t events, WatchId self)>;
  using TimerId = std::uint64_t;

  Supervisor(std::vector<SupervisedService> services, SupervisorOptions options = {});
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;
  ~Supervisor();

  // Other event sources (seccomp listeners, the control socket): `handler` runs when `fd` is
  // ready. The caller keeps owning the fd and unwatches it before closing it.
  [[nodiscard]] Result<WatchId> watch(int fd, std::uint32_t events, FdHandler handler);
  void unwatch(WatchId id);

  // Runs `callback` from the loop once `when` has come (or at once if it has).
  TimerId at(Clock::time_point when, std::function<void()> callback);
  TimerId after(std::chrono::milliseconds delay, std::function<void()> callback);
  void cancel(TimerId id);
  [[nodiscard]] Clock::time_point now() const;

  // Blocks SIGCHLD/SIGTERM/SIGINT/SIGHUP (the previous mask is restored at return), starts the
  // services and loops until every service has ended for good or a shutdown has completed.
  [[nodiscard]] Result<SupervisorResult> run();

  // Requests of an operator (SPEC §10), also while run() loops. A stopped service stays
  // stopped until started; stopping a provider leaves its consumers alone. Starting a running
  // service and stopping a stopped one succeed. Unknown names are errors listing the services.
  [[nodiscard]] Status start_service(const std::string& name);
  [[nodiscard]] Status stop_service(const std::string& name);
  [[nodiscard]] Status restart_service(const std::string& name);
  // What SIGTERM does: stop consumers first, then providers, then return from run().
  void shutdown();
  [[nodiscard]] bool shutting_down() const { return stopping_; }

  // A reload (SPEC §12) changes the set of services while run() loops; never from inside a
  // callback of the supervisor (on_state_change), only from the loop (a timer, a handler).
  // add_service: a new service, started once its dependencies are ready. remove_service and
  // replace_service take a service that has ended (stopped, exited, failed, waiting): it goes,
  // or gets `service` as its configuration and starts again with a fresh restart limit.
  [[nodiscard]] Status add_service(SupervisedService service);
  [[nodiscard]] Status remove_service(const std::string& name);
  [[nodiscard]] Status replace_service(const std::string& name, SupervisedService service);
  // What `name` depends on now; empty for an unknown name.
  [[nodiscard]] std::vector<std::string> dependencies_of(const std::string& name) const;

  [[nodiscard]] std::vector<ServiceStatus> status() const;
  // Every service is ready or has ended for good (exited, failed, stopped): what a host's
  // systemd waits for before READY=1.
  [[nodiscard]] bool settled() const;
  // The main process of a running service (ipcrt's init when sandboxed); 0 when none.
  [[nodiscard]] pid_t main_pid(const std::string& name) const;

  // A datagram on service `name`'s notify socket, from one of its processes (the caller
  // checked the sender, runtime/notify_sockets). Ignored unless its program runs.
  void notified(const std::string& name, const NotifyMessage& message);

  // The loop's steps, public for tests that drive the state machine without the loop.
  // Starts and stops what can be started or stopped now and fires due timers.
  void update();
  // The launch report of service `name` is readable.
  void on_launch_report(const std::string& name);
  // The main process `pid` has ended with `wait_status` and was reaped (its rest contained).
  void on_main_exited(pid_t pid, int wait_status);
  // Every service has ended for good, or the shutdown has stopped them all.
  [[nodiscard]] bool finished() const;
  [[nodiscard]] SupervisorResult result() const;

 private:
  // What should happen when the current process of a service ends.
  enum class Intent { Run, Stop, Restart };
  struct Tracked {
    SupervisedService config;
    ServiceState state = ServiceState::Waiting;
    Intent intent = Intent::Run;
    pid_t pid = 0;          // the main process: ipcrt's init when sandboxed
    pid_t service_pid = 0;  // sandboxed: the service itself (pid 2 in its namespace)
    platform::UniqueFd pidfd;
    std::optional<WatchId> pidfd_watch;
    platform::UniqueFd exit_status;  // sandboxed: where its init reports the service's end
    std::optional<PendingLaunch> launching;  // while Starting
    std::optional<WatchId> report_watch;
    std::optional<TimerId> timer;           // start deadline, restart delay or kill deadline
    std::optional<TimerId> watchdog_timer;  // while its program runs, with `watchdog`
    bool ready_once = false;                // was ready at least once (a oneshot: exited 0)
    bool kill_sent = false;
    bool forced_failure = false;  // we ended this run (start timeout, watchdog): a failure
    bool says_stopping = false;   // STOPPING=1
    std::string status_text;
    std::vector<Clock::time_point> restart_times;  // automatic restarts within the limit's window
    unsigned consecutive_restarts = 0;
    unsigned restarts = 0;
    Clock::time_point started_at{};
    std::chrono::system_clock::time_point since{};
    std::optional<int> last_wait_status;
    std::string last_failure;
  };
  struct Watched {
    int fd;
    FdHandler handler;
  };

  void on_signal(int signal);
  void reap_children();
  void reap_remaining_children();
  [[nodiscard]] bool finish_main(Tracked& service);
  void set_state(Tracked& service, ServiceState state);
  void set_timer(Tracked& service, Clock::time_point when, std::function<void()> callback);
  void clear_timer(Tracked& service);
  void start(Tracked& service);
  void start_failed(Tracked& service, const LaunchFailure& failure);
  void launch_timed_out(Tracked& service);
  void running(Tracked& service);
  void became_ready(Tracked& service);
  void start_timed_out(Tracked& service);
  void arm_watchdog(Tracked& service);
  void watchdog_expired(Tracked& service, const char* reason);
  void after_end(Tracked& service, bool failed, Clock::duration ran_for);
  [[nodiscard]] bool within_restart_limit(Tracked& service);
  void failed_for_good(Tracked& service);
  void send_stop(Tracked& service);
  void terminate(Tracked& service, int signal);
  void log_stopping(const Tracked& service, int signal);
  void stop_signal_sent(Tracked& service, int signal);
  void kill_after_timeout(Tracked& service);
  [[nodiscard]] std::chrono::milliseconds stop_timeout_of(const Tracked& service) const;
  [[nodiscard]] std::string readiness_of(const Tracked& service) const;
  void start_ready_services();
  void stop_ready_services();
  void fire_due_timers();
  [[nodiscard]] int next_timeout_ms() const;
  [[nodiscard]] Tracked* find(const std::string& name);
  [[nodiscard]] Tracked* find_pid(pid_t pid);
  [[nodiscard]] Status no_such_service(const std::string& name) const;
  [[nodiscard]] Status ensure_epoll();

  std::vector<Tracked> services_;
  SupervisorOptions options_;
  Launcher& launcher_;
  std::optional<platform::Epoll> epoll_;
  std::map<WatchId, Watched> watched_;
  WatchId next_watch_ = 1;
  std::multimap<Clock::time_point, TimerId> timer_queue_;
  std::map<TimerId, std::pair<Clock::time_point, std::function<void()>>> timers_;
  TimerId next_timer_ = 1;
  bool stopping_ = false;
  std::string critical_failure_;  // a critical service failed for good: the run ends
};

}  // namespace ipcrt::runtime
