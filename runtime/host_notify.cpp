#include "runtime/host_notify.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/log.hpp"
#include "common/text.hpp"

namespace ipcrt::runtime {

std::string host_status_text(const std::vector<ServiceStatus>& services) {
  std::size_t ready = 0;
  std::vector<std::string> failed;
  for (const auto& service : services) {
    if (service.state == ServiceState::Running) ++ready;
    if (service.state == ServiceState::Failed) failed.push_back(service.name);
  }
  std::string text = ready == services.size()
                         ? cat(ready, ready == 1 ? " service ready" : " services ready")
                         : cat(ready, " of ", services.size(), " services ready");
  if (!failed.empty()) text += cat("; failed: ", join(failed, ", "));
  return text;
}

void HostNotifier::send(const std::string& text) {
  if (client_.send(text)) return;
  // The host's systemd is gone or its socket full: nothing to wait for; said once.
  if (!failure_logged_) {
    const char* error = ::strerrorname_np(errno);
    log_warn("host notify failed")
        .field("socket", client_.socket())
        .field("errno", error != nullptr ? error : "?")
        .field("hint",
               "NOTIFY_SOCKET is set but nobody receives there: unset it, or run ipcrt "
               "under its unit (dist/systemd/ipcrt@.service)");
    failure_logged_ = true;
  }
}

void HostNotifier::attach(Supervisor& supervisor) {
  if (!enabled() || client_.watchdog_usec() == 0) return;
  ping(supervisor);
}

void HostNotifier::ping(Supervisor& supervisor) {
  send("WATCHDOG=1");
  const auto half = std::chrono::microseconds(client_.watchdog_usec() / 2);
  supervisor.after(
      std::max(std::chrono::ceil<std::chrono::milliseconds>(half), std::chrono::milliseconds(1)),
      [this, &supervisor] { ping(supervisor); });
}

void HostNotifier::update(Supervisor& supervisor) {
  if (!enabled()) return;
  if (supervisor.shutting_down()) {
    if (!stopping_sent_) {
      send("STOPPING=1\nSTATUS=stopping");
      stopping_sent_ = true;
    }
    return;
  }
  if (!dirty_) return;
  dirty_ = false;
  std::string status = host_status_text(supervisor.status());
  if (!ready_sent_ && supervisor.settled()) {
    send(cat("READY=1\nSTATUS=", status));
    ready_sent_ = true;
    last_status_ = std::move(status);
    return;
  }
  if (status != last_status_) {
    send(cat("STATUS=", status));
    last_status_ = std::move(status);
  }
}

}  // namespace ipcrt::runtime
