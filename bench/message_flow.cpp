// Message flow (issue #8): bench-flow's echo (provider, owns a request and a reply queue) and
// client (consumer) exchange round trips and a one-way stream, for a small and a large message
// size: booted by `ipcrt run` (both confined: filters, mediated mq_open, own namespaces), the
// same with "pass-queues" (the queues arrive open, the filters have no mq_open), and as the
// same two programs started unconfined on queues this process creates: in this process's
// session; each in a session of its own, as ipcrt starts every service (a session is a
// scheduler autogroup, which the confined pair pays and no filter causes); and, where ipcrt
// makes cgroups, also each in a cgroup of its own two levels down, as ipcrt's services are
// (each level is accounted at every switch: pressure, CPU time).
#include <fcntl.h>
#include <mqueue.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "bench/benchmarks.hpp"
#include "platform/mqueue.hpp"
#include "runtime/cgroups/support.hpp"

namespace ipcrt::bench {
namespace {

constexpr long kSmallSize = 64;
constexpr long kLargeSize = 8192;
constexpr long kRoundTrips = 10000;
constexpr long kMessages = 50000;
// Both ends (and the supervisor) share one CPU, in both configurations: a wake-up across
// virtual CPUs varies by tens of microseconds from one run to the next and would drown what
// confinement costs.
constexpr int kCpu = 0;

struct FlowSetup {
  std::string requests = "/ipcrt-bench-" + std::to_string(::getpid()) + "-requests";
  std::string replies = "/ipcrt-bench-" + std::to_string(::getpid()) + "-replies";
  long max_messages = 10;
  long message_size = kLargeSize;
  std::vector<long> sizes;
};

// size -> {round trip ns, messages per second}
using FlowResult = std::map<long, std::pair<double, double>>;

// How the unconfined pair is started: as this process's children, or each in a session of its
// own, and then also each in a cgroup of its own.
enum class Unconfined { SameSession, OwnSessions, OwnCgroups };

// The two cgroups of the unconfined pair, where ipcrt's would be (its own cgroup, under a
// directory for the manifest: the same depth), removed at the end.
class PairCgroups {
 public:
  PairCgroups() {
    const auto cgroups = runtime::probe_cgroups();
    if (!cgroups.usable) return;
    parent_ = cgroups.own + "/ipcrt-bench-flow." + std::to_string(::getpid());
    if (::mkdir(parent_.c_str(), 0755) != 0) {
      parent_.clear();
      return;
    }
    for (int i = 0; i < 2; ++i) {
      const std::string dir = parent_ + "/" + std::to_string(i);
      if (::mkdir(dir.c_str(), 0755) != 0) return;
      procs_[i] = ::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
    }
  }
  ~PairCgroups() {
    for (int i = 0; i < 2; ++i) {
      if (procs_[i] >= 0) ::close(procs_[i]);
      if (!parent_.empty()) ::rmdir((parent_ + "/" + std::to_string(i)).c_str());
    }
    if (!parent_.empty()) ::rmdir(parent_.c_str());
  }
  PairCgroups(const PairCgroups&) = delete;
  PairCgroups& operator=(const PairCgroups&) = delete;
  [[nodiscard]] bool usable() const { return procs_[0] >= 0 && procs_[1] >= 0; }
  [[nodiscard]] int procs(int which) const { return procs_[which]; }

 private:
  std::string parent_;
  int procs_[2] = {-1, -1};
};

std::vector<std::string> client_command(const Options& options, const FlowSetup& setup) {
  std::vector<std::string> command{options.flow,
                                   "client",
                                   setup.requests,
                                   setup.replies,
                                   std::to_string(kRoundTrips),
                                   std::to_string(kMessages)};
  for (long size : setup.sizes) command.push_back(std::to_string(size));
  return command;
}

std::string quoted_list(const std::vector<std::string>& items) {
  std::string json;
  for (const auto& item : items) json += (json.empty() ? "\"" : ", \"") + item + "\"";
  return "[" + json + "]";
}

std::string flow_manifest(const Options& options, const FlowSetup& setup, bool pass_queues) {
  const std::string passed = pass_queues ? R"(, "pass-queues": true)" : "";
  auto slot = [&](const std::string& path, const char* permission) {
    return R"({"interface": "posix-mq", "path": ")" + path + R"(", "permissions": [")" +
           permission + R"("], "max-messages": )" + std::to_string(setup.max_messages) +
           R"(, "message-size": )" + std::to_string(setup.message_size) +
           R"(, "remove-on-stop": true})";
  };
  return R"({"version": 1, "name": "bench-flow", "services": {
  "echo": {"command": )" +
         quoted_list({options.flow, "echo", setup.requests, setup.replies}) + passed +
         R"(, "slots": {"requests": )" + slot(setup.requests, "write") + R"(, "replies": )" +
         slot(setup.replies, "read") + R"(}},
  "client": {"command": )" +
         quoted_list(client_command(options, setup)) + passed + R"(, "after": ["echo"],
    "plugs": {"requests": {"interface": "posix-mq"}, "replies": {"interface": "posix-mq"}}}
}}
)";
}

