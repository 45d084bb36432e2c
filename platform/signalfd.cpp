// signalfd(2) wrappers.
#include "platform/signalfd.hpp"

#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>

#include "common/text.hpp"

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

void reset_signal_dispositions() noexcept {
  struct sigaction defaults {};
  defaults.sa_handler = SIG_DFL;
  for (int signal = 1; signal < NSIG; ++signal) {
    if (signal == SIGKILL || signal == SIGSTOP) continue;
    ::sigaction(signal, &defaults, nullptr);  // EINVAL for glibc's reserved ones: fine
  }
}

Status ignore_fatal_signals(std::span<const int> handled) {
  // Faults (SEGV, BUS, FPE, ILL, TRAP, SYS, ABRT) stay default: ignoring them hides a bug of
  // the runtime itself, and nobody else can send them to it past its pid namespace walls.
  const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT, SIGKILL, SIGSTOP};
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  for (int signal = 1; signal < NSIG; ++signal) {
    bool keep = false;
    for (int fault : faults) keep = keep || fault == signal;
    for (int own : handled) keep = keep || own == signal;
    if (keep || signal == SIGCHLD || signal == SIGCONT || signal == SIGURG ||
        signal == SIGWINCH) {
      continue;  // handled, or their default is to do nothing
    }
    if (::sigaction(signal, &ignore, nullptr) != 0 && errno != EINVAL) {
      return fail_errno(cat("ignore signal ", signal));
    }
  }
  return {};
}

}  // namespace ipcrt::platform
