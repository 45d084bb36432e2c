// What `plan` and `limits` print: human text and the JSON of SPEC §7.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "config/manifest.hpp"
#include "runtime/plan.hpp"

namespace ipcrt::runtime {

// "uid:gid" that will own `queue`: the slot service's uid and the slot's group; empty when
// planned without identities.
[[nodiscard]] std::string queue_owner(const Plan& plan, const PlannedQueue& queue);

// What `plan` shows of a service beyond its grants, from what its launch would use: the whole
// environment (service_environment) and the filesystem view (describe_view).
struct ServiceDetail {
  std::vector<std::pair<std::string, std::string>> environment;
  std::vector<std::string> view;
};
// By service name; a service missing from it shows the runtime's variables and no view.
using ServiceViews = std::map<std::string, ServiceDetail>;

[[nodiscard]] std::string render_plan_text(const Plan& plan, const ServiceViews& views = {});
[[nodiscard]] std::string render_plan_json(const Plan& plan, const ServiceViews& views = {});

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
