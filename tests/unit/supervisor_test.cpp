// The supervisor's state machine without forking: a fake launcher records what it is asked to
// do, a fake clock stands for time, and the test plays the kernel (exec, exit).
#include "runtime/supervisor.hpp"

#include <CppUTest/TestHarness.h>
#include <sys/wait.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/host_notify.hpp"

namespace {

using ipcrt::runtime::LaunchFailure;
using ipcrt::runtime::LaunchPhase;
using ipcrt::runtime::PendingLaunch;
using ipcrt::runtime::ServiceState;
using ipcrt::runtime::SupervisedService;
using ipcrt::runtime::Supervisor;
using ipcrt::runtime::SupervisorOptions;
using Clock = SupervisorOptions::Clock;
using std::chrono::milliseconds;

int exit_status(int code) {
  return W_EXITCODE(code, 0);
}

int killed_by(int signal) {
  return W_EXITCODE(0, signal);
}

class FakeLauncher final : public ipcrt::runtime::Launcher {
 public:
  std::expected<PendingLaunch, LaunchFailure> begin(
      const ipcrt::runtime::LaunchSpec& spec) override {
    if (fail_next_begin) {
      fail_next_begin = false;
      return std::unexpected(LaunchFailure{LaunchPhase::Fork, EAGAIN, {}});
    }
    PendingLaunch pending;
    pending.pid = next_pid++;
    launched.push_back(spec.service);
    pids[spec.service] = pending.pid;
    return pending;  // no report fd: the test says when it exec'd
  }
  std::expected<bool, LaunchFailure> advance(PendingLaunch& pending) override {
    auto outcome = outcomes.find(pending.pid);
    if (outcome == outcomes.end()) return true;
    return std::unexpected(LaunchFailure{outcome->second, EPERM, {}});
  }
  void abandon(PendingLaunch& pending) override { abandoned.push_back(pending.pid); }
  ipcrt::platform::UniqueFd exit_fd(pid_t) override { return {}; }
  void signal(pid_t pid, int, int signal) override { signals.emplace_back(pid, signal); }
  void contain(const ipcrt::runtime::LaunchSpec& spec, pid_t) override {
    contained.push_back(spec.service);
  }

  [[nodiscard]] bool was_signalled(pid_t pid, int signal) const {
    for (const auto& sent : signals) {
      if (sent.first == pid && sent.second == signal) return true;
    }
    return false;
  }

  pid_t next_pid = 1000;
  bool fail_next_begin = false;
  std::vector<std::string> launched;
  std::map<std::string, pid_t> pids;  // the latest pid of each service
  std::map<pid_t, LaunchPhase> outcomes;  // a failing phase for advance(), by pid
  std::vector<pid_t> abandoned;
  std::vector<std::pair<pid_t, int>> signals;
  std::vector<std::string> contained;
};

struct Harness {
  explicit Harness(std::vector<SupervisedService> services) {
    SupervisorOptions options;
    options.launcher = &launcher;
    options.now = [this] { return now; };
    options.stop_timeout = milliseconds(5000);
    options.launch_timeout = milliseconds(10000);
    options.stable_after = milliseconds(10000);
    supervisor = std::make_unique<Supervisor>(std::move(services), options);
  }

  // The child of `name` exec'd.
  void exec(const std::string& name) {
    supervisor->on_launch_report(name);
    supervisor->update();
  }
  void exit(const std::string& name, int wait_status) {
    supervisor->on_main_exited(launcher.pids.at(name), wait_status);
    supervisor->update();
  }
  void advance(milliseconds by) {
    now += by;
    supervisor->update();
  }
  [[nodiscard]] ServiceState state(const std::string& name) const {
    for (const auto& status : supervisor->status()) {
      if (status.name == name) return status.state;
    }
    FAIL(("no service " + name).c_str());
    return ServiceState::Failed;
  }
  [[nodiscard]] std::string state_name(const std::string& name) const {
    return ipcrt::runtime::service_state_name(state(name));
  }

