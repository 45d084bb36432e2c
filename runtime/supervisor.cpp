// The supervisor's state machine and event loop.
#include "runtime/supervisor.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <set>
#include <string_view>

#include "common/log.hpp"
#include "common/text.hpp"
#include "platform/cgroup.hpp"
#include "platform/pidfd.hpp"
#include "platform/process.hpp"
#include "platform/signalfd.hpp"
#include "runtime/session_sweep.hpp"

namespace ipcrt::runtime {
namespace {

std::string signal_name(int signal) {
  const char* abbreviation = ::sigabbrev_np(signal);
  return abbreviation != nullptr ? abbreviation : std::to_string(signal);
}

// How long run() waits at its end for the last killed processes to die.
constexpr std::chrono::seconds kFinalReapWait{2};

bool exited_cleanly(int status) {
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool ended_for_good(ServiceState state) {
  return state == ServiceState::Exited || state == ServiceState::Failed ||
         state == ServiceState::Stopped;
}

bool alive(ServiceState state) {
  return state == ServiceState::Starting || state == ServiceState::Running ||
         state == ServiceState::Stopping;
}

class SystemLauncher final : public Launcher {
 public:
  std::expected<PendingLaunch, LaunchFailure> begin(const LaunchSpec& spec) override {
    return begin_launch(spec, !spec.cgroup.empty() && killed_.contains(spec.cgroup));
  }
  std::expected<bool, LaunchFailure> advance(PendingLaunch& pending) override {
    return continue_launch(pending);
  }
  void abandon(PendingLaunch& pending) override { ::kill(pending.pid, SIGKILL); }
  platform::UniqueFd exit_fd(pid_t pid) override {
    // Without pidfds (Linux < 5.3) the SIGCHLD reaper still sees the exit.
    auto pidfd = platform::pidfd_open(pid);
    return pidfd ? std::move(*pidfd) : platform::UniqueFd();
  }
  void signal(pid_t pid, int pidfd, int signal) override {
    if (pidfd >= 0 && platform::pidfd_send_signal(pidfd, signal)) return;
    if (pid > 0) ::kill(pid, signal);
  }
  void contain(const LaunchSpec& spec, pid_t pid) override {
    // SPEC §13: everything in the service's cgroup, whatever session or namespace it is in.
    // One write, no scan of /proc; the kernel signals them and nothing waits for them here.
    if (!spec.cgroup.empty()) {
      auto killed = platform::kill_cgroup(spec.cgroup);
      // Linux 6.18 kills a child cloned into a cgroup (CLONE_INTO_CGROUP) that has had a
      // cgroup.kill, as if the kill raced with its fork: from then on the service's starts
      // join the cgroup from the child, as its first syscall.
      killed_.insert(spec.cgroup);
      if (killed) return;
      log_warn("cgroup not killed")
          .field("service", spec.service)
          .field("cgroup", spec.cgroup)
          .field("error", killed.error().describe());
    }
    // A sandboxed service's init has ended, and the kernel has killed and reaped everything
    // of its pid namespace before its exit completed: nothing is left to sweep.
    if (spec.sandboxed) return;
    const std::string& service = spec.service;
    auto sweep = kill_session(pid);
    if (sweep.error) {
      log_warn("session not contained")
          .field("service", service)
          .field("session", pid)
          .field("error", sweep.error->describe());
      return;
    }
    if (sweep.gave_up) {
      log_warn("session not contained")
          .field("service", service)
          .field("session", pid)
          .field("reason", "new processes kept appearing while it was swept");
    }
    if (sweep.killed > 0) {
      log_info("killed session")
          .field("service", service)
          .field("session", pid)
          .field("processes", sweep.killed);
    }
  }

 private:
  std::set<std::string> killed_;  // cgroups that have had a cgroup.kill
};

}  // namespace

Launcher& system_launcher() {
  static SystemLauncher launcher;
  return launcher;
}

const char* service_state_name(ServiceState state) {
  switch (state) {
    case ServiceState::Waiting:
      return "waiting";
    case ServiceState::Starting:
      return "starting";
    case ServiceState::Running:
      return "ready";
    case ServiceState::Stopping:
      return "stopping";
    case ServiceState::Restarting:
      return "restarting";
    case ServiceState::Stopped:
      return "stopped";
    case ServiceState::Exited:
      return "exited";
    case ServiceState::Failed:
      return "failed";
  }
  return "unknown";
}

std::chrono::milliseconds restart_delay(std::chrono::milliseconds start, unsigned consecutive,
                                        std::chrono::milliseconds cap) {
  auto delay = start;
  for (unsigned i = 0; i < consecutive && delay < cap; ++i) delay *= 2;
  return std::min(delay, cap);
}

Supervisor::Supervisor(std::vector<SupervisedService> services, SupervisorOptions options)
    : options_(std::move(options)),
      launcher_(options_.launcher != nullptr ? *options_.launcher : system_launcher()) {
  for (auto& service : services) {
    Tracked tracked;
    tracked.config = std::move(service);
    tracked.since = std::chrono::system_clock::now();
    services_.push_back(std::move(tracked));
  }
}

Supervisor::~Supervisor() = default;

// ---- event sources and timers

Status Supervisor::ensure_epoll() {
  if (epoll_) return {};
  auto created = platform::Epoll::create();
  if (!created) return std::unexpected(created.error());
  epoll_.emplace(std::move(*created));
  return {};
}

Result<Supervisor::WatchId> Supervisor::watch(int fd, std::uint32_t events, FdHandler handler) {
  if (auto ready = ensure_epoll(); !ready) return std::unexpected(ready.error());
  const WatchId id = next_watch_++;
  if (auto added = epoll_->add(fd, events, id); !added) return std::unexpected(added.error());
  watched_.emplace(id, Watched{fd, std::move(handler)});
  return id;
}

void Supervisor::unwatch(WatchId id) {
  auto found = watched_.find(id);
  if (found == watched_.end()) return;
  if (epoll_) epoll_->remove(found->second.fd);
  watched_.erase(found);
}

Supervisor::Clock::time_point Supervisor::now() const {
  return options_.now ? options_.now() : Clock::now();
}

Supervisor::TimerId Supervisor::at(Clock::time_point when, std::function<void()> callback) {
  const TimerId id = next_timer_++;
  timer_queue_.emplace(when, id);
  timers_.emplace(id, std::make_pair(when, std::move(callback)));
  return id;
}

Supervisor::TimerId Supervisor::after(std::chrono::milliseconds delay,
                                      std::function<void()> callback) {
  return at(now() + delay, std::move(callback));
}

void Supervisor::cancel(TimerId id) {
  auto found = timers_.find(id);
  if (found == timers_.end()) return;
  auto [first, last] = timer_queue_.equal_range(found->second.first);
  for (auto it = first; it != last; ++it) {
    if (it->second == id) {
      timer_queue_.erase(it);
      break;
    }
  }
  timers_.erase(found);
}

void Supervisor::fire_due_timers() {
  const auto current = now();
  // One at a time: a callback may add or cancel timers.
  while (!timer_queue_.empty() && timer_queue_.begin()->first <= current) {
    const TimerId id = timer_queue_.begin()->second;
    timer_queue_.erase(timer_queue_.begin());
    auto found = timers_.find(id);
    if (found == timers_.end()) continue;
    auto callback = std::move(found->second.second);
    timers_.erase(found);
    callback();
  }
}

int Supervisor::next_timeout_ms() const {
  if (timer_queue_.empty()) return -1;
  auto remaining =
      std::chrono::ceil<std::chrono::milliseconds>(timer_queue_.begin()->first - now()).count();
  return static_cast<int>(std::clamp<long long>(remaining, 0, 3600 * 1000));
}

void Supervisor::set_timer(Tracked& service, Clock::time_point when,
                           std::function<void()> callback) {
  clear_timer(service);
  service.timer = at(when, std::move(callback));
}

void Supervisor::clear_timer(Tracked& service) {
  if (service.timer) cancel(*service.timer);
  service.timer.reset();
}

// ---- the loop

Result<SupervisorResult> Supervisor::run() {
  sigset_t previous_mask;
  ::pthread_sigmask(SIG_SETMASK, nullptr, &previous_mask);
  struct RestoreMask {
    const sigset_t& mask;
    ~RestoreMask() { ::pthread_sigmask(SIG_SETMASK, &mask, nullptr); }
  } restore_mask{previous_mask};

  auto signals = platform::open_signalfd(kSupervisorSignals);
  if (!signals) return std::unexpected(signals.error());
  const int signal_fd = signals->get();
  auto signal_watch = watch(signal_fd, EPOLLIN, [this, signal_fd](std::uint32_t, WatchId) {
    while (auto signal = platform::read_signal(signal_fd)) on_signal(*signal);
  });
  if (!signal_watch) return std::unexpected(signal_watch.error());
  // Orphans of services (their children once the main process has gone, including those
  // killed with its session) are reparented to us and reaped; as PID 1 we are init anyway.
  if (options_.subreaper && ::getpid() != 1 && ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
    const char* error = ::strerrorname_np(errno);
    log_warn("not a subreaper")
        .field("errno", error != nullptr ? error : "?")
        .field("hint", "orphans of services are reparented to init, which must reap them");
  }

  update();
  std::array<epoll_event, 16> events{};
  while (!finished()) {
    auto ready = epoll_->wait(events, next_timeout_ms());
    if (!ready) return std::unexpected(ready.error());
    for (int i = 0; i < *ready; ++i) {
      const auto& event = events[static_cast<std::size_t>(i)];
      auto found = watched_.find(event.data.u64);
      if (found == watched_.end()) continue;    // unwatched earlier in this batch
      FdHandler handler = found->second.handler;  // the handler may unwatch itself
      handler(event.events, event.data.u64);
    }
    update();
  }
  unwatch(*signal_watch);
  reap_remaining_children();
  return result();
}

void Supervisor::update() {
  fire_due_timers();
  if (!stopping_) start_ready_services();
  if (!critical_failure_.empty() && !stopping_) {
    log_error("critical service failed")
        .field("service", critical_failure_)
        .field("hint", "the run ends: every other service is stopped in order");
    shutdown();
  }
  if (stopping_) stop_ready_services();
  if (options_.after_update) options_.after_update(*this);
}

bool Supervisor::settled() const {
  return std::all_of(services_.begin(), services_.end(), [](const Tracked& service) {
    return service.state == ServiceState::Running || ended_for_good(service.state);
  });
}

pid_t Supervisor::main_pid(const std::string& name) const {
  for (const auto& service : services_) {
    if (service.config.spec.service == name && alive(service.state)) return service.pid;
  }
  return 0;
}

bool Supervisor::finished() const {
  // Stopped by an operator is not the end of a runtime that may be asked to start it again.
  return std::all_of(services_.begin(), services_.end(), [this](const Tracked& service) {
    return service.state == ServiceState::Exited || service.state == ServiceState::Failed ||
           (stopping_ && service.state == ServiceState::Stopped);
  });
}

SupervisorResult Supervisor::result() const {
  SupervisorResult result;
  result.outcome = stopping_ ? SupervisorOutcome::Stopped : SupervisorOutcome::AllEnded;
  result.critical_failure = critical_failure_;
  for (const auto& service : services_) {
    result.any_failed = result.any_failed || service.state == ServiceState::Failed;
  }
  return result;
}

void Supervisor::on_signal(int signal) {
  switch (signal) {
    case SIGCHLD:
      reap_children();
      break;
    case SIGTERM:
    case SIGINT:
      log_info("stop requested").field("signal", signal_name(signal));
      shutdown();
      break;
    default:
      // SIGHUP reloads (SPEC §12); a terminal hang-up must never kill the device's services.
      if (signal == SIGHUP && options_.on_reload_signal) {
        log_info("reload requested").field("signal", signal_name(signal));
        options_.on_reload_signal();
        break;
      }
      log_info("signal ignored").field("signal", signal_name(signal));
      break;
  }
}

// Every exited child, looked at (WNOWAIT) before it is reaped: a service's main process is
// reaped only after the rest of the service was contained (finish_main).
void Supervisor::reap_children() {
  for (;;) {
    siginfo_t info{};
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return;
    const pid_t pid = info.si_pid;
    if (Tracked* service = find_pid(pid)) {
      // A child still confining itself is reaped by its launch (on_launch_report), which
      // comes back.
      if (service->launching) return;
      if (!finish_main(*service)) return;
      continue;
    }
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) != pid) return;  // never spin on a child we cannot reap
    log_info("reaped orphan").field("pid", pid);
  }
}

