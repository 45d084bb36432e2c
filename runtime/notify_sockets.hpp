// The receiving ends of the notify services' sockets (SPEC §11). Each `type: notify` service
// gets an AF_UNIX datagram socket of its own, bound by the runtime under
// /run/ipcrt/<manifest>.notify/ (a directory services cannot see: /run/ipcrt is masked in
// their views) and bound into the service's private /dev as kNotifySocketInView. The runtime
// reads it in the supervisor's loop, non-blocking, at most kNotifyDatagramMax bytes a
// datagram; a datagram counts for the service whose socket it arrived on (so a short-lived
// `systemd-notify` helper counts) and only if the kernel's SCM_CREDENTIALS say it came from
// one of the service's processes: the service's uid, and while the sender still exists, the
// service's pid namespace.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "platform/fd.hpp"
#include "runtime/launch.hpp"
#include "runtime/supervisor.hpp"

namespace ipcrt::runtime {

// NOTIFY_SOCKET of a sandboxed service: in its own /dev, which no other view holds.
inline constexpr const char* kNotifySocketName = "ipcrt-notify";
inline constexpr const char* kNotifySocketInView = "/dev/ipcrt-notify";

// One notify service: whose socket, and who may send on it.
struct NotifyTarget {
  std::string service;
  uid_t uid = 0;
  gid_t gid = 0;
  bool sandboxed = true;  // in a pid namespace of its own: senders must be in it
};

// "/run/ipcrt/<manifest>.notify": where the sockets of a manifest's services are bound.
[[nodiscard]] std::string notify_directory(std::string_view run_dir, std::string_view manifest);

// Gives `spec` its notify socket at `host_path`: bound into its /dev when sandboxed,
// NOTIFY_SOCKET, and with a watchdog WATCHDOG_USEC and WATCHDOG_PID (2, the pid it has in its
// own pid namespace; unset without one, which sd_watchdog_enabled() accepts). Replaces
// entries of those names from the manifest's environment.
void attach_notify_socket(LaunchSpec& spec, const std::string& host_path,
                          std::optional<std::chrono::milliseconds> watchdog);

class NotifySockets {
 public:
  // Binds one socket per target in `directory` (created 0711: a confinement-off service
  // reaches its socket by the host path; each socket is 0600, owned by its service).
  [[nodiscard]] static Result<std::unique_ptr<NotifySockets>> create(
      const std::string& directory, const std::vector<NotifyTarget>& targets);
  NotifySockets(const NotifySockets&) = delete;
  NotifySockets& operator=(const NotifySockets&) = delete;
  ~NotifySockets();  // removes the sockets and the directory

  // The host path of `service`'s socket; "" if it has none.
  [[nodiscard]] std::string path_of(const std::string& service) const;
  // Reads every socket in `supervisor`'s loop and hands what is accepted to notified().
  [[nodiscard]] Status attach(Supervisor& supervisor);
  // A reload's (SPEC §12): a socket for a new notify service, or bound again for one whose
  // user changed; nothing for one that has it already.
  [[nodiscard]] Status add(const std::string& directory, const NotifyTarget& target);
  // Discards what waits on `service`'s socket: before each launch, so a datagram of the run
  // before cannot make the new one ready.
  void drain(const std::string& service);
  // Datagrams refused so far, over all sockets (tests, metrics).
  [[nodiscard]] unsigned long long refused() const;

 private:
  struct Endpoint {
    NotifyTarget target;
    std::string path;
    platform::UniqueFd fd;
    unsigned long long refused = 0;
    unsigned long long unlogged = 0;  // refusals since the last line
    std::chrono::steady_clock::time_point last_line{};
    std::optional<Supervisor::WatchId> watch;
  };

  NotifySockets() = default;
  void on_readable(Supervisor& supervisor, Endpoint& endpoint);
  [[nodiscard]] Status watch(Endpoint& endpoint);
  void refuse(Endpoint& endpoint, pid_t pid, uid_t uid, const std::string& reason);

  std::string directory_;
  // Heap nodes: handlers registered with the supervisor keep pointers to them.
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  Supervisor* supervisor_ = nullptr;  // once attached
};

}  // namespace ipcrt::runtime