std::optional<FlowResult> parse(const std::string& output, const FlowSetup& setup) {
  FlowResult result;
  for (const char* line = output.c_str(); *line != '\0';) {
    long size = 0;
    double round_trip = 0;
    double rate = 0;
    // Confined, the client's stdout reaches ipcrt's log as `... msg="size=..."` (SPEC §14).
    const char* fields = std::strstr(line, "size=");
    const char* next_line = std::strchr(line, '\n');
    if (fields != nullptr && (next_line == nullptr || fields < next_line) &&
        std::sscanf(fields, "size=%ld round_trip_ns=%lf messages_per_s=%lf", &size, &round_trip,
                    &rate) == 3) {
      result[size] = {round_trip, rate};
    }
    const char* next = std::strchr(line, '\n');
    if (next == nullptr) break;
    line = next + 1;
  }
  if (result.size() != setup.sizes.size()) return std::nullopt;
  return result;
}

std::optional<FlowResult> flow_unconfined(const Options& options, const FlowSetup& setup,
                                          Unconfined how, const PairCgroups& cgroups,
                                          std::string& failure) {
  const bool own_sessions = how != Unconfined::SameSession;
  const bool own_cgroups = how == Unconfined::OwnCgroups;
  mq_attr attributes{};
  attributes.mq_maxmsg = setup.max_messages;
  attributes.mq_msgsize = setup.message_size;
  for (const auto& path : {setup.requests, setup.replies}) {
    mqd_t queue = ::mq_open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &attributes);
    if (queue == static_cast<mqd_t>(-1)) {
      failure = "cannot create " + path;
      return std::nullopt;
    }
    ::close(queue);
  }
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return std::nullopt;
  pid_t echo = fork_exec({.argv = {options.flow, "echo", setup.requests, setup.replies},
                          .stderr_fd = 2,
                          .cpu = kCpu,
                          .new_session = own_sessions,
                          .cgroup_procs = own_cgroups ? cgroups.procs(0) : -1});
  pid_t client = fork_exec({.argv = client_command(options, setup),
                            .stdout_fd = out[1],
                            .stderr_fd = 2,
                            .cpu = kCpu,
                            .new_session = own_sessions,
                            .cgroup_procs = own_cgroups ? cgroups.procs(1) : -1});
  ::close(out[1]);
  std::string output = read_all(out[0]);
  int client_status = wait_exit(client);
  int echo_status = wait_exit(echo);
  ::mq_unlink(setup.requests.c_str());
  ::mq_unlink(setup.replies.c_str());
  auto result = parse(output, setup);
  if (client_status != 0 || echo_status != 0 || !result) {
    failure = "the unconfined pair failed: " + output;
    return std::nullopt;
  }
  return result;
}

std::optional<FlowResult> flow_ipcrt(const Options& options, const std::string& manifest,
                                     const FlowSetup& setup, std::string& failure) {
  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return std::nullopt;
  if (::pipe2(err, O_CLOEXEC) != 0) return std::nullopt;
  pid_t pid = fork_exec({.argv = {options.ipcrt, "run", manifest},
                         .stdout_fd = out[1],
                         .stderr_fd = err[1],
                         .cpu = kCpu});
  ::close(out[1]);
  ::close(err[1]);
  // The client prints little, ipcrt logs little: read stdout to its end, then stderr.
  std::string output = read_all(out[0]);
  std::string log = read_all(err[0]);
  int status = wait_exit(pid);
  auto result = parse(output + log, setup);
  if (status != 0 || !result) {
    failure = "ipcrt run of the pair (exit " + std::to_string(status) + "): " + output + log;
    return std::nullopt;
  }
  return result;
}

}  // namespace