// The loop is over, so waiting stalls no service now: the processes the sweeps killed die on
// their own; reap them (bounded, for one in uninterruptible sleep) so none is left behind.
void Supervisor::reap_remaining_children() {
  const auto deadline = Clock::now() + kFinalReapWait;
  for (;;) {
    int status = 0;
    const pid_t reaped = ::waitpid(-1, &status, WNOHANG);
    if (reaped > 0) continue;
    if (reaped < 0 && errno != EINTR) return;  // ECHILD: none left
    if (Clock::now() >= deadline) {
      log_warn("children left").field("hint", "a killed process in uninterruptible sleep (D) dies when its I/O ends");
      return;
    }
    ::usleep(1000);
  }
}

// The main process of `service` has exited and is not reaped yet. While it is a zombie its pid
// cannot be reused, so whatever the launcher finds of the service is the service's.
bool Supervisor::finish_main(Tracked& service) {
  launcher_.contain(service.config.spec, service.pid);
  int status = 0;
  pid_t reaped;
  do {
    reaped = ::waitpid(service.pid, &status, WNOHANG);
  } while (reaped < 0 && errno == EINTR);
  if (reaped != service.pid) return false;
  on_main_exited(service.pid, service_wait_status(service.exit_status.get(), status));
  return true;
}

