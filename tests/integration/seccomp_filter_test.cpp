// Real filters on the real kernel: each policy is compiled by PolicyBuilder, loaded in a
// child with NO_NEW_PRIVS and checked with the static probe. Table tests deny with a marker
// errno (EHWPOISON) so a refusal by the filter cannot be confused with the kernel's own
// EPERM; the strict service policy is then checked for EPERM itself.
#include <CppUTest/TestHarness.h>
#include <fcntl.h>
#include <mqueue.h>
#include <seccomp.h>

#include <cerrno>
#include <string>
#include <vector>

#include "runtime/seccomp/service_policy.hpp"
#include "runtime/seccomp/policy_builder.hpp"
#include "runtime/seccomp/groups.hpp"
#include "tests/support/filtered_exec.hpp"

using ipcrt::config::kPermCreate;
using ipcrt::config::kPermDelete;
using ipcrt::config::kPermRead;
using ipcrt::config::kPermWrite;
using ipcrt::runtime::PolicyBuilder;
using ipcrt::runtime::QueueGrant;
using ipcrt::test::probe_errno;

namespace {

constexpr int kMarker = EHWPOISON;

// What the static probe needs to start, write its answer and exit, on x86_64, aarch64 and
// armhf. 32-bit ARM glibc sets its thread pointer with the ARM-private set_tls (without it the
// first errno access faults) and reads RLIMIT_STACK with ugetrlimit (prlimit64 elsewhere).
// `read_limits` false leaves those reads to a group under test: named here, prlimit64 would be
// allowed whole.
PolicyBuilder probe_builder(bool read_limits = true) {
  PolicyBuilder builder;
  builder.default_action(SCMP_ACT_ERRNO(kMarker));
  for (const char* name :
       {"execve",          "brk",   "arch_prctl", "set_tls",    "set_tid_address",
        "set_robust_list", "rseq",  "readlink",   "readlinkat", "getrandom",
        "mprotect",        "mmap",  "mmap2",      "newfstatat", "fstat",
        "fstat64",         "statx", "write",      "exit_group", "exit"}) {
    builder.allow_syscall(name, "probe startup");
  }
  if (read_limits) {
    builder.allow_syscall("prlimit64", "probe startup");
    builder.allow_syscall("ugetrlimit", "probe startup");
  }
  return builder;
}

ipcrt::platform::BpfProgram build(PolicyBuilder& builder) {
  auto policy = builder.build();
  if (!policy) FAIL(policy.error().describe().c_str());
  return policy->program;
}

bool native_has(const std::string& name) {
  return seccomp_syscall_resolve_name(name.c_str()) >= 0;
}

// A real queue for the mq_open matrix, removed even when the test fails.
struct ScopedQueue {
  std::string path = "/" + ipcrt::test::unique_name("ipcrt-seccomp");
  ScopedQueue() {
    mq_attr attr{};
    attr.mq_maxmsg = 2;
    attr.mq_msgsize = 16;
    mqd_t queue = ::mq_open(path.c_str(), O_CREAT | O_RDWR, 0600, &attr);
    if (queue == static_cast<mqd_t>(-1)) FAIL("cannot create the test queue");
    ::mq_close(queue);
  }
  ~ScopedQueue() { ::mq_unlink(path.c_str()); }
};

}  // namespace

TEST_GROUP(SeccompFilter){};

TEST(SeccompFilter, ProbeRunsUnderItsMinimalFilter) {
  auto builder = probe_builder();
  LONGS_EQUAL(kMarker, probe_errno(build(builder), {"getppid"}));
}

