// The runtime's own tmpfs for declared shared-memory objects (SPEC §4.2): /run/ipcrt/<name>/shm,
// 0700 and root's, so no other local user can create a name in it, open what is there or fill
// it; services reach each object only through the bind mount of it in their own /dev/shm.
// No policy here: the caller decides the path, the size and what to keep.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <set>
#include <string>

#include "common/error.hpp"

namespace ipcrt::platform {

// The tmpfs options of a store that holds `bytes` and `files` objects.
[[nodiscard]] std::string shm_store_options(std::uint64_t bytes, std::uint64_t files);

// Mounts a tmpfs (nosuid, nodev, noexec, mode 0700) with `options` at `path`, creating the
// directories on the way (the last two 0700; each must be a real directory of the runtime's
// euid, never a symlink). A store mounted there already (left by a runtime that did not get to
// stop) must be a tmpfs whose root is the runtime's with mode 0700, anything else is an error;
// it is adopted with the objects named in `keep` and their contents, every other entry is
// removed (what an earlier manifest of the same name declared), and it is remounted with
// `options`.
struct ShmStoreMount {
  bool mounted = false;     // false: adopted
  std::size_t removed = 0;  // adopted: the entries not in `keep` that were removed
};
[[nodiscard]] Result<ShmStoreMount> mount_shm_store(const std::string& path,
                                                    const std::string& options,
                                                    const std::set<std::string>& keep);

// Whether a store is mounted at `path` (a leftover, when no run holds the manifest's lock).
[[nodiscard]] bool shm_store_mounted(const std::string& path);

// `path` as a real directory of the runtime's euid (never a symlink, created with `mode`),
// put back to `mode` exactly when `exact`; its parent must exist.
[[nodiscard]] Status ensure_owned_directory(const std::string& path, mode_t mode, bool exact);

// Unmounts the store at `path` (lazily: a process that still maps an object keeps its pages
// until it lets go) and removes its directory and, if empty, the one above. Missing is fine.
[[nodiscard]] Status unmount_shm_store(const std::string& path);

}  // namespace ipcrt::platform
