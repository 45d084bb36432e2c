// The supervisor (SPEC §4.4): one thread, one epoll loop over a signalfd and the pidfds of
// the services (and any other fd registered with watch(), e.g. seccomp notify listeners).
// It starts services in plan order once their dependencies have started, restarts them per
// policy with exponential backoff, and stops them in reverse dependency order on SIGTERM/SIGINT.
// When a service's main process ends, the rest of its session is killed (runtime/containment).
#pragma once

#include <sys/types.h>

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
#include "runtime/plan.hpp"

namespace ipcrt::runtime {

struct SupervisedService {
  LaunchSpec spec;
  config::RestartPolicy restart = config::RestartPolicy::No;
  unsigned restart_delay_ms = 100;
  std::vector<std::string> depends_on;  // `after` plus the providers of its connections
};

class Supervisor;

// Called when a service starts with a seccomp notify listener (SPEC §6). The callee owns the
// fd; it typically registers it with Supervisor::watch() and unwatches it on EPOLLHUP (the
// service exited). Without a handler the listener is closed and the service's mediated calls
// fail with ENOSYS.
using ListenerHandler = std::function<void(Supervisor& supervisor, const std::string& service,
                                           pid_t pid, platform::UniqueFd listener)>;

struct SupervisorOptions {
  std::chrono::milliseconds stop_timeout{5000};   // SIGTERM, then SIGKILL after this
  std::chrono::milliseconds backoff_cap{30000};   // restart delay never exceeds this
  std::chrono::milliseconds stable_after{10000};  // a run this long resets the backoff
  bool subreaper = true;                          // PR_SET_CHILD_SUBREAPER (implicit as PID 1)
  // How long the sweep of an ended service's session waits for the killed processes to die.
  std::chrono::milliseconds session_wait{1000};
  // From fork to exec: a child still confining itself after this is killed (start failed).
  std::chrono::milliseconds launch_timeout{10000};
  ListenerHandler on_listener;
};

enum class SupervisorOutcome { AllEnded, Stopped };

struct SupervisorResult {
  SupervisorOutcome outcome = SupervisorOutcome::AllEnded;
  bool any_failed = false;  // a service ended for good with a non-zero status or never started
};

// The delay before restart number `consecutive` + 1: `start` doubled `consecutive` times,
// capped at `cap`.
[[nodiscard]] std::chrono::milliseconds restart_delay(std::chrono::milliseconds start,
                                                      unsigned consecutive,
                                                      std::chrono::milliseconds cap);

// The services of a plan with their dependencies, in start order.
[[nodiscard]] std::vector<std::string> service_dependencies(const config::Manifest& manifest,
                                                            const Plan& plan,
                                                            const std::string& service);

class Supervisor {
 public:
  using FdHandler = std::function<void(std::uint32_t events)>;

  Supervisor(std::vector<SupervisedService> services, SupervisorOptions options = {});
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Hook for other event sources (seccomp notify fds): `handler` runs when `fd` is ready.
  [[nodiscard]] Status watch(int fd, std::uint32_t events, FdHandler handler);
  void unwatch(int fd);

  // Blocks SIGCHLD/SIGTERM/SIGINT/SIGHUP, starts the services and loops until every service
  // has ended for good or a requested stop has completed.
  [[nodiscard]] Result<SupervisorResult> run();

 private:
  using Clock = std::chrono::steady_clock;
  // Starting: forked, confining itself; its reports are read in the epoll loop.
  enum class State { Pending, Starting, Running, WaitingRestart, Ended };
  struct Tracked {
    SupervisedService config;
    State state = State::Pending;
    pid_t pid = 0;
    platform::UniqueFd pidfd;
    std::optional<PendingLaunch> launching;  // while Starting
    Clock::time_point launch_deadline{};
    bool started_once = false;
    bool failed = false;  // the last run ended with a failure
    unsigned consecutive_restarts = 0;
    Clock::time_point started_at{};
    Clock::time_point next_start{};
    bool term_sent = false;
    bool kill_sent = false;
    Clock::time_point kill_deadline{};
  };

  void on_signal(int signal);
  void reap_children();
  [[nodiscard]] bool finish_main(Tracked& service);
  void contain(const Tracked& service);
  void on_exit(Tracked& service, int status);
  void start(Tracked& service);
  void on_launch_report(Tracked& service);
  void start_failed(Tracked& service, const LaunchFailure& failure, const std::string& hint = {});
  void running(Tracked& service);
  void after_end(Tracked& service, bool failed, Clock::duration ran_for);
  void start_ready_services();
  void begin_stop();
  void stop_ready_services();
  void fire_timers();
  [[nodiscard]] int next_timeout_ms() const;
  [[nodiscard]] bool all_ended() const;
  [[nodiscard]] Tracked* find(const std::string& name);
  [[nodiscard]] Tracked* find_pid(pid_t pid, State state = State::Running);
  void send(Tracked& service, int signal);
  [[nodiscard]] Status ensure_epoll();

  std::vector<Tracked> services_;
  SupervisorOptions options_;
  std::optional<platform::Epoll> epoll_;
  std::map<int, FdHandler> handlers_;
  bool stopping_ = false;
};

}  // namespace ipcrt::runtime
