// Boot scale (issue #8): generated manifests of 1, 16, 64 and 256 services, each owning one
// queue (as many as the kernel's queues_max leaves room for), booted by `ipcrt run` until
// every service runs, against a bare fork + execve of the same programs and against the floor
// of the same confinement (issue 21: bench-floor, a minimal launcher doing ipcrt's
// confinement steps). "Running" is each service's byte on a FIFO (bench-ready). The
// supervisor's resident memory is read once all services run. Each boot is followed by its
// stop, timed too: SIGTERM until every process has been reaped.
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "bench/benchmarks.hpp"
#include "bench/scale.hpp"
#include "common/file.hpp"
#include "runtime/kernel_state.hpp"

namespace ipcrt::bench {
namespace {

constexpr int kServiceCounts[] = {1, 16, 64, 256};

std::string queue_path(int index) {
  return "/ipcrt-bench-" + std::to_string(::getpid()) + "-" + std::to_string(index);
}

std::string service_name(int index) {
  char name[16];
  std::snprintf(name, sizeof name, "s%03d", index);
  return name;
}

std::string boot_manifest(const Options& options, const std::string& fifo, int services,
                          int queues) {
  std::string json = R"({"version": 1, "name": "bench-boot", "services": {)";
  for (int i = 0; i < services; ++i) {
    if (i > 0) json += ",";
    json += "\n  \"" + service_name(i) + R"(": {"command": [")" + options.ready + R"(", ")" + fifo +
            "\"]";
    if (i < queues) {
      json += R"(, "slots": {"q": {"interface": "posix-mq", "path": ")" + queue_path(i) +
              R"(", "max-messages": 1, "message-size": 64, "remove-on-stop": true}})";
    }
    json += "}";
  }
  return json + "\n}}\n";
}

struct BootRun {
  double milliseconds = 0;
  double stop_ms = 0;  // from SIGTERM until every process has been reaped
  std::uint64_t supervisor_kib = 0;
  double supervisor_cpu_ms = 0;  // the supervisor's own CPU until every service ran
};

std::optional<BootRun> boot_bare(const Options& options, const std::string& fifo_path, int fifo,
                                 int services) {
  std::vector<pid_t> pids;
  double start = now_ns();
  for (int i = 0; i < services; ++i) {
    pid_t pid = fork_exec({.argv = {options.ready, fifo_path}});
    if (pid > 0) pids.push_back(pid);
  }
  bool running = static_cast<int>(pids.size()) == services && wait_until_running(fifo, services, 0);
  double elapsed = now_ns() - start;
  const double stop = now_ns();
  for (pid_t pid : pids) ::kill(pid, SIGTERM);
  for (pid_t pid : pids) wait_exit(pid);
  if (!running) return std::nullopt;
  return BootRun{elapsed / 1e6, (now_ns() - stop) / 1e6, 0};
}

std::optional<BootRun> boot_ipcrt(const Options& options, const std::string& manifest,
                                  const std::string& log_path, int fifo, int services,
                                  std::string& failure) {
  int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  double start = now_ns();
  pid_t pid = fork_exec({.argv = {options.ipcrt, "run", manifest}, .stderr_fd = log});
  ::close(log);
  if (pid < 0) return std::nullopt;
  bool running = wait_until_running(fifo, services, pid);
  double elapsed = now_ns() - start;
  std::uint64_t resident = running ? resident_kib(pid) : 0;
  const double cpu_ms = running ? static_cast<double>(cpu_ns(pid)) / 1e6 : 0;
  const double stop = now_ns();
  ::kill(pid, SIGTERM);
  int status = wait_exit(pid);
  const double stop_ms = (now_ns() - stop) / 1e6;
  if (!running || status != 0) {
    std::string text = read_text_file(log_path).value_or("");
    if (text.size() > 2000) text = "..." + text.substr(text.size() - 2000);
    failure = "ipcrt run of " + std::to_string(services) + " services (exit " +
              std::to_string(status) + "): " + text;
    return std::nullopt;
  }
  return BootRun{elapsed / 1e6, stop_ms, resident, cpu_ms};
}

