// The persistent registry of dynamic ids (SPEC §4.3): which key ("gateway/sensor" for a
// service's user, "gateway/sensor:telemetry" for a slot's group) owns which id, in one text
// file, normally /var/lib/ipcrt/ids. An id once given stays with its key for good: what it owns
// (queues, objects, a state directory) may outlive every run, and giving the id to another key
// would give those away with it.
//
// Changes happen under an exclusive flock of a lock file beside the registry (runtimes of
// different manifests may allocate at the same time), and the file is replaced atomically
// (temporary file, fsync, rename, fsync of the directory), so a reader never sees half of it.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "platform/fd.hpp"

namespace ipcrt::platform {

struct IdRange {
  unsigned first = 0;
  unsigned last = 0;  // inclusive
  [[nodiscard]] bool contains(unsigned id) const { return id >= first && id <= last; }
  [[nodiscard]] unsigned size() const { return last - first + 1; }
};

// systemd's DynamicUser range, which distributions keep free of host accounts.
inline constexpr IdRange kDynamicIdRange{61184, 65519};

class IdRegistry {
 public:
  // To allocate: takes DIR/ids.lock (waiting at most `lock_timeout` for another runtime) and
  // reads DIR/ids. DIR is created 0755 (with its parents) if missing; it must belong to this
  // process's user and be writable by nobody else. The lock is held until the registry goes.
  [[nodiscard]] static Result<IdRegistry> open_for_update(
      const std::string& dir, std::chrono::milliseconds lock_timeout = std::chrono::seconds(30));
  // To look only (`plan`): reads DIR/ids, locking and creating nothing; missing is empty.
  [[nodiscard]] static Result<IdRegistry> read_only(const std::string& dir);

  IdRegistry(IdRegistry&&) = default;
  IdRegistry& operator=(IdRegistry&&) = default;

  [[nodiscard]] std::optional<unsigned> id_of(std::string_view key) const;
  [[nodiscard]] const std::string* key_of(unsigned id) const;

  // `key`'s id, allocated when it has none: a hash of the key picks where to start in `range`,
  // and the first id from there on (wrapping) that no key owns and `taken` does not hold is
  // it. So a key keeps its id, and gets the same one on devices with the same accounts. An
  // error when the range is full. Keys are printable ASCII without spaces.
  [[nodiscard]] Result<unsigned> allocate(const std::string& key, IdRange range,
                                          const std::set<unsigned>& taken);

  // Writes the file if allocate() gave out ids since it was read (open_for_update() only).
  [[nodiscard]] Status save();

  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::size_t size() const { return ids_.size(); }

 private:
  IdRegistry() = default;
  [[nodiscard]] Status load();

  std::string dir_;
  std::string path_;
  UniqueFd lock_;  // held: opened for update
  std::map<std::string, unsigned, std::less<>> ids_;
  std::map<unsigned, std::string> keys_;
  bool changed_ = false;
};

}  // namespace ipcrt::platform