TEST(SeccompFilter, EachGroupAllowsItsSyscallsAndNothingElseDoes) {
  struct Row {
    const char* group;
    const char* syscall;
  };
  const Row rows[] = {
      {"@default", "uname"},        {"@basic-io", "dup"},       {"@file-system", "getcwd"},
      {"@io-event", "eventfd2"},    {"@network-io", "socket"},  {"@process", "setpriority"},
      {"@process-core", "getppid"}, {"@signal", "sigaltstack"}, {"@timer", "timerfd_create"},
      {"@sysv-ipc", "msgctl"},
  };
  for (const auto& row : rows) {
    auto without = probe_builder();
    auto with = probe_builder();
    with.allow_group(row.group);
    std::string label = std::string(row.group) + " " + row.syscall;
    LONGS_EQUAL_TEXT(kMarker, probe_errno(build(without), {row.syscall}), label.c_str());
    int allowed = probe_errno(build(with), {row.syscall});
    CHECK_TEXT(allowed != kMarker && allowed >= 0, label.c_str());
  }
}

TEST(SeccompFilter, NeverAllowedSyscallsAreRefusedEvenWithEveryGroup) {
  auto everything = probe_builder();
  for (const auto& group : ipcrt::runtime::syscall_groups()) everything.allow_group(group.name);
  auto program = build(everything);
  int checked = 0;
  for (std::string_view view : ipcrt::runtime::never_allowed_syscalls()) {
    std::string name(view);
    if (!native_has(name)) continue;  // e.g. stime, umount, clock_settime64 on 64-bit ABIs
    LONGS_EQUAL_TEXT(kMarker, probe_errno(program, {name}), name.c_str());
    // Allowed by name, the same probe reaches the kernel: the row above can fail.
    auto by_name = probe_builder();
    by_name.allow_syscall(name, "seccomp.allow");
    int answer = probe_errno(build(by_name), {name});
    CHECK_TEXT(answer != kMarker && answer >= 0, name.c_str());
    ++checked;
  }
  CHECK(checked >= 30);
}

// clone with a namespace flag is unshare by another name: @default allows only fork-like
// and thread clones, and answers clone3 (flags out of the filter's reach) with ENOSYS.
TEST(SeccompFilter, DefaultCloneCreatesNoNamespaces) {
  auto with_default = probe_builder();
  with_default.allow_group("@default");
  auto program = build(with_default);
  for (const char* flags :
       {"CLONE_NEWUSER", "CLONE_NEWNET", "CLONE_NEWNS", "CLONE_NEWUSER|CLONE_NEWNS"}) {
    LONGS_EQUAL_TEXT(kMarker, probe_errno(program, {"clone", flags}), flags);
  }
  LONGS_EQUAL(0, probe_errno(program, {"clone", "none"}));
  if (native_has("clone3")) LONGS_EQUAL(ENOSYS, probe_errno(program, {"clone3"}));

  // Named one by one, clone is allowed whole, like unshare: the rows above can fail.
  auto by_name = probe_builder();
  by_name.allow_syscall("clone", "seccomp.allow");
  by_name.allow_syscall("wait4", "probe reaps its child");
  LONGS_EQUAL(0, probe_errno(build(by_name), {"clone", "CLONE_NEWUSER"}));
}

TEST(SeccompFilter, PolicyListingSaysHowCloneIsLimited) {
  PolicyBuilder builder;
  builder.allow_group("@default");
  auto policy = builder.build();
  if (!policy) FAIL(policy.error().describe().c_str());
  std::string clone_reason;
  std::string clone3_reason;
  for (const auto& entry : policy->allowed) {
    if (entry.name == "clone") clone_reason = entry.reasons.at(0);
    if (entry.name == "clone3") clone3_reason = entry.reasons.at(0);
  }
  STRCMP_CONTAINS("no namespace flags", clone_reason.c_str());
  if (native_has("clone3")) STRCMP_CONTAINS("ENOSYS", clone3_reason.c_str());
}

