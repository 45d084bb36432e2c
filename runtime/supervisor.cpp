// The supervisor's event loop.
#include "runtime/supervisor.hpp"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <cstring>

#include "common/log.hpp"
#include "common/text.hpp"
#include "platform/pidfd.hpp"
#include "platform/signalfd.hpp"
#include "runtime/session_sweep.hpp"

namespace ipcrt::runtime {
namespace {

std::string signal_name(int signal) {
  const char* abbreviation = ::sigabbrev_np(signal);
  return abbreviation != nullptr ? abbreviation : std::to_string(signal);
}

bool exited_cleanly(int status) {
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

std::chrono::milliseconds restart_delay(std::chrono::milliseconds start, unsigned consecutive,
                                        std::chrono::milliseconds cap) {
  auto delay = start;
  for (unsigned i = 0; i < consecutive && delay < cap; ++i) delay *= 2;
  return std::min(delay, cap);
}

std::vector<std::string> service_dependencies(const config::Manifest& manifest, const Plan& plan,
                                              const std::string& service) {
  std::vector<std::string> dependencies;
  auto add = [&](const std::string& name) {
    if (!name.empty() && name != service &&
        std::find(dependencies.begin(), dependencies.end(), name) == dependencies.end()) {
      dependencies.push_back(name);
    }
  };
  if (const auto* declared = manifest.find_service(service)) {
    for (const auto& name : declared->after) add(name);
  }
  for (const auto& connection : plan.connections) {
    if (connection.plug_service == service) add(connection.slot_service);
  }
  return dependencies;
}

Supervisor::Supervisor(std::vector<SupervisedService> services, SupervisorOptions options)
    : options_(options) {
  for (auto& service : services) {
    Tracked tracked;
    tracked.config = std::move(service);
    services_.push_back(std::move(tracked));
  }
}

Status Supervisor::ensure_epoll() {
  if (epoll_) return {};
  auto created = platform::Epoll::create();
  if (!created) return std::unexpected(created.error());
  epoll_.emplace(std::move(*created));
  return {};
}

Status Supervisor::watch(int fd, std::uint32_t events, FdHandler handler) {
  if (auto ready = ensure_epoll(); !ready) return ready;
  if (auto added = epoll_->add(fd, events, static_cast<std::uint64_t>(fd)); !added) return added;
  handlers_[fd] = std::move(handler);
  return {};
}

void Supervisor::unwatch(int fd) {
  if (epoll_) epoll_->remove(fd);
  handlers_.erase(fd);
}

Result<SupervisorResult> Supervisor::run() {
  auto signals = platform::open_signalfd({SIGCHLD, SIGTERM, SIGINT, SIGHUP});
  if (!signals) return std::unexpected(signals.error());
  int signal_fd = signals->get();
  auto watched = watch(signal_fd, EPOLLIN, [this, signal_fd](std::uint32_t) {
    while (auto signal = platform::read_signal(signal_fd)) on_signal(*signal);
  });
  if (!watched) return std::unexpected(watched.error());
  // Orphans of services (their children once the main process has gone, including those
  // killed with its session) are reparented to us and reaped; as PID 1 we are init anyway.
  if (options_.subreaper && ::getpid() != 1 && ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
    const char* error = ::strerrorname_np(errno);
    log_warn("not a subreaper")
        .field("errno", error != nullptr ? error : "?")
        .field("hint", "orphans of services are reparented to init, which must reap them");
  }

  start_ready_services();
  std::array<epoll_event, 16> events{};
  while (!all_ended()) {
    auto ready = epoll_->wait(events, next_timeout_ms());
    if (!ready) return std::unexpected(ready.error());
    for (int i = 0; i < *ready; ++i) {
      auto handler = handlers_.find(static_cast<int>(events[static_cast<std::size_t>(i)].data.u64));
      if (handler == handlers_.end()) continue;  // unwatched earlier in this batch
      FdHandler copy = handler->second;          // the handler may unwatch itself
      copy(events[static_cast<std::size_t>(i)].events);
    }
    fire_timers();
    if (stopping_) {
      stop_ready_services();
    } else {
      start_ready_services();
    }
  }
  unwatch(signal_fd);
  reap_children();

  SupervisorResult result;
  result.outcome = stopping_ ? SupervisorOutcome::Stopped : SupervisorOutcome::AllEnded;
  for (const auto& service : services_) result.any_failed = result.any_failed || service.failed;
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
      begin_stop();
      break;
    default:
      // SIGHUP: no reload semantics yet; a terminal hang-up must not kill the device's services.
      log_info("signal ignored").field("signal", signal_name(signal));
      break;
  }
}

// Every exited child, looked at (WNOWAIT) before it is reaped: a service's main process is
// reaped only after its session was swept (finish_main).
void Supervisor::reap_children() {
  for (;;) {
    siginfo_t info{};
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return;
    pid_t pid = info.si_pid;
    if (Tracked* service = find_pid(pid)) {
      if (!finish_main(*service)) return;
      continue;
    }
    // A child still starting is reaped by its launch (on_launch_report), which comes back here.
    if (find_pid(pid, State::Starting) != nullptr) return;
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) != pid) return;  // never spin on a child we cannot reap
    log_info("reaped orphan").field("pid", pid);
  }
}

