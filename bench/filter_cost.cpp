// filter_cost: what a seccomp filter adds to an allowed syscall (SPEC §5, §9). Each sample
// runs in a fresh child (a filter cannot be unloaded) that loads one program and times a
// tight loop of getppid, and of a syscall number the kernel cannot cache; configurations are
// interleaved round by round and compared by their medians, as ratios. Usage: filter_cost [ROUNDS]
// [ITERATIONS]
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

#include "runtime/policy.hpp"
#include "runtime/policy_builder.hpp"
#include "runtime/syscall_groups.hpp"

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

double now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);  // vDSO: no syscall, so it passes any filter
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

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

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 21;
  long iterations = argc > 2 ? std::atol(argv[2]) : 200000;

  std::vector<Config> configs;
  configs.push_back({"unfiltered", {}, {}, {}});
  {
    // The smallest filter: allow by default, refuse one syscall (an allowlist rule on an
    // allow-by-default filter would compile to nothing).
    configs.push_back({"one-rule", one_rule_program(), {}, {}});
  }
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
      std::fprintf(stderr, "filter_cost: %s\n", policy.error().describe().c_str());
      return 1;
    }
    configs.push_back({"service (" + std::to_string(policy->allowed.size()) + " syscalls)",
                       policy->program,
                       {},
                       {}});
  }
  for (int count : {8, 32, 128, 400}) {
    int actual = 0;
    auto program = allowlist_of(count, &actual);
    configs.push_back({"allowlist of " + std::to_string(actual), program, {}, {}});
  }

  configs.push_back({"linear list of 362 (no tree)", linear_allowlist_of(362), {}, {}});

  for (int round = 0; round < rounds; ++round) {
    for (auto& config : configs) {
      config.samples.push_back(sample(config.program, iterations, SYS_getppid));
      config.uncached.push_back(sample(config.program, iterations, kUncachedNumber));
    }
  }
  double reference = median(configs[1].samples);
  double uncached_reference = median(configs[1].uncached);
  std::printf("%d interleaved rounds of %ld calls, medians; ratios against the one-rule filter\n",
              rounds, iterations);
  std::printf("%-30s %7s %9s %9s %12s %9s\n", "configuration", "BPF ins", "getppid", "ratio",
              "uncached nr", "ratio");
  for (const auto& config : configs) {
    double value = median(config.samples);
    double uncached = median(config.uncached);
    std::printf("%-30s %7zu %7.1fns %8.3fx %10.1fns %8.3fx\n", config.label.c_str(),
                config.program.instructions.size(), value, value / reference, uncached,
                uncached / uncached_reference);
  }
  return 0;
}
