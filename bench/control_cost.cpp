// The control interface (SPEC §10): what asking a running device costs.
//   - `ipcrt status --json` of a 64-service manifest, the whole command (fork, exec, connect,
//     GetStatus, print), against `ipcrt validate` of the same manifest (fork, exec, read,
//     parse, check): the floor of any ipcrt command that reads the manifest. Goal: ≤ 1.5×.
//   - The GetStatus round trip alone, from a connected client in this process.
//   - The supervisor's resident memory with those 64 services running, without clients and
//     with 16 connected clients (each has made a call and stays connected). Goal: ≤ 4 MiB plus
//     the log ring's budget (log.ring-bytes, 1 MiB by default).
// The runtime and the commands run unpinned (the scheduler's choice) and, in rows of their
// own, pinned to one CPU (the command and the supervisor's loop on CPU 0).
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "bench/benchmarks.hpp"
#include "bench/scale.hpp"
#include "common/file.hpp"
#include "runtime/control/client.hpp"
#include "runtime/control/socket_path.hpp"
#include "runtime/kernel_state.hpp"

namespace ipcrt::bench {
namespace {

constexpr int kServices = 64;
constexpr int kClients = 16;
constexpr int kRoundTrips = 200;  // GetStatus calls per sample
constexpr const char* kManifestName = "bench-control";
constexpr double kRingBudgetMiB = 1.0;  // log.ring-bytes' default (SPEC §14)

std::string queue_path(int index) {
  return "/ipcrt-bench-ctl-" + std::to_string(::getpid()) + "-" + std::to_string(index);
}

std::string manifest_text(const Options& options, const std::string& fifo, int queues) {
  std::string json =
      std::string(R"({"version": 1, "name": ")") + kManifestName + R"(", "services": {)";
  for (int i = 0; i < kServices; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "s%03d", i);
    if (i > 0) json += ",";
    json += "\n  \"" + std::string(name) + R"(": {"command": [")" + options.ready + R"(", ")" +
            fifo + "\"]";
    if (i < queues) {
      json += R"(, "slots": {"q": {"interface": "posix-mq", "path": ")" + queue_path(i) +
              R"(", "max-messages": 1, "message-size": 64, "remove-on-stop": true}})";
    }
    json += "}";
  }
  return json + "\n}}\n";
}

// One whole command, its output to /dev/null: wall milliseconds and CPU milliseconds (its
// user + system time, and the supervisor loop's CPU time meanwhile); nullopt if it failed.
// The CPU time is what the machine's other load cannot inflate.
struct CommandCost {
  double wall_ms = 0;
  double cpu_ms = 0;
};

// CPU time of a process's main thread so far (sum_exec_runtime, ns resolution), in ms.
double thread_cpu_ms(pid_t pid) {
  return static_cast<double>(main_thread_cpu_ns(pid)) / 1e6;
}

std::optional<CommandCost> run_command(const std::vector<std::string>& argv, int cpu,
                                       pid_t supervisor) {
  const double server_before = thread_cpu_ms(supervisor);
  const double start = now_ns();
  const pid_t pid = fork_exec({.argv = argv, .cpu = cpu});
  if (pid < 0) return std::nullopt;
  int status = 0;
  rusage usage{};
  while (::wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) return std::nullopt;
  }
  const double elapsed = (now_ns() - start) / 1e6;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  const double own = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3 +
                     static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3;
  return CommandCost{elapsed, own + thread_cpu_ms(supervisor) - server_before};
}

struct RemoveQueues {
  ~RemoveQueues() {
    for (int i = 0; i < kServices; ++i) ::mq_unlink(queue_path(i).c_str());
  }
};

struct Samples {
  std::vector<double> validate, status, validate_cpu, status_cpu, round_trip_us;
};

}  // namespace

