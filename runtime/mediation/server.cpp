#include "runtime/mediation/server.hpp"

#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <optional>
#include <utility>

#include "common/log.hpp"
#include "common/text.hpp"
#include "runtime/mediation/token_bucket.hpp"
#include "runtime/seccomp/service_policy.hpp"

namespace ipcrt::runtime {
namespace {

using Clock = std::chrono::steady_clock;

// A mediation thread's stack: the deepest path (libseccomp's name lookup, a /proc read into a
// string, a log line) needs a few KiB. The default 8 MiB would reserve 2 GiB of address space
// for 256 services, most of a 32-bit (armhf) process's. 128 KiB: the stacks of 256 services
// (with their guard pages) stay within glibc's cache of freed stacks (40 MiB), so the threads
// that end at a stop are not unmapped one by one (at 256 KiB, a quarter of them were).
constexpr std::size_t kThreadStack = 128 * 1024;

// What a call let through gives back of the token its answer took (TokenBucket::refund).
constexpr double kPassThroughRefund = 0.9;

// A stopped thread that is still inside ADDFD, waiting for a caller that never runs, is
// left behind after this.
constexpr auto kJoinDeadline = std::chrono::seconds(2);

// How many lines of the mediation threads may wait for the loop; beyond, they are counted.
// Each service's lines are rate-limited (DenialLog), so this is only reached when many
// services burst at once.
constexpr std::size_t kMaxWaitingLines = 1024;

struct ThreadContext {
  std::shared_ptr<ServiceMediator> mediator;
  std::shared_ptr<platform::UniqueFd> stop;
  platform::UniqueFd listener;
  std::shared_ptr<std::atomic<bool>> finished;
};

int poll_timeout(std::optional<Clock::time_point> until) {
  if (!until) return -1;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(*until - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 60'000));
}

// receive → copy → check → act → answer until the listener hangs up or the server stops.
void serve_listener(ThreadContext& context) {
  ServiceMediator& mediator = *context.mediator;
  const MediatedService& service = mediator.service();
  ActingThread thread;  // its own credentials, restored when the loop ends
  TokenBucket answers(service.answer_burst, service.answers_per_second);
  std::optional<Clock::time_point> flush_at;
  std::optional<Clock::time_point> throttled_until;
  for (;;) {
    // While throttled only the stop request is waited for: the service's calls wait in the
    // kernel, and the service slows down only itself.
    const auto wake = throttled_until && flush_at ? std::min(*throttled_until, *flush_at)
                      : throttled_until           ? throttled_until
                                                  : flush_at;
    pollfd ready[2] = {{context.stop->get(), POLLIN, 0},
                       {throttled_until ? -1 : context.listener.get(), POLLIN, 0}};
    int count = ::poll(ready, 2, poll_timeout(wake));
    if (count < 0 && errno != EINTR) break;
    if ((ready[0].revents & POLLIN) != 0) break;
    const auto now = Clock::now();
    if (throttled_until && now >= *throttled_until) throttled_until.reset();
    if (flush_at && now >= *flush_at) {
      mediator.flush_denials();
      flush_at.reset();
    }
    const short events = ready[1].revents;
    if ((events & POLLIN) != 0) {
      if (!answers.take(now)) {
        throttled_until = now + answers.wait(now);
        continue;
      }
      try {
        // A call let through unread but for its path (an unlink or exclusive create outside
        // /dev/shm, which services with shared-memory objects to write send here) costs a
        // tenth of an answer: such a service is not throttled at mediation's rate for its
        // ordinary file work, and a loop of them still has a bound.
        if (mediator.handle(context.listener.get(), thread)) answers.refund(kPassThroughRefund);
      } catch (const std::exception& error) {
        // Out of memory while copying a name: this call is dropped, the caller stays
        // blocked until it is interrupted or killed, the supervisor goes on.
        mediator.report_error("mediation failed", error.what());
      }
      // What the rate limit held back is counted in a line once the interval has passed,
      // also when the service goes quiet.
      if (!flush_at && mediator.denials_pending()) flush_at = now + mediator.denial_interval();
    } else if ((events & (POLLHUP | POLLERR | POLLNVAL)) != 0) {
      break;  // the service's last task is gone
    }
  }
  mediator.flush_denials();
}

void* mediation_thread(void* raw) {
  std::unique_ptr<ThreadContext> context(static_cast<ThreadContext*>(raw));
  serve_listener(*context);
  context->finished->store(true, std::memory_order_release);
  return nullptr;
}

// The owner of a slot's queues as boot makes it: the slot's service's user (and its groups),
// the slot's group.
platform::Identity queue_owner(const Plan& plan, const PlannedQueue& queue) {
  const Account* account = plan.identities.find_account(queue.owner_service);
  if (account == nullptr) return {};
  platform::Identity owner = account->identity;
  if (auto group = plan.identities.slot_group(queue.slot)) owner.gid = *group;
  return owner;
}

MediatedService mediated_service(const config::Service& service, const PlannedService& planned,
                                 const Plan& plan) {
  MediatedService mediated;
  mediated.name = planned.name;
  mediated.grants = planned.queues;
  mediated.passed = planned.passed_queues;
  // The objects it may write, in the runtime's store, and the calls its filter sends here
  // for them (runtime/seccomp/service_policy.cpp makes the filter from the same list).
  for (const auto& grant : planned.shm) {
    if (grant.writable) {
      mediated.objects.push_back({grant.name, cat(planned.shm_store, '/', grant.name)});
    }
  }
  mediated.shm_syscalls = shm_mediated_syscalls(service, planned);
  for (const auto& grant : planned.queues) {
    for (const auto& queue : plan.queues) {
      if (queue.path != grant.path) continue;
      mediated.queues.push_back({queue.path, queue.slot, queue.max_messages, queue.message_size,
                                 queue.mode, queue_owner(plan, queue)});
      break;
    }
  }
  // Its pattern queues found at boot are those of its own user (they were created as it).
  if (const Account* account = plan.identities.find_account(planned.name)) {
    mediated.uid = account->identity.uid;
    // The identity prepare_launch() gives the service (runtime/daemon.cpp), and what it keeps.
    mediated.fixed_credentials =
        immutable_credentials(account->identity, !service.capabilities.empty());
  }
  // The ABIs the service's filter covers (runtime/seccomp/service_policy.cpp adds the same
  // names to it); names libseccomp does not know failed the filter's compile already.
  for (const auto& name : service.seccomp.architectures) {
    if (std::uint32_t token = seccomp_arch_resolve_name(name.c_str()); token != 0) {
      mediated.architectures.push_back(token);
    }
  }
  // SPEC §13: `resources.queues` and `resources.queue-bytes` (defaults 8 and 1 MiB).
  mediated.pattern_limits = {service.resources.queues, service.resources.queue_bytes};
  mediated.msg_default = plan.kernel.limits.msg_default > 0 ? plan.kernel.limits.msg_default : 10;
  mediated.msgsize_default =
      plan.kernel.limits.msgsize_default > 0 ? plan.kernel.limits.msgsize_default : 8192;
  if (plan.kernel.limits.msg_max > 0) mediated.msg_max = plan.kernel.limits.msg_max;
  if (plan.kernel.limits.msgsize_max > 0) mediated.msgsize_max = plan.kernel.limits.msgsize_max;
  mediated.complain = service.confinement == config::Confinement::Complain;
  // A copy: a thread left behind at exit may still ask after the manifest is gone.
  mediated.need_for_syscall = [service, grants = planned.queues](const std::string& syscall) {
    return need_for_syscall(service, syscall, grants);
  };
  return mediated;
}

}  // namespace

MediationServer::LineOutlet::LineOutlet() : wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

void MediationServer::LineOutlet::post(const std::string& service, std::string_view line) {
  {
    std::lock_guard lock(mutex_);
    if (lines_.size() >= kMaxWaitingLines) {
      ++dropped_;
    } else {
      lines_.emplace_back(service, std::string(line));
    }
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] auto written = ::write(wake_.get(), &one, sizeof one);
}

void MediationServer::LineOutlet::drain(const DenialLog::Route& route) {
  std::uint64_t count = 0;
  [[maybe_unused]] auto read = ::read(wake_.get(), &count, sizeof count);
  std::deque<std::pair<std::string, std::string>> lines;
  std::uint64_t dropped = 0;
  {
    std::lock_guard lock(mutex_);
    lines.swap(lines_);
    dropped = std::exchange(dropped_, 0);
  }
  for (const auto& [service, line] : lines) {
    if (route) {
      route(service, line);
    } else {
      write_log_line(line);
    }
  }
  if (dropped > 0) log_warn("mediation lines dropped").field("count", dropped);
}

MediationServer::MediationServer(const config::Manifest& manifest, const Plan& plan)
    : MediationServer(std::vector<MediatedService>{}) {
  for (const auto& planned : plan.services) {
    const config::Service& service = *manifest.find_service(planned.name);
    auto mediator = std::make_shared<ServiceMediator>(mediated_service(service, planned, plan));
    mediator->count_existing(plan.kernel.existing_queues);
    services_.emplace(planned.name, std::move(mediator));
  }
  adopt_lines();
}

MediationServer::MediationServer(std::vector<MediatedService> services)
    : stop_(std::make_shared<platform::UniqueFd>(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK))),
      outlet_(std::make_shared<LineOutlet>()) {
  for (auto& service : services) {
    std::string name = service.name;
    services_.emplace(std::move(name), std::make_shared<ServiceMediator>(std::move(service)));
  }
  adopt_lines();
}

MediationServer::~MediationServer() {
  stop_all();
  outlet_->drain(route_);
}

void MediationServer::update(const config::Manifest& manifest, const Plan& plan,
                             const std::vector<std::string>& names) {
  for (const auto& name : names) {
    const config::Service* service = manifest.find_service(name);
    const PlannedService* planned = nullptr;
    for (const auto& candidate : plan.services) {
      if (candidate.name == name) planned = &candidate;
    }
    if (service == nullptr || planned == nullptr) {
      services_.erase(name);
      continue;
    }
    auto mediator = std::make_shared<ServiceMediator>(mediated_service(*service, *planned, plan));
    mediator->count_existing(plan.kernel.existing_queues);
    services_[name] = std::move(mediator);
  }
  adopt_lines();
}

void MediationServer::adopt_lines() {
  for (auto& [name, mediator] : services_) {
    mediator->route_denials([outlet = outlet_](const std::string& service, std::string_view line) {
      outlet->post(service, line);
    });
  }
}

void MediationServer::route_denials(const DenialLog::Route& route) {
  route_ = route;
}

void MediationServer::observe_denials(const DenialObserver& observer) {
  for (auto& [name, mediator] : services_) mediator->observe_denials(observer);
}

ListenerHandler MediationServer::handler() {
  return [this](Supervisor& supervisor, const std::string& name, pid_t,
                platform::UniqueFd listener) {
    // The threads' lines reach the log on the loop, which alone may write it.
    if (!lines_watch_ && outlet_->fd() >= 0) {
      auto watched =
          supervisor.watch(outlet_->fd(), EPOLLIN,
                           [this](std::uint32_t, Supervisor::WatchId) { outlet_->drain(route_); });
      if (watched) {
        lines_watch_ = *watched;
        lines_supervisor_ = &supervisor;
      }
    }
    auto found = services_.find(name);
    if (found == services_.end()) {
      log_error("cannot serve the seccomp listener")
          .field("service", name)
          .field("error", "no mediation for service " + name);
      return;
    }
    const int fd = listener.get();
    auto watched = supervisor.watch(
        fd, EPOLLIN,
        [this](std::uint32_t events, Supervisor::WatchId id) { on_first_event(events, id); });
    Status served;
    if (watched) {
      waiting_.emplace(*watched, WaitingListener{name, found->second, std::move(listener)});
      waiting_supervisor_ = &supervisor;
    } else {
      served = start_thread(found->second, std::move(listener));  // not watched: served now
    }
    if (!served) {
      log_error("cannot serve the seccomp listener")
          .field("service", name)
          .field("error", served.error().describe());
    }
  };
}

void MediationServer::on_first_event(std::uint32_t events, Supervisor::WatchId id) {
  auto found = waiting_.find(id);
  if (found == waiting_.end()) return;
  WaitingListener waiting = std::move(found->second);
  waiting_.erase(found);
  waiting_supervisor_->unwatch(id);
  // Hung up without asking: the service's last task is gone, and the listener closes here.
  if ((events & EPOLLIN) == 0) return;
  if (auto served = start_thread(std::move(waiting.mediator), std::move(waiting.listener));
      !served) {
    log_error("cannot serve the seccomp listener")
        .field("service", waiting.service)
        .field("error", served.error().describe());
  }
}

ServiceMediator* MediationServer::mediator(const std::string& service) {
  auto found = services_.find(service);
  return found == services_.end() ? nullptr : found->second.get();
}

Status MediationServer::serve(const std::string& service, platform::UniqueFd listener) {
  auto found = services_.find(service);
  if (found == services_.end()) return fail("no mediation for service " + service);
  return start_thread(found->second, std::move(listener));
}

Status MediationServer::start_thread(std::shared_ptr<ServiceMediator> mediator,
                                     platform::UniqueFd listener) {
  join_finished();  // threads of listeners that hung up since the last start
  if (!stop_->valid()) return fail("no eventfd to stop the mediation threads with");
  auto context = std::make_unique<ThreadContext>(ThreadContext{
      std::move(mediator), stop_, std::move(listener), std::make_shared<std::atomic<bool>>(false)});
  auto finished = context->finished;

  pthread_attr_t attributes;
  ::pthread_attr_init(&attributes);
  ::pthread_attr_setstacksize(&attributes, kThreadStack);
  // The new thread inherits this mask: every signal blocked from its first instruction.
  sigset_t all;
  sigset_t previous;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &previous);
  pthread_t thread{};
  const int created = ::pthread_create(&thread, &attributes, mediation_thread, context.get());
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  ::pthread_attr_destroy(&attributes);
  if (created != 0) return fail_errno("pthread_create for a mediation thread", created);
  context.release();  // the thread owns it now
  workers_.push_back({thread, std::move(finished)});
  return {};
}

