// Stop scale (issue 18): 200 running services stopped, against a bare kill of 200 processes and
// against the floor of the same confinement (issue 21). Bare: SIGTERM to each of 200
// bench-ready processes and waitpid for each. Floor: bench-floor's 200 services, each in its
// own PID, mount and IPC namespaces under an init as ipcrt's are, SIGTERM to it until it has
// reaped them all (and removed their cgroups). ipcrt: `ipcrt run` of a manifest of 200 confined
// bench-ready services, and once every one runs, SIGTERM to ipcrt until its exit: each
// service's stop signal, its exit seen and contained (cgroup.kill where there are cgroups),
// and the teardown of the run.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "bench/benchmarks.hpp"
#include "bench/scale.hpp"
#include "common/file.hpp"
#include "runtime/cgroups/support.hpp"

namespace ipcrt::bench {
namespace {

constexpr int kServices = 200;

std::string stop_manifest(const Options& options, const std::string& fifo) {
  std::string json = R"({"version": 1, "name": "bench-stop", "services": {)";
  for (int i = 0; i < kServices; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "s%03d", i);
    if (i > 0) json += ",";
    json += "\n  \"" + std::string(name) + R"(": {"command": [")" + options.ready + R"(", ")" +
            fifo + "\"]}";
  }
  return json + "\n}}\n";
}

// Milliseconds from the first SIGTERM to the last exit; negative on failure.
double stop_bare(const Options& options, const std::string& fifo_path, int fifo) {
  std::vector<pid_t> pids;
  for (int i = 0; i < kServices; ++i) {
    pid_t pid = fork_exec({.argv = {options.ready, fifo_path}});
    if (pid > 0) pids.push_back(pid);
  }
  const bool running =
      static_cast<int>(pids.size()) == kServices && wait_until_running(fifo, kServices, 0);
  const double start = now_ns();
  for (pid_t pid : pids) ::kill(pid, SIGTERM);
  for (pid_t pid : pids) wait_exit(pid);
  return running ? (now_ns() - start) / 1e6 : -1;
}

double stop_ipcrt(const Options& options, const std::string& manifest, const std::string& log_path,
                  int fifo, std::string& failure) {
  int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  pid_t pid = fork_exec({.argv = {options.ipcrt, "run", manifest}, .stderr_fd = log});
  ::close(log);
  if (pid < 0) return -1;
  const bool running = wait_until_running(fifo, kServices, pid);
  const double start = now_ns();
  ::kill(pid, SIGTERM);
  const int status = wait_exit(pid);
  const double elapsed = (now_ns() - start) / 1e6;
  if (!running || status != 0) {
    std::string text = read_text_file(log_path).value_or("");
    if (text.size() > 2000) text = "..." + text.substr(text.size() - 2000);
    failure = "ipcrt run of " + std::to_string(kServices) + " services (exit " +
              std::to_string(status) + "): " + text;
    return -1;
  }
  return elapsed;
}

}  // namespace

void run_stop_scale(const Options& options, Report& report) {
  // Not in the scratch directory under /tmp, which is private to each service, and writable
  // by the services' dynamic users.
  const std::string fifo_dir = "/var/lib/ipcrt-bench-stop-" + std::to_string(::getpid());
  const std::string fifo_path = fifo_dir + "/running";
  ::mkdir(fifo_dir.c_str(), 0755);
  struct RemoveAtExit {
    std::string dir, fifo;
    ~RemoveAtExit() {
      ::unlink(fifo.c_str());
      ::rmdir(dir.c_str());
    }
  } remove_at_exit{fifo_dir, fifo_path};
  if (::mkfifo(fifo_path.c_str(), 0666) != 0 || ::chmod(fifo_path.c_str(), 0666) != 0) {
    report.failure("stop scale: cannot create the FIFO " + fifo_path);
    return;
  }
  int fifo = ::open(fifo_path.c_str(), O_RDWR | O_CLOEXEC);
  const std::string manifest = options.scratch_dir + "/stop.json";
  if (!write_file(manifest, stop_manifest(options, fifo_path))) {
    report.failure("stop scale: cannot write " + manifest);
    ::close(fifo);
    return;
  }
  const std::string log_path = options.scratch_dir + "/stop.log";
  std::vector<double> bare_ms;
  std::vector<double> floor_ms;
  std::vector<double> ipcrt_ms;
  const int rounds = std::max(3, options.rounds / 2);
  for (int round = 0; round < rounds; ++round) {
    std::string failure;
    const double bare = stop_bare(options, fifo_path, fifo);
    const auto floor = run_floor(options, fifo_path, fifo, kServices, failure);
    const double stopped = floor ? stop_ipcrt(options, manifest, log_path, fifo, failure) : -1;
    if (bare < 0 || !floor || stopped < 0) {
      report.failure("stop scale: " + (failure.empty() ? "bare fork+exec did not run" : failure));
      ::close(fifo);
      return;
    }
    bare_ms.push_back(bare);
    floor_ms.push_back(floor->stop_ms);
    ipcrt_ms.push_back(stopped);
  }
  ::close(fifo);

  const auto cgroups = runtime::probe_cgroups();
  Summary bare = summarize(bare_ms);
  Summary floor = summarize(floor_ms);
  Summary stopped = summarize(ipcrt_ms);
  Section& section = report.section(
      "Stop of 200 services",
      "One sample: from SIGTERM until every process has exited and been reaped: SIGTERM to 200 "
      "bench-ready processes and waitpid (bare); SIGTERM to bench-floor, a minimal launcher of "
      "200 services with ipcrt's confinement (PID, mount and IPC namespaces, an init each, the "
      "same mounts, " +
          floor_cgroups_note() +
          "), until it has reaped them all; or SIGTERM to `ipcrt run` of 200 confined services "
          "until it exits (" +
          std::string(cgroups.usable ? "with cgroups: cgroup.kill per service"
                                     : "no cgroups: PID namespaces") +
          "); " + std::to_string(rounds) + " rounds.",
      "the bare kill", "the minimal launcher");
  section.rows.push_back(
      {"bare kill of 200 processes", bare, "ms", 1.0, bare.median / floor.median});
  section.rows.push_back({"minimal launcher, same confinement: stop of 200 services", floor, "ms",
                          floor.median / bare.median, 1.0});
  section.rows.push_back({"ipcrt: stop of 200 services", stopped, "ms",
                          stopped.median / bare.median, stopped.median / floor.median});
  report.target({"stop of 200 services / bare kill of 200 processes", stopped.median / bare.median,
                 3.0, Better::Lower, "×"});
  report.target({"stop of 200 services / the minimal launcher's (same confinement)",
                 stopped.median / floor.median, 1.2, Better::Lower, "×"});
}

}  // namespace ipcrt::bench
