// kill_session (runtime/session_sweep) on real processes: a session whose processes sit in
// another process group and keep forking while the sweep runs, next to a process outside the
// session that must survive.
#include <CppUTest/TestHarness.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "platform/process.hpp"
#include "runtime/session_sweep.hpp"

namespace {

constexpr int kChainLength = 200;

bool any_alive(pid_t session) {
  auto members = ipcrt::platform::list_session(session);
  if (!members) return true;
  for (const auto& member : *members) {
    if (member.state != 'Z' && member.state != 'X') return true;
  }
  return false;
}

// A child that calls setsid() and then grows a chain of kChainLength processes, each forking
// the next (the first one in a new process group), all ignoring SIGTERM. Returns once the
// session exists, while the chain is still growing.
pid_t fork_session_with_growing_chain() {
  int ready[2];
  if (::pipe(ready) != 0) return -1;
  pid_t leader = ::fork();
  if (leader == 0) {
    ::close(ready[0]);
    if (::setsid() < 0) ::_exit(1);
    ::signal(SIGTERM, SIG_IGN);
    char byte = 'r';
    if (::write(ready[1], &byte, 1) != 1) ::_exit(1);
    ::close(ready[1]);
    for (int depth = 0; depth < kChainLength; ++depth) {
      pid_t next = ::fork();
      if (next != 0) break;  // the parent (or a failed fork) stops here and waits
      if (depth == 0) ::setpgid(0, 0);
    }
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char byte = 0;
  bool ok = ::read(ready[0], &byte, 1) == 1;
  ::close(ready[0]);
  return ok ? leader : -1;
}

}  // namespace

TEST_GROUP(KillSession){};

TEST(KillSession, KillsEveryProcessOfTheSessionEvenWhileItForks) {
  pid_t outsider = ::fork();  // in our session, not the swept one
  if (outsider == 0) {
    for (;;) ::pause();
  }
  pid_t session = fork_session_with_growing_chain();
  CHECK_TRUE(session > 0);

  auto sweep = ipcrt::runtime::kill_session(session);
  CHECK_FALSE_TEXT(sweep.error.has_value(), sweep.error ? sweep.error->describe().c_str() : "");
  CHECK_FALSE(sweep.gave_up);
  CHECK_TRUE(sweep.killed >= 1);
  CHECK_TRUE(sweep.killed <= kChainLength + 1);
  // The sweep does not wait for the killed processes; they die on their own, soon.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (any_alive(session) && std::chrono::steady_clock::now() < deadline) ::usleep(1000);
  CHECK_FALSE_TEXT(any_alive(session), "a process of the session is still alive");

  // The leader is our child: a zombie until we reap it. A second sweep finds nothing to kill.
  auto again = ipcrt::runtime::kill_session(session);
  LONGS_EQUAL(0, again.killed);
  int status = 0;
  LONGS_EQUAL(session, ::waitpid(session, &status, 0));
  CHECK_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

  auto outside = ipcrt::platform::read_process_stat(outsider);
  CHECK_TRUE_TEXT(outside.has_value() && outside->state != 'Z', "the outsider was killed");
  ::kill(outsider, SIGKILL);
  ::waitpid(outsider, nullptr, 0);
}
