// Shared-memory files: private per-service (staging) directories and pre-created objects (in
// the runtime's own tmpfs, platform/shm_store.hpp). No policy: the caller decides names,
// owners and modes. /dev/shm was writable by every local user, and an object's service may
// have changed what it was given, so nothing found is trusted: symlinks are never followed and
// what a boot adopts must be owned by the runtime (or the planned owner, for objects).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "common/error.hpp"
#include "platform/fd.hpp"

namespace ipcrt::platform {

// Creates `path` with exactly mode 01777 (umask does not apply). created=false: it existed as a
// real directory owned by the runtime's euid with mode 01777; anything else is an error.
[[nodiscard]] Result<bool> create_private_dir(const std::string& path);
// Opens a private dir without following a symlink; it must be owned by the runtime's euid.
[[nodiscard]] Result<UniqueFd> open_private_dir(const std::string& path);
// Creates an empty placeholder `name` inside the opened private dir (no symlink followed),
// owned by uid:gid with `mode`. An existing regular file owned by the runtime or uid is kept.
[[nodiscard]] Status create_placeholder(int dir_fd, const std::string& dir_path,
                                        const std::string& name, uid_t uid, gid_t gid, mode_t mode);
// Removes `path` and the files directly inside it (objects a service created, mount-point
// placeholders). Missing is fine. A symlink or a dir owned by someone else is never entered.
[[nodiscard]] Status remove_private_dir(const std::string& path);

// Creates an empty regular file `path` with exactly `mode`, owned by uid:gid. An existing file
// keeps its contents (created=false), so objects survive runtime restarts like queues do, and
// gets uid:gid and `mode` back; it must be a regular file with one link owned by the runtime's
// euid or by uid.
[[nodiscard]] Result<bool> create_shm_object(const std::string& path, uid_t uid, gid_t gid,
                                             mode_t mode);
[[nodiscard]] Status remove_file(const std::string& path);

// Grows the object at `path` to at least `size` bytes (never shrinks it: its contents stay).
[[nodiscard]] Status grow_shm_object(const std::string& path, std::uint64_t size);
// Makes the object at `path` an initialised process-shared POSIX semaphore with `value`, in
// the layout of the C library ipcrt is built with (what sem_open("/NAME") maps).
[[nodiscard]] Status init_semaphore(const std::string& path, unsigned value);

}  // namespace ipcrt::platform
