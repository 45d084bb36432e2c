// The supervisor's state machine without forking: a fake launcher records what it is asked to
// do, a fake clock stands for time, and the test plays the kernel (exec, exit).
#include <CppUTest/TestHarness.h>
#include <sys/wait.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/supervisor.hpp"

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