  FakeLauncher launcher;
  Clock::time_point now = Clock::time_point() + std::chrono::hours(1);
  std::unique_ptr<Supervisor> supervisor;
};

SupervisedService service(const std::string& name, std::vector<std::string> depends_on = {},
                          ipcrt::config::RestartPolicy restart = ipcrt::config::RestartPolicy::No) {
  SupervisedService supervised;
  supervised.spec.service = name;
  supervised.spec.arguments = {"/bin/true"};
  supervised.depends_on = std::move(depends_on);
  supervised.restart = restart;
  supervised.restart_delay_ms = 100;
  return supervised;
}

}  // namespace

TEST_GROUP(SupervisorStateMachine){};

TEST(SupervisorStateMachine, ConsumersStartOnlyOnceTheirProviderHasStarted) {
  Harness h({service("consumer", {"provider"}), service("provider")});
  h.supervisor->update();
  CHECK_EQUAL(1U, h.launcher.launched.size());
  STRCMP_EQUAL("provider", h.launcher.launched[0].c_str());
  STRCMP_EQUAL("waiting", h.state_name("consumer").c_str());
  STRCMP_EQUAL("starting", h.state_name("provider").c_str());
  h.exec("provider");
  STRCMP_EQUAL("ready", h.state_name("provider").c_str());
  CHECK_EQUAL(2U, h.launcher.launched.size());
  STRCMP_EQUAL("consumer", h.launcher.launched[1].c_str());
}

TEST(SupervisorStateMachine, AProviderThatNeverStartsFailsItsConsumers) {
  Harness h({service("provider"), service("consumer", {"provider"})});
  h.launcher.fail_next_begin = true;
  h.supervisor->update();
  STRCMP_EQUAL("failed", h.state_name("provider").c_str());
  STRCMP_EQUAL("failed", h.state_name("consumer").c_str());
  CHECK_TRUE(h.supervisor->finished());
  CHECK_TRUE(h.supervisor->result().any_failed);
}

TEST(SupervisorStateMachine, OnFailureRestartsWithDoublingBackoffThatASteadyRunResets) {
  Harness h({service("app", {}, ipcrt::config::RestartPolicy::OnFailure)});
  h.supervisor->update();
  h.exec("app");
  h.exit("app", exit_status(1));
  STRCMP_EQUAL("restarting", h.state_name("app").c_str());
  h.advance(milliseconds(99));
  CHECK_EQUAL(1U, h.launcher.launched.size());
  h.advance(milliseconds(1));
  CHECK_EQUAL(2U, h.launcher.launched.size());  // after 100 ms
  h.exec("app");
  h.exit("app", killed_by(SIGSEGV));
  h.advance(milliseconds(199));
  CHECK_EQUAL(2U, h.launcher.launched.size());
  h.advance(milliseconds(1));
  CHECK_EQUAL(3U, h.launcher.launched.size());  // after 200 ms
  h.exec("app");
  h.advance(milliseconds(10000));  // a steady run
  h.exit("app", exit_status(1));
  h.advance(milliseconds(100));
  CHECK_EQUAL(4U, h.launcher.launched.size());  // back to 100 ms
  h.exec("app");
  h.exit("app", exit_status(0));  // a clean exit is not restarted on-failure
  STRCMP_EQUAL("exited", h.state_name("app").c_str());
  CHECK_EQUAL(3U, h.supervisor->status()[0].restarts);
  CHECK_TRUE(h.supervisor->finished());
  CHECK_FALSE(h.supervisor->result().any_failed);
}

TEST(SupervisorStateMachine, AChildThatMissesItsLaunchDeadlineIsAbandonedAndFails) {
  Harness h({service("slow")});
  h.supervisor->update();
  const pid_t pid = h.launcher.pids.at("slow");
  h.advance(milliseconds(9999));
  CHECK_TRUE(h.launcher.abandoned.empty());
  h.advance(milliseconds(1));
  CHECK_EQUAL(1U, h.launcher.abandoned.size());
  LONGS_EQUAL(pid, h.launcher.abandoned[0]);
  STRCMP_EQUAL("failed", h.state_name("slow").c_str());
  STRCMP_CONTAINS("phase=timeout", h.supervisor->status()[0].last_failure.c_str());
}