// The main process of `service` has exited and is not reaped yet. While it is a zombie its pid
// cannot be reused, so every process whose session id is that pid belongs to the service:
// kill them all, then reap the main process.
bool Supervisor::finish_main(Tracked& service) {
  contain(service);
  int status = 0;
  pid_t reaped;
  do {
    reaped = ::waitpid(service.pid, &status, WNOHANG);
  } while (reaped < 0 && errno == EINTR);
  if (reaped != service.pid) return false;
  on_exit(service, status);
  return true;
}

void Supervisor::contain(const Tracked& service) {
  const std::string& name = service.config.spec.service;
  auto sweep = kill_session(service.pid, options_.session_wait);
  if (sweep.error) {
    log_warn("session not contained")
        .field("service", name)
        .field("session", service.pid)
        .field("error", sweep.error->describe());
    return;
  }
  if (sweep.killed > 0) {
    log_info("killed session")
        .field("service", name)
        .field("session", service.pid)
        .field("processes", sweep.killed);
  }
  if (sweep.remaining > 0) {
    log_warn("session not empty")
        .field("service", name)
        .field("session", service.pid)
        .field("alive", sweep.remaining)
        .field("hint", cat("they have SIGKILL pending; one in uninterruptible sleep (D in ps -s ",
                           service.pid, ") dies when its I/O ends"));
  }
}

void Supervisor::on_exit(Tracked& service, int status) {
  if (service.pidfd.valid()) unwatch(service.pidfd.get());
  service.pidfd.reset();
  auto ran_for = Clock::now() - service.started_at;
  bool failed = !exited_cleanly(status);
  {
    auto line = log_info("exited");
    line.field("service", service.config.spec.service).field("pid", service.pid);
    if (WIFEXITED(status)) {
      line.field("status", WEXITSTATUS(status));
    } else {
      line.field("signal", signal_name(WTERMSIG(status)));
    }
  }
  service.pid = 0;
  // A service we asked to stop did not fail by exiting on our signal.
  if (stopping_ && service.term_sent) failed = false;
  after_end(service, failed, ran_for);
}

