// Which connections the control socket keeps (SPEC §10): at most 16 clients, at most 4 per
// non-root uid, one slot always kept for root; when a newcomer finds no room, the connection
// idle the longest is closed to make it. Pure, so the policy is tested without sockets.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace ipcrt::runtime::control {

struct AdmissionLimits {
  std::size_t clients = 16;
  std::size_t per_uid = 4;
};

// One connection already open. Service plug connections are not counted: each service has at
// most one, made by the runtime, and it must not be closed to make room for a socket client.
struct OpenClient {
  std::uint64_t id = 0;
  uid_t uid = 0;
  bool root = false;  // the host's root (AccessLevel::Root), for whom one slot is kept
  bool busy = false;  // a call in progress or replies not yet read: not idle
  std::chrono::steady_clock::time_point last_active{};
};

struct Admission {
  bool admitted = false;
  std::optional<std::uint64_t> evict;  // close this one first
};

// Whether a newcomer (`uid`, `root`) gets in. Only idle connections are closed for a newcomer,
// except that root may close the longest-idle busy connection of a non-root client: the root
// slot must always be reachable.
[[nodiscard]] Admission admit(const std::vector<OpenClient>& open, uid_t uid, bool root,
                              const AdmissionLimits& limits = {});

}  // namespace ipcrt::runtime::control