TEST(SupervisorStateMachine, AFailedLaunchPhaseIsRecordedAndRestartedPerPolicy) {
  Harness h({service("app", {}, ipcrt::config::RestartPolicy::Always)});
  h.supervisor->update();
  h.launcher.outcomes[h.launcher.pids.at("app")] = LaunchPhase::Setuid;
  h.exec("app");
  STRCMP_EQUAL("restarting", h.state_name("app").c_str());
  STRCMP_CONTAINS("phase=setuid errno=EPERM", h.supervisor->status()[0].last_failure.c_str());
}

TEST(SupervisorStateMachine, ShutdownStopsConsumersFirstAndKillsAfterTheStopTimeout) {
  Harness h({service("provider"), service("consumer", {"provider"})});
  h.supervisor->update();
  h.exec("provider");
  h.exec("consumer");
  const pid_t provider = h.launcher.pids.at("provider");
  const pid_t consumer = h.launcher.pids.at("consumer");
  h.supervisor->shutdown();
  CHECK_TRUE(h.launcher.was_signalled(consumer, SIGTERM));
  CHECK_FALSE(h.launcher.was_signalled(provider, SIGTERM));
  STRCMP_EQUAL("stopping", h.state_name("consumer").c_str());
  h.advance(milliseconds(4999));
  CHECK_FALSE(h.launcher.was_signalled(consumer, SIGKILL));
  h.advance(milliseconds(1));
  CHECK_TRUE(h.launcher.was_signalled(consumer, SIGKILL));
  h.exit("consumer", killed_by(SIGKILL));
  CHECK_TRUE(h.launcher.was_signalled(provider, SIGTERM));  // now that no consumer runs
  CHECK_FALSE(h.supervisor->finished());
  h.exit("provider", killed_by(SIGTERM));
  STRCMP_EQUAL("stopped", h.state_name("provider").c_str());
  CHECK_TRUE(h.supervisor->finished());
  // Ending on the supervisor's own stop signal is not a failure.
  CHECK_FALSE(h.supervisor->result().any_failed);
}

TEST(SupervisorStateMachine, AnOperatorStopLeavesConsumersRunningAndNothingRestarts) {
  Harness h({service("provider", {}, ipcrt::config::RestartPolicy::Always),
             service("consumer", {"provider"})});
  h.supervisor->update();
  h.exec("provider");
  h.exec("consumer");
  const pid_t consumer = h.launcher.pids.at("consumer");
  CHECK_TRUE(h.supervisor->stop_service("provider").has_value());
  h.exit("provider", killed_by(SIGTERM));
  h.advance(milliseconds(60000));
  STRCMP_EQUAL("stopped", h.state_name("provider").c_str());
  STRCMP_EQUAL("ready", h.state_name("consumer").c_str());
  CHECK_FALSE(h.launcher.was_signalled(consumer, SIGTERM));
  CHECK_EQUAL(2U, h.launcher.launched.size());
  // Stopped by an operator is not the end: the runtime waits to be told to start it.
  h.exit("consumer", exit_status(0));
  CHECK_FALSE(h.supervisor->finished());
  CHECK_TRUE(h.supervisor->stop_service("provider").has_value());  // stopping a stopped one
  CHECK_TRUE(h.supervisor->start_service("provider").has_value());
  h.supervisor->update();
  CHECK_EQUAL(3U, h.launcher.launched.size());
  STRCMP_EQUAL("provider", h.launcher.launched[2].c_str());
}

