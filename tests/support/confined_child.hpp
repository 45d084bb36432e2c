// A child process confined by a hand-built seccomp program whose listener the test (playing
// the supervisor) takes over with pidfd_getfd, as the runtime does.
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include "platform/fd.hpp"

namespace ipcrt::test {

struct ConfinedChild {
  pid_t pid = -1;
  platform::UniqueFd listener;
  // Waits for the child; returns its exit code, or 128 + signal.
  int wait();
};

// Forks; the child loads `program` with a listener, hands it over, then runs `body` and exits
// with its result. `program` must stay alive until the child has loaded it (use statics).
ConfinedChild start_confined_child(const sock_fprog& program, int (*body)());

// A program that sends the listed syscalls (native numbers) to the listener, allows the rest.
sock_fprog notify_program(const int* syscalls, unsigned count);

}  // namespace ipcrt::test