// ---- one service's life

void Supervisor::set_state(Tracked& service, ServiceState state) {
  service.state = state;
  service.since = std::chrono::system_clock::now();
  // update() ends the run on the next step: not from here, which may be inside a loop over
  // the services.
  if (state == ServiceState::Failed && service.config.critical && critical_failure_.empty() &&
      !stopping_) {
    critical_failure_ = service.config.spec.service;
  }
  if (options_.on_state_change) options_.on_state_change(service.config.spec.service);
}

void Supervisor::on_main_exited(pid_t pid, int wait_status) {
  Tracked* found = find_pid(pid);
  if (found == nullptr) return;
  Tracked& service = *found;
  clear_timer(service);
  if (service.watchdog_timer) cancel(*service.watchdog_timer);
  service.watchdog_timer.reset();
  service.says_stopping = false;
  if (service.pidfd_watch) unwatch(*service.pidfd_watch);
  service.pidfd_watch.reset();
  service.pidfd.reset();
  const auto ran_for = now() - service.started_at;
  if (options_.on_main_exit) options_.on_main_exit(service.config.spec.service);
  {
    auto line = log_info("exited");
    line.field("service", service.config.spec.service).field("pid", service.pid);
    if (WIFEXITED(wait_status)) {
      line.field("status", WEXITSTATUS(wait_status));
    } else {
      line.field("signal", signal_name(WTERMSIG(wait_status)));
    }
  }
  service.pid = 0;
  service.exit_status.reset();
  service.last_wait_status = wait_status;
  const Intent intent = std::exchange(service.intent, Intent::Run);
  if (intent == Intent::Stop) {
    // Ending on our stop signal is not a failure.
    set_state(service, ServiceState::Stopped);
    return;
  }
  if (intent == Intent::Restart) {
    set_state(service, ServiceState::Waiting);  // started again by the next update()
    return;
  }
  bool failed = service.forced_failure || !exited_cleanly(wait_status);
  if (!failed && service.state == ServiceState::Starting) {
    if (service.config.type == config::ServiceType::Oneshot) {
      service.ready_once = true;  // its dependants start now
    } else if (service.config.type == config::ServiceType::Notify) {
      // As systemd's Type=notify: ending before READY=1 is a protocol failure.
      failed = true;
      service.last_failure = "exited before READY=1";
      log_error("not ready")
          .field("service", service.config.spec.service)
          .field("reason", "exited with status 0 before sending READY=1")
          .field("hint",
                 "a notify service sends READY=1 to $NOTIFY_SOCKET once it serves; "
                 "a program that does its work and exits is \"type\": \"oneshot\"");
    }
  }
  after_end(service, failed, ran_for);
}

