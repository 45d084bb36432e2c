// Peer credentials and placement: getsockopt on the connection, then /proc of the peer, read
// while a pidfd pins the process so that its pid cannot be reused under the reads.
#include "runtime/control/access.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "common/text.hpp"
#include "platform/pidfd.hpp"
#include "platform/process.hpp"

namespace ipcrt::runtime::control {
namespace {

// SO_PEERPIDFD (Linux 6.5, asm-generic value): a pidfd of the process that connected, so the
// checks below cannot be fooled by a pid reused after the peer exited. Older kernels answer
// ENOPROTOOPT and the pid from SO_PEERCRED is opened instead.
constexpr int kSoPeerPidfd = 77;
// A process tree is never deeper than this; the walk stops rather than loop on a cycle that a
// pid reuse could make in theory.
constexpr int kMaxAncestry = 4096;
// getgroups(2)'s NGROUPS_MAX.
constexpr std::size_t kMaxGroups = 65536;

Result<std::vector<gid_t>> peer_groups(int fd) {
  std::vector<gid_t> groups(64);
  for (;;) {
    auto length = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &length) == 0) {
      groups.resize(length / sizeof(gid_t));
      return groups;
    }
    if (errno != ERANGE || length / sizeof(gid_t) > kMaxGroups ||
        length / sizeof(gid_t) <= groups.size()) {
      return fail_errno("getsockopt SO_PEERGROUPS");
    }
    groups.resize(length / sizeof(gid_t));
  }
}

platform::UniqueFd pin_process(int fd, pid_t pid) {
  int pidfd = -1;
  socklen_t length = sizeof pidfd;
  if (::getsockopt(fd, SOL_SOCKET, kSoPeerPidfd, &pidfd, &length) == 0 && pidfd >= 0) {
    return platform::UniqueFd(pidfd);
  }
  auto opened = platform::pidfd_open(pid);
  return opened ? std::move(*opened) : platform::UniqueFd();
}

std::optional<ino_t> namespace_inode(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return std::nullopt;
  return info.st_ino;
}

// Empty when `pid` runs on the host; else why not.
std::string sandbox_reason(pid_t pid) {
  const pid_t self = ::getpid();
  if (pid == self) return {};  // the runtime itself
  auto own = namespace_inode("/proc/self/ns/pid");
  auto theirs = namespace_inode(cat("/proc/", pid, "/ns/pid"));
  if (!own || !theirs) return "its pid namespace cannot be read";
  if (*own != *theirs) return "it runs in another pid namespace";
  pid_t current = pid;
  for (int step = 0; step < kMaxAncestry; ++step) {
    auto stat = platform::read_process_stat(current);
    if (!stat) return "its ancestry cannot be read";
    // As PID 1 every process descends from the runtime: on such a device everything but the
    // kernel is a service or was started by one.
    if (stat->parent == self) return cat("it descends from the runtime (pid ", self, ")");
    if (stat->parent <= 1) return {};
    current = stat->parent;
  }
  return "its ancestry is deeper than any process tree";
}

}  // namespace

const char* access_level_name(AccessLevel level) {
  switch (level) {
    case AccessLevel::None:
      return "none";
    case AccessLevel::Observe:
      return "observe";
    case AccessLevel::Manage:
      return "manage";
    case AccessLevel::Root:
      return "root";
  }
  return "none";
}

Result<SocketPeer> read_socket_peer(int fd) {
  ucred credentials{};
  socklen_t length = sizeof credentials;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) {
    return fail_errno("getsockopt SO_PEERCRED");
  }
  SocketPeer peer;
  peer.pid = credentials.pid;
  peer.uid = credentials.uid;
  peer.gid = credentials.gid;
  auto groups = peer_groups(fd);
  if (!groups) return std::unexpected(groups.error());
  peer.groups = std::move(*groups);
  const platform::UniqueFd pinned = pin_process(fd, peer.pid);
  peer.sandboxed_because = sandbox_reason(peer.pid);
  // The reads above were of the peer only if it still lives: a live process keeps its pid.
  if (peer.sandboxed_because.empty() &&
      (!pinned.valid() || !platform::pidfd_send_signal(pinned.get(), 0))) {
    peer.sandboxed_because = "it exited before it could be checked";
  }
  return peer;
}

AccessLevel socket_peer_access(const SocketPeer& peer, std::optional<gid_t> control_group) {
  if (!peer.sandboxed_because.empty()) return AccessLevel::None;
  if (peer.uid == 0) return AccessLevel::Root;
  if (control_group &&
      (peer.gid == *control_group ||
       std::find(peer.groups.begin(), peer.groups.end(), *control_group) != peer.groups.end())) {
    return AccessLevel::Observe;
  }
  return AccessLevel::None;
}

std::string access_explanation(const SocketPeer& peer, AccessLevel level,
                               std::optional<gid_t> control_group) {
  if (!peer.sandboxed_because.empty()) {
    return cat("pid ", peer.pid, " counts as inside a service's sandbox (", peer.sandboxed_because,
               "): services reach the runtime only through an ipcrt-control plug");
  }
  if (level == AccessLevel::Observe) {
    return cat("uid ", peer.uid,
               " may only read, as a member of the control group: run it as root");
  }
  if (!control_group) {
    return cat("uid ", peer.uid,
               " may not use this runtime: run it as root, or set \"control\": {\"group\": ...} "
               "in the manifest and add the user to that group to let it read");
  }
  return cat("uid ", peer.uid, " is not in the control group (gid ", *control_group,
             "): run it as root, or add the user to that group to let it read");
}

}  // namespace ipcrt::runtime::control
