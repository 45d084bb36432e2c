// The sd_notify datagram protocol (SPEC §11), both ways: what a service's datagram says
// (parse_notify), and sending one to a host systemd's $NOTIFY_SOCKET (NotifyClient).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "platform/fd.hpp"

namespace ipcrt::runtime {

// The largest datagram read from a service: systemd's own bound (PIPE_BUF). Longer ones are
// refused whole rather than read in part.
inline constexpr std::size_t kNotifyDatagramMax = 4096;

// One datagram of the sd_notify protocol: newline-separated assignments. Only what the
// supervisor acts on; MAINPID= and anything else is ignored.
struct NotifyMessage {
  bool ready = false;                 // READY=1
  bool stopping = false;              // STOPPING=1
  bool watchdog = false;              // WATCHDOG=1
  bool watchdog_trigger = false;      // WATCHDOG=trigger: fail as on a missed watchdog
  std::optional<std::string> status;  // STATUS=... (the last one of the datagram)
};

// Parses one datagram; nullopt for one with a NUL byte (as systemd, which refuses those).
[[nodiscard]] std::optional<NotifyMessage> parse_notify(std::string_view datagram);

// The sending side, as a service's sd_notify() does it, for ipcrt under a host systemd: the
// address from NOTIFY_SOCKET (a path, or `@name` for the abstract namespace), one non-blocking
// datagram socket. Sending never waits: a full or absent receiver loses the datagram, which
// send() reports.
class NotifyClient {
 public:
  // From ipcrt's own environment: NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID, which it then
  // removes (as sd_notify's unset_environment), so nothing ipcrt runs can inherit them.
  [[nodiscard]] static NotifyClient from_environment();
  explicit NotifyClient(std::string socket = {}) : socket_(std::move(socket)) {}

  [[nodiscard]] bool enabled() const { return !socket_.empty(); }
  [[nodiscard]] const std::string& socket() const { return socket_; }
  // WATCHDOG_USEC when it was set for this process (WATCHDOG_PID unset or ours); 0 if none.
  [[nodiscard]] unsigned long long watchdog_usec() const { return watchdog_usec_; }

  // One datagram; false (errno set) when it could not be sent.
  bool send(std::string_view text);

 private:
  std::string socket_;
  unsigned long long watchdog_usec_ = 0;
  platform::UniqueFd fd_;
};

}  // namespace ipcrt::runtime
