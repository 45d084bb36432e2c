// Confined test children for the user-notification suites.
#include "tests/support/confined_child.hpp"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <stdexcept>
#include <vector>

#include "platform/pidfd.hpp"
#include "platform/seccomp.hpp"
#include "platform/seccomp_notify.hpp"

namespace ipcrt::test {

int ConfinedChild::wait() {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

sock_fprog notify_program(const int* syscalls, unsigned count) {
  // Leaked on purpose: the program must outlive the forked child's load.
  auto* instructions = new std::vector<sock_filter>;
  instructions->push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
  for (unsigned i = 0; i < count; ++i) {
    instructions->push_back(
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<unsigned>(syscalls[i]), 0, 1));
    instructions->push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
  }
  instructions->push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  return sock_fprog{static_cast<unsigned short>(instructions->size()), instructions->data()};
}

ConfinedChild start_confined_child(const sock_fprog& program, int (*body)()) {
  int report[2];
  int ack[2];
  if (::pipe2(report, O_CLOEXEC) != 0 || ::pipe2(ack, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe2 failed");
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    if (platform::set_no_new_privs() != 0) ::_exit(90);
    int listener = platform::load_seccomp_filter(program, true);
    if (listener < 0) ::_exit(91);
    if (::write(report[1], &listener, sizeof listener) != sizeof listener) ::_exit(92);
    char byte = 0;
    if (::read(ack[0], &byte, 1) != 1) ::_exit(93);
    ::_exit(body());
  }
  ::close(report[1]);
  ::close(ack[0]);
  int child_listener = -1;
  bool reported = ::read(report[0], &child_listener, sizeof child_listener) ==
                  static_cast<ssize_t>(sizeof child_listener);
  ::close(report[0]);
  if (!reported) throw std::runtime_error("the confined child could not load its filter");
  auto pidfd = platform::pidfd_open(pid);
  if (!pidfd) throw std::runtime_error(pidfd.error().describe());
  auto listener = platform::pidfd_getfd(pidfd->get(), child_listener);
  if (!listener) throw std::runtime_error(listener.error().describe());
  if (::write(ack[1], "k", 1) != 1) throw std::runtime_error("ack write failed");
  ::close(ack[1]);
  return {pid, std::move(*listener)};
}

}  // namespace ipcrt::test
