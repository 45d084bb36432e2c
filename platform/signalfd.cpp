// signalfd(2) wrappers.
#include "platform/signalfd.hpp"

#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>

namespace ipcrt::platform {

Result<UniqueFd> open_signalfd(std::span<const int> signals) {
  sigset_t mask;
  sigemptyset(&mask);
  for (int signal : signals) sigaddset(&mask, signal);
  if (::sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) return fail_errno("sigprocmask");
  UniqueFd fd(::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!fd.valid()) return fail_errno("signalfd");
  return fd;
}

std::optional<int> read_signal(int fd) {
  signalfd_siginfo info{};
  while (true) {
    ssize_t n = ::read(fd, &info, sizeof info);
    if (n == static_cast<ssize_t>(sizeof info)) return static_cast<int>(info.ssi_signo);
    if (n < 0 && errno == EINTR) continue;
    return std::nullopt;
  }
}

void unblock_all_signals() noexcept {
  sigset_t mask;
  sigemptyset(&mask);
  ::sigprocmask(SIG_SETMASK, &mask, nullptr);
}

}  // namespace ipcrt::platform
