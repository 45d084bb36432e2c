// Who may do what on the control socket (SPEC §10). A connection's level is fixed when it is
// made: from the peer's credentials (SO_PEERCRED, SO_PEERGROUPS) and where it runs for one
// that connected to the socket, or from the plug's `access` for a service's ipcrt-control
// connection, which the runtime made itself.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace ipcrt::runtime::control {

// Ordered: each level may do what the ones below it may.
enum class AccessLevel {
  None,     // introspection only (org.varlink.service)
  Observe,  // status, connections, queues, logs, metrics
  Manage,   // also start, stop, restart services
  Root,     // also shutdown and reload: the host's root
};

// "none", "observe", "manage", "root".
[[nodiscard]] const char* access_level_name(AccessLevel level);

// A process that connected to the socket.
struct SocketPeer {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary, when it connected
  // Why it counts as running inside a service's sandbox; empty when it runs on the host.
  std::string sandboxed_because;
};

// Reads the peer of an accepted connection and where it runs. A process counts as inside a
// service when it descends from the runtime (every service and every orphan of one is the
// runtime's child or a descendant of one: the runtime is their subreaper), or runs in another
// pid namespace. What cannot be checked counts as inside: the peer is then never root.
[[nodiscard]] Result<SocketPeer> read_socket_peer(int fd);

// The level of a socket peer: root for uid 0 on the host, observe for a member of the control
// group (primary or supplementary), none for anyone else and for everything in a sandbox.
[[nodiscard]] AccessLevel socket_peer_access(const SocketPeer& peer,
                                             std::optional<gid_t> control_group);

// Why `peer` has `level` and not more, for PermissionDenied: "uid 1000 is not in the control
// group 1001".
[[nodiscard]] std::string access_explanation(const SocketPeer& peer, AccessLevel level,
                                             std::optional<gid_t> control_group);

}  // namespace ipcrt::runtime::control