void run_message_flow(const Options& options, Report& report) {
  FlowSetup setup;
  auto limits = platform::read_mqueue_limits();
  if (!limits) {
    report.failure("message flow: " + limits.error().describe());
    return;
  }
  setup.max_messages = limits->msg_max;
  setup.message_size = std::min(kLargeSize, limits->msgsize_max);
  setup.sizes = {kSmallSize, setup.message_size};
  const std::string manifest = options.scratch_dir + "/flow.json";
  const std::string passing = options.scratch_dir + "/flow-pass-queues.json";
  if (!write_file(manifest, flow_manifest(options, setup, false)) ||
      !write_file(passing, flow_manifest(options, setup, true))) {
    report.failure("message flow: cannot write " + manifest);
    return;
  }

  const PairCgroups cgroups;
  std::map<long, std::vector<double>> bare_trip, bare_rate, sessions_trip, sessions_rate,
      cgroups_trip, cgroups_rate, confined_trip, confined_rate, passed_trip, passed_rate;
  for (int round = 0; round < options.rounds; ++round) {
    std::string failure;
    auto bare = flow_unconfined(options, setup, Unconfined::SameSession, cgroups, failure);
    auto sessions = bare
                        ? flow_unconfined(options, setup, Unconfined::OwnSessions, cgroups, failure)
                        : std::nullopt;
    auto in_cgroups =
        sessions && cgroups.usable()
            ? flow_unconfined(options, setup, Unconfined::OwnCgroups, cgroups, failure)
            : std::nullopt;
    if (cgroups.usable() && !in_cgroups) sessions.reset();
    auto confined = sessions ? flow_ipcrt(options, manifest, setup, failure) : std::nullopt;
    auto passed = confined ? flow_ipcrt(options, passing, setup, failure) : std::nullopt;
    if (!passed) {
      report.failure("message flow: " + failure);
      return;
    }
    for (long size : setup.sizes) {
      bare_trip[size].push_back(bare->at(size).first / 1000);
      bare_rate[size].push_back(bare->at(size).second);
      sessions_trip[size].push_back(sessions->at(size).first / 1000);
      sessions_rate[size].push_back(sessions->at(size).second);
      if (in_cgroups) {
        cgroups_trip[size].push_back(in_cgroups->at(size).first / 1000);
        cgroups_rate[size].push_back(in_cgroups->at(size).second);
      }
      confined_trip[size].push_back(confined->at(size).first / 1000);
      confined_rate[size].push_back(confined->at(size).second);
      passed_trip[size].push_back(passed->at(size).first / 1000);
      passed_rate[size].push_back(passed->at(size).second);
    }
  }

  Section& section = report.section(
      "Message flow between a provider and a consumer",
      "One sample: " + std::to_string(kRoundTrips) +
          " request/reply round trips, then a stream of " + std::to_string(kMessages) +
          " messages, over two queues of " + std::to_string(setup.max_messages) + " messages; " +
          std::to_string(options.rounds) +
          " rounds. Unconfined: the two programs in this process's session, or each in a session "
          "of its own (setsid, as ipcrt starts every service)" +
          (cgroups.usable() ? std::string(", or also each in a cgroup of its own two levels below "
                                          "this process's (as ipcrt's services are)")
                            : std::string(" (no cgroups here, and ipcrt makes none)")) +
          ". Confined: both booted by `ipcrt run` (filters, mediated mq_open); pass-queues: the "
          "same with \"pass-queues\" (queues passed open, no mq_open).",
      "the unconfined pair", "the unconfined pair in sessions of their own");
  using Samples = std::map<long, std::vector<double>>;
  // The configurations in the table's order; the first two are the ratios' references, the
  // fourth is the confined pair.
  const char* const labels[] = {"unconfined", "unconfined, each its own session",
                                "unconfined, each its own session and cgroup", "confined",
                                "confined, pass-queues"};
  // One measure (round trip or throughput) of one size in every configuration, as rows; the
  // confined pair's ratio to the unconfined pair.
  auto add_rows = [&section, &labels](const std::string& what, const char* unit, long size,
                                      const std::vector<Samples*>& configurations) {
    const Summary base = summarize((*configurations[0])[size]);
    const Summary own = summarize((*configurations[1])[size]);
    double confined = 0;
    for (std::size_t at = 0; at < configurations.size(); ++at) {
      if ((*configurations[at])[size].empty()) continue;  // no cgroups here
      const Summary summary = summarize((*configurations[at])[size]);
      section.rows.push_back({what + ", " + std::to_string(size) + " B, " + labels[at], summary,
                              unit, summary.median / base.median, summary.median / own.median});
      if (at == 3) confined = summary.median / base.median;
    }
    return confined;
  };
  for (long size : setup.sizes) {
    const std::string bytes = std::to_string(size) + " B";
    const double trip =
        add_rows("round trip", "µs", size,
                 {&bare_trip, &sessions_trip, &cgroups_trip, &confined_trip, &passed_trip});
    const double rate =
        add_rows("throughput", "msg/s", size,
                 {&bare_rate, &sessions_rate, &cgroups_rate, &confined_rate, &passed_rate});
    report.target({"message round trip, " + bytes + ", confined / unconfined", trip, 1.1,
                   Better::Lower, "×"});
    report.target({"message throughput, " + bytes + ", confined / unconfined", rate, 0.95,
                   Better::Higher, "×"});
  }
}

}  // namespace ipcrt::bench
