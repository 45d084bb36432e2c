#include "runtime/notify_sockets.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "common/log.hpp"
#include "common/text.hpp"

namespace ipcrt::runtime {
namespace {

// Datagrams read per wake-up of one socket: a service that floods its socket gets the loop
// back after these (epoll is level-triggered: the rest waits for the next turn).
constexpr int kDatagramsPerEvent = 64;
// Descriptors a sender may attach (FDSTORE=1 and the like): received and closed at once.
constexpr std::size_t kMaxAttachedFds = 16;
constexpr std::chrono::seconds kRefusalLineInterval{1};

void set_variable(std::vector<std::string>& environment, const std::string& name,
                  const std::string& value) {
  std::erase_if(environment,
                [&](const std::string& entry) { return entry.starts_with(name + "="); });
  environment.push_back(name + "=" + value);
}

// "pid:[4026532201]" of /proc/<pid>/ns/pid, or the errno of reading it.
std::expected<std::string, int> pid_namespace_of(pid_t pid) {
  char link[64];
  const std::string path = cat("/proc/", pid, "/ns/pid");
  const ssize_t n = ::readlink(path.c_str(), link, sizeof link);
  if (n < 0) return std::unexpected(errno);
  if (n == 0 || static_cast<std::size_t>(n) >= sizeof link) return std::unexpected(EINVAL);
  return std::string(link, static_cast<std::size_t>(n));
}

Result<platform::UniqueFd> bind_socket(const std::string& path, const NotifyTarget& target) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) {
    return fail(
        cat("notify socket ", path, ": longer than ", sizeof address.sun_path - 1, " bytes"),
        "shorten the manifest or service name");
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  platform::UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return fail_errno(cat("socket for ", path));
  // Left by a runtime that was killed: the directory is ours (checked), so is what is in it.
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return fail_errno(cat("unlink ", path));
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return fail_errno(cat("bind ", path));
  }
  const int on = 1;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0) {
    return fail_errno(cat("SO_PASSCRED on ", path));
  }
  // connect(2) needs write permission on the socket: the service's alone. A runtime that may
  // not chown (not root) keeps it its own, which its services then share.
  if (::chown(path.c_str(), target.uid, target.gid) != 0 && errno != EPERM) {
    return fail_errno(cat("chown ", path));
  }
  if (::chmod(path.c_str(), 0600) != 0) return fail_errno(cat("chmod ", path));
  return fd;
}

}  // namespace

std::string notify_directory(std::string_view run_dir, std::string_view manifest) {
  return cat(run_dir, "/", manifest, ".notify");
}

void attach_notify_socket(LaunchSpec& spec, const std::string& host_path,
                          std::optional<std::chrono::milliseconds> watchdog) {
  if (spec.sandboxed) {
    spec.sandbox.notify_socket = host_path;
    spec.sandbox.staged_notify = cat(spec.sandbox.staging, "/", kNotifySocketName);
    set_variable(spec.environment, "NOTIFY_SOCKET", kNotifySocketInView);
  } else {
    set_variable(spec.environment, "NOTIFY_SOCKET", host_path);
  }
  std::erase_if(spec.environment, [](const std::string& entry) {
    return entry.starts_with("WATCHDOG_USEC=") || entry.starts_with("WATCHDOG_PID=");
  });
  if (watchdog) {
    set_variable(spec.environment, "WATCHDOG_USEC",
                 std::to_string(static_cast<unsigned long long>(watchdog->count()) * 1000));
    // The service is pid 2 of its namespace, under ipcrt's init (launch.cpp).
    if (spec.sandboxed) set_variable(spec.environment, "WATCHDOG_PID", "2");
  }
}