// prlimit64 with a new limit is setrlimit (and, on another pid of the same uid, sets that
// process's limits): @default allows only its read form, which glibc's getrlimit sends.
// Whatever allows setrlimit (@process, the name) or names prlimit64 allows it whole.
TEST(SeccompFilter, DefaultPrlimit64OnlyReadsLimits) {
  auto with_default = probe_builder(false);
  with_default.allow_group("@default");
  auto program = build(with_default);
  LONGS_EQUAL(0, probe_errno(program, {"getrlimit"}));
  LONGS_EQUAL(0, probe_errno(program, {"getrlimit64"}));
  LONGS_EQUAL(0, probe_errno(program, {"prlimit64", "read"}));
  LONGS_EQUAL(kMarker, probe_errno(program, {"prlimit64", "set"}));
  LONGS_EQUAL(kMarker, probe_errno(program, {"setrlimit"}));

  // Without @default the read is refused too: the rows above test @default's rule.
  auto bare = probe_builder(false);
  LONGS_EQUAL(kMarker, probe_errno(build(bare), {"prlimit64", "read"}));

  struct Widening {
    const char* label;
    const char* allow;  // a group or a syscall name
    const char* deny;   // nullptr: nothing denied
    bool sets;          // prlimit64 and setrlimit(3) may set limits
  };
  const Widening rows[] = {{"seccomp.allow prlimit64", "prlimit64", nullptr, true},
                           {"seccomp.allow @process", "@process", nullptr, true},
                           {"seccomp.allow setrlimit", "setrlimit", nullptr, true},
                           {"@process with setrlimit denied", "@process", "setrlimit", false}};
  for (const auto& row : rows) {
    auto builder = probe_builder(false);
    builder.allow_group("@default").allow(row.allow);
    if (row.deny != nullptr) builder.deny_syscall(row.deny);
    auto widened = build(builder);
    LONGS_EQUAL_TEXT(0, probe_errno(widened, {"getrlimit"}), row.label);
    LONGS_EQUAL_TEXT(0, probe_errno(widened, {"prlimit64", "read"}), row.label);
    LONGS_EQUAL_TEXT(row.sets ? 0 : kMarker, probe_errno(widened, {"prlimit64", "set"}), row.label);
    LONGS_EQUAL_TEXT(row.sets ? 0 : kMarker, probe_errno(widened, {"setrlimit"}), row.label);
  }
}

TEST(SeccompFilter, MqSyscallsFollowThePermissions) {
  struct Row {
    const char* syscall;
    unsigned needs;  // 0: any permission
  };
  // glibc on 32-bit ARM sends and receives through the _time64 twins.
  const Row rows[] = {{"mq_getsetattr", 0},           {"mq_notify", kPermRead},
                      {"mq_timedreceive", kPermRead}, {"mq_timedreceive_time64", kPermRead},
                      {"mq_timedsend", kPermWrite},   {"mq_timedsend_time64", kPermWrite},
                      {"mq_unlink", kPermDelete}};
  for (unsigned permissions : {unsigned{kPermRead}, unsigned{kPermWrite}, unsigned{kPermCreate},
                               unsigned{kPermDelete}, kPermRead | kPermWrite}) {
    auto builder = probe_builder();
    builder.allow_mq(QueueGrant{"/q", permissions, "provider:queues", false});
    auto program = build(builder);
    for (const auto& row : rows) {
      if (!native_has(row.syscall)) continue;  // the _time64 twins exist on 32-bit ABIs only
      bool allowed = row.needs == 0 || (permissions & row.needs) != 0;
      std::vector<std::string> args{row.syscall};
      if (std::string(row.syscall) == "mq_unlink") {
        args.push_back("/" + ipcrt::test::unique_name("ipcrt-absent"));
      }
      int answer = probe_errno(program, args);
      std::string label = std::string(row.syscall) + " with permissions " +
                          ipcrt::runtime::describe_permissions(permissions);
      if (allowed) {
        CHECK_TEXT(answer != kMarker && answer >= 0, label.c_str());
      } else {
        LONGS_EQUAL_TEXT(kMarker, answer, label.c_str());
      }
    }
  }
  // Without any grant no mq_* syscall passes.
  auto none = probe_builder();
  LONGS_EQUAL(kMarker, probe_errno(build(none), {"mq_getsetattr"}));
}

