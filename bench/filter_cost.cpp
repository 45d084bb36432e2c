// Filter cost (SPEC §5, §9): what a seccomp filter adds to an allowed syscall. Each sample
// runs in a fresh child (a filter cannot be unloaded) that loads one program and times a
// tight loop of getppid, and of a syscall number the kernel cannot cache; configurations are
// interleaved round by round and compared by their medians with the one-rule filter.
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/benchmarks.hpp"
#include "runtime/seccomp/service_policy.hpp"
#include "runtime/seccomp/policy_builder.hpp"
#include "runtime/seccomp/groups.hpp"

namespace ipcrt::bench {
namespace {

struct Config {
  std::string label;
  ipcrt::platform::BpfProgram program;  // empty: unfiltered
  std::vector<double> samples;          // ns per getppid
  std::vector<double> uncached;         // ns per call of a number no filter knows
};

// Since Linux 5.11 seccomp caches "always allowed" syscall numbers per filter and skips the
// program for them; a number outside the syscall table is never cached, so it measures the
// BPF program itself (its answer, ENOSYS or EPERM, does not matter).
constexpr long kUncachedNumber = 1000;

// One sample: fork, load, loop, report through a pipe.
double sample(const ipcrt::platform::BpfProgram& program, long iterations, long number) {
  int fds[2];
  if (::pipe(fds) != 0) std::exit(1);
  sock_fprog fprog{static_cast<unsigned short>(program.instructions.size()),
                   const_cast<sock_filter*>(program.instructions.data())};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    if (!program.instructions.empty() &&
        (ipcrt::platform::set_no_new_privs() != 0 ||
         ipcrt::platform::load_seccomp_filter(fprog, false) != 0)) {
      ::_exit(2);
    }
    for (long i = 0; i < iterations / 10; ++i) ::syscall(number);  // warm up
    double start = now_ns();
    for (long i = 0; i < iterations; ++i) ::syscall(number);
    double per_call = (now_ns() - start) / static_cast<double>(iterations);
    [[maybe_unused]] auto n = ::write(fds[1], &per_call, sizeof per_call);
    ::_exit(0);
  }
  ::close(fds[1]);
  double per_call = -1;
  if (::read(fds[0], &per_call, sizeof per_call) != sizeof per_call) per_call = -1;
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (per_call < 0) {
    std::fprintf(stderr, "filter_cost: child failed (status %d)\n", status);
    std::exit(1);
  }
  return per_call;
}

ipcrt::platform::BpfProgram compile(ipcrt::runtime::PolicyBuilder& builder) {
  auto policy = builder.build();
  if (!policy) {
    std::fprintf(stderr, "filter_cost: %s\n", policy.error().describe().c_str());
    std::exit(1);
  }
  return policy->program;
}

// An allowlist of `count` syscalls (by ascending number) that always holds what the sample
// child needs.
ipcrt::platform::BpfProgram allowlist_of(int count, int* actual) {
  ipcrt::runtime::PolicyBuilder builder;
  int added = 0;
  for (int number = 0; number < 1024 && added < count; ++number) {
    char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, number);
    if (name == nullptr) continue;
    if (!ipcrt::runtime::is_mq_syscall(name)) {
      builder.allow_syscall(name, "bench");
      ++added;
    }
    std::free(name);
  }
  for (const char* name : {"getppid", "write", "exit_group", "exit", "close", "read"}) {
    builder.allow_syscall(name, "bench");
  }
  *actual = added;
  return compile(builder);
}

ipcrt::platform::BpfProgram export_program(scmp_filter_ctx ctx) {
  ipcrt::platform::BpfProgram program;
  int fd = ::memfd_create("filter-cost", MFD_CLOEXEC);
  if (fd < 0 || seccomp_export_bpf(ctx, fd) != 0) std::exit(1);
  off_t size = ::lseek(fd, 0, SEEK_END);
  program.instructions.resize(static_cast<std::size_t>(size) / sizeof(sock_filter));
  if (::pread(fd, program.instructions.data(), static_cast<std::size_t>(size), 0) != size) {
    std::exit(1);
  }
  ::close(fd);
  seccomp_release(ctx);
  return program;
}

ipcrt::platform::BpfProgram one_rule_program() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mount), 0);
  return export_program(ctx);
}

