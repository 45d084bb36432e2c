// Killing what is left of a service's session; /proc scanning is platform/process.
#include "runtime/session_sweep.hpp"

#include <time.h>

#include <cerrno>
#include <csignal>
#include <set>

#include "platform/pidfd.hpp"
#include "platform/process.hpp"

namespace ipcrt::runtime {
namespace {

// A pass rescans at once (to catch what was forked just before the kill); later passes only
// wait for killed processes to die, so they pause this long first.
constexpr long kPassPauseNs = 1'000'000;
// Bounds the sweep even when the clock does not move as expected.
constexpr unsigned kMaxPasses = 10'000;

bool alive(const platform::ProcessStat& stat) {
  return stat.state != 'Z' && stat.state != 'X';
}

// SIGKILL to `pid` if it still is in `session`. Through a pidfd, the session is checked on the
// process the signal goes to: the pid may have been reaped and reused since the scan.
void kill_member(pid_t pid, pid_t session, const std::string& proc) {
  auto pidfd = platform::pidfd_open(pid);
  if (!pidfd && pidfd.error().errnum == ESRCH) return;  // gone
  auto stat = platform::read_process_stat(pid, proc);
  if (!stat || stat->session != session) return;
  if (pidfd) {
    (void)platform::pidfd_send_signal(pidfd->get(), SIGKILL);
  } else {
    // No pidfd (Linux < 5.3, or out of descriptors): the re-read narrows the reuse window.
    ::kill(pid, SIGKILL);
  }
}

void pause_briefly() {
  timespec pause{0, kPassPauseNs};
  while (::nanosleep(&pause, &pause) != 0 && errno == EINTR) {
  }
}

}  // namespace

SessionSweep kill_session(pid_t session, std::chrono::milliseconds wait, const std::string& proc) {
  using Clock = std::chrono::steady_clock;
  SessionSweep sweep;
  auto deadline = Clock::now() + wait;
  std::set<pid_t> signalled;
  for (unsigned pass = 0;; ++pass) {
    auto members = platform::list_session(session, proc);
    if (!members) {
      sweep.error = members.error();
      return sweep;
    }
    std::size_t living = 0;
    for (const auto& member : *members) {
      bool first_time = signalled.insert(member.pid).second;
      if (alive(member)) {
        ++living;
        if (first_time) ++sweep.killed;
        // Again on later passes: cheap, and safe against a pid reused inside the session.
        kill_member(member.pid, session, proc);
      } else if (first_time) {
        // A zombie leader may still have live threads; SIGKILL takes the whole group.
        kill_member(member.pid, session, proc);
      }
    }
    if (living == 0) return sweep;
    if (pass + 1 >= kMaxPasses || Clock::now() >= deadline) {
      sweep.remaining = living;
      return sweep;
    }
    if (pass > 0) pause_briefly();
  }
}

}  // namespace ipcrt::runtime
