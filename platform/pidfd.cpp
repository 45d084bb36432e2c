// pidfd_open(2) and pidfd_send_signal(2) through syscall(): glibc 2.36 wrappers are not
// available on every target.
#include "platform/pidfd.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <csignal>

#include "common/text.hpp"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

namespace ipcrt::platform {

Result<UniqueFd> pidfd_open(pid_t pid) {
  long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) return fail_errno(cat("pidfd_open ", pid), errno, "requires Linux 5.3 or later");
  UniqueFd owned(static_cast<int>(fd));
  return owned;
}

Status pidfd_send_signal(int pidfd, int signal) {
  if (::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0) != 0) {
    return fail_errno(cat("pidfd_send_signal ", signal));
  }
  return {};
}

Result<UniqueFd> pidfd_getfd(int pidfd, int target_fd) {
  long fd = ::syscall(SYS_pidfd_getfd, pidfd, target_fd, 0);
  if (fd < 0) return fail_errno(cat("pidfd_getfd ", target_fd), errno, "requires Linux 5.6");
  return UniqueFd(static_cast<int>(fd));
}

}  // namespace ipcrt::platform
