// Namespaces for the child between fork and exec: no allocation, 0 or -errno.
#pragma once

namespace ipcrt::platform {

// unshare(CLONE_NEWNS): the service's mounts stop being the host's.
[[nodiscard]] int enter_new_mount_namespace() noexcept;

}  // namespace ipcrt::platform