void MediationServer::join_finished() {
  for (auto it = workers_.begin(); it != workers_.end();) {
    // A thread that has returned may still be exiting (its stack handed back, the kernel's
    // end of it): tried, not waited for, as the loop must not wait for a thread the scheduler
    // has not run yet (on a busy CPU, until it gets one, at each service's end). What is
    // left is joined by the next call or by stop_all().
    if (it->finished->load(std::memory_order_acquire) &&
        ::pthread_tryjoin_np(it->thread, nullptr) == 0) {
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
}

void MediationServer::stop_all() {
  if (workers_.empty()) return;
  const std::uint64_t one = 1;
  if (::write(stop_->get(), &one, sizeof one) != sizeof one) {
    log_error("cannot stop the mediation threads");
  }
  timespec deadline{};
  ::clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += kJoinDeadline.count();
  for (auto& worker : workers_) {
    if (::pthread_timedjoin_np(worker.thread, nullptr, &deadline) != 0) {
      // Still in ADDFD for a caller that never ran: what it uses is shared with it.
      log_warn("mediation thread still busy at exit: left behind");
      ::pthread_detach(worker.thread);
    }
  }
  workers_.clear();
}

void MediationServer::flush() {
  // Listeners of services that never asked: nothing to finish, closed with their watches.
  for (const auto& [id, waiting] : waiting_) waiting_supervisor_->unwatch(id);
  waiting_.clear();
  stop_all();
  for (auto& [name, mediator] : services_) mediator->flush_denials();
  if (lines_watch_) lines_supervisor_->unwatch(*lines_watch_);
  lines_watch_.reset();
  outlet_->drain(route_);  // the loop has ended: this thread is the only one left to log
}

}  // namespace ipcrt::runtime
