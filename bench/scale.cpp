#include "bench/scale.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/cgroups/support.hpp"

namespace ipcrt::bench {
namespace {

constexpr int kDeadlineMs = 60000;

// The floor's cgroups go where ipcrt's would (its own cgroup, or IPCRT_CGROUP's), under a name
// of this run; "-" for none.
std::string floor_cgroup_dir() {
  static const std::string dir = [] {
    const auto cgroups = runtime::probe_cgroups();
    if (!cgroups.usable) return std::string("-");
    return cgroups.own + "/ipcrt-bench-floor." + std::to_string(::getpid());
  }();
  return dir;
}

}  // namespace

bool wait_until_running(int fifo, int count, pid_t watched) {
  const double deadline = now_ns() + kDeadlineMs * 1e6;
  int seen = 0;
  char buffer[512];
  while (seen < count) {
    pollfd ready{fifo, POLLIN, 0};
    if (::poll(&ready, 1, 100) > 0) {
      ssize_t n = ::read(fifo, buffer, sizeof buffer);
      if (n > 0) seen += static_cast<int>(n);
      continue;
    }
    if (watched > 0 && ::waitpid(watched, nullptr, WNOHANG) == watched) return false;
    if (now_ns() > deadline) return false;
  }
  return true;
}

std::optional<FloorRun> run_floor(const Options& options, const std::string& fifo_path, int fifo,
                                  int services, std::string& failure) {
  const double start = now_ns();
  const pid_t pid = fork_exec({.argv = {options.floor, std::to_string(services), floor_cgroup_dir(),
                                        options.ready, fifo_path},
                               .stderr_fd = STDERR_FILENO});
  if (pid < 0) {
    failure = "cannot start " + options.floor;
    return std::nullopt;
  }
  const bool running = wait_until_running(fifo, services, pid);
  FloorRun run;
  run.boot_ms = (now_ns() - start) / 1e6;
  const std::uint64_t launcher_before = main_thread_cpu_ns(pid);
  const std::uint64_t busy_before = busy_cpu_ns();
  const double stop = now_ns();
  ::kill(pid, SIGTERM);
  std::uint64_t launcher_after = 0;
  const int status = wait_exit_with_main_thread_cpu(pid, launcher_after);
  run.stop_ms = (now_ns() - stop) / 1e6;
  run.stop_busy_cpu_ms = static_cast<double>(busy_cpu_ns() - busy_before) / 1e6;
  run.stop_launcher_cpu_ms = static_cast<double>(launcher_after - launcher_before) / 1e6;
  if (!running || status != 0) {
    failure = "bench-floor of " + std::to_string(services) + " services exited with " +
              std::to_string(status);
    return std::nullopt;
  }
  return run;
}

std::string floor_cgroups_note() {
  return floor_cgroup_dir() == "-" ? "no cgroups"
                                   : "a cgroup each (CLONE_INTO_CGROUP), cgroup.kill at each end";
}

}  // namespace ipcrt::bench
