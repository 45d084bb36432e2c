// What `plan` and `limits` print: human text and the JSON of SPEC §7.
#pragma once

#include <string>

#include "config/manifest.hpp"
#include "runtime/plan.hpp"

namespace ipcrt::runtime {

// "uid:gid" that will own `queue`: the slot service's uid and the slot's group; empty when
// planned without identities.
[[nodiscard]] std::string queue_owner(const Plan& plan, const PlannedQueue& queue);

[[nodiscard]] std::string render_plan_text(const Plan& plan);
[[nodiscard]] std::string render_plan_json(const Plan& plan);

// Usage as far as the runtime can see it: every queue counts toward queues_max; bytes are
// those of queues owned by this uid (the kernel charges the creator, which it does not show).
struct LimitsUsage {
  long queues = 0;
  std::uint64_t charged_bytes = 0;
};
[[nodiscard]] LimitsUsage limits_usage(const KernelState& kernel);

[[nodiscard]] std::string render_limits_text(const KernelState& kernel);
[[nodiscard]] std::string render_limits_json(const KernelState& kernel);

}  // namespace ipcrt::runtime
