// Logs (SPEC §14): what service output costs the supervisor, and whether a flood of it slows
// anyone else.
//   - CPU per MiB: a Daemon in this process boots one service that prints 16 MiB of 100-byte
//     lines, its budget lifted so that nothing waits; the supervisor thread's CPU time
//     (RUSAGE_THREAD) minus that of the same service printing nothing, per MiB, with the
//     runtime's stderr on /dev/null, on a pipe another thread drains, and with log files too.
//     At the default budget (64 KiB/s) one flooding service then costs 1/16 of that per second.
//   - Round trips under a flood: `ipcrt run` of bench-flow's echo and client (10000 round trips
//     of 64 bytes) beside a third service that floods stdout for 3 s or idles as long, all on
//     one CPU; the client's 99th percentile, quiet and flooded.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <thread>

#include "bench/benchmarks.hpp"
#include "runtime/daemon.hpp"
#include "runtime/logs/runtime_log.hpp"

namespace ipcrt::bench {
namespace {

constexpr long kLineBytes = 100;
constexpr long kMiB = 1024 * 1024;
constexpr long kPrintedMiB = 16;
// About a second of round trips: several of the flood's read-pause cycles (4 per second at the
// default budget) fall inside, so the percentile sees them rather than a lucky window.
constexpr long kRoundTrips = 200000;
constexpr int kCpu = 0;  // as the message-flow benchmark: one CPU for everything

double thread_cpu_ms() {
  rusage usage{};
  ::getrusage(RUSAGE_THREAD, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3 +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3;
}

std::string quoted_list(const std::vector<std::string>& items) {
  std::string json;
  for (const auto& item : items) json += (json.empty() ? "\"" : ", \"") + item + "\"";
  return "[" + json + "]";
}

std::string print_manifest(const Options& options, const std::string& name, long lines,
                           const std::string& log_dir) {
  std::string log = log_dir.empty() ? "" : R"(, "log": {"dir": ")" + log_dir + R"("})";
  return R"({"version": 1, "name": ")" + name + "\"" + log + R"(, "services": {
  "printer": {"command": )" +
         quoted_list({options.print, "lines", std::to_string(lines), std::to_string(kLineBytes)}) +
         "}}}\n";
}

enum class Sink { DevNull, Pipe };

// The supervisor thread's CPU time for one run of `manifest_path`, or nullopt.
std::optional<double> supervisor_cpu_ms(const std::string& manifest_path, Sink sink,
                                        std::string& failure) {
  runtime::DaemonOptions daemon_options;
  daemon_options.manifest_path = manifest_path;
  daemon_options.logs.rate_bytes_per_s = std::size_t{1} << 30;  // never paused: pure cost
  daemon_options.logs.burst_bytes = std::size_t{1} << 30;
  config::Diagnostics diagnostics;
  auto daemon = runtime::Daemon::prepare(std::move(daemon_options), diagnostics);
  if (!daemon) {
    failure = diagnostics.format(manifest_path);
    return std::nullopt;
  }
  if (auto booted = (*daemon)->boot(); !booted) {
    failure = booted.error().step;
    return std::nullopt;
  }
  int fds[2] = {-1, -1};
  std::thread drain;
  if (sink == Sink::DevNull) {
    fds[1] = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  } else if (::pipe2(fds, O_CLOEXEC) == 0) {
    drain = std::thread([reader = fds[0]] { (void)read_all(reader); });
  }
  runtime::RuntimeLog::instance().open(fds[1]);
  const double before = thread_cpu_ms();
  const auto status = (*daemon)->supervise();
  const double after = thread_cpu_ms();
  daemon->reset();
  runtime::RuntimeLog::instance().open(STDERR_FILENO);
  ::close(fds[1]);
  if (drain.joinable()) drain.join();
  if (status != 0) {
    failure = "the printing service failed";
    return std::nullopt;
  }
  return after - before;
}

struct CpuConfiguration {
  std::string label;
  Sink sink;
  bool files;
  std::vector<double> ms_per_mib = {};
};

void cpu_per_mib(const Options& options, Report& report) {
  std::vector<CpuConfiguration> configurations = {
      {"runtime's stderr on /dev/null", Sink::DevNull, false},
      {"runtime's stderr on a pipe drained by another thread", Sink::Pipe, false},
      {"stderr on /dev/null, and log files (log.dir)", Sink::DevNull, true},
  };
  const long lines = kPrintedMiB * kMiB / kLineBytes;
  const std::string log_dir = options.scratch_dir + "/logs";
  for (int round = 0; round < options.rounds; ++round) {
    for (auto& configuration : configurations) {
      const std::string dir = configuration.files ? log_dir : "";
      const std::string quiet = options.scratch_dir + "/print-quiet.json";
      const std::string loud = options.scratch_dir + "/print-loud.json";
      if (!write_file(quiet, print_manifest(options, "bench-print-quiet", 0, dir)) ||
          !write_file(loud, print_manifest(options, "bench-print-loud", lines, dir))) {
        report.failure("log cost: cannot write the manifests");
        return;
      }
      std::string failure;
      auto base = supervisor_cpu_ms(quiet, configuration.sink, failure);
      auto busy = base ? supervisor_cpu_ms(loud, configuration.sink, failure) : std::nullopt;
      if (!busy) {
        report.failure("log cost: " + failure);
        return;
      }
      configuration.ms_per_mib.push_back((*busy - *base) / static_cast<double>(kPrintedMiB));
    }
  }
  Section& section = report.section(
      "Supervisor CPU per MiB of service output",
      "One sample: the supervisor thread's CPU time (user + system) while one service prints " +
          std::to_string(kPrintedMiB) + " MiB of " + std::to_string(kLineBytes) +
          "-byte lines, budget lifted, minus a run of the same service printing nothing; per MiB. "
          "Each line is read, cut, escaped, stamped, kept in the ring and written to stderr.",
      configurations.front().label);
  const double reference = summarize(configurations.front().ms_per_mib).median;
  for (const auto& configuration : configurations) {
    const Summary summary = summarize(configuration.ms_per_mib);
    section.rows.push_back(
        {configuration.label, summary, "ms/MiB", summary.median / reference, {}});
  }
  // What one service flooding at the default budget costs: 64 KiB/s = 1/16 MiB/s.
  const Summary pipe = summarize(configurations[1].ms_per_mib);
  section.rows.push_back({"one service flooding at the default budget (64 KiB/s), stderr a pipe",
                          {pipe.median / 16 / 10, pipe.spread},  // ms per s -> % of one CPU
                          "% CPU",
                          {},
                          {}});
}

// ---- round trips while another service floods

std::string flow_manifest(const Options& options, const std::string& requests,
                          const std::string& replies, bool flood) {
  auto slot = [&](const std::string& path, const char* permission) {
    return R"({"interface": "posix-mq", "path": ")" + path + R"(", "permissions": [")" +
           permission + R"("], "max-messages": 4, "message-size": 64, "remove-on-stop": true})";
  };
  return R"({"version": 1, "name": "bench-logs", "services": {
  "echo": {"command": )" +
         quoted_list({options.flow, "echo", requests, replies}) + R"(, "slots": {"requests": )" +
         slot(requests, "write") + R"(, "replies": )" + slot(replies, "read") + R"(}},
  "client": {"command": )" +
         quoted_list(
             {options.flow, "client", requests, replies, std::to_string(kRoundTrips), "1", "64"}) +
         R"(, "after": ["echo"], "environment": {"BENCH_FLOW_DELAY_MS": "500"},
    "plugs": {"requests": {"interface": "posix-mq"}, "replies": {"interface": "posix-mq"}}},
  "noise": {"command": )" +
         quoted_list({options.print, flood ? "flood" : "idle", "3"}) + R"(}
}}
)";
}

