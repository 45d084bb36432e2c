// unshare(2) wrappers.
#include "platform/namespace.hpp"

#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <csignal>

#include <cerrno>

namespace ipcrt::platform {

int enter_new_mount_namespace() noexcept {
  return ::unshare(CLONE_NEWNS) == 0 ? 0 : -errno;
}

long fork_raw(unsigned long namespace_flags) noexcept {
  // The argument order of clone differs between ABIs, but with no stack, no tids and no TLS
  // every remaining argument is 0.
  const long pid = ::syscall(SYS_clone, namespace_flags | SIGCHLD, 0, 0, 0, 0);
  return pid < 0 ? -errno : pid;
}

}  // namespace ipcrt::platform
