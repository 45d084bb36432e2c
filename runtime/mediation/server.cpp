#include "runtime/mediation/server.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <memory>

#include "common/log.hpp"
#include "runtime/seccomp/service_policy.hpp"

namespace ipcrt::runtime {

MediationServer::MediationServer(const config::Manifest& manifest, const Plan& plan) {
  for (const auto& planned : plan.services) {
    const config::Service& service = *manifest.find_service(planned.name);
    MediatedService mediated;
    mediated.name = planned.name;
    mediated.grants = planned.queues;
    // Pattern queues are created as the caller: its own uid and primary gid.
    const platform::Identity& caller = plan.identities.account(planned.name).identity;
    mediated.uid = caller.uid;
    mediated.gid = caller.gid;
    mediated.msg_max = plan.kernel.limits.msg_max;
    mediated.msgsize_max = plan.kernel.limits.msgsize_max;
    mediated.complain = service.confinement == config::Confinement::Complain;
    mediated.need_for_syscall = [&service](const std::string& syscall) {
      return need_for_syscall(service, syscall);
    };
    services_.emplace(planned.name, std::move(mediated));
    logs_.emplace(planned.name, std::make_unique<DenialLog>(planned.name));
  }
}

ListenerHandler MediationServer::handler() {
  return [this](Supervisor& supervisor, const std::string& name, pid_t,
                platform::UniqueFd listener) { serve(supervisor, name, std::move(listener)); };
}

void MediationServer::flush() {
  for (auto& [name, log] : logs_) log->flush();
}

void MediationServer::route_denials(const DenialLog::Route& route) {
  for (auto& [name, log] : logs_) log->route_to(route);
}

void MediationServer::serve(Supervisor& supervisor, const std::string& name,
                            platform::UniqueFd listener) {
  const MediatedService& service = services_.at(name);
  DenialLog& log = *logs_.at(name);
  // Shared by the handler and the flush timer, which may outlive the listener.
  auto owned = std::make_shared<platform::UniqueFd>(std::move(listener));
  auto flush_pending = std::make_shared<bool>(false);
  const int fd = owned->get();
  auto watched = supervisor.watch(
      fd, EPOLLIN, [&supervisor, &service, &log, owned, flush_pending](std::uint32_t events,
                                                                       Supervisor::WatchId self) {
        if ((events & EPOLLIN) != 0) handle_notification(owned->get(), service, log);
        // What the rate limit held back is counted in a line once the interval has passed,
        // also when the service goes quiet (a timer only while something is held back).
        if (log.suppressed() > 0 && !*flush_pending) {
          *flush_pending = true;
          supervisor.after(std::chrono::duration_cast<std::chrono::milliseconds>(log.interval()),
                           [&log, flush_pending] {
                             *flush_pending = false;
                             log.flush();
                           });
        }
        if ((events & (EPOLLHUP | EPOLLERR)) != 0) {
          log.flush();
          supervisor.unwatch(self);
          owned->reset();
        }
      });
  if (!watched) {
    // The service's mediated calls will fail with ENOSYS; say why.
    log_error("cannot watch the seccomp listener")
        .field("service", name)
        .field("error", watched.error().describe());
  }
}

}  // namespace ipcrt::runtime