void Supervisor::after_end(Tracked& service, bool failed, Clock::duration ran_for) {
  using config::RestartPolicy;
  const auto& config = service.config;
  const bool restart = !stopping_ && (config.restart == RestartPolicy::Always ||
                                      (config.restart == RestartPolicy::OnFailure && failed));
  if (!restart) {
    set_state(service, failed ? ServiceState::Failed : ServiceState::Exited);
    return;
  }
  if (!within_restart_limit(service)) {
    set_state(service, ServiceState::Failed);
    return;
  }
  if (ran_for >= options_.stable_after) service.consecutive_restarts = 0;
  const auto delay = restart_delay(std::chrono::milliseconds(config.restart_delay_ms),
                                   service.consecutive_restarts, options_.backoff_cap);
  ++service.consecutive_restarts;
  ++service.restarts;
  set_state(service, ServiceState::Restarting);
  const std::string name = config.spec.service;
  set_timer(service, now() + delay, [this, name] {
    Tracked* waiting = find(name);
    if (waiting == nullptr || waiting->state != ServiceState::Restarting) return;
    waiting->timer.reset();
    start(*waiting);
  });
  log_info("restarting")
      .field("service", name)
      .field("delay-ms", delay.count())
      .field("restarts", service.consecutive_restarts);
}

// restart-limit (SPEC §11): `burst` automatic restarts within any `interval-ms`; the next
// one inside the window is refused and the service fails for good.
bool Supervisor::within_restart_limit(Tracked& service) {
  const auto& limit = service.config.restart_limit;
  const auto interval = std::chrono::milliseconds(limit.interval_ms);
  const auto current = now();
  std::erase_if(service.restart_times,
                [&](Clock::time_point when) { return current - when >= interval; });
  if (service.restart_times.size() >= limit.burst) {
    service.last_failure =
        cat("restart limit: ", limit.burst, " restarts within ", limit.interval_ms, " ms");
    log_error("restart limit reached")
        .field("service", service.config.spec.service)
        .field("burst", limit.burst)
        .field("interval-ms", limit.interval_ms)
        .field("hint",
               "it keeps failing: see its last exit and its log (ipcrt logs SERVICE), "
               "fix it, then ipcrt start SERVICE");
    return false;
  }
  service.restart_times.push_back(current);
  return true;
}

// Forks the service; its child confines itself while the loop goes on (on_launch_report).
void Supervisor::start(Tracked& service) {
  service.kill_sent = false;
  service.forced_failure = false;
  service.says_stopping = false;
  service.status_text.clear();
  service.intent = Intent::Run;
  service.started_at = now();
  platform::UniqueFd childs_end;
  if (options_.before_launch) childs_end = options_.before_launch(service.config.spec);
  auto pending = launcher_.begin(service.config.spec);
  childs_end.reset();  // the child has its copy
  if (!pending) {
    start_failed(service, pending.error());
    return;
  }
  service.pid = pending->pid;
  set_state(service, ServiceState::Starting);
  const int report = pending->report.get();
  service.launching = std::move(*pending);
  const std::string name = service.config.spec.service;
  // One deadline until ready: the launch's own, or the start timeout if that is shorter.
  const auto deadline = std::min(options_.launch_timeout, service.config.start_timeout);
  set_timer(service, service.started_at + deadline, [this, name] {
    Tracked* starting = find(name);
    if (starting == nullptr || starting->state != ServiceState::Starting) return;
    starting->timer.reset();
    if (starting->launching) {
      launch_timed_out(*starting);
    } else {
      start_timed_out(*starting);
    }
  });
  if (report < 0) return;  // a test's launcher, driven through on_launch_report()
  auto watched = watch(report, EPOLLIN, [this, name](std::uint32_t, WatchId) {
    on_launch_report(name);
  });
  if (watched) {
    service.report_watch = *watched;
  } else {
    // Without the loop's help, wait for the child here, as a blocking launch would.
    while (service.state == ServiceState::Starting) on_launch_report(name);
  }
}