TEST(SupervisorStateMachine, RestartOfOneServiceLeavesTheOthersAloneAndIsNotCounted) {
  Harness h({service("a"), service("b")});
  h.supervisor->update();
  h.exec("a");
  h.exec("b");
  const pid_t first = h.launcher.pids.at("a");
  const pid_t other = h.launcher.pids.at("b");
  CHECK_TRUE(h.supervisor->restart_service("a").has_value());
  CHECK_TRUE(h.launcher.was_signalled(first, SIGTERM));
  h.exit("a", killed_by(SIGTERM));
  CHECK_EQUAL(3U, h.launcher.launched.size());  // at once, no backoff
  CHECK_TRUE(h.launcher.pids.at("a") != first);
  LONGS_EQUAL(other, h.launcher.pids.at("b"));
  CHECK_FALSE(h.launcher.was_signalled(other, SIGTERM));
  h.exec("a");
  STRCMP_EQUAL("ready", h.state_name("a").c_str());
  CHECK_EQUAL(0U, h.supervisor->status()[0].restarts);
}

TEST(SupervisorStateMachine, AStopWhileStartingStopsItOnceItHasExeced) {
  Harness h({service("app")});
  h.supervisor->update();
  CHECK_TRUE(h.supervisor->stop_service("app").has_value());
  const pid_t pid = h.launcher.pids.at("app");
  CHECK_FALSE(h.launcher.was_signalled(pid, SIGTERM));
  h.exec("app");
  CHECK_TRUE(h.launcher.was_signalled(pid, SIGTERM));
  h.exit("app", killed_by(SIGTERM));
  STRCMP_EQUAL("stopped", h.state_name("app").c_str());
}

TEST(SupervisorStateMachine, UnknownServiceNamesAreErrorsListingTheServices) {
  Harness h({service("alpha"), service("beta")});
  auto stopped = h.supervisor->stop_service("gamma");
  CHECK_FALSE(stopped.has_value());
  STRCMP_CONTAINS("no service \"gamma\"", stopped.error().describe().c_str());
  STRCMP_CONTAINS("alpha, beta", stopped.error().describe().c_str());
  CHECK_FALSE(h.supervisor->start_service("gamma").has_value());
  CHECK_FALSE(h.supervisor->restart_service("gamma").has_value());
}

TEST(SupervisorStateMachine, TimersFireInOrderAndCancelledOnesNever) {
  Harness h({service("app")});
  std::vector<int> fired;
  h.supervisor->after(milliseconds(30), [&] { fired.push_back(3); });
  auto cancelled = h.supervisor->after(milliseconds(20), [&] { fired.push_back(2); });
  h.supervisor->after(milliseconds(10), [&] {
    fired.push_back(1);
    h.supervisor->after(milliseconds(0), [&] { fired.push_back(4); });  // added while firing
  });
  h.supervisor->cancel(cancelled);
  h.advance(milliseconds(15));
  CHECK_EQUAL(2U, fired.size());
  h.advance(milliseconds(15));
  CHECK_EQUAL(3U, fired.size());
  LONGS_EQUAL(1, fired[0]);
  LONGS_EQUAL(4, fired[1]);
  LONGS_EQUAL(3, fired[2]);
}

// ---- SPEC §11: readiness, start timeout, watchdog, restart limit, stop signal, critical

namespace {

using ipcrt::config::RestartPolicy;
using ipcrt::config::ServiceType;
using ipcrt::runtime::NotifyMessage;

SupervisedService typed(const std::string& name, ServiceType type,
                        std::vector<std::string> depends_on = {},
                        RestartPolicy restart = RestartPolicy::No) {
  SupervisedService supervised = service(name, std::move(depends_on), restart);
  supervised.type = type;
  return supervised;
}

NotifyMessage ready_message() {
  NotifyMessage message;
  message.ready = true;
  return message;
}

NotifyMessage watchdog_message() {
  NotifyMessage message;
  message.watchdog = true;
  return message;
}

std::string last_failure(const Harness& h, const std::string& name) {
  for (const auto& status : h.supervisor->status()) {
    if (status.name == name) return status.last_failure;
  }
  return {};
}

std::string readiness(const Harness& h, const std::string& name) {
  for (const auto& status : h.supervisor->status()) {
    if (status.name == name) return status.readiness;
  }
  return {};
}

}  // namespace

