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

// One stop: milliseconds from the first SIGTERM to the last exit (negative on failure), the CPU
// time every CPU spent on it, and the stopping process's own (its main thread's).
struct Stop {
  double ms = -1;
  double busy_cpu_ms = 0;
  double own_cpu_ms = 0;
};

double busy_cpu_ms_since(std::uint64_t before) {
  return static_cast<double>(busy_cpu_ns() - before) / 1e6;
}

Stop stop_bare(const Options& options, const std::string& fifo_path, int fifo) {
  std::vector<pid_t> pids;
  for (int i = 0; i < kServices; ++i) {
    pid_t pid = fork_exec({.argv = {options.ready, fifo_path}});
    if (pid > 0) pids.push_back(pid);
  }
  const bool running =
      static_cast<int>(pids.size()) == kServices && wait_until_running(fifo, kServices, 0);
  const std::uint64_t busy_before = busy_cpu_ns();
  const std::uint64_t own_before = main_thread_cpu_ns(::getpid());
  const double start = now_ns();
  for (pid_t pid : pids) ::kill(pid, SIGTERM);
  for (pid_t pid : pids) wait_exit(pid);
  if (!running) return {};
  return {(now_ns() - start) / 1e6, busy_cpu_ms_since(busy_before),
          static_cast<double>(main_thread_cpu_ns(::getpid()) - own_before) / 1e6};
}

Stop stop_ipcrt(const Options& options, const std::string& manifest, const std::string& log_path,
                int fifo, std::string& failure) {
  int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  pid_t pid = fork_exec({.argv = {options.ipcrt, "run", manifest}, .stderr_fd = log});
  ::close(log);
  if (pid < 0) return {};
  const bool running = wait_until_running(fifo, kServices, pid);
  const std::uint64_t supervisor_before = main_thread_cpu_ns(pid);
  const std::uint64_t busy_before = busy_cpu_ns();
  const double start = now_ns();
  ::kill(pid, SIGTERM);
  std::uint64_t supervisor_after = 0;
  const int status = wait_exit_with_main_thread_cpu(pid, supervisor_after);
  const double elapsed = (now_ns() - start) / 1e6;
  const double busy = busy_cpu_ms_since(busy_before);
  if (!running || status != 0) {
    std::string text = read_text_file(log_path).value_or("");
    if (text.size() > 2000) text = "..." + text.substr(text.size() - 2000);
    failure = "ipcrt run of " + std::to_string(kServices) + " services (exit " +
              std::to_string(status) + "): " + text;
    return {};
  }
  return {elapsed, busy, static_cast<double>(supervisor_after - supervisor_before) / 1e6};
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
  // [0] the bare kill, [1] the minimal launcher, [2] ipcrt
  std::vector<double> ms[3], busy_ms[3], own_ms[3];
  const int rounds = std::max(3, options.rounds / 2);
  for (int round = 0; round < rounds; ++round) {
    std::string failure;
    const Stop bare = stop_bare(options, fifo_path, fifo);
    const auto floor = run_floor(options, fifo_path, fifo, kServices, failure);
    const Stop stopped = floor ? stop_ipcrt(options, manifest, log_path, fifo, failure) : Stop{};
    if (bare.ms < 0 || !floor || stopped.ms < 0) {
      report.failure("stop scale: " + (failure.empty() ? "bare fork+exec did not run" : failure));
      ::close(fifo);
      return;
    }
    const Stop launcher{floor->stop_ms, floor->stop_busy_cpu_ms, floor->stop_launcher_cpu_ms};
    int at = 0;
    for (const Stop& stop : {bare, launcher, stopped}) {
      ms[at].push_back(stop.ms);
      busy_ms[at].push_back(stop.busy_cpu_ms);
      own_ms[at].push_back(stop.own_cpu_ms);
      ++at;
    }
  }
  ::close(fifo);

  const auto cgroups = runtime::probe_cgroups();
  Summary bare = summarize(ms[0]);
  Summary floor = summarize(ms[1]);
  Summary stopped = summarize(ms[2]);
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
          "); " + std::to_string(rounds) +
          " rounds. CPU rows: through the same stop, the time every CPU was busy (/proc/stat, "
          "in clock ticks of 10 ms a CPU: only as precise as that), and the stopping process's "
          "own main thread's (this benchmark's for the bare kill, the launcher's, ipcrt's "
          "supervisor loop's).",
      "the bare kill", "the minimal launcher");
  section.rows.push_back(
      {"bare kill of 200 processes", bare, "ms", 1.0, bare.median / floor.median});
  section.rows.push_back({"minimal launcher, same confinement: stop of 200 services", floor, "ms",
                          floor.median / bare.median, 1.0});
  section.rows.push_back({"ipcrt: stop of 200 services", stopped, "ms",
                          stopped.median / bare.median, stopped.median / floor.median});
  const char* names[3] = {"bare kill", "minimal launcher", "ipcrt"};
  for (auto* cpu : {busy_ms, own_ms}) {
    const Summary bare_cpu = summarize(cpu[0]);
    const Summary floor_cpu = summarize(cpu[1]);
    for (int at = 0; at < 3; ++at) {
      const Summary summary = summarize(cpu[at]);
      section.rows.push_back(
          {std::string(names[at]) + (cpu == busy_ms
                                         ? ": CPU time of all CPUs through the stop"
                                         : ": CPU time of the stopping process's main thread"),
           summary, "ms",
           bare_cpu.median > 0 ? std::optional(summary.median / bare_cpu.median) : std::nullopt,
           floor_cpu.median > 0 ? std::optional(summary.median / floor_cpu.median) : std::nullopt});
    }
  }
  report.target({"stop of 200 services / bare kill of 200 processes", stopped.median / bare.median,
                 3.0, Better::Lower, "×"});
  report.target({"stop of 200 services / the minimal launcher's (same confinement)",
                 stopped.median / floor.median, 1.2, Better::Lower, "×"});
}

}  // namespace ipcrt::bench
