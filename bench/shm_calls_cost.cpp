// What a service that may write a shared-memory object pays for its ordinary file work
// (SPEC §2.3, runtime/mediation/shm_calls.hpp): its filter sends every exclusive create
// (O_CREAT|O_EXCL, which mkstemp uses) and every unlink to the supervisor, which lets those
// that name no object through. Each sample runs in a fresh child that times N × (mkstemp,
// close, unlink) in a directory of its own, and N × (open, close) of an existing file, which
// never leaves the kernel: unconfined, under the filter of a service with no object to write,
// and under a writer's filter with this process serving the listener as the supervisor does
// (runtime::ServiceMediator, on the same CPU). Rounds are interleaved.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/benchmarks.hpp"
#include "config/manifest.hpp"
#include "platform/pidfd.hpp"
#include "platform/seccomp.hpp"
#include "platform/seccomp_notify.hpp"
#include "runtime/mediation/notification.hpp"
#include "runtime/seccomp/service_policy.hpp"

namespace ipcrt::bench {
namespace {

// Enough calls that a sample lasts tens of milliseconds: at 2000 of each, an open + close
// sample was over in 1.5 ms and a stray interrupt moved its median by 20%.
constexpr long kCreateIterations = 10000;
constexpr long kOpenIterations = 50000;

struct Config {
  const char* label;
  platform::BpfProgram program;  // empty: unconfined
  std::vector<double> create_unlink;
  std::vector<double> open_close;
};

struct Timings {
  double create_unlink = -1;  // ns per mkstemp + close + unlink
  double open_close = -1;     // ns per open + close
};

platform::BpfProgram compile(const config::Service& service, bool writes_an_object) {
  runtime::PlannedService planned;
  planned.name = service.name;
  planned.shm.push_back({"bench-object", writes_an_object, "bench:mem"});
  auto policy = runtime::compile_service_policy(service, planned, "native", true);
  if (!policy) {
    std::fprintf(stderr, "shm_calls_cost: %s\n", policy.error().describe().c_str());
    std::exit(1);
  }
  return std::move(policy->program);
}

[[noreturn]] void child(const Config& config, const sock_fprog& program, const std::string& dir,
                        int report, int resume, int result) {
  if (!config.program.instructions.empty()) {
    if (platform::set_no_new_privs() != 0) ::_exit(10);
    const int listener = platform::load_seccomp_filter(program, config.program.uses_notify);
    if (listener < 0) ::_exit(11);
    if (config.program.uses_notify) {
      char byte = 0;
      if (::write(report, &listener, sizeof listener) != sizeof listener) ::_exit(12);
      if (::read(resume, &byte, 1) != 1) ::_exit(13);
      ::close(listener);
    }
  }
  Timings timings;
  std::string pattern = dir + "/bench-XXXXXX";
  double start = now_ns();
  for (long i = 0; i < kCreateIterations; ++i) {
    std::string name = pattern;
    const int fd = ::mkstemp(name.data());
    if (fd < 0) ::_exit(14);
    ::close(fd);
    if (::unlink(name.c_str()) != 0) ::_exit(15);
  }
  timings.create_unlink = (now_ns() - start) / static_cast<double>(kCreateIterations);
  const std::string existing = dir + "/existing";
  start = now_ns();
  for (long i = 0; i < kOpenIterations; ++i) {
    const int fd = ::open(existing.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) ::_exit(16);
    ::close(fd);
  }
  timings.open_close = (now_ns() - start) / static_cast<double>(kOpenIterations);
  if (::write(result, &timings, sizeof timings) != sizeof timings) ::_exit(17);
  ::_exit(0);
}

Timings sample(const Config& config, const std::string& dir, runtime::ServiceMediator& mediator) {
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
  const pid_t pid = ::fork();
  if (pid == 0) child(config, program, dir, report[1], resume[0], result[1]);
  ::close(report[1]);
  ::close(resume[0]);
  ::close(result[1]);
  if (config.program.uses_notify) {
    int child_listener = -1;
    if (::read(report[0], &child_listener, sizeof child_listener) != sizeof child_listener) {
      std::fprintf(stderr, "shm_calls_cost: the child could not load its filter\n");
      std::exit(1);
    }
    auto pidfd = platform::pidfd_open(pid);
    auto listener = pidfd ? platform::pidfd_getfd(pidfd->get(), child_listener)
                          : std::unexpected(pidfd.error());
    if (!listener || ::write(resume[1], "k", 1) != 1) {
      std::fprintf(stderr, "shm_calls_cost: cannot take the child's listener\n");
      std::exit(1);
    }
    runtime::ActingThread thread;
    for (;;) {
      pollfd ready[2] = {{listener->get(), POLLIN, 0}, {result[0], POLLIN, 0}};
      ::poll(ready, 2, -1);
      if ((ready[0].revents & POLLIN) != 0) (void)mediator.handle(listener->get(), thread);
      if ((ready[1].revents & (POLLIN | POLLHUP)) != 0) break;
    }
  }
  Timings timings;
  if (::read(result[0], &timings, sizeof timings) != sizeof timings) timings = {};
  int status = 0;
  ::waitpid(pid, &status, 0);
  for (int fd : {report[0], resume[1], result[0]}) ::close(fd);
  if (timings.create_unlink < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "shm_calls_cost: %s sample failed (status %d)\n", config.label, status);
    std::exit(1);
  }
  return timings;
}

}  // namespace