Result<std::unique_ptr<NotifySockets>> NotifySockets::create(
    const std::string& directory, const std::vector<NotifyTarget>& targets) {
  std::unique_ptr<NotifySockets> sockets(new NotifySockets());
  if (targets.empty()) return sockets;
  if (::mkdir(directory.c_str(), 0711) != 0 && errno != EEXIST) {
    return fail_errno(cat("mkdir ", directory));
  }
  struct stat info {};
  if (::lstat(directory.c_str(), &info) != 0) return fail_errno(cat("lstat ", directory));
  if (!S_ISDIR(info.st_mode) || info.st_uid != ::geteuid()) {
    return fail(cat(directory, " is not a directory of the runtime's"),
                cat("remove it: rm -r ", directory));
  }
  if (::chmod(directory.c_str(), 0711) != 0) return fail_errno(cat("chmod ", directory));
  sockets->directory_ = directory;
  for (const auto& target : targets) {
    auto endpoint = std::make_unique<Endpoint>();
    endpoint->target = target;
    endpoint->path = cat(directory, "/", target.service);
    auto fd = bind_socket(endpoint->path, target);
    if (!fd) return std::unexpected(fd.error());  // the destructor removes what was made
    endpoint->fd = std::move(*fd);
    sockets->endpoints_.push_back(std::move(endpoint));
  }
  return sockets;
}

NotifySockets::~NotifySockets() {
  for (const auto& endpoint : endpoints_) ::unlink(endpoint->path.c_str());
  endpoints_.clear();
  if (!directory_.empty()) ::rmdir(directory_.c_str());
}

std::string NotifySockets::path_of(const std::string& service) const {
  for (const auto& endpoint : endpoints_) {
    if (endpoint->target.service == service) return endpoint->path;
  }
  return {};
}

unsigned long long NotifySockets::refused() const {
  unsigned long long total = 0;
  for (const auto& endpoint : endpoints_) total += endpoint->refused;
  return total;
}

Status NotifySockets::attach(Supervisor& supervisor) {
  supervisor_ = &supervisor;
  for (auto& endpoint : endpoints_) {
    if (auto watched = watch(*endpoint); !watched) return watched;
  }
  return {};
}

Status NotifySockets::watch(Endpoint& endpoint) {
  Endpoint* watched = &endpoint;
  Supervisor* supervisor = supervisor_;
  auto id = supervisor->watch(endpoint.fd.get(), EPOLLIN,
                              [this, supervisor, watched](std::uint32_t, Supervisor::WatchId) {
                                on_readable(*supervisor, *watched);
                              });
  if (!id) return std::unexpected(id.error().wrap(cat("notify socket ", endpoint.path)));
  endpoint.watch = *id;
  return {};
}

Status NotifySockets::add(const std::string& directory, const NotifyTarget& target) {
  for (auto it = endpoints_.begin(); it != endpoints_.end(); ++it) {
    const NotifyTarget& had = (*it)->target;
    if (had.service != target.service) continue;
    if (had.uid == target.uid && had.gid == target.gid && had.sandboxed == target.sandboxed) {
      return {};
    }
    if ((*it)->watch && supervisor_ != nullptr) supervisor_->unwatch(*(*it)->watch);
    ::unlink((*it)->path.c_str());
    endpoints_.erase(it);
    break;
  }
  if (directory_.empty()) {
    if (::mkdir(directory.c_str(), 0711) != 0 && errno != EEXIST) {
      return fail_errno(cat("mkdir ", directory));
    }
    directory_ = directory;
  }
  auto endpoint = std::make_unique<Endpoint>();
  endpoint->target = target;
  endpoint->path = cat(directory_, "/", target.service);
  auto fd = bind_socket(endpoint->path, target);
  if (!fd) return std::unexpected(fd.error());
  endpoint->fd = std::move(*fd);
  if (supervisor_ != nullptr) {
    if (auto watched = watch(*endpoint); !watched) return watched;
  }
  endpoints_.push_back(std::move(endpoint));
  return {};
}

void NotifySockets::drain(const std::string& service) {
  for (auto& endpoint : endpoints_) {
    if (endpoint->target.service != service) continue;
    // Bounded: a leftover process of a confinement-off service that keeps sending must not
    // hold the loop here (what it sends later is judged by its credentials as ever).
    std::array<char, 64> discard;
    for (int i = 0; i < kDatagramsPerEvent * 16; ++i) {
      if (::recv(endpoint->fd.get(), discard.data(), discard.size(), MSG_DONTWAIT | MSG_TRUNC) <
          0) {
        break;
      }
    }
  }
}