TEST(SupervisorStateMachine, ANotifyServiceOrdersItsConsumerOnlyOnceItSaysReady) {
  Harness h({typed("broker", ServiceType::Notify), service("client", {"broker"})});
  h.supervisor->update();
  h.exec("broker");
  STRCMP_EQUAL("starting", h.state_name("broker").c_str());
  STRCMP_EQUAL("waiting for READY=1", readiness(h, "broker").c_str());
  CHECK_FALSE(h.supervisor->settled());
  h.advance(milliseconds(5000));
  CHECK_EQUAL(1U, h.launcher.launched.size());  // the client still waits
  STRCMP_EQUAL("waiting", h.state_name("client").c_str());
  NotifyMessage status;
  status.status = "warming up";
  h.supervisor->notified("broker", status);
  STRCMP_EQUAL("starting", h.state_name("broker").c_str());
  h.supervisor->notified("broker", ready_message());
  h.supervisor->update();
  STRCMP_EQUAL("ready", h.state_name("broker").c_str());
  STRCMP_EQUAL("warming up", h.supervisor->status()[0].status_text.c_str());
  CHECK_EQUAL(2U, h.launcher.launched.size());
  STRCMP_EQUAL("client", h.launcher.launched[1].c_str());
  h.exec("client");
  CHECK_TRUE(h.supervisor->settled());
}

TEST(SupervisorStateMachine, ADatagramBeforeExecCountsForNothing) {
  Harness h({typed("broker", ServiceType::Notify)});
  h.supervisor->update();  // forked, confining itself
  h.supervisor->notified("broker", ready_message());
  h.exec("broker");
  STRCMP_EQUAL("starting", h.state_name("broker").c_str());
}

TEST(SupervisorStateMachine, NoReadyWithinTheStartTimeoutFailsTheStartAndCountsForRestart) {
  SupervisedService slow = typed("slow", ServiceType::Notify, {}, RestartPolicy::OnFailure);
  slow.start_timeout = milliseconds(3000);
  slow.stop_signal = SIGINT;
  slow.stop_timeout = milliseconds(700);
  Harness h({slow, service("after-slow", {"slow"})});
  h.supervisor->update();
  h.exec("slow");
  const pid_t pid = h.launcher.pids.at("slow");
  h.advance(milliseconds(2999));
  CHECK_TRUE(h.launcher.signals.empty());
  h.advance(milliseconds(1));
  CHECK_TRUE(h.launcher.was_signalled(pid, SIGINT));  // its stop signal
  STRCMP_EQUAL("stopping", h.state_name("slow").c_str());
  STRCMP_CONTAINS("start timeout: no READY=1 within 3000 ms", last_failure(h, "slow").c_str());
  h.advance(milliseconds(699));
  CHECK_FALSE(h.launcher.was_signalled(pid, SIGKILL));
  h.advance(milliseconds(1));
  CHECK_TRUE(h.launcher.was_signalled(pid, SIGKILL));
  h.exit("slow", exit_status(0));  // even a clean exit: the start had failed
  STRCMP_EQUAL("restarting", h.state_name("slow").c_str());
  CHECK_EQUAL(1U, h.supervisor->status()[0].restarts);
  STRCMP_EQUAL("waiting", h.state_name("after-slow").c_str());
}

TEST(SupervisorStateMachine, TheStartTimeoutAlsoBoundsAChildThatNeverExecs) {
  SupervisedService stuck = service("stuck");
  stuck.start_timeout = milliseconds(500);  // shorter than the launch timeout
  Harness h({stuck});
  h.supervisor->update();
  h.advance(milliseconds(500));
  CHECK_EQUAL(1U, h.launcher.abandoned.size());
  STRCMP_CONTAINS("phase=timeout", last_failure(h, "stuck").c_str());
}

