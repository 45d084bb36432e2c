// cgroup v2 as files (SPEC §13): where this process's cgroup is, where the cgroup2 hierarchy is
// mounted, and the few files ipcrt reads and writes in it. Thin: which cgroups to make, what to
// limit and when to kill is runtime/cgroups' business.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "platform/fd.hpp"

namespace ipcrt::platform {

// The path of the `0::` line of a /proc/<pid>/cgroup text ("/system.slice/ipcrt.service"),
// nullopt without one (no cgroup v2 at all).
[[nodiscard]] std::optional<std::string> parse_unified_cgroup(std::string_view proc_cgroup);

// One cgroup filesystem in a mountinfo text.
struct CgroupMount {
  std::string mount_point;               // "/sys/fs/cgroup"
  std::string root;                      // the cgroup the mount shows at its top: "/" mostly
  bool v2 = false;                       // cgroup2; else a v1 hierarchy
  std::vector<std::string> controllers;  // v1: its controllers ("memory", "cpu", ...)
};

// Every cgroup and cgroup2 mount of a mountinfo text, in its order.
[[nodiscard]] std::vector<CgroupMount> parse_cgroup_mounts(std::string_view mountinfo);

// Reads /proc/self/cgroup's `0::` path and /proc/self/mountinfo's cgroup mounts.
[[nodiscard]] Result<std::optional<std::string>> own_unified_cgroup();
[[nodiscard]] Result<std::vector<CgroupMount>> cgroup_mounts();

// Whether `path` is on a cgroup2 filesystem (statfs magic).
[[nodiscard]] bool is_cgroup2(const std::string& path);

// The words of a space-separated line ("cpu memory pids" of cgroup.controllers).
[[nodiscard]] std::vector<std::string> split_words(std::string_view text);

// "key value" lines (cgroup.events, memory.events, pids.events) as a map.
[[nodiscard]] std::map<std::string, std::uint64_t, std::less<>> parse_flat_keyed(
    std::string_view text);

// `dir`/`file`, read whole / written with one write(2) (what cgroupfs needs).
[[nodiscard]] Result<std::string> read_cgroup_file(const std::string& dir, std::string_view file);
[[nodiscard]] Status write_cgroup_file(const std::string& dir, std::string_view file,
                                       std::string_view value);

// mkdir of a cgroup: true if made, false if it existed.
[[nodiscard]] Result<bool> make_cgroup(const std::string& dir);
// rmdir of an empty cgroup (no processes, no children). ENOENT counts as done.
[[nodiscard]] Status remove_cgroup(const std::string& dir);
// The child cgroups (subdirectories) of `dir`, by name.
[[nodiscard]] Result<std::vector<std::string>> child_cgroups(const std::string& dir);

// "+memory +pids" into cgroup.subtree_control: the children of `dir` get these controllers.
[[nodiscard]] Status enable_controllers(const std::string& dir,
                                        const std::vector<std::string>& controllers);

// Moves process `pid` (0: the caller) with all its threads into `dir`.
[[nodiscard]] Status move_process(const std::string& dir, pid_t pid);

// The pids in `dir`'s cgroup.procs (not its children's).
[[nodiscard]] Result<std::vector<pid_t>> cgroup_processes(const std::string& dir);

// SIGKILL to every process in `dir` and below, through cgroup.kill (Linux 5.14); without it,
// to each pid of cgroup.procs of `dir` and its children, rescanned until empty or after a
// bounded number of passes. Never waits for them to die.
[[nodiscard]] Status kill_cgroup(const std::string& dir);

// Whether `dir` or a cgroup below it still has a process (cgroup.events `populated`).
[[nodiscard]] Result<bool> cgroup_populated(const std::string& dir);

// A descriptor of the cgroup directory for clone3's CLONE_INTO_CGROUP.
[[nodiscard]] Result<UniqueFd> open_cgroup(const std::string& dir);

}  // namespace ipcrt::platform
