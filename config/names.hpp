// Naming rules of the manifest (SPEC §2, §2.1, §2.3, §6) as pure functions: service, slot and
// plug names, POSIX queue paths (with the optional trailing-`*` pattern), shared-memory object
// names, and queue path overlap. Each check returns the reason a value is rejected, or an empty
// string; the parser adds the JSON pointer.
#pragma once

#include <string>
#include <string_view>

namespace ipcrt::config {

inline constexpr std::size_t kMaxNameLength = 40;
inline constexpr std::size_t kMaxObjectNameLength = 255;  // NAME_MAX, also for queue names

// `[a-z0-9][a-z0-9-]*`, at most 40 bytes (all ASCII, so also 40 characters). `what` names the
// value: "service name".
[[nodiscard]] std::string check_name(std::string_view name, std::string_view what);

struct QueuePath {
  std::string path;   // normalised: a leading '/' added
  std::string error;  // empty when valid
};

// Normalises and checks one posix-mq slot path. With `allow_patterns`, one trailing `*` after at
// least one character is accepted (name-level mediation, SPEC §6).
[[nodiscard]] QueuePath normalise_queue_path(std::string_view raw, bool allow_patterns);

// A path ending in `*` (only produced when patterns are allowed).
[[nodiscard]] inline bool is_queue_pattern(std::string_view path) {
  return !path.empty() && path.back() == '*';
}

// True when some queue name is matched by both `a` and `b` (each a path or a pattern; `*`
// matches any, possibly empty, rest of the name).
[[nodiscard]] bool queue_paths_overlap(std::string_view a, std::string_view b);

// A shared-memory object name as written in a slot's `read` / `write` list (SPEC §2.3).
[[nodiscard]] std::string check_shm_name(std::string_view name);

// A user or group: a name (`[a-z_][a-z0-9_-]*`, optional trailing `$`, at most 32 characters)
// or a decimal id below 4294967295. Every length limit here is in bytes, as the kernel counts.
[[nodiscard]] std::string check_account(std::string_view value, std::string_view what);

}  // namespace ipcrt::config
