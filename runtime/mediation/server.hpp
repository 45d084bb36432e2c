// The supervisor's side of every mediated service (SPEC §6): one ServiceMediator per service,
// kept across restarts, and one thread per listener.
//
// Why threads: SECCOMP_IOCTL_NOTIF_ADDFD with SECCOMP_ADDFD_FLAG_SEND returns only once the
// caller's thread has run to take the descriptor. A caller that never gets the CPU (starved,
// throttled, SCHED_IDLE behind spinning threads) would hold whoever serves its listener for
// hundreds of milliseconds or more; served from the supervisor's loop, that was every other
// service's mediated call and the supervisor itself. Each listener therefore has a thread of
// its own that loops receive → copy → check → act → answer, waits at most for its own
// service, and exits when the listener hangs up (the service's last task is gone). The thread
// is made at the listener's first notification, from the supervisor's loop, which watches the
// listener until then: a service that never asks (pass-queues, or no queue opened after
// start) costs no thread to create and none to end, and its listener just closes at its end.
//
// What the threads share with the rest of the supervisor, and why it is safe:
// - Each service's denial log and pattern budget sit in its ServiceMediator behind a lock;
//   nothing else touches them while threads run. Log lines are single write(2)s.
// - Threads are created with every signal blocked: process signals stay for the
//   supervisor's signalfd, and a SIGPIPE of a log write cannot end the runtime.
// - The supervisor forks services while threads run. The child between fork and exec makes
//   only syscalls (runtime/launch.cpp); glibc's fork resets in the child the locks its own
//   setgroups/setresuid wrappers take, so no lock a thread holds can block it.
// - A thread changes only its own credentials (runtime/mediation/credentials.hpp).
// - flush() (and the destructor) stops every thread through an eventfd they all poll and
//   joins them; a thread still waiting for a caller that never runs is left behind after a
//   deadline, keeping alive everything it uses.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "config/manifest.hpp"
#include "platform/fd.hpp"
#include "runtime/mediation/notification.hpp"
#include "runtime/plan.hpp"
#include "runtime/supervisor.hpp"

namespace ipcrt::runtime {

class MediationServer {
 public:
  // Every planned service, its slots' owners from the plan's identities, its pattern queues
  // that exist already counted against its budget.
  MediationServer(const config::Manifest& manifest, const Plan& plan);
  // Services built by hand (tests, benchmarks).
  explicit MediationServer(std::vector<MediatedService> services);
  MediationServer(const MediationServer&) = delete;
  MediationServer& operator=(const MediationServer&) = delete;
  ~MediationServer();

  // What the supervisor calls with each new listener: watched by the supervisor's loop until
  // its first notification, then serve()d, logging a failure (the service's mediated calls
  // then fail with ENOSYS).
  [[nodiscard]] ListenerHandler handler();
  // Serves `listener` for `service` on a new thread until it hangs up or flush() is called.
  [[nodiscard]] Status serve(const std::string& service, platform::UniqueFd listener);
  // Joins the threads whose listener hung up (their services ended) and that have already
  // exited; from the supervisor's thread, which never waits here for a thread still on its way
  // out. serve() does it too; a shutdown calls it as services end, so that flush() does not
  // join them all (and free their stacks) after the last.
  void join_finished();
  // Once the supervisor has returned: stops and joins every thread (each finishes the call at
  // hand), then writes every service's pending suppressed-denials line.
  void flush();
  // Every service's denial lines go to `route` (the log subsystem) instead of stderr. Lines of
  // the mediation threads wait for the supervisor's loop, which alone calls `route`.
  void route_denials(const DenialLog::Route& route);
  // Every service's refused calls also go to `observer` (DenialObserver says how it is
  // called). Before the first serve().
  void observe_denials(const DenialObserver& observer);

  // A reload's (SPEC §12): `names` get mediators of `plan`'s (their next listeners are served
  // by them); a thread serving an earlier process keeps the mediator it had.
  void update(const config::Manifest& manifest, const Plan& plan,
              const std::vector<std::string>& names);

  // The service's mediator, nullptr if unknown (tests read its budget).
  [[nodiscard]] ServiceMediator* mediator(const std::string& service);

 private:
  struct Worker {
    pthread_t thread{};
    std::shared_ptr<std::atomic<bool>> finished;
  };
  // Lines the mediation threads write, handed to the supervisor's loop: the log subsystem
  // (its ring, files and non-blocking stderr) and the runtime's log writer are the loop's.
  class LineOutlet {
   public:
    LineOutlet();
    // Any thread. Beyond kMaxWaitingLines lines are only counted.
    void post(const std::string& service, std::string_view line);
    // The loop's thread (or the only one left): each line to `route`, or the runtime's log.
    void drain(const DenialLog::Route& route);
    [[nodiscard]] int fd() const { return wake_.get(); }

   private:
    platform::UniqueFd wake_;  // an eventfd, readable while lines wait
    std::mutex mutex_;
    std::deque<std::pair<std::string, std::string>> lines_;  // service, line
    std::uint64_t dropped_ = 0;
  };

  // A listener whose service has asked nothing yet, with the mediator it was started under
  // (a reload's update() gives only later listeners a new one).
  struct WaitingListener {
    std::string service;
    std::shared_ptr<ServiceMediator> mediator;
    platform::UniqueFd listener;
  };

  [[nodiscard]] Status start_thread(std::shared_ptr<ServiceMediator> mediator,
                                    platform::UniqueFd listener);
  void on_first_event(std::uint32_t events, Supervisor::WatchId id);
  void stop_all();
  void adopt_lines();  // every mediator's lines go to outlet_

  std::map<std::string, std::shared_ptr<ServiceMediator>> services_;
  std::shared_ptr<platform::UniqueFd> stop_;  // an eventfd: readable once the threads must stop
  std::list<Worker> workers_;                 // only the supervisor's thread touches it
  std::shared_ptr<LineOutlet> outlet_;        // shared with threads that may be left behind
  DenialLog::Route route_;
  std::optional<Supervisor::WatchId> lines_watch_;
  Supervisor* lines_supervisor_ = nullptr;
  std::map<Supervisor::WatchId, WaitingListener> waiting_;  // the supervisor's thread only
  Supervisor* waiting_supervisor_ = nullptr;
};

}  // namespace ipcrt::runtime