TEST(SupervisorStateMachine, AOneshotIsReadyWhenItExitsZeroAndItsDependantsWaitForThat) {
  Harness h({typed("migrate", ServiceType::Oneshot), service("app", {"migrate"})});
  h.supervisor->update();
  h.exec("migrate");
  STRCMP_EQUAL("starting", h.state_name("migrate").c_str());
  STRCMP_EQUAL("waiting for exit 0", readiness(h, "migrate").c_str());
  CHECK_EQUAL(1U, h.launcher.launched.size());
  h.exit("migrate", exit_status(0));
  STRCMP_EQUAL("exited", h.state_name("migrate").c_str());
  STRCMP_EQUAL("done", readiness(h, "migrate").c_str());
  CHECK_EQUAL(2U, h.launcher.launched.size());
  h.exec("app");
  CHECK_TRUE(h.supervisor->settled());
}

TEST(SupervisorStateMachine, AFailedOneshotFailsItsDependantsAndTheRun) {
  Harness h({typed("migrate", ServiceType::Oneshot), service("app", {"migrate"})});
  h.supervisor->update();
  h.exec("migrate");
  h.exit("migrate", exit_status(3));
  STRCMP_EQUAL("failed", h.state_name("migrate").c_str());
  STRCMP_EQUAL("failed", h.state_name("app").c_str());
  STRCMP_CONTAINS("migrate never became ready", last_failure(h, "app").c_str());
  CHECK_EQUAL(1U, h.launcher.launched.size());
  CHECK_TRUE(h.supervisor->finished());
  CHECK_TRUE(h.supervisor->result().any_failed);
}

TEST(SupervisorStateMachine, ANotifyServiceThatExitsZeroBeforeReadyFailed) {
  Harness h({typed("quick", ServiceType::Notify)});
  h.supervisor->update();
  h.exec("quick");
  h.exit("quick", exit_status(0));
  STRCMP_EQUAL("failed", h.state_name("quick").c_str());
  STRCMP_CONTAINS("before READY=1", last_failure(h, "quick").c_str());
}

TEST(SupervisorStateMachine, AMissedWatchdogAbortsThenKillsAndCountsAsAFailure) {
  SupervisedService watched = typed("watched", ServiceType::Notify, {}, RestartPolicy::OnFailure);
  watched.watchdog = milliseconds(1000);
  watched.stop_timeout = milliseconds(300);
  Harness h({watched});
  h.supervisor->update();
  h.exec("watched");
  h.supervisor->notified("watched", ready_message());
  const pid_t pid = h.launcher.pids.at("watched");
  for (int i = 0; i < 5; ++i) {  // pets in time: 5 s without a miss
    h.advance(milliseconds(900));
    h.supervisor->notified("watched", watchdog_message());
  }
  CHECK_TRUE(h.launcher.signals.empty());
  h.advance(milliseconds(999));
  CHECK_TRUE(h.launcher.signals.empty());
  h.advance(milliseconds(1));
  CHECK_TRUE(h.launcher.was_signalled(pid, SIGABRT));
  STRCMP_CONTAINS("watchdog", last_failure(h, "watched").c_str());
  h.advance(milliseconds(300));
  CHECK_TRUE(h.launcher.was_signalled(pid, SIGKILL));
  h.exit("watched", killed_by(SIGABRT));
  STRCMP_EQUAL("restarting", h.state_name("watched").c_str());
  h.advance(milliseconds(100));
  CHECK_EQUAL(2U, h.launcher.launched.size());
}

TEST(SupervisorStateMachine, WatchdogTriggerFailsAtOnce) {
  SupervisedService watched = typed("watched", ServiceType::Notify);
  watched.watchdog = milliseconds(1000);
  Harness h({watched});
  h.supervisor->update();
  h.exec("watched");
  NotifyMessage trigger;
  trigger.watchdog_trigger = true;
  h.supervisor->notified("watched", trigger);
  CHECK_TRUE(h.launcher.was_signalled(h.launcher.pids.at("watched"), SIGABRT));
}