void NotifySockets::refuse(Endpoint& endpoint, pid_t pid, uid_t uid, const std::string& reason) {
  ++endpoint.refused;
  ++endpoint.unlogged;
  // A line a second at most: whoever may reach the socket cannot flood the log with it.
  const auto now = std::chrono::steady_clock::now();
  if (endpoint.last_line != std::chrono::steady_clock::time_point{} &&
      now - endpoint.last_line < kRefusalLineInterval) {
    return;
  }
  auto line = log_warn("notify refused");
  line.field("service", endpoint.target.service).field("pid", pid).field("uid", uid);
  line.field("reason", reason);
  if (endpoint.unlogged > 1) line.field("suppressed", endpoint.unlogged - 1);
  endpoint.unlogged = 0;
  endpoint.last_line = now;
}

void NotifySockets::on_readable(Supervisor& supervisor, Endpoint& endpoint) {
  for (int i = 0; i < kDatagramsPerEvent; ++i) {
    std::array<char, kNotifyDatagramMax> buffer;
    alignas(cmsghdr) char
        control[CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(sizeof(int) * kMaxAttachedFds)];
    iovec io{buffer.data(), buffer.size()};
    msghdr message{};
    message.msg_iov = &io;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    const ssize_t n =
        ::recvmsg(endpoint.fd.get(), &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
    if (n < 0) return;  // EAGAIN: read it all
    const ucred* credentials = nullptr;
    for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
         header = CMSG_NXTHDR(&message, header)) {
      if (header->cmsg_level != SOL_SOCKET) continue;
      if (header->cmsg_type == SCM_CREDENTIALS && header->cmsg_len == CMSG_LEN(sizeof(ucred))) {
        credentials = reinterpret_cast<const ucred*>(CMSG_DATA(header));
      } else if (header->cmsg_type == SCM_RIGHTS) {
        // ipcrt keeps no descriptors for services (no FDSTORE): never leak one.
        const std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t k = 0; k < count; ++k) {
          int fd = -1;
          std::memcpy(&fd, CMSG_DATA(header) + k * sizeof(int), sizeof fd);
          if (fd >= 0) ::close(fd);
        }
      }
    }
    const std::string& service = endpoint.target.service;
    if (credentials == nullptr) {
      refuse(endpoint, 0, 0, "no sender credentials");
      continue;
    }
    if (credentials->uid != endpoint.target.uid) {
      refuse(endpoint, credentials->pid, credentials->uid,
             cat("the sender's uid is not the service's (", endpoint.target.uid, ")"));
      continue;
    }
    if (endpoint.target.sandboxed) {
      // A sender that has exited already (systemd-notify) is judged by its uid alone: the
      // socket is reachable only from the service's view and the uid is the service's.
      const pid_t main = supervisor.main_pid(service);
      const auto sender_ns = pid_namespace_of(credentials->pid);
      if (sender_ns || sender_ns.error() != ENOENT) {
        const auto service_ns =
            main > 0 ? pid_namespace_of(main) : std::expected<std::string, int>();
        if (!sender_ns || !service_ns || main <= 0 || *sender_ns != *service_ns) {
          refuse(endpoint, credentials->pid, credentials->uid,
                 "the sender is not in the service's pid namespace");
          continue;
        }
      }
    }
    if ((message.msg_flags & MSG_TRUNC) != 0 || static_cast<std::size_t>(n) > buffer.size()) {
      refuse(endpoint, credentials->pid, credentials->uid,
             cat("datagram longer than ", kNotifyDatagramMax, " bytes"));
      continue;
    }
    auto parsed = parse_notify(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
    if (!parsed) {
      refuse(endpoint, credentials->pid, credentials->uid, "datagram with a NUL byte");
      continue;
    }
    supervisor.notified(service, *parsed);
  }
}

}  // namespace ipcrt::runtime
