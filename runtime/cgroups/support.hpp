// Whether and where this machine gives ipcrt cgroup v2 (SPEC §13), and what a service's
// `resources` limits become in its cgroup's files. Read once by `plan` and `run`; the planner
// refuses limits that cannot be applied here, with the fix.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "config/manifest.hpp"

namespace ipcrt::runtime {

// IPCRT_CGROUP: "off" (no cgroups: PID namespaces alone contain services), or a cgroup2
// directory ipcrt treats as its own cgroup instead of /proc/self/cgroup's (a cgroup2 mounted
// in a private mount namespace, a test's delegated subtree).
inline constexpr const char* kCgroupVariable = "IPCRT_CGROUP";

struct CgroupSupport {
  // A cgroup2 directory ipcrt may create cgroups in: containment by cgroup.kill works.
  bool usable = false;
  std::string own;       // ipcrt's cgroup as a directory: "/sys/fs/cgroup/system.slice/x.service"
  bool at_root = false;  // `own` is the hierarchy's root (PID 1): ipcrt needs no leaf of its own
  std::vector<std::string> controllers;     // cgroup.controllers of `own`
  std::vector<std::string> v1_controllers;  // bound to cgroup v1 hierarchies (a hybrid layout)
  Error why_not;                            // !usable: what is missing and the fix

  [[nodiscard]] bool offers(std::string_view controller) const;
  // "<own>/ipcrt.<manifest>" and "<own>/ipcrt.supervisor".
  [[nodiscard]] std::string manifest_dir(const std::string& manifest) const;
  [[nodiscard]] std::string supervisor_dir() const;
};

// Looks at this process's cgroup, the mounts and IPCRT_CGROUP.
[[nodiscard]] CgroupSupport probe_cgroups();

// The controller a `resources` key needs: "memory" for memory-max and memory-high, "pids",
// "cpu" for cpu-weight and cpu-max.
[[nodiscard]] std::string_view controller_of(std::string_view key);

// Why `key` (a cgroup limit of `resources`) cannot be applied here, with the fix; nullopt if
// it can.
[[nodiscard]] std::optional<Error> limit_refusal(const CgroupSupport& support,
                                                 std::string_view key);

// The cgroup files a service's limits set, in the kernel's units and spelling:
// {"memory.max", "67108864"}, {"pids.max", "max"}, {"cpu.max", "50000 100000"}.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> cgroup_settings(
    const config::Resources& resources);

// The controllers a set of services' limits need, each once, in the order memory, pids, cpu.
[[nodiscard]] std::vector<std::string> controllers_needed(
    const std::vector<config::Service>& services);

}  // namespace ipcrt::runtime
