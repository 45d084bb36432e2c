// Shared-memory files under /dev/shm: private per-service directories and pre-created
// objects. No policy: the caller decides names, owners and modes.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/error.hpp"

namespace ipcrt::platform {

// Creates `path` with exactly mode 01777 (umask does not apply). created=false: it existed.
[[nodiscard]] Result<bool> create_private_dir(const std::string& path);
// Removes `path` and the files directly inside it (objects a service created, mount-point
// placeholders). Missing is fine.
[[nodiscard]] Status remove_private_dir(const std::string& path);

// Creates an empty regular file `path` with exactly `mode`, owned by uid:gid. An existing file
// is left as it is (created=false), so objects survive runtime restarts like queues do.
[[nodiscard]] Result<bool> create_shm_object(const std::string& path, uid_t uid, gid_t gid,
                                             mode_t mode);
[[nodiscard]] Status remove_file(const std::string& path);

}  // namespace ipcrt::platform