void Supervisor::on_launch_report(const std::string& name) {
  Tracked* found = find(name);
  if (found == nullptr || !found->launching) return;
  Tracked& service = *found;
  auto execed = launcher_.advance(*service.launching);
  if (execed && !*execed) return;  // the listener was taken; the child goes on
  if (service.report_watch) unwatch(*service.report_watch);
  service.report_watch.reset();
  clear_timer(service);
  if (!execed) {
    service.launching.reset();
    service.pid = 0;
    start_failed(service, execed.error());
    reap_children();  // exits that waited behind the child's (reap_children stops at it)
    return;
  }
  running(service);
}

// Exec'd, but not ready within start-timeout-ms: the start failed. It gets its stop signal,
// SIGKILL after its stop timeout, and its end counts as a failure.
void Supervisor::start_timed_out(Tracked& service) {
  const bool oneshot = service.config.type == config::ServiceType::Oneshot;
  service.last_failure = cat("start timeout: ", oneshot ? "no exit" : "no READY=1", " within ",
                             service.config.start_timeout.count(), " ms");
  log_error("start timed out")
      .field("service", service.config.spec.service)
      .field("start-timeout-ms", service.config.start_timeout.count())
      .field("hint", oneshot ? "a oneshot must exit 0 within start-timeout-ms: raise it if "
                               "its work takes longer"
                             : "it did not send READY=1 to $NOTIFY_SOCKET in time: raise "
                               "start-timeout-ms, or use \"type\": \"simple\" for a "
                               "program that does not notify");
  service.forced_failure = true;
  terminate(service, service.config.stop_signal);
}

void Supervisor::launch_timed_out(Tracked& service) {
  // The child stalls before exec: kill it; its zombie is reaped as an orphan.
  launcher_.abandon(*service.launching);
  if (service.report_watch) unwatch(*service.report_watch);
  service.report_watch.reset();
  service.launching.reset();
  service.pid = 0;
  start_failed(service, LaunchFailure{LaunchPhase::Timeout, ETIMEDOUT, {}});
}

void Supervisor::start_failed(Tracked& service, const LaunchFailure& failure) {
  service.last_failure = failure.describe();
  {
    auto line = log_error("start failed");
    line.field("service", service.config.spec.service)
        .field("phase", failure.phase_name())
        .field("errno", failure.errno_name());
    if (!failure.path.empty()) line.field("path", failure.path);
    line.field("hint",
               failure.phase == LaunchPhase::Timeout
                   ? cat("the child did not exec within ",
                         std::min(options_.launch_timeout, service.config.start_timeout).count(),
                         " ms: check the working directory and mounts it uses")
                   : std::string(failure.hint()));
  }
  switch (std::exchange(service.intent, Intent::Run)) {
    case Intent::Stop:
      set_state(service, ServiceState::Stopped);
      return;
    case Intent::Restart:
      set_state(service, ServiceState::Waiting);
      return;
    case Intent::Run:
      after_end(service, true, Clock::duration::zero());
      return;
  }
}

// The program was exec'd: watch its exit, hand its listener to the mediator.
void Supervisor::running(Tracked& service) {
  // What an operator means by the service's pid: the program, not ipcrt's init above it
  // (whose only child it is until it exec'd).
  service.service_pid = 0;
  if (service.launching->sandboxed) {
    if (auto children = platform::child_pids(service.pid); children && children->size() == 1) {
      service.service_pid = children->front();
    }
  }
  platform::UniqueFd listener = std::move(service.launching->listener);
  platform::UniqueFd output = std::move(service.launching->output);
  platform::UniqueFd errors = std::move(service.launching->errors);
  service.exit_status = std::move(service.launching->exit_status);
  service.launching.reset();
  const std::string name = service.config.spec.service;
  log_info("started").field("service", name).field("pid", service.pid);
  if (service.config.watchdog) arm_watchdog(service);
  if (service.config.type == config::ServiceType::Simple) {
    became_ready(service);
  } else {
    // Ready (READY=1, or a oneshot's exit 0) within start-timeout-ms of the fork.
    set_timer(service, service.started_at + service.config.start_timeout, [this, name] {
      Tracked* starting = find(name);
      if (starting == nullptr || starting->state != ServiceState::Starting) return;
      starting->timer.reset();
      start_timed_out(*starting);
    });
    if (options_.on_state_change) options_.on_state_change(name);  // now with a program
  }
  if (listener.valid()) {
    if (options_.on_listener) {
      options_.on_listener(*this, name, service.pid, std::move(listener));
    } else {
      log_warn("no mediator").field("service", name);
    }
  }
  if (output.valid() || errors.valid()) {
    if (options_.on_output) {
      options_.on_output(*this, name, std::move(output), std::move(errors));
    } else {
      log_warn("output not read").field("service", name);  // closed: it gets EPIPE
    }
  }
  service.pidfd = launcher_.exit_fd(service.pid);
  if (service.pidfd.valid()) {
    const pid_t pid = service.pid;
    auto watched = watch(service.pidfd.get(), EPOLLIN, [this, pid](std::uint32_t, WatchId) {
      siginfo_t info{};
      if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          info.si_pid == pid) {
        if (Tracked* exited = find_pid(pid)) (void)finish_main(*exited);
      }
    });
    if (watched) {
      service.pidfd_watch = *watched;
    } else {
      service.pidfd.reset();
    }
  }
  // Asked to stop while it was confining itself.
  if (service.intent != Intent::Run) send_stop(service);
  // It may have exited already, while it was Starting, when the reaper had to leave it.
  reap_children();
}

