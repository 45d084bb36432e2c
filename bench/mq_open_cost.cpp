// Mediated mq_open cost: what name-level mediation (SPEC §6) adds to opening a queue. Each
// sample runs in a fresh child that times N × (mq_open + close) of a granted queue:
// unconfined, under the service's filter alone (SPEC §5), and mediated (the call goes to this
// process, which plays the supervisor with runtime::ServiceMediator, or answers it with the
// minimal mediator of bench/minimal_mediator.hpp, the round trip's floor: same filter, same
// loop, same wait). Pinned (child and supervisor on one CPU) and unpinned (where the scheduler
// puts them, as `run` runs). Rounds are interleaved and compared by their medians, as ratios to
// the direct call and to the minimal mediator of the same pinning.
//
// Then the latency of one well-behaved service's mediated mq_open, served as `run` serves it
// (runtime::MediationServer, a thread per listener), alone and beside a hostile service that
// floods refused calls or whose caller never gets the CPU (SPEC §6: it may delay no other
// service's calls by more than a few milliseconds).
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "bench/benchmarks.hpp"
#include "bench/minimal_mediator.hpp"
#include "config/manifest.hpp"
#include "ipcrt/service.h"
#include "platform/id_syscalls.hpp"
#include "platform/pidfd.hpp"
#include "platform/seccomp.hpp"
#include "platform/seccomp_notify.hpp"
#include "runtime/mediation/credentials.hpp"
#include "runtime/mediation/notification.hpp"
#include "runtime/mediation/server.hpp"
#include "runtime/seccomp/policy_builder.hpp"