TEST(SeccompFilter, MqOpenFlagsAreLimitedByTheUnionOfPermissions) {
  ScopedQueue queue;
  struct Grant {
    unsigned permissions;
    bool owner;
  };
  const Grant grants[] = {{kPermRead, false},
                          {kPermWrite, false},
                          {kPermRead | kPermWrite, false},
                          {kPermRead | kPermCreate, false},
                          {kPermWrite | kPermCreate, false},
                          {kPermRead | kPermWrite | kPermCreate, false},
                          {kPermCreate, false},
                          {kPermDelete, false},
                          {0, true}};
  for (const auto& grant : grants) {
    auto builder = probe_builder();
    builder.allow_mq(QueueGrant{queue.path, grant.permissions, "provider:queues", grant.owner});
    auto program = build(builder);
    unsigned permissions = grant.owner ? ipcrt::config::kPermAll : grant.permissions;
    bool read = (permissions & kPermRead) != 0;
    bool write = (permissions & kPermWrite) != 0;
    bool create = (permissions & kPermCreate) != 0;
    for (const char* mode : {"O_RDONLY", "O_WRONLY", "O_RDWR"}) {
      std::string m(mode);
      bool mode_ok = (read && write) || (m == "O_RDONLY" && !write) || (m == "O_WRONLY" && write);
      for (bool with_create : {false, true}) {
        std::string flags = with_create ? m + "|O_CREAT" : m;
        bool allowed = mode_ok && (create || !with_create);
        std::string label = flags + " with " + ipcrt::runtime::describe_permissions(permissions);
        LONGS_EQUAL_TEXT(allowed ? 0 : kMarker,
                         probe_errno(program, {"mq_open", queue.path, flags}), label.c_str());
      }
    }
  }
}

TEST(SeccompFilter, SeveralGrantsOpenTheUnionOfTheirFlags) {
  ScopedQueue queue;
  auto builder = probe_builder();
  builder.allow_mq(QueueGrant{queue.path, kPermRead, "a:reader", false});
  builder.allow_mq(QueueGrant{"/other", kPermWrite, "b:writer", false});
  auto program = build(builder);
  LONGS_EQUAL(0, probe_errno(program, {"mq_open", queue.path, "O_RDWR"}));
  LONGS_EQUAL(kMarker, probe_errno(program, {"mq_open", queue.path, "O_RDWR|O_CREAT"}));
}

namespace {

ipcrt::config::Service service_named(const char* name) {
  ipcrt::config::Service service;
  service.name = name;
  service.pointer = std::string("/services/") + name;
  service.command = {"/bin/true"};
  return service;
}

ipcrt::platform::BpfProgram service_program(const ipcrt::config::Service& service) {
  ipcrt::runtime::PlannedService planned;
  planned.name = service.name;
  auto program = ipcrt::runtime::compile_service_filter(service, planned);
  if (!program) FAIL(program.error().describe().c_str());
  return *program;
}

}  // namespace

TEST(SeccompFilter, StrictServiceGetsEpermAndDenyRemovesASyscall) {
  auto service = service_named("strict");
  auto program = service_program(service);
  LONGS_EQUAL(0, probe_errno(program, {"getppid"}));
  LONGS_EQUAL(EPERM, probe_errno(program, {"mount"}));
  LONGS_EQUAL(EPERM, probe_errno(program, {"socket"}));
  service.seccomp.deny = {"getppid"};
  LONGS_EQUAL(EPERM, probe_errno(service_program(service), {"getppid"}));
  service.seccomp.allow = {"mount", "@network-io"};
  auto widened = service_program(service);
  LONGS_EQUAL(ENOENT, probe_errno(widened, {"mount"}));
  LONGS_EQUAL(0, probe_errno(widened, {"socket"}));
}

