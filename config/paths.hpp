// Host paths in the manifest (SPEC §4a): device nodes and `writable-paths`, as pure functions.
// The device-independent rules run at `validate`; check_writable_paths() also runs at `plan`,
// where the runtime knows its binary, its boards and what exists on the device.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostics.hpp"
#include "config/manifest.hpp"

namespace ipcrt::config {

// An absolute path without empty, `.` or `..` components and without a trailing '/' ("/" itself
// is clean), at most PATH_MAX - 1 bytes, without control characters. Returns the reason it is
// not, or "". `what` names the value: "writable path".
[[nodiscard]] std::string check_clean_path(std::string_view path, std::string_view what);

// A `devices` path: clean, under /dev, at most one `*` and only in its last component (not
// "/dev/*"), none of ?[]{}, and none of the nodes every sandbox has already or that no service
// may have (/dev/mem, /dev/kmem, /dev/port), nor /dev/shm, /dev/mqueue or /dev/pts; a pattern
// may match none of those that no service may have ("/dev/m*" would match /dev/mem).
[[nodiscard]] std::string check_device_path(std::string_view path);

// Whether a `devices` entry (a path, or a pattern with one `*` that matches any rest of the last
// component, empty included) names `node`.
[[nodiscard]] bool device_matches(std::string_view entry, std::string_view node);

// Why a node that a pattern matches on the device may not be bound ("" if it may): /dev/mem,
// /dev/kmem, /dev/port, and what is under /dev/shm, /dev/mqueue and /dev/pts. The nodes every
// sandbox has (null, zero, full, random, urandom, tty) are "" here: they are there already, so
// binding skips them.
[[nodiscard]] std::string check_device_node(std::string_view node);

// The runtime's own directories: no writable path may equal, contain or lie inside one, except
// inside the service's own state directory (SPEC §4a). The same on every device.
inline constexpr std::string_view kStateRoot = "/var/lib/ipcrt";
// Locks, control sockets, and each manifest's shm store and staging directories.
inline constexpr std::string_view kRunDirectory = "/run/ipcrt";
inline constexpr std::string_view kRuntimeDirectories[] = {"/etc/ipcrt", kRunDirectory,
                                                           kStateRoot};

// A path a service may not write, with what it is: "the ipcrt binary".
struct ProtectedPath {
  std::string path;  // absolute
  std::string what;
  bool state_root = false;  // where state directories are: the hint names the service's own
};

// The three runtime directories, described.
[[nodiscard]] std::vector<ProtectedPath> runtime_directories();

// STATE_ROOT/<manifest>/<service>: where a service's state directory is.
[[nodiscard]] std::string state_directory_path(std::string_view state_root,
                                               std::string_view manifest, std::string_view service);

struct WritablePathRules {
  std::vector<ProtectedPath> protected_paths;
  // The service's own state directory ("" when it has none): writable paths inside it (or equal
  // to it) are allowed although it lies inside /var/lib/ipcrt.
  std::string own_state_directory;
  // The real path (every symlink resolved) of an existing path, nullopt if it does not exist.
  // Unset (`validate`, off-device): existence and symlinks are not checked.
  std::function<std::optional<std::string>(const std::string&)> resolve;
};

// Reports, at each entry's pointer, every entry that does not exist (with `resolve`),
// or that is, contains or lies inside a protected path, as written or once resolved.
void check_writable_paths(const Service& service, const WritablePathRules& rules,
                          Diagnostics& diagnostics);

// How `path` relates to `other`, component-wise: "/var/lib/ipcrt-tests" is not inside
// "/var/lib/ipcrt".
enum class PathRelation { Unrelated, Equal, Inside, Contains };
[[nodiscard]] PathRelation path_relation(std::string_view path, std::string_view other);

}  // namespace ipcrt::config