void Supervisor::after_end(Tracked& service, bool failed, Clock::duration ran_for) {
  using config::RestartPolicy;
  const auto& config = service.config;
  bool restart = !stopping_ && (config.restart == RestartPolicy::Always ||
                                (config.restart == RestartPolicy::OnFailure && failed));
  if (!restart) {
    service.state = State::Ended;
    service.failed = failed;
    return;
  }
  if (ran_for >= options_.stable_after) service.consecutive_restarts = 0;
  auto delay = restart_delay(std::chrono::milliseconds(config.restart_delay_ms),
                             service.consecutive_restarts, options_.backoff_cap);
  ++service.consecutive_restarts;
  service.state = State::WaitingRestart;
  service.next_start = Clock::now() + delay;
  log_info("restarting")
      .field("service", config.spec.service)
      .field("delay-ms", delay.count())
      .field("restarts", service.consecutive_restarts);
}

// Forks the service; its child confines itself while the loop goes on (on_launch_report).
void Supervisor::start(Tracked& service) {
  service.term_sent = false;
  service.kill_sent = false;
  service.started_at = Clock::now();
  auto pending = begin_launch(service.config.spec);
  if (!pending) {
    start_failed(service, pending.error());
    return;
  }
  service.pid = pending->pid;
  service.state = State::Starting;
  service.launch_deadline = service.started_at + options_.launch_timeout;
  const int report = pending->report.get();
  service.launching = std::move(*pending);
  const std::string name = service.config.spec.service;
  auto watched = watch(report, EPOLLIN, [this, name](std::uint32_t) {
    if (Tracked* starting = find(name); starting != nullptr && starting->launching) {
      on_launch_report(*starting);
    }
  });
  if (!watched) {
    // Without the loop's help, wait for the child here, as a blocking launch would.
    while (service.state == State::Starting) on_launch_report(service);
  }
}

void Supervisor::on_launch_report(Tracked& service) {
  auto execed = continue_launch(*service.launching);
  if (execed && !*execed) return;  // the listener was taken; the child goes on
  unwatch(service.launching->report.get());
  if (!execed) {
    service.launching.reset();
    service.pid = 0;
    start_failed(service, execed.error());
    reap_children();  // exits that waited behind the child's (reap_children stops at it)
    return;
  }
  running(service);
}

void Supervisor::start_failed(Tracked& service, const LaunchFailure& failure,
                              const std::string& hint) {
  {
    auto line = log_error("start failed");
    line.field("service", service.config.spec.service)
        .field("phase", failure.phase_name())
        .field("errno", failure.errno_name());
    if (!failure.path.empty()) line.field("path", failure.path);
    line.field("hint", hint.empty() ? failure.hint() : std::string_view(hint));
  }
  after_end(service, true, Clock::duration::zero());
}

// The program was exec'd: watch its exit, hand its listener to the mediator.
void Supervisor::running(Tracked& service) {
  platform::UniqueFd listener = std::move(service.launching->listener);
  service.launching.reset();
  service.state = State::Running;
  service.started_once = true;
  log_info("started").field("service", service.config.spec.service).field("pid", service.pid);
  if (listener.valid()) {
    if (options_.on_listener) {
      options_.on_listener(*this, service.config.spec.service, service.pid, std::move(listener));
    } else {
      log_warn("no mediator").field("service", service.config.spec.service);
    }
  }
  // Without pidfds (Linux < 5.3) the SIGCHLD reaper still sees the exit.
  auto pidfd = platform::pidfd_open(service.pid);
  if (pidfd) {
    service.pidfd = std::move(*pidfd);
    pid_t pid = service.pid;
    auto watched = watch(service.pidfd.get(), EPOLLIN, [this, pid](std::uint32_t) {
      siginfo_t info{};
      if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          info.si_pid == pid) {
        if (Tracked* exited = find_pid(pid)) (void)finish_main(*exited);
      }
    });
    if (!watched) service.pidfd.reset();
  }
  // It may have exited already, while it was Starting, when the reaper had to leave it.
  reap_children();
}