TEST(SeccompFilter, StrictServiceReadsButCannotSetItsLimitsUnlessAllowed) {
  auto service = service_named("limits");
  auto program = service_program(service);
  LONGS_EQUAL(0, probe_errno(program, {"getrlimit"}));
  LONGS_EQUAL(0, probe_errno(program, {"getrlimit64"}));
  LONGS_EQUAL(EPERM, probe_errno(program, {"prlimit64", "set"}));
  LONGS_EQUAL(EPERM, probe_errno(program, {"setrlimit"}));
  for (const char* allow : {"prlimit64", "@process"}) {
    service.seccomp.allow = {allow};
    auto widened = service_program(service);
    LONGS_EQUAL_TEXT(0, probe_errno(widened, {"prlimit64", "set"}), allow);
    LONGS_EQUAL_TEXT(0, probe_errno(widened, {"setrlimit"}), allow);
  }
}

// Without mediation complain's filter logs and allows (SCMP_ACT_LOG): a denied syscall gets
// the kernel's answer, but what complain never lets through (SPEC §5, §15) gets EPERM from
// the filter, unless seccomp.allow names it as strict would allow it.
TEST(SeccompFilter, ComplainModeLetsDeniedSyscallsThroughButNotTheNeverAllowed) {
  auto service = service_named("complain");
  service.confinement = ipcrt::config::Confinement::Complain;
  auto program = service_program(service);
  CHECK(!program.instructions.empty());
  LONGS_EQUAL(0, probe_errno(program, {"socket"}));       // not in @default: logged, allowed
  LONGS_EQUAL(0, probe_errno(program, {"setpriority"}));  // nice 19 needs no capability
  LONGS_EQUAL(EPERM, probe_errno(program, {"mount"}));
  LONGS_EQUAL(EPERM, probe_errno(program, {"ptrace"}));
  LONGS_EQUAL(EPERM, probe_errno(program, {"unshare", "CLONE_NEWUSER"}));
  LONGS_EQUAL(EPERM, probe_errno(program, {"clone", "CLONE_NEWUSER"}));
  LONGS_EQUAL(0, probe_errno(program, {"clone", "none"}));
  if (native_has("io_uring_setup")) {
    LONGS_EQUAL(EPERM, probe_errno(program, {"io_uring_setup"}));
  }
  // The same calls without a filter's refusal get the kernel's answers: the rows above can
  // fail. Named one by one, they are the manifest's choice, as in strict.
  service.seccomp.allow = {"mount", "ptrace", "unshare", "clone", "io_uring_setup"};
  auto named = service_program(service);
  LONGS_EQUAL(ENOENT, probe_errno(named, {"mount"}));  // the kernel's answer, not the filter's
  const int ptrace_answer = probe_errno(named, {"ptrace"});
  CHECK_TEXT(ptrace_answer != EPERM && ptrace_answer > 0, std::to_string(ptrace_answer).c_str());
  LONGS_EQUAL(0, probe_errno(named, {"unshare", "CLONE_NEWUSER"}));
  LONGS_EQUAL(0, probe_errno(named, {"clone", "CLONE_NEWUSER"}));
  if (native_has("io_uring_setup")) LONGS_EQUAL(0, probe_errno(named, {"io_uring_setup"}));
  service.confinement = ipcrt::config::Confinement::Off;
  CHECK(service_program(service).instructions.empty());
}

TEST(SeccompFilter, OtherAbisAreRefusedUnlessListed) {
#if defined(__x86_64__)
  auto service = service_named("abi");
  LONGS_EQUAL(0, probe_errno({}, {"i386_getpid"}));  // the kernel runs i386 code at all
  LONGS_EQUAL(EPERM, probe_errno(service_program(service), {"i386_getpid"}));
  service.seccomp.architectures = {"x86"};
  LONGS_EQUAL(0, probe_errno(service_program(service), {"i386_getpid"}));
#else
  UT_PRINT("skipped: the compat-ABI probe is x86_64 only (int $0x80)");
#endif
}