// Whatever happens to a run, no queue of this benchmark outlives it.
struct RemoveQueuesAtExit {
  ~RemoveQueuesAtExit() {
    for (int i = 0; i < kServiceCounts[std::size(kServiceCounts) - 1]; ++i) {
      ::mq_unlink(queue_path(i).c_str());
    }
  }
};

// Queues this process may still create: queues_max less those that exist.
int queue_headroom() {
  auto kernel = runtime::read_kernel_state();
  if (!kernel) return 0;
  return static_cast<int>(kernel->limits.queues_max) -
         static_cast<int>(kernel->existing_queues.size());
}

}  // namespace

void run_boot_scale(const Options& options, Report& report) {
  RemoveQueuesAtExit remove_queues;
  const std::string fifo_path = options.scratch_dir + "/running";
  // 0666 (mkfifo's mode is cut by the umask): the services run as dynamic users.
  if (::mkfifo(fifo_path.c_str(), 0666) != 0 || ::chmod(fifo_path.c_str(), 0666) != 0) {
    report.failure("boot scale: cannot create the FIFO " + fifo_path);
    return;
  }
  // Read and write: the FIFO never reports end-of-file between runs, and opening it does not
  // wait for a writer.
  int fifo = ::open(fifo_path.c_str(), O_RDWR | O_CLOEXEC);
  const int headroom = queue_headroom();
  struct Scale {
    int services = 0;
    int queues = 0;
    std::string manifest;
    std::vector<double> bare_ms, floor_ms, ipcrt_ms, resident_kib, cpu_us_per_service;
    std::vector<double> bare_stop_ms, floor_stop_ms, ipcrt_stop_ms;
  };
  std::vector<Scale> scales;
  for (int services : kServiceCounts) {
    Scale scale;
    scale.services = services;
    scale.queues = std::min(services, headroom);
    scale.manifest = options.scratch_dir + "/boot-" + std::to_string(services) + ".json";
    if (!write_file(scale.manifest, boot_manifest(options, fifo_path, services, scale.queues))) {
      report.failure("boot scale: cannot write " + scale.manifest);
      return;
    }
    scales.push_back(std::move(scale));
  }

  const std::string log_path = options.scratch_dir + "/boot.log";
  const int rounds = std::max(3, options.rounds / 2);
  for (int round = 0; round < rounds; ++round) {
    for (auto& scale : scales) {
      std::string failure;
      auto bare = boot_bare(options, fifo_path, fifo, scale.services);
      auto floor = run_floor(options, fifo_path, fifo, scale.services, failure);
      auto booted = floor ? boot_ipcrt(options, scale.manifest, log_path, fifo, scale.services,
                                       failure)
                          : std::nullopt;
      if (!bare || !floor || !booted) {
        report.failure("boot scale: " + (failure.empty() ? "bare fork+exec did not run" : failure));
        ::close(fifo);
        return;
      }
      scale.bare_ms.push_back(bare->milliseconds);
      scale.floor_ms.push_back(floor->boot_ms);
      scale.ipcrt_ms.push_back(booted->milliseconds);
      scale.bare_stop_ms.push_back(bare->stop_ms);
      scale.floor_stop_ms.push_back(floor->stop_ms);
      scale.ipcrt_stop_ms.push_back(booted->stop_ms);
      scale.resident_kib.push_back(static_cast<double>(booted->supervisor_kib));
      scale.cpu_us_per_service.push_back(booted->supervisor_cpu_ms * 1000 / scale.services);
    }
  }
  ::close(fifo);

  Section& boot = report.section(
      "Boot to every service running",
      "One sample: from starting the services (bare) or `ipcrt run` until each service has "
      "written its byte to a FIFO; every service owns one queue (" +
          std::to_string(scales.back().queues) +
          " at most, the kernel's queues_max less the "
          "queues that exist) with remove-on-stop; " +
          std::to_string(rounds) +
          " rounds. The minimal launcher (bench-floor) starts as many services with ipcrt's "
          "confinement and no queues: PID, mount and IPC namespaces, an init each, the same "
          "mounts, an unprivileged uid, a seccomp filter, " +
          floor_cgroups_note() + ".",
      "the bare fork+exec of as many services", "the minimal launcher");
  Section& stop = report.section(
      "Stop after each boot",
      "One sample: from SIGTERM until every process of the boot above has exited and been "
      "reaped: SIGTERM to each bare process and waitpid, SIGTERM to the minimal launcher until "
      "its exit, SIGTERM to `ipcrt run` until its exit (its remove-on-stop queues removed).",
      "the bare kill of as many processes", "the minimal launcher");
  Section& growth = report.section(
      "Boot growth, per service",
      "`ipcrt run`'s boot time above divided by the number of services.", "16 services");
  Section& memory = report.section(
      "Supervisor resident memory",
      "VmRSS of the `ipcrt run` process once every service runs (static binary; one filter, "
      "launch spec and seccomp listener per service).",
      "1 service");
  Section& cpu = report.section(
      "Supervisor CPU per service at boot",
      "The `ipcrt run` process's own CPU time (all its threads: schedstat, or utime+stime in "
      "clock ticks where the kernel has no schedstat) from its exec "
      "until every service runs, divided by the number of services: parse, plan, filters, "
      "resources and each launch, not the services' own.",
      "16 services");
  double per_service_16 = 0;
  double cpu_16 = 0;
  for (const auto& scale : scales) {
    Summary bare = summarize(scale.bare_ms);
    Summary floor = summarize(scale.floor_ms);
    Summary booted = summarize(scale.ipcrt_ms);
    std::string count =
        std::to_string(scale.services) + (scale.services == 1 ? " service" : " services");
    boot.rows.push_back({count + ", bare fork+exec", bare, "ms", 1.0, bare.median / floor.median});
    boot.rows.push_back({count + ", minimal launcher, same confinement", floor, "ms",
                         floor.median / bare.median, 1.0});
    boot.rows.push_back({count + ", ipcrt run (" + std::to_string(scale.queues) +
                             (scale.queues == 1 ? " queue)" : " queues)"),
                         booted,
                         "ms",
                         booted.median / bare.median,
                         booted.median / floor.median});
    Summary bare_stop = summarize(scale.bare_stop_ms);
    Summary floor_stop = summarize(scale.floor_stop_ms);
    Summary stopped = summarize(scale.ipcrt_stop_ms);
    stop.rows.push_back({count + ", bare kill", bare_stop, "ms", 1.0,
                         bare_stop.median / floor_stop.median});
    stop.rows.push_back({count + ", minimal launcher, same confinement", floor_stop, "ms",
                         floor_stop.median / bare_stop.median, 1.0});
    stop.rows.push_back({count + ", ipcrt run", stopped, "ms", stopped.median / bare_stop.median,
                         stopped.median / floor_stop.median});
    std::vector<double> per_service;
    for (double ms : scale.ipcrt_ms) per_service.push_back(ms * 1000 / scale.services);
    Summary per = summarize(per_service);
    if (scale.services == 16) per_service_16 = per.median;
    growth.rows.push_back({count, per, "µs", {}, {}});
    memory.rows.push_back({count, summarize(scale.resident_kib), "KiB", {}, {}});
    Summary cpu_per = summarize(scale.cpu_us_per_service);
    if (scale.services == 16) cpu_16 = cpu_per.median;
    cpu.rows.push_back({count, cpu_per, "µs", {}, {}});
    if (scale.services == 256) {
      report.target({"boot of 256 services / their bare fork+exec", booted.median / bare.median,
                     1.5, Better::Lower, "×"});
      report.target({"boot of 256 services / the minimal launcher's (same confinement)",
                     booted.median / floor.median, 1.2, Better::Lower, "×"});
      report.target({"stop of 256 services / the minimal launcher's (same confinement)",
                     stopped.median / floor_stop.median, 1.2, Better::Lower, "×"});
    }
    if (scale.services == 64) {
      report.target({"supervisor resident with 64 services",
                     summarize(scale.resident_kib).median / 1024, 4, Better::Lower, " MiB"});
    }
  }
  for (auto& row : growth.rows) row.ratio = row.summary.median / per_service_16;
  for (auto& row : cpu.rows) row.ratio = row.summary.median / cpu_16;
  for (auto& row : memory.rows) row.ratio = row.summary.median / memory.rows.front().summary.median;
  report.target({"linear boot: per-service time at 256 / at 16 services",
                 growth.rows.back().summary.median / per_service_16, 1.5, Better::Lower, "×"});
}

}  // namespace ipcrt::bench
