#include "runtime/control/admission.hpp"

#include <algorithm>

namespace ipcrt::runtime::control {
namespace {

// The candidate idle the longest among those `eligible` accepts.
template <class Eligible>
std::optional<std::uint64_t> longest_idle(const std::vector<OpenClient>& open, Eligible eligible) {
  const OpenClient* oldest = nullptr;
  for (const auto& client : open) {
    if (!eligible(client)) continue;
    if (oldest == nullptr || client.last_active < oldest->last_active) oldest = &client;
  }
  if (oldest == nullptr) return std::nullopt;
  return oldest->id;
}

Admission admitted(std::optional<std::uint64_t> evict = std::nullopt) {
  return Admission{true, evict};
}

}  // namespace

Admission admit(const std::vector<OpenClient>& open, uid_t uid, bool root,
                const AdmissionLimits& limits) {
  if (!root) {
    const auto same_uid = std::count_if(open.begin(), open.end(), [&](const OpenClient& client) {
      return !client.root && client.uid == uid;
    });
    if (static_cast<std::size_t>(same_uid) >= limits.per_uid) {
      // Closing one of its own also frees a place among all clients: one eviction is enough.
      auto victim = longest_idle(open, [&](const OpenClient& client) {
        return !client.root && client.uid == uid && !client.busy;
      });
      return victim ? admitted(victim) : Admission{};
    }
    const auto others = std::count_if(open.begin(), open.end(),
                                      [](const OpenClient& client) { return !client.root; });
    const bool full =
        open.size() >= limits.clients || static_cast<std::size_t>(others) + 1 >= limits.clients;
    if (!full) return admitted();
    // Only a non-root connection frees a place that a non-root newcomer may take.
    auto victim =
        longest_idle(open, [](const OpenClient& client) { return !client.root && !client.busy; });
    return victim ? admitted(victim) : Admission{};
  }
  if (open.size() < limits.clients) return admitted();
  auto victim = longest_idle(open, [](const OpenClient& client) { return !client.busy; });
  if (!victim) {
    victim = longest_idle(open, [](const OpenClient& client) { return !client.root; });
  }
  return victim ? admitted(victim) : Admission{};
}

}  // namespace ipcrt::runtime::control
