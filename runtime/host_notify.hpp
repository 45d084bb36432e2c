// ipcrt under a host systemd (SPEC §11): with NOTIFY_SOCKET in ipcrt's environment it tells
// its unit (Type=notify) READY=1 once every service is ready or has ended for good, with
// STATUS= naming any service that failed; STATUS= again when that changes; STOPPING=1 when it
// shuts down; and with WATCHDOG_USEC, WATCHDOG=1 from the supervisor's loop at half that
// interval, so a hung loop is what the host's watchdog sees.
#pragma once

#include <string>

#include "runtime/sd_notify.hpp"
#include "runtime/supervisor.hpp"

namespace ipcrt::runtime {

class HostNotifier {
 public:
  explicit HostNotifier(NotifyClient client) : client_(std::move(client)) {}

  [[nodiscard]] bool enabled() const { return client_.enabled(); }
  // Starts the watchdog pings (when WATCHDOG_USEC asks for them) on `supervisor`'s timers.
  void attach(Supervisor& supervisor);
  // A service changed state: the next update() looks again.
  void changed() { dirty_ = true; }
  // After each step of the loop (SupervisorOptions::after_update).
  void update(Supervisor& supervisor);

 private:
  void send(const std::string& text);
  void ping(Supervisor& supervisor);

  NotifyClient client_;
  bool dirty_ = true;
  bool ready_sent_ = false;
  bool stopping_sent_ = false;
  std::string last_status_;
  bool failure_logged_ = false;
};

// What STATUS= says of the services: "3 services ready", "2 of 3 services ready; failed:
// uploader".
[[nodiscard]] std::string host_status_text(const std::vector<ServiceStatus>& services);

}  // namespace ipcrt::runtime