void Supervisor::start_ready_services() {
  auto now = Clock::now();
  for (auto& service : services_) {
    if (service.state == State::WaitingRestart && service.next_start <= now) {
      start(service);
      continue;
    }
    if (service.state != State::Pending) continue;
    bool ready = true;
    for (const auto& dependency : service.config.depends_on) {
      Tracked* provider = find(dependency);
      if (provider == nullptr || provider->started_once) continue;
      ready = false;
      if (provider->state == State::Ended) {
        log_error("not started")
            .field("service", service.config.spec.service)
            .field("reason", cat(dependency, " never started"));
        service.state = State::Ended;
        service.failed = true;
      }
      break;
    }
    if (ready) start(service);
  }
}

void Supervisor::begin_stop() {
  if (stopping_) return;
  stopping_ = true;
  for (auto& service : services_) {
    if (service.state == State::Pending || service.state == State::WaitingRestart) {
      service.state = State::Ended;
    }
  }
  stop_ready_services();
}

// A service gets SIGTERM once no running service depends on it: consumers stop first.
void Supervisor::stop_ready_services() {
  for (auto& service : services_) {
    if (service.state != State::Running || service.term_sent) continue;
    bool needed = false;
    for (const auto& other : services_) {
      if (other.state != State::Running && other.state != State::Starting) continue;
      const auto& deps = other.config.depends_on;
      needed =
          needed || std::find(deps.begin(), deps.end(), service.config.spec.service) != deps.end();
    }
    if (needed) continue;
    log_info("stopping").field("service", service.config.spec.service).field("pid", service.pid);
    send(service, SIGTERM);
    service.term_sent = true;
    service.kill_deadline = Clock::now() + options_.stop_timeout;
  }
}

void Supervisor::fire_timers() {
  auto now = Clock::now();
  for (auto& service : services_) {
    if (service.state == State::Starting && service.launch_deadline <= now) {
      // The child stalls before exec: kill it; its zombie is reaped as an orphan.
      ::kill(service.pid, SIGKILL);
      unwatch(service.launching->report.get());
      service.launching.reset();
      service.pid = 0;
      start_failed(service, LaunchFailure{LaunchPhase::Timeout, ETIMEDOUT, {}});
      continue;
    }
    if (service.state == State::Running && service.term_sent && !service.kill_sent &&
        service.kill_deadline <= now) {
      log_warn("killing")
          .field("service", service.config.spec.service)
          .field("pid", service.pid)
          .field("reason", "no exit after SIGTERM");
      send(service, SIGKILL);
      service.kill_sent = true;
    }
  }
}

int Supervisor::next_timeout_ms() const {
  std::optional<Clock::time_point> next;
  auto consider = [&](Clock::time_point when) {
    if (!next || when < *next) next = when;
  };
  for (const auto& service : services_) {
    if (service.state == State::WaitingRestart) consider(service.next_start);
    if (service.state == State::Starting) consider(service.launch_deadline);
    if (service.state == State::Running && service.term_sent && !service.kill_sent) {
      consider(service.kill_deadline);
    }
  }
  if (!next) return -1;
  auto remaining = std::chrono::ceil<std::chrono::milliseconds>(*next - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(remaining, 0, 3600 * 1000));
}

bool Supervisor::all_ended() const {
  return std::all_of(services_.begin(), services_.end(),
                     [](const Tracked& service) { return service.state == State::Ended; });
}

Supervisor::Tracked* Supervisor::find(const std::string& name) {
  for (auto& service : services_) {
    if (service.config.spec.service == name) return &service;
  }
  return nullptr;
}

Supervisor::Tracked* Supervisor::find_pid(pid_t pid, State state) {
  for (auto& service : services_) {
    if (service.state == state && service.pid == pid) return &service;
  }
  return nullptr;
}

void Supervisor::send(Tracked& service, int signal) {
  if (service.pidfd.valid()) {
    if (platform::pidfd_send_signal(service.pidfd.get(), signal)) return;
  }
  if (service.pid > 0) ::kill(service.pid, signal);
}

}  // namespace ipcrt::runtime
