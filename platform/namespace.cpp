// unshare(2) wrappers.
#include "platform/namespace.hpp"

#include <sched.h>

#include <cerrno>

namespace ipcrt::platform {

int enter_new_mount_namespace() noexcept {
  return ::unshare(CLONE_NEWNS) == 0 ? 0 : -errno;
}

}  // namespace ipcrt::platform
