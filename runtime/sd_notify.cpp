#include "runtime/sd_notify.hpp"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace ipcrt::runtime {

std::optional<NotifyMessage> parse_notify(std::string_view datagram) {
  if (datagram.find('\0') != std::string_view::npos) return std::nullopt;
  NotifyMessage message;
  while (!datagram.empty()) {
    const auto end = datagram.find('\n');
    const std::string_view line = datagram.substr(0, end);
    datagram = end == std::string_view::npos ? std::string_view() : datagram.substr(end + 1);
    if (line == "READY=1") {
      message.ready = true;
    } else if (line == "STOPPING=1") {
      message.stopping = true;
    } else if (line == "WATCHDOG=1") {
      message.watchdog = true;
    } else if (line == "WATCHDOG=trigger") {
      message.watchdog_trigger = true;
    } else if (line.starts_with("STATUS=")) {
      message.status = std::string(line.substr(7));
    }
    // MAINPID=: the main process is the one ipcrt started (SPEC §11); RELOADING=, ERRNO=,
    // EXTEND_TIMEOUT_USEC=, FDSTORE= and the rest: not supported, ignored as systemd
    // ignores what it does not know.
  }
  return message;
}

NotifyClient NotifyClient::from_environment() {
  NotifyClient client;
  if (const char* socket = ::getenv("NOTIFY_SOCKET"); socket != nullptr) client.socket_ = socket;
  const char* usec = ::getenv("WATCHDOG_USEC");
  const char* pid = ::getenv("WATCHDOG_PID");
  bool ours = true;
  if (pid != nullptr) {
    long value = 0;
    const std::string_view text(pid);
    auto parsed = std::from_chars(text.data(), text.data() + text.size(), value);
    ours = parsed.ec == std::errc() && value == ::getpid();
  }
  if (usec != nullptr && ours) {
    const std::string_view text(usec);
    unsigned long long value = 0;
    auto parsed = std::from_chars(text.data(), text.data() + text.size(), value);
    if (parsed.ec == std::errc() && parsed.ptr == text.data() + text.size()) {
      client.watchdog_usec_ = value;
    }
  }
  for (const char* name : {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"}) ::unsetenv(name);
  return client;
}

bool NotifyClient::send(std::string_view text) {
  if (socket_.empty()) {
    errno = ENOTCONN;
    return false;
  }
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_.size() >= sizeof address.sun_path || (socket_[0] != '/' && socket_[0] != '@')) {
    errno = EINVAL;
    return false;
  }
  std::memcpy(address.sun_path, socket_.data(), socket_.size());
  socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_.size());
  if (socket_[0] == '@') {
    address.sun_path[0] = '\0';  // abstract: no terminating NUL counts
  } else {
    length += 1;
  }
  if (!fd_.valid()) {
    fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd_.valid()) return false;
  }
  const ssize_t sent = ::sendto(fd_.get(), text.data(), text.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
                                reinterpret_cast<const sockaddr*>(&address), length);
  return sent == static_cast<ssize_t>(text.size());
}

}  // namespace ipcrt::runtime