// Ready as its type defines it: simple at exec, notify at READY=1 (a oneshot is done when it
// exits instead, on_main_exited).
void Supervisor::became_ready(Tracked& service) {
  clear_timer(service);  // the start deadline
  service.ready_once = true;
  set_state(service, ServiceState::Running);
  if (service.config.type == config::ServiceType::Notify) {
    auto line = log_info("ready");
    line.field("service", service.config.spec.service);
    if (!service.status_text.empty()) line.field("status", service.status_text);
  }
}

void Supervisor::arm_watchdog(Tracked& service) {
  if (service.watchdog_timer) cancel(*service.watchdog_timer);
  const std::string name = service.config.spec.service;
  service.watchdog_timer = after(*service.config.watchdog, [this, name] {
    Tracked* watched = find(name);
    if (watched == nullptr) return;
    watched->watchdog_timer.reset();
    watchdog_expired(*watched, "no WATCHDOG=1 within watchdog-ms");
  });
}

// A missed watchdog (or WATCHDOG=trigger): SIGABRT, so a hung program leaves a core where the
// system keeps them, then SIGKILL after its stop timeout; the run counts as failed.
void Supervisor::watchdog_expired(Tracked& service, const char* reason) {
  if (!alive(service.state) || service.launching || service.state == ServiceState::Stopping) {
    return;
  }
  service.last_failure = cat("watchdog: ", reason);
  log_error("watchdog timeout")
      .field("service", service.config.spec.service)
      .field("pid", service.pid)
      .field("watchdog-ms", service.config.watchdog ? service.config.watchdog->count() : 0)
      .field("reason", reason)
      .field("hint",
             "the program hangs, or sends WATCHDOG=1 less often than watchdog-ms "
             "(send it every WATCHDOG_USEC / 2)");
  service.forced_failure = true;
  terminate(service, SIGABRT);
}

void Supervisor::notified(const std::string& name, const NotifyMessage& message) {
  Tracked* found = find(name);
  // Before exec nothing of the service's own runs; a datagram then is a leftover.
  if (found == nullptr || !alive(found->state) || found->launching) return;
  Tracked& service = *found;
  bool changed = false;
  if (message.status && *message.status != service.status_text) {
    service.status_text = *message.status;
    changed = true;
  }
  if (message.stopping && !service.says_stopping) {
    service.says_stopping = true;
    changed = true;
  }
  if (message.watchdog && service.watchdog_timer && service.state != ServiceState::Stopping) {
    arm_watchdog(service);
  }
  if (message.watchdog_trigger) {
    watchdog_expired(service, "WATCHDOG=trigger");
    return;
  }
  if (message.ready && service.state == ServiceState::Starting &&
      service.config.type == config::ServiceType::Notify) {
    became_ready(service);
    return;
  }
  if (changed && options_.on_state_change) options_.on_state_change(name);
}

std::chrono::milliseconds Supervisor::stop_timeout_of(const Tracked& service) const {
  return service.config.stop_timeout.value_or(options_.stop_timeout);
}

void Supervisor::send_stop(Tracked& service) {
  terminate(service, service.config.stop_signal);
}

// Sends `signal` now and SIGKILL once the service's stop timeout has passed.
void Supervisor::terminate(Tracked& service, int signal) {
  log_stopping(service, signal);
  launcher_.signal(service.pid, service.pidfd.get(), signal);
  stop_signal_sent(service, signal);
}

void Supervisor::log_stopping(const Tracked& service, int signal) {
  log_info("stopping")
      .field("service", service.config.spec.service)
      .field("pid", service.pid)
      .field("signal", signal_name(signal));
}