// For contrast: the same large allowlist as libseccomp's default linear if-chain, with
// getppid placed last in the chain.
ipcrt::platform::BpfProgram linear_allowlist_of(int count) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
  seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 1);
  int added = 0;
  for (int number = 0; number < 1024 && added < count; ++number) {
    char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, number);
    if (name == nullptr) continue;
    std::free(name);
    if (number == SCMP_SYS(getppid)) continue;
    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, number, 0);
    ++added;
  }
  for (int number :
       {SCMP_SYS(write), SCMP_SYS(exit_group), SCMP_SYS(exit), SCMP_SYS(close), SCMP_SYS(read)}) {
    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, number, 0);
  }
  // Lowest priority: libseccomp emits higher-priority rules first.
  seccomp_syscall_priority(ctx, SCMP_SYS(getppid), 0);
  seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(getppid), 0);
  return export_program(ctx);
}

}  // namespace

void run_filter_cost(const Options& options, Report& report) {
  const int rounds = options.rounds * 2;
  constexpr long kIterations = 200000;

  std::vector<Config> configs;
  configs.push_back({"no filter", {}, {}, {}});
  // The smallest filter: allow by default, refuse one syscall (an allowlist rule on an
  // allow-by-default filter would compile to nothing). The reference of SPEC §9.
  configs.push_back({"one-rule filter", one_rule_program(), {}, {}});
  {
    ipcrt::config::Service service;
    service.name = "bench";
    service.pointer = "/services/bench";
    service.seccomp.allow = {"@network-io", "@sysv-ipc", "@process"};
    ipcrt::runtime::PlannedService planned;
    planned.queues.push_back({"/telemetry", ipcrt::config::kPermRead, "hub:telemetry", false});
    planned.queues.push_back({"/alerts", 0, "bench:alerts", true});
    auto policy = ipcrt::runtime::compile_service_policy(service, planned);
    if (!policy) {
      report.failure("filter cost: " + policy.error().describe());
      return;
    }
    configs.push_back({"a service's filter (" + std::to_string(policy->allowed.size()) +
                           " syscalls, " + std::to_string(policy->program.instructions.size()) +
                           " BPF instructions)",
                       policy->program,
                       {},
                       {}});
  }
  for (int count : {8, 128, 400}) {
    int actual = 0;
    auto program = allowlist_of(count, &actual);
    configs.push_back({"allowlist of " + std::to_string(actual) + " syscalls (" +
                           std::to_string(program.instructions.size()) + " instructions)",
                       program,
                       {},
                       {}});
  }
  auto linear = linear_allowlist_of(362);
  configs.push_back({"362 syscalls without the binary tree (" +
                         std::to_string(linear.instructions.size()) + " instructions)",
                     linear,
                     {},
                     {}});

  for (int round = 0; round < rounds; ++round) {
    for (auto& config : configs) {
      config.samples.push_back(sample(config.program, kIterations, SYS_getppid));
      config.uncached.push_back(sample(config.program, kIterations, kUncachedNumber));
    }
  }
  const std::string note = "One sample: a fresh child loads the filter and times " +
                           std::to_string(kIterations) + " calls; " + std::to_string(rounds) +
                           " rounds.";
  Section& cached = report.section("Cost of an allowed syscall under a filter (getppid)", note,
                                   "the one-rule filter");
  Section& uncached = report.section(
      "Cost of a syscall the kernel's filter cache cannot skip (number 1000)",
      "Since Linux 5.11 seccomp skips the program for syscalls a filter always allows; this "
      "number is never cached, so it measures the BPF program itself. " +
          note,
      "the one-rule filter");
  const double reference = summarize(configs[1].samples).median;
  const double uncached_reference = summarize(configs[1].uncached).median;
  for (const auto& config : configs) {
    Summary summary = summarize(config.samples);
    Summary raw = summarize(config.uncached);
    cached.rows.push_back({config.label, summary, "ns", summary.median / reference, {}});
    uncached.rows.push_back({config.label, raw, "ns", raw.median / uncached_reference, {}});
  }
  report.target({"allowed syscall under a service's filter / one-rule filter",
                 cached.rows[2].ratio.value_or(0), 1.05, Better::Lower, "×"});
}

}  // namespace ipcrt::bench
