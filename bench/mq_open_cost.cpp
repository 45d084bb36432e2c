// Mediated mq_open cost: what name-level mediation (SPEC §6) adds to opening a queue. Each
// sample runs in a fresh child that times N × (mq_open + close) of a granted queue:
// unconfined, under the service's filter alone (SPEC §5), and mediated (the call goes to this
// process, which plays the supervisor with runtime::handle_notification). Rounds are
// interleaved and compared by their medians, as ratios to the direct call.
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
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
#include "runtime/seccomp/policy_builder.hpp"

namespace ipcrt::bench {
namespace {

using ipcrt::platform::BpfProgram;

struct Config {
  const char* label;
  BpfProgram program;  // empty: unconfined
  std::vector<double> samples;
};

BpfProgram compile(const ipcrt::runtime::QueueGrant& grant, bool mediated) {
  ipcrt::runtime::PolicyBuilder builder;
  if (mediated) {
    builder.default_action(SCMP_ACT_NOTIFY).mediate_queues();
  } else {
    builder.default_action(SCMP_ACT_ERRNO(EPERM));
  }
  auto policy = builder.allow_group("@default").allow_mq(grant).build();
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
  for (long i = 0; i < iterations; ++i) {
    mqd_t opened = ::mq_open(queue, O_RDONLY);
    if (opened < 0) ::_exit(14);
    ::close(opened);
  }
  const double per_open = (now_ns() - start) / static_cast<double>(iterations);
  if (::write(result, &per_open, sizeof per_open) != sizeof per_open) ::_exit(15);
  ::_exit(0);
}

// Runs one sample; serves the child's listener when the program uses notification.
double sample(const Config& config, const char* queue, long iterations,
              const ipcrt::runtime::MediatedService& service) {
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
    ipcrt::runtime::DenialLog log(service.name);
    for (;;) {
      pollfd ready[2] = {{listener->get(), POLLIN, 0}, {result[0], POLLIN, 0}};
      ::poll(ready, 2, -1);
      if ((ready[0].revents & POLLIN) != 0) {
        ipcrt::runtime::handle_notification(listener->get(), service, log);
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
  ::mq_close(created);

  const ipcrt::runtime::QueueGrant grant{queue, ipcrt::config::kPermRead, "bench:queue", false};
  ipcrt::runtime::MediatedService service;
  service.name = "bench";
  service.grants = {grant};
  std::vector<Config> configs;
  configs.push_back({"direct, unconfined", {}, {}});
  configs.push_back({"filter only (SPEC §5)", compile(grant, false), {}});
  configs.push_back({"mediated by the supervisor (SPEC §6)", compile(grant, true), {}});

  // The mediated call is two wake-ups (the caller's stop, the supervisor's answer); across
  // this VM's idle virtual CPUs each costs tens of microseconds, which would measure the
  // hypervisor. Like the message flow, every configuration runs with both sides on one CPU.
  cpu_set_t previous;
  ::sched_getaffinity(0, sizeof previous, &previous);
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  ::sched_setaffinity(0, sizeof one, &one);
  for (int round = 0; round < options.rounds; ++round) {
    for (auto& config : configs) {
      config.samples.push_back(sample(config, queue.c_str(), kIterations, service));
    }
  }
  ::sched_setaffinity(0, sizeof previous, &previous);
  ::mq_unlink(queue.c_str());

  Section& section = report.section(
      "Opening a granted queue",
      "One sample: a fresh child times " + std::to_string(kIterations) +
          " mq_open + close of a queue it may read, on the same CPU as the supervisor; " +
          std::to_string(options.rounds) +
          " rounds. Sends and receives on an open queue are never mediated.",
      "the direct call");
  const double baseline = summarize(configs[0].samples).median;
  for (const auto& config : configs) {
    Summary summary = summarize(config.samples);
    section.rows.push_back({config.label, summary, "ns", summary.median / baseline, {}});
  }
  report.target({"mediated mq_open / direct mq_open", section.rows[2].ratio.value_or(0), 10,
                 Better::Lower, "×"});
}

}  // namespace ipcrt::bench
