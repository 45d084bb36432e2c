// cgroup v2 discovery and the mapping of `resources` onto cgroup files.
#include "runtime/cgroups/support.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "common/file.hpp"
#include "common/text.hpp"
#include "platform/cgroup.hpp"

namespace ipcrt::runtime {
namespace {

constexpr const char* kUnifiedHint =
    "boot with systemd.unified_cgroup_hierarchy=1 (and cgroup_no_v1=all), so that cgroup2 is "
    "mounted on /sys/fs/cgroup with every controller; ipcrt as PID 1 mounts it itself";

std::string number_or_max(std::uint64_t value) {
  return value == config::kNoLimit ? std::string("max") : std::to_string(value);
}

// The directory of cgroup `path` (as /proc/self/cgroup names it) under one of the cgroup2
// mounts, /sys/fs/cgroup first; "" if no mount shows it.
std::string directory_of(const std::string& path,
                         const std::vector<platform::CgroupMount>& mounts) {
  std::vector<const platform::CgroupMount*> candidates;
  for (const auto& mount : mounts) {
    if (mount.v2 && mount.mount_point == "/sys/fs/cgroup") candidates.push_back(&mount);
  }
  for (const auto& mount : mounts) {
    if (mount.v2 && mount.mount_point != "/sys/fs/cgroup") candidates.push_back(&mount);
  }
  for (const auto* mount : candidates) {
    const std::string& root = mount->root;
    std::string relative;
    if (root == "/") {
      relative = path;
    } else if (path == root || path.starts_with(root + "/")) {
      relative = path.substr(root.size());
    } else {
      continue;  // a mount of another part of the tree
    }
    std::string dir = mount->mount_point;
    if (relative != "/" && !relative.empty()) dir += relative;
    // A mount hidden under a later one (a test's own cgroup2) is not reachable.
    if (platform::is_cgroup2(dir)) return dir;
  }
  return {};
}

}  // namespace

bool CgroupSupport::offers(std::string_view controller) const {
  return std::find(controllers.begin(), controllers.end(), controller) != controllers.end();
}

std::string CgroupSupport::manifest_dir(const std::string& manifest) const {
  return cat(own, "/ipcrt.", manifest);
}

std::string CgroupSupport::supervisor_dir() const {
  return cat(own, "/ipcrt.supervisor");
}

CgroupSupport probe_cgroups() {
  CgroupSupport support;
  std::vector<platform::CgroupMount> mounts;
  if (auto found = platform::cgroup_mounts()) mounts = std::move(*found);
  for (const auto& mount : mounts) {
    for (const auto& controller : mount.controllers) support.v1_controllers.push_back(controller);
  }

  const char* forced = std::getenv(kCgroupVariable);
  if (forced != nullptr && *forced != '\0') {
    if (std::string_view(forced) == "off") {
      support.why_not = {cat("cgroups are turned off (", kCgroupVariable, "=off)"), 0,
                         cat("unset ", kCgroupVariable)};
      return support;
    }
    support.own = forced;
    if (!platform::is_cgroup2(support.own)) {
      support.why_not = {cat(kCgroupVariable, "=", support.own, " is not a cgroup2 directory"), 0,
                         cat("point it at a directory of a cgroup2 mount (mount -t cgroup2 "
                             "none DIR), or unset ",
                             kCgroupVariable)};
      return support;
    }
  } else {
    auto path = platform::own_unified_cgroup();
    if (!path || !*path) {
      support.why_not = {"this kernel gives ipcrt no cgroup v2 (no 0:: line in /proc/self/cgroup)",
                         0,
                         "use a kernel with CONFIG_CGROUPS and mount cgroup2: mount -t cgroup2 "
                         "none /sys/fs/cgroup"};
      return support;
    }
    support.own = directory_of(**path, mounts);
    if (support.own.empty()) {
      support.why_not = {
          cat("cgroup v2 is not mounted where ipcrt's cgroup ", **path, " can be reached"), 0,
          cat("mount it: mount -t cgroup2 none /sys/fs/cgroup; or ", kUnifiedHint)};
      return support;
    }
  }
  // The root cgroup has no cgroup.type: it is the one cgroup processes may share with
  // children that have controllers.
  support.at_root = ::access((support.own + "/cgroup.type").c_str(), F_OK) != 0;
  if (::access(support.own.c_str(), W_OK) != 0 ||
      ::access((support.own + "/cgroup.procs").c_str(), W_OK) != 0) {
    support.why_not = {
        cat("ipcrt's cgroup ", support.own, " is not delegated to it (not writable)"), errno,
        "run ipcrt as root, or under systemd with Delegate=yes in its unit"};
    return support;
  }
  if (auto listed = platform::read_cgroup_file(support.own, "cgroup.controllers")) {
    support.controllers = platform::split_words(*listed);
  }
  support.usable = true;
  return support;
}

std::string_view controller_of(std::string_view key) {
  if (key.starts_with("memory-")) return "memory";
  if (key.starts_with("pids-")) return "pids";
  return "cpu";
}

std::optional<Error> limit_refusal(const CgroupSupport& support, std::string_view key) {
  if (!support.usable) {
    Error error = support.why_not;
    error.message = cat(key, " needs cgroup v2, but ", error.message);
    error.hint = cat(error.hint, "; or remove resources.", key,
                     " (services are then contained by their PID namespaces alone)");
    return error;
  }
  const std::string_view controller = controller_of(key);
  if (support.offers(controller)) return std::nullopt;
  const std::string offered =
      support.controllers.empty() ? std::string("none") : join(support.controllers, " ");
  Error error{cat(key, " needs the ", controller, " controller, which ipcrt's cgroup ", support.own,
                  " is not given (cgroup.controllers: ", offered, ")"),
              0,
              {}};
  if (std::find(support.v1_controllers.begin(), support.v1_controllers.end(), controller) !=
      support.v1_controllers.end()) {
    error.message += cat("; ", controller, " is bound to a cgroup v1 hierarchy (a hybrid layout)");
    error.hint = cat(kUnifiedHint, "; or remove resources.", key);
  } else {
    error.hint = cat("give ipcrt's cgroup the controller: under systemd Delegate=yes (or Delegate=",
                     controller, ") in its unit, else echo +", controller,
                     " > cgroup.subtree_control of the cgroup above; or remove resources.", key);
  }
  return error;
}

std::vector<std::pair<std::string, std::string>> cgroup_settings(
    const config::Resources& resources) {
  std::vector<std::pair<std::string, std::string>> settings;
  if (resources.memory_max)
    settings.emplace_back("memory.max", number_or_max(*resources.memory_max));
  if (resources.memory_high) {
    settings.emplace_back("memory.high", number_or_max(*resources.memory_high));
  }
  if (resources.pids_max) settings.emplace_back("pids.max", number_or_max(*resources.pids_max));
  if (resources.cpu_weight)
    settings.emplace_back("cpu.weight", std::to_string(*resources.cpu_weight));
  if (resources.cpu_max) {
    settings.emplace_back("cpu.max", cat(number_or_max(resources.cpu_max->quota_us), " ",
                                         resources.cpu_max->period_us));
  }
  return settings;
}

std::vector<std::string> controllers_needed(const std::vector<config::Service>& services) {
  std::vector<std::string> needed;
  for (std::string_view controller : {"memory", "pids", "cpu"}) {
    const bool used = std::any_of(services.begin(), services.end(), [&](const auto& service) {
      for (auto key : service.resources.cgroup_keys()) {
        if (controller_of(key) == controller) return true;
      }
      return false;
    });
    if (used) needed.emplace_back(controller);
  }
  return needed;
}

}  // namespace ipcrt::runtime