TEST(SupervisorStateMachine, TheRestartLimitFailsAServiceForGoodUntilAnOperatorStartsIt) {
  SupervisedService crashy = service("crashy", {}, RestartPolicy::Always);
  crashy.restart_limit.burst = 3;
  crashy.restart_limit.interval_ms = 10000;
  crashy.restart_delay_ms = 10;
  Harness h({crashy, service("other")});
  h.supervisor->update();
  h.exec("other");
  for (int run = 0; run < 3; ++run) {
    h.exec("crashy");
    h.exit("crashy", exit_status(0));  // `always` after exit 0 counts too
    STRCMP_EQUAL("restarting", h.state_name("crashy").c_str());
    h.advance(milliseconds(1000));
  }
  h.exec("crashy");
  h.exit("crashy", exit_status(0));  // the fourth end within 10 s
  STRCMP_EQUAL("failed", h.state_name("crashy").c_str());
  STRCMP_CONTAINS("restart limit", last_failure(h, "crashy").c_str());
  h.advance(milliseconds(60000));
  CHECK_EQUAL(5U, h.launcher.launched.size());  // other + 4 runs; nothing more
  CHECK_TRUE(h.supervisor->result().any_failed);
  // An operator's start begins afresh.
  CHECK_TRUE(h.supervisor->start_service("crashy").has_value());
  h.supervisor->update();
  CHECK_EQUAL(6U, h.launcher.launched.size());
  h.exec("crashy");
  h.exit("crashy", exit_status(1));
  STRCMP_EQUAL("restarting", h.state_name("crashy").c_str());
}

TEST(SupervisorStateMachine, RestartsSpreadWiderThanTheIntervalNeverHitTheLimit) {
  SupervisedService crashy = service("crashy", {}, RestartPolicy::OnFailure);
  crashy.restart_limit.burst = 2;
  crashy.restart_limit.interval_ms = 5000;
  crashy.restart_delay_ms = 10;  // doubled per restart: still within the 400 ms below
  Harness h({crashy});
  h.supervisor->update();
  for (int run = 0; run < 6; ++run) {
    h.exec("crashy");
    h.advance(milliseconds(3000));  // each window of 5 s holds at most two restarts
    h.exit("crashy", exit_status(1));
    STRCMP_EQUAL("restarting", h.state_name("crashy").c_str());
    h.advance(milliseconds(400));
  }
}

TEST(SupervisorStateMachine, OperatorRestartsDoNotCountTowardsTheLimit) {
  SupervisedService app = service("app", {}, RestartPolicy::OnFailure);
  app.restart_limit.burst = 1;
  Harness h({app});
  h.supervisor->update();
  for (int i = 0; i < 4; ++i) {
    h.exec("app");
    CHECK_TRUE(h.supervisor->restart_service("app").has_value());
    h.exit("app", killed_by(SIGTERM));
  }
  h.exec("app");
  h.exit("app", exit_status(1));
  STRCMP_EQUAL("restarting", h.state_name("app").c_str());  // the first automatic one
}

TEST(SupervisorStateMachine, EachServiceStopsWithItsOwnSignalAndTimeoutConsumersFirst) {
  SupervisedService provider = service("provider");
  provider.stop_signal = SIGUSR2;
  provider.stop_timeout = milliseconds(2000);
  SupervisedService consumer = service("consumer", {"provider"});
  consumer.stop_signal = SIGINT;
  consumer.stop_timeout = milliseconds(250);
  Harness h({provider, consumer});
  h.supervisor->update();
  h.exec("provider");
  h.exec("consumer");
  const pid_t provider_pid = h.launcher.pids.at("provider");
  const pid_t consumer_pid = h.launcher.pids.at("consumer");
  h.supervisor->shutdown();
  CHECK_TRUE(h.launcher.was_signalled(consumer_pid, SIGINT));
  CHECK_FALSE(h.launcher.was_signalled(consumer_pid, SIGTERM));
  CHECK_FALSE(h.launcher.was_signalled(provider_pid, SIGUSR2));
  h.advance(milliseconds(250));
  CHECK_TRUE(h.launcher.was_signalled(consumer_pid, SIGKILL));
  h.exit("consumer", killed_by(SIGKILL));
  CHECK_TRUE(h.launcher.was_signalled(provider_pid, SIGUSR2));
  h.advance(milliseconds(1999));
  CHECK_FALSE(h.launcher.was_signalled(provider_pid, SIGKILL));
  h.advance(milliseconds(1));
  CHECK_TRUE(h.launcher.was_signalled(provider_pid, SIGKILL));
}