// What follows a stop signal: the state, and the SIGKILL deadline.
void Supervisor::stop_signal_sent(Tracked& service, int signal) {
  if (service.watchdog_timer) cancel(*service.watchdog_timer);
  service.watchdog_timer.reset();
  set_state(service, ServiceState::Stopping);
  const std::string name = service.config.spec.service;
  set_timer(service, now() + stop_timeout_of(service), [this, name, signal] {
    if (Tracked* stopping = find(name); stopping != nullptr) {
      stopping->timer.reset();
      if (stopping->state != ServiceState::Stopping || stopping->kill_sent) return;
      log_warn("killing")
          .field("service", name)
          .field("pid", stopping->pid)
          .field("reason", cat("no exit ", stop_timeout_of(*stopping).count(), " ms after ",
                               signal_name(signal)));
      kill_after_timeout(*stopping);
    }
  });
}

void Supervisor::kill_after_timeout(Tracked& service) {
  if (service.state != ServiceState::Stopping || service.kill_sent) return;
  launcher_.signal(service.pid, service.pidfd.get(), SIGKILL);
  service.kill_sent = true;
}

// A service starts once each service it depends on is ready now, or has ended for good after
// it was ready once (a oneshot that did its work, a provider an operator stopped). One that
// ended for good without ever being ready fails it.
void Supervisor::start_ready_services() {
  for (auto& service : services_) {
    if (!critical_failure_.empty()) return;  // the run ends: start nothing more
    if (service.state != ServiceState::Waiting) continue;
    bool ready = true;
    for (const auto& dependency : service.config.depends_on) {
      Tracked* provider = find(dependency);
      if (provider == nullptr || provider->state == ServiceState::Running) continue;
      if (ended_for_good(provider->state) && provider->ready_once) continue;
      ready = false;
      if (ended_for_good(provider->state)) {
        log_error("not started")
            .field("service", service.config.spec.service)
            .field("reason", cat(dependency, " never became ready"));
        service.last_failure = cat(dependency, " never became ready");
        set_state(service, ServiceState::Failed);
      }
      break;
    }
    if (ready) start(service);
  }
}

void Supervisor::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  for (auto& service : services_) {
    if (service.state == ServiceState::Waiting || service.state == ServiceState::Restarting) {
      clear_timer(service);
      set_state(service, ServiceState::Stopped);
    } else if (alive(service.state)) {
      service.intent = Intent::Stop;
    }
  }
  stop_ready_services();
}

// At shutdown a service gets its stop signal once no service that depends on it is alive:
// consumers stop first. A program not ready yet is stopped too; one still confining itself
// is stopped once it has exec'd (running()).
//
// Every signal of the step goes out before any of its bookkeeping (the "stopping" lines, the
// states, the SIGKILL deadlines): the services' exits and the kernel's teardown of their
// namespaces start at once, instead of each waiting behind the work done for those before it.
// Which services are stopped is the same: a stopped one is still alive (Stopping), so it
// still holds its providers back.
void Supervisor::stop_ready_services() {
  std::vector<Tracked*> stopping;
  for (auto& service : services_) {
    if (service.state == ServiceState::Running ||
        (service.state == ServiceState::Starting && !service.launching)) {
      stopping.push_back(&service);
    }
  }
  if (stopping.empty()) return;
  // What the services alive now depend on: held back until those have ended.
  std::vector<std::string_view> needed;
  for (const auto& other : services_) {
    if (!alive(other.state)) continue;
    for (const auto& dependency : other.config.depends_on) needed.push_back(dependency);
  }
  std::sort(needed.begin(), needed.end());
  std::erase_if(stopping, [&](const Tracked* service) {
    return std::binary_search(needed.begin(), needed.end(),
                              std::string_view(service->config.spec.service));
  });
  for (Tracked* service : stopping) {
    launcher_.signal(service->pid, service->pidfd.get(), service->config.stop_signal);
  }
  for (Tracked* service : stopping) {
    log_stopping(*service, service->config.stop_signal);
    stop_signal_sent(*service, service->config.stop_signal);
  }
}

// ---- operator requests

Status Supervisor::no_such_service(const std::string& name) const {
  std::vector<std::string> names;
  for (const auto& service : services_) names.push_back(service.config.spec.service);
  return fail(cat("no service \"", name, "\""), cat("services: ", join(names, ", ")));
}

Status Supervisor::start_service(const std::string& name) {
  Tracked* service = find(name);
  if (service == nullptr) return no_such_service(name);
  if (stopping_) return fail(cat("cannot start ", name, ": the runtime is shutting down"));
  switch (service->state) {
    case ServiceState::Stopped:
    case ServiceState::Exited:
    case ServiceState::Failed:
    case ServiceState::Restarting:
      clear_timer(*service);
      // An operator's start begins afresh: backoff and restart limit (systemd's
      // reset-failed).
      service->consecutive_restarts = 0;
      service->restart_times.clear();
      set_state(*service, ServiceState::Waiting);
      break;
    case ServiceState::Stopping:
      service->intent = Intent::Restart;  // it ends, then starts again
      break;
    case ServiceState::Starting:
      service->intent = Intent::Run;
      break;
    case ServiceState::Waiting:
    case ServiceState::Running:
      break;
  }
  return {};
}