// The client's 99th percentile round trip in µs, from ipcrt's log.
std::optional<double> p99_us(const Options& options, const std::string& manifest, int cpu,
                             std::string& failure) {
  int err[2];
  if (::pipe2(err, O_CLOEXEC) != 0) return std::nullopt;
  pid_t pid =
      fork_exec({.argv = {options.ipcrt, "run", manifest}, .stderr_fd = err[1], .cpu = cpu});
  ::close(err[1]);
  const std::string log = read_all(err[0]);  // also the flood's lines: read as they come
  const int status = wait_exit(pid);
  const char* found = std::strstr(log.c_str(), "p99_ns=");
  if (status != 0 || found == nullptr) {
    failure = "ipcrt run (exit " + std::to_string(status) + "): " + log.substr(0, 4096);
    return std::nullopt;
  }
  return std::atof(found + 7) / 1000;
}

void round_trips_under_flood(const Options& options, Report& report) {
  const std::string requests = "/ipcrt-bench-logs-" + std::to_string(::getpid()) + "-requests";
  const std::string replies = "/ipcrt-bench-logs-" + std::to_string(::getpid()) + "-replies";
  const std::string quiet = options.scratch_dir + "/logs-quiet.json";
  const std::string flooded = options.scratch_dir + "/logs-flood.json";
  if (!write_file(quiet, flow_manifest(options, requests, replies, false)) ||
      !write_file(flooded, flow_manifest(options, requests, replies, true))) {
    report.failure("log flood: cannot write the manifests");
    return;
  }
  // Pinned (everything on one CPU: the flood's reader competes with the pair) and unpinned,
  // interleaved round by round.
  std::vector<double> quiet_p99, flood_p99, quiet_free, flood_free;
  for (int round = 0; round < options.rounds; ++round) {
    std::string failure;
    auto calm = p99_us(options, quiet, kCpu, failure);
    auto busy = calm ? p99_us(options, flooded, kCpu, failure) : std::nullopt;
    auto calm_free = busy ? p99_us(options, quiet, -1, failure) : std::nullopt;
    auto busy_free = calm_free ? p99_us(options, flooded, -1, failure) : std::nullopt;
    if (!busy_free) {
      report.failure("log flood: " + failure);
      return;
    }
    quiet_p99.push_back(*calm);
    flood_p99.push_back(*busy);
    quiet_free.push_back(*calm_free);
    flood_free.push_back(*busy_free);
  }
  Section& section = report.section(
      "Round trips while another service floods stdout",
      "One sample: the 99th percentile of " + std::to_string(kRoundTrips) +
          " request/reply round trips (64 B) between two services booted by `ipcrt run`, "
          "while a third floods stdout (100-byte lines, as fast as its pipe takes them) or "
          "idles; pinned: everything on one CPU; unpinned: where the scheduler puts it. The "
          "flood is read at its budget (64 KiB/s).",
      "quiet, pinned");
  const Summary calm = summarize(quiet_p99);
  const Summary busy = summarize(flood_p99);
  const Summary calm_free = summarize(quiet_free);
  const Summary busy_free = summarize(flood_free);
  section.rows.push_back({"p99 round trip, third service idle, pinned", calm, "µs", 1.0, {}});
  section.rows.push_back({"p99 round trip, third service flooding, pinned",
                          busy,
                          "µs",
                          busy.median / calm.median,
                          {}});
  section.rows.push_back({"p99 round trip, third service idle, unpinned",
                          calm_free,
                          "µs",
                          calm_free.median / calm.median,
                          {}});
  section.rows.push_back({"p99 round trip, third service flooding, unpinned",
                          busy_free,
                          "µs",
                          busy_free.median / calm.median,
                          {}});
  report.target({"p99 round trip under a log flood / quiet, pinned", busy.median / calm.median, 1.2,
                 Better::Lower, "×"});
  report.target({"p99 round trip under a log flood / quiet, unpinned",
                 busy_free.median / calm_free.median, 1.2, Better::Lower, "×"});
}

}  // namespace

void run_log_cost(const Options& options, Report& report) {
  cpu_per_mib(options, report);
  round_trips_under_flood(options, report);
}

}  // namespace ipcrt::bench
