// Reload (SPEC §12, issue 19): `ipcrt reload` of a 64-service manifest in which one service
// changed, from the command's start to its exit 0 (confirmed), against that service's own
// start (`ipcrt start` after `ipcrt stop`, the same command path and readiness) and its
// `ipcrt restart`. Goal: reload ≤ 2× the start, plus the confirm window. The changed service
// is the consumer of a queue that an unchanged producer fills with numbered messages through
// every round; at the end the numbers received plus those left in the queue must be 1..N,
// each once: messages lost and duplicated, both goal 0.
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <set>

#include "bench/benchmarks.hpp"
#include "bench/scale.hpp"
#include "common/file.hpp"

namespace ipcrt::bench {
namespace {

constexpr int kServices = 64;   // 62 idle ones, the producer and the changed consumer
constexpr int kWindowMs = 100;  // the confirm window of the row the goal is checked on
constexpr const char* kManifestName = "bench-reload";

std::string queue_path() {
  return "/ipcrt-bench-reload-" + std::to_string(::getpid());
}

// `generation` is the consumer's only difference from one manifest to the next.
std::string manifest_text(const Options& options, const std::string& fifo,
                          const std::string& received, int generation) {
  std::string json =
      std::string(R"({"version": 1, "name": ")") + kManifestName + R"(", "services": {)";
  for (int i = 0; i < kServices - 2; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "s%03d", i);
    json += "\n  \"" + std::string(name) + R"(": {"command": [")" + options.ready + R"(", ")" +
            fifo + "\"]},";
  }
  json += "\n  \"src\": {\"command\": [\"" + options.sequence + "\", \"send\", \"" + queue_path() +
          "\"], \"slots\": {\"out\": {\"interface\": \"posix-mq\", \"path\": \"" + queue_path() +
          "\", \"max-messages\": 8, \"message-size\": 64}}},";
  json += "\n  \"sink\": {\"command\": [\"" + options.sequence + "\", \"receive\", \"" +
          queue_path() + "\", \"" + received + "\"], \"environment\": {\"GENERATION\": \"" +
          std::to_string(generation) + "\"}, \"plugs\": {\"out\": {\"interface\": \"posix-mq\"}}}";
  return json + "\n}}\n";
}

// One whole ipcrt command: wall milliseconds, nullopt unless it exited 0 (then `failure` says
// which, with what it printed).
std::optional<double> timed(const std::vector<std::string>& argv, const std::string& scratch,
                            std::string& failure) {
  const std::string output = scratch + "/reload-command.err";
  const int err = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const double start = now_ns();
  const pid_t pid = fork_exec({.argv = argv, .stderr_fd = err});
  const int status = pid < 0 ? -1 : wait_exit(pid);
  const double elapsed = (now_ns() - start) / 1e6;
  if (err >= 0) ::close(err);
  if (status == 0) return elapsed;
  if (failure.empty()) {
    std::string command;
    for (std::size_t i = 1; i < argv.size(); ++i) command += (i > 1 ? " " : "") + argv[i];
    failure = "reload: ipcrt " + command + " exited " + std::to_string(status) + ": " +
              read_text_file(output).value_or("");
  }
  return std::nullopt;
}

struct Sequence {
  long received = 0;
  long lost = 0;
  long duplicated = 0;
};

// The numbers in `received` (one a line) and then those still in the queue: each of 1..max
// once, or counted as lost or duplicated.
Sequence check_sequence(const std::string& received) {
  Sequence result;
  std::multiset<long> numbers;
  const std::string text = read_text_file(received).value_or("");
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    numbers.insert(std::strtol(text.c_str() + start, nullptr, 10));
    start = end + 1;
  }
  const mqd_t queue = ::mq_open(queue_path().c_str(), O_RDONLY | O_NONBLOCK);
  if (queue != (mqd_t)-1) {
    char buffer[8192];
    for (ssize_t n; (n = ::mq_receive(queue, buffer, sizeof buffer, nullptr)) > 0;) {
      numbers.insert(
          std::strtol(std::string(buffer, static_cast<std::size_t>(n)).c_str(), nullptr, 10));
    }
    ::mq_close(queue);
  }
  result.received = static_cast<long>(numbers.size());
  const long highest = numbers.empty() ? 0 : *numbers.rbegin();
  for (long n = 1; n <= highest; ++n) {
    const auto count = static_cast<long>(numbers.count(n));
    if (count == 0) ++result.lost;
    if (count > 1) result.duplicated += count - 1;
  }
  return result;
}

struct Samples {
  std::vector<double> start, restart, reload, reload_window;
};

}  // namespace

void run_reload_cost(const Options& options, Report& report) {
  const std::string fifo_path = options.scratch_dir + "/reload.fifo";
  const std::string manifest = options.scratch_dir + "/reload-64.json";
  const std::string log_path = options.scratch_dir + "/reload.log";
  const std::string received = options.scratch_dir + "/reload.received";
  ::mq_unlink(queue_path().c_str());
  if (::mkfifo(fifo_path.c_str(), 0666) != 0 || ::chmod(fifo_path.c_str(), 0666) != 0 ||
      !write_file(received, "") || ::chmod(received.c_str(), 0666) != 0 ||
      !write_file(manifest, manifest_text(options, fifo_path, received, 0))) {
    report.failure("reload: cannot write the manifest, the FIFO or the received file");
    return;
  }
  const int fifo = ::open(fifo_path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const pid_t runtime_pid = fork_exec({.argv = {options.ipcrt, "run", manifest}, .stderr_fd = log});
  ::close(log);
  auto stop_runtime = [&] {
    ::kill(runtime_pid, SIGTERM);
    const int status = wait_exit(runtime_pid);
    ::close(fifo);
    return status;
  };
  if (runtime_pid < 0 || !wait_until_running(fifo, kServices - 2, runtime_pid)) {
    std::string text = read_text_file(log_path).value_or("");
    if (text.size() > 2000) text = text.substr(0, 2000) + "...";
    report.failure("reload: ipcrt run of 64 services: " + text);
    if (runtime_pid > 0) stop_runtime();
    ::mq_unlink(queue_path().c_str());
    return;
  }

  const std::string name = kManifestName;
  const std::string& scratch = options.scratch_dir;
  Samples samples;
  std::string failure;
  int generation = 0;
  for (int round = 0; round < options.rounds && failure.empty(); ++round) {
    // Its own start: the same command path, the same readiness (exec'd).
    if (!timed({options.ipcrt, "stop", "--manifest", name, "sink"}, scratch, failure)) break;
    auto start = timed({options.ipcrt, "start", "--manifest", name, "sink"}, scratch, failure);
    auto restart = timed({options.ipcrt, "restart", "--manifest", name, "sink"}, scratch, failure);
    // One changed service (its environment): stopped, started, confirmed at once (window 0),
    // then with a window of kWindowMs.
    write_file(manifest, manifest_text(options, fifo_path, received, ++generation));
    auto reload =
        timed({options.ipcrt, "reload", manifest, "--confirm-ms", "0", "--manifest", name}, scratch,
              failure);
    write_file(manifest, manifest_text(options, fifo_path, received, ++generation));
    auto windowed = timed({options.ipcrt, "reload", manifest, "--confirm-ms",
                           std::to_string(kWindowMs), "--manifest", name},
                          scratch, failure);
    if (!start || !restart || !reload || !windowed) break;
    samples.start.push_back(*start);
    samples.restart.push_back(*restart);
    samples.reload.push_back(*reload);
    samples.reload_window.push_back(*windowed);
  }
  // Every idle service was left alone: none said "running" again.
  char buffer[512];
  const ssize_t again = ::read(fifo, buffer, sizeof buffer);
  const int status = stop_runtime();
  const Sequence sequence = check_sequence(received);
  ::mq_unlink(queue_path().c_str());
  if (!failure.empty() || status != 0) {
    std::string text = read_text_file(log_path).value_or("");
    if (text.size() > 3000) text = text.substr(text.size() - 3000);
    report.failure((failure.empty() ? "reload: ipcrt run did not stop cleanly" : failure) + "\n" +
                   text);
    return;
  }
  if (again > 0) {
    report.failure("reload: " + std::to_string(again) + " unchanged services were restarted");
  }

  Section& section = report.section(
      "Reload: one changed service of 64",
      "One sample: one whole command (fork, exec, its work, exit 0). The changed service is the "
      "consumer of a queue an unchanged producer writes a numbered message into every 2 ms; "
      "reload: plan against what runs, stop it, start it, confirm (window 0, then " +
          std::to_string(kWindowMs) + " ms). " + std::to_string(sequence.received) +
          " messages through " + std::to_string(samples.reload.size() * 4) +
          " stops and starts of the consumer.",
      "ipcrt start of the service");
  const double floor = summarize(samples.start).median;
  section.rows.push_back(
      {"ipcrt start SERVICE (after stop)", summarize(samples.start), "ms", 1.0, {}});
  section.rows.push_back({"ipcrt restart SERVICE",
                          summarize(samples.restart),
                          "ms",
                          summarize(samples.restart).median / floor,
                          {}});
  section.rows.push_back({"ipcrt reload, one service changed, --confirm-ms 0",
                          summarize(samples.reload),
                          "ms",
                          summarize(samples.reload).median / floor,
                          {}});
  const Summary windowed = summarize(samples.reload_window);
  section.rows.push_back(
      {"ipcrt reload, one service changed, --confirm-ms " + std::to_string(kWindowMs),
       windowed,
       "ms",
       windowed.median / floor,
       {}});
  section.rows.push_back(
      {"messages lost", {static_cast<double>(sequence.lost), 0}, "messages", {}, {}});
  section.rows.push_back(
      {"messages duplicated", {static_cast<double>(sequence.duplicated), 0}, "messages", {}, {}});
  report.target({"reload of one changed service / its start (window 0)",
                 summarize(samples.reload).median / floor, 2.0, Better::Lower, "×"});
  report.target({"(reload − its " + std::to_string(kWindowMs) + " ms window) / the start",
                 (windowed.median - kWindowMs) / floor, 2.0, Better::Lower, "×"});
  report.target({"messages lost or duplicated through the reloads",
                 static_cast<double>(sequence.lost + sequence.duplicated), 0, Better::Lower, ""});
}

}  // namespace ipcrt::bench
