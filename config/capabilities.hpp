// SPEC §4a `capabilities`: the short allowlist a service may keep (as ambient capabilities), and
// for every other Linux capability the reason it is refused: how it would let a service leave
// its sandbox, reach other services or the host, or undermine the supervisor.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace ipcrt::config {

struct CapabilityInfo {
  std::string_view name;     // capabilities(7) without "CAP_", lower-case: "net_bind_service"
  int number;                // CAP_*
  std::string_view refusal;  // empty: allowed; else why a service may not have it
};

// Every capability of Linux 5.10 to 6.x (CAP_CHOWN .. CAP_CHECKPOINT_RESTORE), in number order.
[[nodiscard]] std::span<const CapabilityInfo> capability_table();

// A manifest's name for a capability: case-insensitive, "cap_" optional ("NET_RAW",
// "CAP_NET_RAW", "net_raw"). nullptr when Linux has no such capability.
[[nodiscard]] const CapabilityInfo* find_capability(std::string_view written);

// "net_bind_service, net_raw, ...": the allowlist, for messages.
[[nodiscard]] std::string allowed_capability_names();

}  // namespace ipcrt::config
