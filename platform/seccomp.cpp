// seccomp(2) without libseccomp: the child loads what the parent compiled.
#include "platform/seccomp.hpp"

#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace ipcrt::platform {

int set_no_new_privs() noexcept {
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 ? 0 : -errno;
}

int load_seccomp_filter(const sock_fprog& program, bool uses_notify) noexcept {
  unsigned flags = uses_notify ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0U;
  long result = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &program);
  if (result < 0) return -errno;
  return static_cast<int>(result);
}

}  // namespace ipcrt::platform