void run_shm_calls_cost(const Options& options, Report& report) {
  if (!options.mediation) {
    report.failure("shm calls: this kernel lacks name-level mediation (SPEC §6)");
    return;
  }
  // On a tmpfs, as a service's private /tmp is (SPEC §4a), not on whatever the host's /tmp is:
  // on an ext4 /tmp the journal made the calls themselves two to three times slower, which
  // hid the supervisor's round trips in the ratio.
  char dir_template[] = "/dev/shm/ipcrt-bench-shm-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) {
    report.failure("shm calls: cannot make a directory under /dev/shm");
    return;
  }
  const std::string dir = dir_template;
  ::close(::open((dir + "/existing").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));

  config::Service service;
  service.name = "bench";
  service.pointer = "/services/bench";
  runtime::PlannedService writer;
  writer.name = "bench";
  writer.shm.push_back({"bench-object", true, "bench:mem"});
  runtime::MediatedService mediated;
  mediated.name = "bench";
  mediated.objects = {{"bench-object", dir + "/bench-object"}};
  mediated.shm_syscalls = runtime::shm_mediated_syscalls(service, writer);
  runtime::ServiceMediator mediator(std::move(mediated));

  std::vector<Config> configs;
  configs.push_back({"unconfined", {}, {}, {}});
  configs.push_back({"a service's filter, no object to write", compile(service, false), {}, {}});
  configs.push_back(
      {"a writer's filter, served by the supervisor", compile(service, true), {}, {}});

  // As for mq_open (mq_open_cost.cpp): both sides on one CPU, so the wake-ups measure the
  // handoff and not the hypervisor's idle virtual CPUs.
  cpu_set_t previous;
  ::sched_getaffinity(0, sizeof previous, &previous);
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  ::sched_setaffinity(0, sizeof one, &one);
  for (int round = 0; round < options.rounds; ++round) {
    for (auto& config : configs) {
      const Timings timings = sample(config, dir, mediator);
      config.create_unlink.push_back(timings.create_unlink);
      config.open_close.push_back(timings.open_close);
    }
  }
  ::sched_setaffinity(0, sizeof previous, &previous);
  ::unlink((dir + "/existing").c_str());
  ::rmdir(dir.c_str());

  Section& section = report.section(
      "Ordinary file calls of a service that may write a shared-memory object",
      "One sample: a fresh child times " + std::to_string(kCreateIterations) +
          " × (mkstemp, close, unlink) in a directory of /dev/shm (a tmpfs, as a service's "
          "private /tmp is), then " +
          std::to_string(kOpenIterations) +
          " × open + close of a file there, on the same CPU as the supervisor; " +
          std::to_string(options.rounds) +
          " rounds. A writer's exclusive creates and unlinks go to the supervisor, which lets "
          "through those that name no object; opens without O_EXCL never do.",
      "the unconfined calls");
  const double create_baseline = summarize(configs[0].create_unlink).median;
  const double open_baseline = summarize(configs[0].open_close).median;
  for (const auto& config : configs) {
    Summary summary = summarize(config.create_unlink);
    section.rows.push_back({std::string("mkstemp + close + unlink, ") + config.label, summary,
                            "ns", summary.median / create_baseline, {}});
  }
  for (const auto& config : configs) {
    Summary summary = summarize(config.open_close);
    section.rows.push_back({std::string("open + close, ") + config.label, summary, "ns",
                            summary.median / open_baseline, {}});
  }
  // The writer's calls beside the same calls under a filter that sends none of them: what
  // the supervisor's round trips add.
  const double routed = section.rows[2].summary.median / section.rows[1].summary.median;
  report.target({"mkstemp + unlink of a writer / of a service with no object", routed, 3,
                 Better::Lower, "×"});
  // openat with an argument rule is no longer one the kernel's cache lets through without
  // running the program (Linux 5.11+): a few tens of nanoseconds.
  report.target({"open + close of a writer / of a service with no object",
                 section.rows[5].summary.median / section.rows[4].summary.median, 1.10,
                 Better::Lower, "×"});
}

}  // namespace ipcrt::bench
