// Killing what is left of a service's session; /proc scanning is platform/process.
#include "runtime/session_sweep.hpp"

#include <cerrno>
#include <csignal>
#include <set>

#include "platform/pidfd.hpp"
#include "platform/process.hpp"

namespace ipcrt::runtime {
namespace {

// Bounds the sweep should members keep appearing (each pass must find a new one to go on).
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

}  // namespace

SessionSweep kill_session(pid_t session, const std::string& proc) {
  SessionSweep sweep;
  std::set<pid_t> signalled;
  for (unsigned pass = 0; pass < kMaxPasses; ++pass) {
    auto members = platform::list_session(session, proc);
    if (!members) {
      sweep.error = members.error();
      return sweep;
    }
    bool found_new = false;
    for (const auto& member : *members) {
      if (!signalled.insert(member.pid).second) continue;
      found_new = true;
      if (alive(member)) ++sweep.killed;
      // Also a zombie leader: it may still have live threads, and SIGKILL takes the group.
      kill_member(member.pid, session, proc);
    }
    if (!found_new) return sweep;
  }
  sweep.gave_up = true;
  return sweep;
}

}  // namespace ipcrt::runtime