TEST(SupervisorStateMachine, ACriticalServiceFailingForGoodStopsTheRunInOrder) {
  SupervisedService heart = service("heart");
  heart.critical = true;
  Harness h({service("provider"), service("consumer", {"provider"}), heart});
  h.supervisor->update();
  h.exec("provider");
  h.exec("heart");
  h.exec("consumer");
  h.exit("heart", exit_status(2));
  STRCMP_EQUAL("failed", h.state_name("heart").c_str());
  CHECK_TRUE(h.supervisor->shutting_down());
  CHECK_TRUE(h.launcher.was_signalled(h.launcher.pids.at("consumer"), SIGTERM));
  CHECK_FALSE(h.launcher.was_signalled(h.launcher.pids.at("provider"), SIGTERM));
  h.exit("consumer", killed_by(SIGTERM));
  CHECK_TRUE(h.launcher.was_signalled(h.launcher.pids.at("provider"), SIGTERM));
  h.exit("provider", killed_by(SIGTERM));
  CHECK_TRUE(h.supervisor->finished());
  auto result = h.supervisor->result();
  CHECK_TRUE(result.any_failed);
  STRCMP_EQUAL("heart", result.critical_failure.c_str());
}

TEST(SupervisorStateMachine, ANonCriticalFailureLeavesTheOthersRunning) {
  Harness h({service("flaky"), service("steady")});
  h.supervisor->update();
  h.exec("flaky");
  h.exec("steady");
  h.exit("flaky", exit_status(1));
  CHECK_FALSE(h.supervisor->shutting_down());
  CHECK_TRUE(h.supervisor->result().critical_failure.empty());
  STRCMP_EQUAL("ready", h.state_name("steady").c_str());
}

// ---- the sd_notify datagram, as a service sends it

TEST_GROUP(SdNotifyProtocol){};

TEST(SdNotifyProtocol, ReadsTheAssignmentsTheSupervisorActsOnAndIgnoresTheRest) {
  auto message = ipcrt::runtime::parse_notify("MAINPID=1\nREADY=1\nSTATUS=one\nX=y\nSTATUS=two");
  CHECK_TRUE(message.has_value());
  CHECK_TRUE(message->ready);
  CHECK_FALSE(message->watchdog);
  CHECK_FALSE(message->stopping);
  STRCMP_EQUAL("two", message->status->c_str());
  auto watchdog = ipcrt::runtime::parse_notify("WATCHDOG=1\nSTOPPING=1\n");
  CHECK_TRUE(watchdog->watchdog);
  CHECK_TRUE(watchdog->stopping);
  CHECK_FALSE(watchdog->ready);
  CHECK_FALSE(watchdog->status.has_value());
  CHECK_TRUE(ipcrt::runtime::parse_notify("WATCHDOG=trigger")->watchdog_trigger);
  // Only the exact values count, as systemd reads them.
  CHECK_FALSE(ipcrt::runtime::parse_notify("READY=0\nREADY=yes\n READY=1")->ready);
}

TEST(SdNotifyProtocol, ADatagramWithANulByteIsRefusedWhole) {
  using namespace std::string_view_literals;
  CHECK_FALSE(ipcrt::runtime::parse_notify("READY=1\0STATUS=x"sv).has_value());
}

TEST(SdNotifyProtocol, TheHostsStatusCountsReadyServicesAndNamesFailedOnes) {
  std::vector<ipcrt::runtime::ServiceStatus> services(3);
  services[0].name = "a";
  services[0].state = ServiceState::Running;
  services[1].name = "b";
  services[1].state = ServiceState::Failed;
  services[2].name = "c";
  services[2].state = ServiceState::Exited;
  STRCMP_EQUAL("1 of 3 services ready; failed: b",
               ipcrt::runtime::host_status_text(services).c_str());
  services.resize(1);
  STRCMP_EQUAL("1 service ready", ipcrt::runtime::host_status_text(services).c_str());
}