void run_control_cost(const Options& options, Report& report) {
  RemoveQueues remove_queues;
  auto kernel = runtime::read_kernel_state();
  const int headroom = kernel ? static_cast<int>(kernel->limits.queues_max) -
                                    static_cast<int>(kernel->existing_queues.size())
                              : 0;
  const int queues = std::max(0, std::min(kServices, headroom - 4));
  const std::string fifo_path = options.scratch_dir + "/control.fifo";
  const std::string manifest = options.scratch_dir + "/control-64.json";
  const std::string log_path = options.scratch_dir + "/control.log";
  if (::mkfifo(fifo_path.c_str(), 0666) != 0 || ::chmod(fifo_path.c_str(), 0666) != 0 ||
      !write_file(manifest, manifest_text(options, fifo_path, queues))) {
    report.failure("control: cannot write the manifest or the FIFO");
    return;
  }
  const int fifo = ::open(fifo_path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const pid_t runtime_pid = fork_exec({.argv = {options.ipcrt, "run", manifest}, .stderr_fd = log});
  ::close(log);
  if (runtime_pid < 0 || !wait_until_running(fifo, kServices, runtime_pid)) {
    std::string text = read_text_file(log_path).value_or("");
    if (text.size() > 2000) text = text.substr(0, 2000) + "...";
    report.failure("control: ipcrt run of 64 services: " + text);
    if (runtime_pid > 0) {
      ::kill(runtime_pid, SIGTERM);
      wait_exit(runtime_pid);
    }
    ::close(fifo);
    return;
  }
  const std::string socket = runtime::control::control_socket_path(kManifestName);

  // Unpinned and pinned, interleaved round by round.
  Samples unpinned, pinned;
  std::string failure;
  for (int round = 0; round < options.rounds && failure.empty(); ++round) {
    for (auto [samples, cpu] : {std::pair{&unpinned, -1}, std::pair{&pinned, 0}}) {
      // Pinned: the command and the supervisor's loop (the runtime's main thread) on CPU 0.
      cpu_set_t cpus;
      CPU_ZERO(&cpus);
      for (int i = 0; i < CPU_SETSIZE; ++i) {
        if (cpu < 0 || i == cpu) CPU_SET(i, &cpus);
      }
      ::sched_setaffinity(runtime_pid, sizeof cpus, &cpus);
      auto validate = run_command({options.ipcrt, "validate", manifest}, cpu, runtime_pid);
      auto status = run_command({options.ipcrt, "status", "--json", "--manifest", kManifestName},
                                cpu, runtime_pid);
      if (!validate || !status) {
        failure = "control: ipcrt validate or ipcrt status --json failed";
        break;
      }
      samples->validate.push_back(validate->wall_ms);
      samples->status.push_back(status->wall_ms);
      samples->validate_cpu.push_back(validate->cpu_ms);
      samples->status_cpu.push_back(status->cpu_ms);
    }
    // The round trip from this process (unpinned): kRoundTrips calls on one connection.
    auto client = runtime::control::ControlClient::connect(socket);
    if (!client) {
      failure = "control: connect: " + client.error().message;
      break;
    }
    const double start = now_ns();
    for (int i = 0; i < kRoundTrips; ++i) {
      auto reply = client->call("io.ipcrt.Runtime.GetStatus");
      if (!reply || reply->error) {
        failure = "control: GetStatus failed";
        break;
      }
    }
    unpinned.round_trip_us.push_back((now_ns() - start) / 1e3 / kRoundTrips);
  }

  // Resident memory: 64 services running, then 16 clients connected as well.
  const double alone_kib = static_cast<double>(resident_kib(runtime_pid));
  std::vector<runtime::control::ControlClient> clients;
  for (int i = 0; i < kClients && failure.empty(); ++i) {
    auto client = runtime::control::ControlClient::connect(socket);
    if (!client || !client->call("io.ipcrt.Runtime.GetStatus")) {
      failure = "control: client " + std::to_string(i) + " could not connect";
      break;
    }
    clients.push_back(std::move(*client));
  }
  const double clients_kib = static_cast<double>(resident_kib(runtime_pid));
  clients.clear();
  ::kill(runtime_pid, SIGTERM);
  const int status = wait_exit(runtime_pid);
  ::close(fifo);
  if (!failure.empty() || status != 0) {
    report.failure(failure.empty() ? "control: ipcrt run did not stop cleanly" : failure);
    return;
  }

  Section& section = report.section(
      "Asking a running device: `ipcrt status --json` of 64 services",
      "One sample: one whole command (fork, exec, its work, exit) against `ipcrt run` of 64 "
      "services" +
          std::string(queues > 0 ? " (" + std::to_string(queues) + " owning a queue)" : "") +
          "; CPU time: the command's user + system time plus the supervisor loop's CPU time "
          "meanwhile (unpinned and pinned samples together); the round trip is the mean of " +
          std::to_string(kRoundTrips) +
          " GetStatus calls on one connection from the benchmark's process.",
      "ipcrt validate, unpinned");
  const double floor = summarize(unpinned.validate).median;
  const double pinned_floor = summarize(pinned.validate).median;
  section.rows.push_back(
      {"ipcrt validate MANIFEST, unpinned", summarize(unpinned.validate), "ms", 1.0, {}});
  section.rows.push_back({"ipcrt status --json, unpinned",
                          summarize(unpinned.status),
                          "ms",
                          summarize(unpinned.status).median / floor,
                          {}});
  section.rows.push_back({"ipcrt validate MANIFEST, pinned to one CPU",
                          summarize(pinned.validate),
                          "ms",
                          pinned_floor / floor,
                          {}});
  section.rows.push_back({"ipcrt status --json, pinned to one CPU",
                          summarize(pinned.status),
                          "ms",
                          summarize(pinned.status).median / floor,
                          {}});
  std::vector<double> validate_cpu = unpinned.validate_cpu, status_cpu = unpinned.status_cpu;
  validate_cpu.insert(validate_cpu.end(), pinned.validate_cpu.begin(), pinned.validate_cpu.end());
  status_cpu.insert(status_cpu.end(), pinned.status_cpu.begin(), pinned.status_cpu.end());
  const double cpu_floor = summarize(validate_cpu).median;
  // These two rows' ratios are to validate's CPU time, not its wall time.
  section.rows.push_back(
      {"CPU time of ipcrt validate (ratio: to itself)", summarize(validate_cpu), "ms", 1.0, {}});
  section.rows.push_back(
      {"CPU time of ipcrt status --json + the supervisor's for it (ratio: to validate's)",
       summarize(status_cpu),
       "ms",
       summarize(status_cpu).median / cpu_floor,
       {}});
  const Summary trip = summarize(unpinned.round_trip_us);
  section.rows.push_back(
      {"GetStatus round trip (64 services), connected", trip, "µs", trip.median / 1e3 / floor, {}});
  report.target({"`status --json` / `validate` of 64 services, unpinned",
                 summarize(unpinned.status).median / floor, 1.5, Better::Lower, "×"});
  report.target({"`status --json` / `validate` of 64 services, pinned",
                 summarize(pinned.status).median / pinned_floor, 1.5, Better::Lower, "×"});
  report.target({"CPU time of `status --json` (and the supervisor's) / `validate`",
                 summarize(status_cpu).median / cpu_floor, 1.5, Better::Lower, "×"});

  Section& memory = report.section(
      "Supervisor resident memory with clients",
      "VmRSS of `ipcrt run` with 64 services running, read once; then with " +
          std::to_string(kClients) + " control clients connected, each after one GetStatus.",
      "no clients");
  memory.rows.push_back({"64 services, no clients", {alone_kib, 0}, "KiB", 1.0, {}});
  memory.rows.push_back(
      {"64 services, 16 connected clients", {clients_kib, 0}, "KiB", clients_kib / alone_kib, {}});
  report.target({"supervisor resident, 64 services + 16 clients (≤ 4 MiB + 1 MiB ring)",
                 clients_kib / 1024, 4 + kRingBudgetMiB, Better::Lower, " MiB"});
}

}  // namespace ipcrt::bench