Status Supervisor::stop_service(const std::string& name) {
  Tracked* service = find(name);
  if (service == nullptr) return no_such_service(name);
  switch (service->state) {
    case ServiceState::Waiting:
    case ServiceState::Restarting:
      clear_timer(*service);
      set_state(*service, ServiceState::Stopped);
      break;
    case ServiceState::Starting:
      service->intent = Intent::Stop;  // stopped once it has exec'd (running())
      if (!service->launching) send_stop(*service);
      break;
    case ServiceState::Running:
      service->intent = Intent::Stop;
      send_stop(*service);
      break;
    case ServiceState::Stopping:
      service->intent = Intent::Stop;
      break;
    case ServiceState::Stopped:
    case ServiceState::Exited:
    case ServiceState::Failed:
      break;
  }
  return {};
}

Status Supervisor::restart_service(const std::string& name) {
  Tracked* service = find(name);
  if (service == nullptr) return no_such_service(name);
  if (stopping_) return fail(cat("cannot restart ", name, ": the runtime is shutting down"));
  switch (service->state) {
    case ServiceState::Running:
      service->intent = Intent::Restart;
      send_stop(*service);
      return {};
    case ServiceState::Starting:
      service->intent = Intent::Restart;
      if (!service->launching) send_stop(*service);
      return {};
    case ServiceState::Stopping:
      service->intent = Intent::Restart;
      return {};
    default:
      return start_service(name);
  }
}

Status Supervisor::add_service(SupervisedService service) {
  const std::string name = service.spec.service;
  if (find(name) != nullptr) return fail(cat("service ", name, " exists already"));
  if (stopping_) return fail(cat("cannot add ", name, ": the runtime is shutting down"));
  Tracked tracked;
  tracked.config = std::move(service);
  tracked.since = std::chrono::system_clock::now();
  services_.push_back(std::move(tracked));
  set_state(services_.back(), ServiceState::Waiting);
  return {};
}

Status Supervisor::remove_service(const std::string& name) {
  Tracked* service = find(name);
  if (service == nullptr) return no_such_service(name);
  if (alive(service->state) || service->state == ServiceState::Restarting) {
    return fail(cat("cannot remove ", name, ": it is ", service_state_name(service->state)),
                "stop it first");
  }
  clear_timer(*service);
  services_.erase(services_.begin() + (service - services_.data()));
  if (options_.on_state_change) options_.on_state_change(name);
  return {};
}

Status Supervisor::replace_service(const std::string& name, SupervisedService config) {
  Tracked* service = find(name);
  if (service == nullptr) return no_such_service(name);
  if (alive(service->state) || service->state == ServiceState::Restarting) {
    return fail(cat("cannot replace ", name, ": it is ", service_state_name(service->state)),
                "stop it first");
  }
  if (stopping_) return fail(cat("cannot start ", name, ": the runtime is shutting down"));
  clear_timer(*service);
  service->config = std::move(config);
  service->consecutive_restarts = 0;
  service->restart_times.clear();
  service->ready_once = false;
  set_state(*service, ServiceState::Waiting);
  return {};
}

std::vector<std::string> Supervisor::dependencies_of(const std::string& name) const {
  for (const auto& service : services_) {
    if (service.config.spec.service == name) return service.config.depends_on;
  }
  return {};
}

std::vector<ServiceStatus> Supervisor::status() const {
  std::vector<ServiceStatus> statuses;
  for (const auto& service : services_) {
    ServiceStatus status;
    status.name = service.config.spec.service;
    status.state = service.state;
    status.pid = !alive(service.state) ? 0 : service.service_pid > 0 ? service.service_pid : service.pid;
    status.restarts = service.restarts;
    status.since = service.since;
    status.last_wait_status = service.last_wait_status;
    status.last_failure = service.last_failure;
    status.readiness = readiness_of(service);
    status.status_text = service.status_text;
    statuses.push_back(std::move(status));
  }
  return statuses;
}

std::string Supervisor::readiness_of(const Tracked& service) const {
  using config::ServiceType;
  switch (service.state) {
    case ServiceState::Running:
      return service.says_stopping ? "stopping (STOPPING=1)" : "ready";
    case ServiceState::Starting:
      if (service.launching) return "waiting for exec";
      return service.config.type == ServiceType::Oneshot ? "waiting for exit 0"
                                                         : "waiting for READY=1";
    case ServiceState::Stopping:
      return service.says_stopping ? "stopping (STOPPING=1)" : "";
    case ServiceState::Exited:
      return service.config.type == ServiceType::Oneshot ? "done" : "";
    default:
      return "";
  }
}

Supervisor::Tracked* Supervisor::find(const std::string& name) {
  for (auto& service : services_) {
    if (service.config.spec.service == name) return &service;
  }
  return nullptr;
}

Supervisor::Tracked* Supervisor::find_pid(pid_t pid) {
  if (pid <= 0) return nullptr;
  for (auto& service : services_) {
    if (alive(service.state) && service.pid == pid) return &service;
  }
  return nullptr;
}

}  // namespace ipcrt::runtime