namespace ipcrt::bench {
namespace {

using ipcrt::platform::BpfProgram;

// Every child runs as a service does under `run`: one unprivileged uid and gid in every slot,
// no supplementary groups, hence no capabilities (the uid bench-floor gives its services). Its
// mediator is then given the fixed credentials `run` gives such a service
// (runtime/mediation/server.cpp) instead of reading /proc for each call.
constexpr uid_t kServiceUid = 65534;
constexpr gid_t kServiceGid = 65534;

// Who answers the child's notifications (when its program uses them).
enum class Server { Supervisor, Minimal };

struct Config {
  const char* label;
  BpfProgram program;  // empty: unconfined
  // pass-queues (SPEC §11): the queue is fd 3 before the filter (as `run` passes it), and the
  // loop "opens" it with ipcrt_queue_open(): what finding a passed queue costs.
  bool passed = false;
  Server server = Server::Supervisor;
  bool pinned = true;  // the child and this process on CPU 0; false: anywhere
  std::vector<double> samples = {};
};

// Both mediators, and where each sample runs.
struct Serving {
  ipcrt::runtime::ServiceMediator& mediator;
  const MinimalMediator& minimal;
  cpu_set_t one;  // CPU 0
  cpu_set_t all;  // this process's CPUs when the benchmark started
};

BpfProgram compile(const ipcrt::runtime::QueueGrant& grant, bool mediated, bool passed = false) {
  ipcrt::runtime::PolicyBuilder builder;
  if (mediated) {
    builder.default_action(SCMP_ACT_NOTIFY).mediate_queues();
  } else {
    builder.default_action(SCMP_ACT_ERRNO(EPERM));
  }
  auto policy = builder.allow_group("@default").allow_mq(grant, passed).build();
  if (!policy) {
    std::fprintf(stderr, "mq_open_cost: %s\n", policy.error().describe().c_str());
    std::exit(1);
  }
  return std::move(policy->program);
}

// Child: confine (handing a listener over through `report`/`resume` when mediated), time the
// loop, write ns per open to `result`.
[[noreturn]] void child(const Config& config, const sock_fprog& program, const char* queue,
                        long iterations, int report, int resume, int result) {
  if (config.passed) {
    mqd_t opened = ::mq_open(queue, O_RDONLY);
    if (opened < 0 || ::dup2(opened, 3) != 3) ::_exit(16);
    ::setenv("LISTEN_FDS", "1", 1);
    ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
    ::setenv("LISTEN_FDNAMES", queue + 1, 1);
  }
  // Raw syscalls, as the runtime's launch makes them; setresuid away from root clears the
  // capability sets.
  if (::syscall(ipcrt::platform::kSysSetgroups, 0, nullptr) != 0 ||
      ::syscall(ipcrt::platform::kSysSetresgid, kServiceGid, kServiceGid, kServiceGid) != 0 ||
      ::syscall(ipcrt::platform::kSysSetresuid, kServiceUid, kServiceUid, kServiceUid) != 0) {
    ::_exit(18);
  }
  if (!config.program.instructions.empty()) {
    if (ipcrt::platform::set_no_new_privs() != 0) ::_exit(10);
    int listener = ipcrt::platform::load_seccomp_filter(program, config.program.uses_notify);
    if (listener < 0) ::_exit(11);
    if (config.program.uses_notify) {
      char byte = 0;
      if (::write(report, &listener, sizeof listener) != sizeof listener) ::_exit(12);
      if (::read(resume, &byte, 1) != 1) ::_exit(13);
      ::close(listener);
    }
  }
  const double start = now_ns();
  for (long i = 0; i < iterations && config.passed; ++i) {
    if (::ipcrt_queue_open(queue, O_RDONLY) != 3) ::_exit(17);
  }
  for (long i = 0; i < iterations && !config.passed; ++i) {
    mqd_t opened = ::mq_open(queue, O_RDONLY);
    if (opened < 0) ::_exit(14);
    ::close(opened);
  }
  const double per_open = (now_ns() - start) / static_cast<double>(iterations);
  if (::write(result, &per_open, sizeof per_open) != sizeof per_open) ::_exit(15);
  ::_exit(0);
}

// Runs one sample; serves the child's listener when the program uses notification.
double sample(const Config& config, const char* queue, long iterations, const Serving& serving) {
  // The child inherits where this process may run.
  const cpu_set_t& cpus = config.pinned ? serving.one : serving.all;
  if (::sched_setaffinity(0, sizeof cpus, &cpus) != 0) {
    std::perror("mq_open_cost: sched_setaffinity");
    std::exit(1);
  }
  sock_fprog program{static_cast<unsigned short>(config.program.instructions.size()),
                     const_cast<sock_filter*>(config.program.instructions.data())};
  int report[2];
  int resume[2];
  int result[2];
  if (::pipe2(report, O_CLOEXEC) != 0 || ::pipe2(resume, O_CLOEXEC) != 0 ||
      ::pipe2(result, O_CLOEXEC) != 0) {
    std::perror("pipe2");
    std::exit(1);
  }
  pid_t pid = ::fork();
  if (pid == 0) child(config, program, queue, iterations, report[1], resume[0], result[1]);
  ::close(report[1]);
  ::close(resume[0]);
  ::close(result[1]);
  if (config.program.uses_notify) {
    int child_listener = -1;
    if (::read(report[0], &child_listener, sizeof child_listener) != sizeof child_listener) {
      std::fprintf(stderr, "mq_open_cost: the child could not load its filter\n");
      std::exit(1);
    }
    auto pidfd = ipcrt::platform::pidfd_open(pid);
    auto listener = pidfd ? ipcrt::platform::pidfd_getfd(pidfd->get(), child_listener)
                          : std::unexpected(pidfd.error());
    if (!listener) {
      std::fprintf(stderr, "mq_open_cost: %s\n", listener.error().describe().c_str());
      std::exit(1);
    }
    if (::write(resume[1], "k", 1) != 1) std::exit(1);
    ipcrt::runtime::ActingThread thread;
    // Both mediators wait alike: poll on the listener and one other descriptor, as ipcrt's
    // server thread does (runtime/mediation/server.cpp, serve_listener); only what handles a
    // notification differs.
    for (;;) {
      pollfd ready[2] = {{listener->get(), POLLIN, 0}, {result[0], POLLIN, 0}};
      ::poll(ready, 2, -1);
      if ((ready[0].revents & POLLIN) != 0) {
        if (config.server == Server::Minimal) {
          serving.minimal.handle(listener->get());
        } else {
          serving.mediator.handle(listener->get(), thread);
        }
      }
      if ((ready[1].revents & (POLLIN | POLLHUP)) != 0) break;
    }
  }
  double per_open = -1;
  if (::read(result[0], &per_open, sizeof per_open) != sizeof per_open) per_open = -1;
  int status = 0;
  ::waitpid(pid, &status, 0);
  for (int fd : {report[0], resume[1], result[0]}) ::close(fd);
  if (per_open < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "mq_open_cost: %s sample failed (status %d)\n", config.label, status);
    std::exit(1);
  }
  return per_open;
}

// --- Beside a hostile service -----------------------------------------------------------------

constexpr int kPacedCalls = 300;
constexpr int kStallSpinners = 32;

enum class Neighbour { None, Flood, Stall };

// A child confined by `program` whose listener this process takes (pidfd_getfd) and hands to
// `server` for `service`; the child then runs `body` and exits with its result.
pid_t start_served(ipcrt::runtime::MediationServer& server, const std::string& service,
                   const BpfProgram& filter, void (*prepare)(), int (*body)(int), int argument) {
  sock_fprog program{static_cast<unsigned short>(filter.instructions.size()),
                     const_cast<sock_filter*>(filter.instructions.data())};
  int report[2];
  int resume[2];
  if (::pipe2(report, O_CLOEXEC) != 0 || ::pipe2(resume, O_CLOEXEC) != 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    if (prepare != nullptr) prepare();
    if (ipcrt::platform::set_no_new_privs() != 0) ::_exit(10);
    int listener = ipcrt::platform::load_seccomp_filter(program, true);
    if (listener < 0) ::_exit(11);
    char byte = 0;
    if (::write(report[1], &listener, sizeof listener) != sizeof listener) ::_exit(12);
    if (::read(resume[0], &byte, 1) != 1) ::_exit(13);
    ::close(listener);
    ::_exit(body(argument));
  }
  ::close(report[1]);
  ::close(resume[0]);
  int child_listener = -1;
  bool ok =
      pid > 0 && ::read(report[0], &child_listener, sizeof child_listener) == sizeof child_listener;
  if (ok) {
    auto pidfd = ipcrt::platform::pidfd_open(pid);
    auto listener = pidfd ? ipcrt::platform::pidfd_getfd(pidfd->get(), child_listener)
                          : std::unexpected(pidfd.error());
    ok = listener && server.serve(service, std::move(*listener)).has_value() &&
         ::write(resume[1], "k", 1) == 1;
  }
  ::close(report[0]);
  ::close(resume[1]);
  if (!ok && pid > 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return -1;
  }
  return pid;
}

const char* g_queue = nullptr;  // the granted queue, read by the children
int g_result = -1;              // the probe's result pipe

// The well-behaved service: once its neighbour is going, kPacedCalls mediated opens, one a
// millisecond (below the per-service answer rate), each timed; the latencies go to g_result.
int probe_body(int) {
  timespec pause{0, 100'000'000};
  ::nanosleep(&pause, nullptr);
  std::vector<double> latencies;
  latencies.reserve(kPacedCalls);
  for (int i = 0; i < kPacedCalls; ++i) {
    const double start = now_ns();
    mqd_t opened = ::mq_open(g_queue, O_RDONLY);
    latencies.push_back(now_ns() - start);
    if (opened < 0) return 20;
    ::close(opened);
    timespec gap{0, 1'000'000};
    ::nanosleep(&gap, nullptr);
  }
  const auto bytes = static_cast<ssize_t>(latencies.size() * sizeof(double));
  return ::write(g_result, latencies.data(), static_cast<std::size_t>(bytes)) == bytes ? 0 : 21;
}

// Floods refused calls from 8 threads until killed.
int flood_body(int) {
  for (int t = 0; t < 7; ++t) {
    std::thread([] {
      for (;;) ::syscall(SYS_mq_open, "ipcrt-bench-not-granted", O_RDONLY, 0, nullptr);
    }).detach();
  }
  for (;;) ::syscall(SYS_mq_open, "ipcrt-bench-not-granted", O_RDONLY, 0, nullptr);
}

int g_stall_cpu = 0;

// Before the filter: pinned to one CPU with spinning threads, the calling thread SCHED_IDLE.
// Each of its granted mq_opens then waits long for the CPU to take its descriptor.
void prepare_stall() {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(g_stall_cpu, &one);
  ::sched_setaffinity(0, sizeof one, &one);
  for (int i = 0; i < kStallSpinners; ++i) {
    pthread_t spinner;
    ::pthread_create(
        &spinner, nullptr,
        [](void*) -> void* {
          for (;;) {
          }
        },
        nullptr);
  }
  sched_param idle{};
  ::sched_setscheduler(0, SCHED_IDLE, &idle);
}

int stall_body(int) {
  for (;;) {
    long opened = ::syscall(SYS_mq_open, g_queue + 1, O_RDONLY, 0, nullptr);
    if (opened >= 0) ::close(static_cast<int>(opened));
  }
}

// One round: the probe's latencies, with `neighbour` beside it.
std::vector<double> paced_latencies(Neighbour neighbour, const BpfProgram& filter,
                                    const ipcrt::runtime::QueueGrant& grant) {
  std::vector<ipcrt::runtime::MediatedService> services(2);
  services[0].name = "probe";
  services[1].name = "neighbour";
  for (auto& service : services) service.grants = {grant};
  ipcrt::runtime::MediationServer server(std::move(services));
  int result[2];
  if (::pipe2(result, O_CLOEXEC) != 0) return {};
  g_result = result[1];
  pid_t other = -1;
  if (neighbour == Neighbour::Flood) {
    other = start_served(server, "neighbour", filter, nullptr, flood_body, 0);
  } else if (neighbour == Neighbour::Stall) {
    other = start_served(server, "neighbour", filter, prepare_stall, stall_body, 0);
  }
  pid_t probe = start_served(server, "probe", filter, nullptr, probe_body, 0);
  ::close(result[1]);
  std::vector<double> latencies(kPacedCalls);
  const auto wanted = static_cast<ssize_t>(latencies.size() * sizeof(double));
  ssize_t got = 0;
  while (probe > 0 && got < wanted) {
    ssize_t n = ::read(result[0], reinterpret_cast<char*>(latencies.data()) + got,
                       static_cast<std::size_t>(wanted - got));
    if (n <= 0) break;
    got += n;
  }
  ::close(result[0]);
  for (pid_t pid : {probe, other}) {
    if (pid <= 0) continue;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  server.flush();
  if (got != wanted) return {};
  return latencies;
}

double percentile(std::vector<double> values, double fraction) {
  std::sort(values.begin(), values.end());
  const auto at = static_cast<std::size_t>(fraction * static_cast<double>(values.size() - 1));
  return values[at];
}

void run_beside_hostile(const Options& options, Report& report, const std::string& queue,
                        const ipcrt::runtime::QueueGrant& grant) {
  const BpfProgram filter = compile(grant, true);
  g_queue = queue.c_str();
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  // The hostile service's spinners on the last CPU, so that the supervisor and the probe
  // have the others, as a supervisor protected by its cpu.weight would (SPEC §6).
  g_stall_cpu = cpus > 1 ? static_cast<int>(cpus - 1) : 0;
  struct Beside {
    const char* label;
    Neighbour neighbour;
    std::vector<double> p50;
    std::vector<double> p99;
  };
  std::vector<Beside> rows = {
      {"alone", Neighbour::None, {}, {}},
      {"beside a service flooding refused calls", Neighbour::Flood, {}, {}},
      {"beside a service whose caller never gets the CPU", Neighbour::Stall, {}, {}}};
  const int rounds = std::max(3, options.rounds / 2);
  for (int round = 0; round < rounds; ++round) {
    for (auto& row : rows) {
      auto latencies = paced_latencies(row.neighbour, filter, grant);
      if (latencies.empty()) {
        report.failure(std::string("mediated mq_open ") + row.label + ": a sample failed");
        return;
      }
      row.p50.push_back(percentile(latencies, 0.5) / 1000.0);
      row.p99.push_back(percentile(latencies, 0.99) / 1000.0);
    }
  }
  Section& section = report.section(
      "Mediated mq_open beside a hostile service",
      "One sample: a fresh service makes " + std::to_string(kPacedCalls) +
          " mediated mq_open + close, one a millisecond, served as `run` serves it (a thread "
          "per listener); its p50 and p99 latency. The neighbour floods refused calls from 8 "
          "threads, or pins itself with " +
          std::to_string(kStallSpinners) +
          " spinning threads to one CPU and calls mq_open from a SCHED_IDLE thread. " +
          std::to_string(rounds) + " rounds, unpinned.",
      "alone, p50");
  const double baseline = summarize(rows[0].p50).median;
  for (const auto& row : rows) {
    Summary p50 = summarize(row.p50);
    Summary p99 = summarize(row.p99);
    section.rows.push_back(
        {std::string(row.label) + ", p50", p50, "µs", p50.median / baseline, {}});
    section.rows.push_back(
        {std::string(row.label) + ", p99", p99, "µs", p99.median / baseline, {}});
  }
  // SPEC §6: "a few milliseconds".
  report.target({"mediated mq_open p99 beside a stalled caller",
                 summarize(rows[2].p99).median / 1000.0, 5, Better::Lower, "ms"});
}

}  // namespace

void run_mq_open_cost(const Options& options, Report& report) {
  constexpr long kIterations = 20000;
  if (!options.mediation) {
    report.failure("mediated mq_open: mediation unavailable: " +
                   ipcrt::runtime::mediation_support().error().describe());
    return;
  }
  const std::string queue = "/ipcrt-bench-" + std::to_string(::getpid()) + "-open";
  mq_attr attributes{};
  attributes.mq_maxmsg = 4;
  attributes.mq_msgsize = 64;
  mqd_t created = ::mq_open(queue.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &attributes);
  if (created < 0) {
    report.failure("mediated mq_open: cannot create " + queue);
    return;
  }
  // The service's own queue, as a slot owner's (the children run as kServiceUid).
  if (::fchown(created, kServiceUid, kServiceGid) != 0) {
    ::mq_close(created);
    ::mq_unlink(queue.c_str());
    report.failure("mediated mq_open: cannot give " + queue + " to the benchmark's service user");
    return;
  }
  ::mq_close(created);

  const ipcrt::runtime::QueueGrant grant{queue, ipcrt::config::kPermRead, "bench:queue", false};
  ipcrt::runtime::MediatedService service;
  service.name = "bench";
  service.grants = {grant};
  service.uid = kServiceUid;
  service.fixed_credentials =
      ipcrt::runtime::immutable_credentials({kServiceUid, kServiceGid, {}}, false);
  ipcrt::runtime::ServiceMediator mediator(std::move(service));
  const BpfProgram mediated = compile(grant, true);
  // The order of the table; every configuration runs once in each round.
  std::vector<Config> configs;
  configs.push_back({.label = "direct, unconfined, pinned", .program = {}});
  configs.push_back({.label = "filter only (SPEC §5), pinned", .program = compile(grant, false)});
  configs.push_back({.label = "mediated by the supervisor (SPEC §6, ServiceMediator), pinned",
                     .program = mediated});
  configs.push_back({.label = "minimal C mediator (the round trip's floor), pinned",
                     .program = mediated,
                     .server = Server::Minimal});
  configs.push_back({.label = "passed open (pass-queues, SPEC §11): ipcrt_queue_open() of fd 3, "
                              "pinned",
                     .program = compile(grant, true, true),
                     .passed = true});
  configs.push_back({.label = "direct, unconfined, unpinned", .program = {}, .pinned = false});
  configs.push_back({.label = "mediated by the supervisor (SPEC §6, ServiceMediator), unpinned",
                     .program = mediated,
                     .pinned = false});
  configs.push_back({.label = "minimal C mediator (the round trip's floor), unpinned",
                     .program = mediated,
                     .server = Server::Minimal,
                     .pinned = false});
  constexpr std::size_t kMediatedPinned = 2;
  constexpr std::size_t kMediatedUnpinned = 6;

  // The mediated call is two wake-ups (the caller's stop, the supervisor's answer); across
  // this VM's idle virtual CPUs each costs tens of microseconds, which measures the
  // hypervisor as much as ipcrt. So the pinned rows run both sides on one CPU, like the
  // message flow; the unpinned ones beside them are how `run` really runs (nothing pins a
  // service to its supervisor's CPU), and the minimal mediator pays the same wake-ups there.
  const MinimalMediator minimal;
  Serving serving{mediator, minimal, {}, {}};
  ::sched_getaffinity(0, sizeof serving.all, &serving.all);
  CPU_ZERO(&serving.one);
  CPU_SET(0, &serving.one);
  for (int round = 0; round < options.rounds; ++round) {
    for (auto& config : configs) {
      config.samples.push_back(sample(config, queue.c_str(), kIterations, serving));
    }
  }
  ::sched_setaffinity(0, sizeof serving.all, &serving.all);

  Section& section = report.section(
      "Opening a granted queue",
      "One sample: a fresh child times " + std::to_string(kIterations) +
          " mq_open + close of a queue it may read, as an unprivileged user without "
          "capabilities like a service of `run` (so ServiceMediator judges it with the fixed "
          "credentials `run` gives such a service); pinned: the child and the supervisor on "
          "one CPU; unpinned: both where the scheduler puts them; " +
          std::to_string(options.rounds) +
          " rounds. The minimal C mediator (bench/minimal_mediator.cpp) serves the same "
          "filter's notifications, waited for the same way, with only what any correct "
          "mediator does per call: receive, copy the name (process_vm_readv), check the "
          "notification is still valid, mq_open, ADDFD with SEND, close; no credentials, no "
          "decision. A passed queue costs the runtime one mq_open per start, before fork, and "
          "the service only the lookup of its name in LISTEN_FDNAMES (getenv, fcntl, "
          "mq_setattr). Sends and receives on an open queue are never mediated.",
      "the direct call (same pinning)", "the minimal mediator (same pinning)");
  auto median_of = [&configs](bool pinned, bool direct) {
    for (const auto& config : configs) {
      const bool is_direct = config.program.instructions.empty();
      const bool is_minimal = config.server == Server::Minimal;
      if (config.pinned == pinned && (direct ? is_direct : is_minimal)) {
        return summarize(config.samples).median;
      }
    }
    return 0.0;
  };
  for (const auto& config : configs) {
    Summary summary = summarize(config.samples);
    section.rows.push_back({config.label, summary, "ns",
                            summary.median / median_of(config.pinned, true),
                            summary.median / median_of(config.pinned, false)});
  }
  report.target({"mediated mq_open / direct mq_open, pinned",
                 section.rows[kMediatedPinned].ratio.value_or(0), 10, Better::Lower, "×"});
  report.target({"mediated mq_open / the minimal C mediator's, unpinned",
                 section.rows[kMediatedUnpinned].other_ratio.value_or(0), 1.2, Better::Lower, "×"});

  run_beside_hostile(options, report, queue, grant);
  ::mq_unlink(queue.c_str());
}

}  // namespace ipcrt::bench
