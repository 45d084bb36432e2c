// The supervisor's side of every mediated service (SPEC §6): one MediatedService and one
// rate-limited DenialLog per service, kept across restarts; each listener is served by the
// supervisor's epoll loop until the service's last task is gone (EPOLLHUP).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "config/manifest.hpp"
#include "runtime/mediation/notification.hpp"
#include "runtime/plan.hpp"
#include "runtime/supervisor.hpp"

namespace ipcrt::runtime {

class MediationServer {
 public:
  // Each service's credentials come from the plan's identities.
  MediationServer(const config::Manifest& manifest, const Plan& plan);
  MediationServer(const MediationServer&) = delete;
  MediationServer& operator=(const MediationServer&) = delete;

  // What the supervisor calls with each new listener.
  [[nodiscard]] ListenerHandler handler();
  // Writes every service's pending suppressed-denials line.
  void flush();
  // Every service's denial lines go to `route` (the log subsystem) instead of stderr.
  void route_denials(const DenialLog::Route& route);

 private:
  void serve(Supervisor& supervisor, const std::string& name, platform::UniqueFd listener);

  std::map<std::string, MediatedService> services_;
  std::map<std::string, std::unique_ptr<DenialLog>> logs_;
};

}  // namespace ipcrt::runtime
