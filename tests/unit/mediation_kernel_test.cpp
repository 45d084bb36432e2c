// Mediation on the real kernel: a confined child's mq_open/mq_unlink go to a ServiceMediator,
// which opens, creates or refuses with the caller's credentials, logs each denial with what
// would allow it, and keeps the pattern budget.
#include <CppUTest/TestHarness.h>
#include <fcntl.h>
#include <grp.h>
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/text.hpp"
#include "config/manifest.hpp"
#include "platform/mqueue.hpp"
#include "runtime/mediation/notification.hpp"
#include "runtime/mediation/server.hpp"
#include "runtime/seccomp/service_policy.hpp"
#include "tests/support/confined_child.hpp"
#include "tests/support/process.hpp"
#include "tests/support/system_state.hpp"

using namespace ipcrt::runtime;
using namespace ipcrt::config;

namespace {

constexpr uid_t kCallerUid = 24101;  // the child's user: not root, not the supervisor
constexpr gid_t kCallerGid = 24102;

std::string g_prefix;  // "/ipcrt-test-<pid>-<n>": read by the child's body

// Plays the supervisor until the child exits; returns the child's exit code.
int supervise(ipcrt::test::ConfinedChild& child, ServiceMediator& mediator) {
  ActingThread thread;  // restores this thread's credentials when supervising ends
  for (;;) {
    pollfd ready{child.listener.get(), POLLIN, 0};
    if (::poll(&ready, 1, 50) == 1 && (ready.revents & POLLIN) != 0) {
      mediator.handle(child.listener.get(), thread);
      continue;
    }
    int status = 0;
    if (::waitpid(child.pid, &status, WNOHANG) == child.pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
  }
}

// Everything stderr receives while alive.
class CapturedStderr {
 public:
  CapturedStderr() : saved_(::dup(STDERR_FILENO)), file_(::memfd_create("stderr", 0)) {
    ::dup2(file_, STDERR_FILENO);
  }
  ~CapturedStderr() {
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    ::close(file_);
  }
  std::string text() const {
    std::string out;
    char buffer[4096];
    ssize_t n;
    off_t at = 0;
    while ((n = ::pread(file_, buffer, sizeof buffer, at)) > 0) {
      out.append(buffer, static_cast<std::size_t>(n));
      at += n;
    }
    return out;
  }

 private:
  int saved_;
  int file_;
};

// A queue made by the test (root), then given to `uid` with `mode`.
void make_queue(const std::string& path, uid_t uid, gid_t gid, mode_t mode) {
  mq_attr attributes{};
  attributes.mq_maxmsg = 4;
  attributes.mq_msgsize = 32;
  mqd_t queue = ::mq_open(path.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &attributes);
  CHECK_TRUE_TEXT(queue >= 0, path.c_str());
  CHECK_EQUAL(0, ::fchown(queue, uid, gid));
  CHECK_EQUAL(0, ::fchmod(queue, mode));
  ::mq_close(queue);
}

bool queue_exists(const std::string& path) {
  mqd_t queue = ::mq_open(path.c_str(), O_RDONLY);
  if (queue >= 0) ::mq_close(queue);
  return queue >= 0;
}

// The child becomes an ordinary user: what a confined service with a `user` is.
int become_caller() {
  const gid_t groups[] = {kCallerGid};
  if (::setgroups(1, groups) != 0 || ::setresgid(kCallerGid, kCallerGid, kCallerGid) != 0 ||
      ::setresuid(kCallerUid, kCallerUid, kCallerUid) != 0) {
    return 1;
  }
  return 0;
}

int child_body() {
  if (become_caller() != 0) return 9;
  const std::string readable = g_prefix + "-ro";
  const std::string created = g_prefix + "-p-new";
  if (::mq_open(readable.c_str(), O_RDONLY) < 0) return 10;
  if (::mq_open(readable.c_str(), O_WRONLY) >= 0 || errno != EACCES) return 11;
  if (::mq_open((g_prefix + "-other").c_str(), O_RDONLY) >= 0 || errno != EACCES) return 12;
  mq_attr attributes{};
  attributes.mq_maxmsg = 4;
  attributes.mq_msgsize = 32;
  ::umask(022);
  mqd_t fresh = ::mq_open(created.c_str(), O_WRONLY | O_CREAT, 0666, &attributes);
  if (fresh < 0) return 13;
  if (::mq_send(fresh, "made", 4, 0) != 0) return 14;
  // Above msg_max: refused by the kernel, which judges the supervisor's call as the caller's.
  attributes.mq_maxmsg = 100000;
  if (::mq_open((g_prefix + "-p-big").c_str(), O_WRONLY | O_CREAT, 0600, &attributes) >= 0 ||
      errno != EINVAL) {
    return 15;
  }
  if (::mq_unlink(readable.c_str()) == 0 || errno != EACCES) return 16;
  if (::syscall(SYS_getppid) >= 0 || errno != EPERM) return 17;
  // A queue of another user, private to it: the pattern grants the name, the kernel refuses
  // the caller, and so the supervisor acting for it.
  const std::string foreign = g_prefix + "-p-foreign";
  if (::mq_open(foreign.c_str(), O_WRONLY) >= 0 || errno != EACCES) return 18;
  if (::mq_open(foreign.c_str(), O_WRONLY | O_CREAT, 0600, nullptr) >= 0 || errno != EACCES) {
    return 19;
  }
  // Only a queue's owner may unlink it (the kernel answers the caller itself EACCES).
  if (::mq_unlink(foreign.c_str()) == 0 || errno != EACCES) return 20;
  // The caller's own private queue: open and unlink work.
  const std::string mine = g_prefix + "-p-mine";
  mqd_t own = ::mq_open(mine.c_str(), O_WRONLY);
  if (own < 0) return 21;
  ::mq_close(own);
  if (::mq_unlink(mine.c_str()) != 0) return 22;
  return 0;
}

MediatedService uploader() {
  MediatedService service;
  service.name = "uploader";
  service.grants = {
      {g_prefix + "-ro", kPermRead, "hub:telemetry", false},
      {g_prefix + "-p-*", kPermWrite | kPermCreate | kPermDelete, "hub:cameras", false}};
  service.queues = {{g_prefix + "-ro", "hub:telemetry", 4, 32, 0644, {0, 0, {0}}},
                    {g_prefix + "-p-*", "hub:cameras", 0, 0, 0640, {0, 0, {0}}}};
  service.uid = kCallerUid;
  service.need_for_syscall = [](const std::string& syscall) { return "@test for " + syscall; };
  return service;
}

// child_body's calls, served for a service whose callers' credentials are read from /proc
// (`fixed` empty) or are its fixed ones: every answer, the created queue and the log lines.
void check_uploader_answers(std::optional<Credentials> fixed) {
  g_prefix = "/" + ipcrt::test::unique_name();
  const std::string readable = g_prefix + "-ro";
  const std::string created = g_prefix + "-p-new";
  const std::string foreign = g_prefix + "-p-foreign";
  const std::string mine = g_prefix + "-p-mine";
  make_queue(readable, 0, 0, 0644);
  make_queue(foreign, 0, 0, 0600);
  make_queue(mine, kCallerUid, kCallerGid, 0600);

  MediatedService service = uploader();
  service.fixed_credentials = std::move(fixed);
  ServiceMediator mediator(std::move(service));
  static const int trapped[] = {SYS_mq_open, SYS_mq_unlink, SYS_getppid};
  static const sock_fprog program = ipcrt::test::notify_program(trapped, 3);
  int exit_code = -1;
  std::string logged;
  {
    CapturedStderr capture;
    auto child = ipcrt::test::start_confined_child(program, child_body);
    exit_code = supervise(child, mediator);
    logged = capture.text();
  }
  mqd_t check = ::mq_open(created.c_str(), O_RDONLY);
  struct stat info {};
  const int stat_rc = check >= 0 ? ::fstat(check, &info) : -1;
  char message[32] = {};
  const ssize_t received = check >= 0 ? ::mq_receive(check, message, sizeof message, nullptr) : -1;
  if (check >= 0) ::mq_close(check);
  const bool foreign_survived = queue_exists(foreign);
  const bool mine_survived = queue_exists(mine);
  const auto usage = mediator.pattern_usage();
  for (const auto& path : {readable, created, foreign, mine, g_prefix + "-p-big"}) {
    ::mq_unlink(path.c_str());
  }

  LONGS_EQUAL(0, exit_code);
  LONGS_EQUAL(0, stat_rc);
  LONGS_EQUAL(kCallerUid, info.st_uid);  // created as the caller
  LONGS_EQUAL(kCallerGid, info.st_gid);
  LONGS_EQUAL(0640, info.st_mode & 0777);  // 0666 under umask 022, clamped to the slot's 0640
  LONGS_EQUAL(4, received);
  STRCMP_EQUAL("made", message);
  CHECK_TRUE(foreign_survived);
  CHECK_FALSE(mine_survived);
  LONGS_EQUAL(1, usage.first);  // -p-new; -p-mine was not created through mediation
  LONGS_EQUAL(ipcrt::platform::queue_charge_bytes(4, 32), usage.second);
  STRCMP_CONTAINS("level=warn msg=denied service=uploader pid=", logged.c_str());
  STRCMP_CONTAINS(("syscall=mq_open arg=" + readable + " need=\"write on hub:telemetry\"").c_str(),
                  logged.c_str());
  STRCMP_CONTAINS(
      ("syscall=mq_open arg=" + g_prefix +
       "-other need=\"a posix-mq plug connected to a slot with path " + g_prefix + "-other\"")
          .c_str(),
      logged.c_str());
  STRCMP_CONTAINS(
      ("syscall=mq_unlink arg=" + readable + " need=\"delete on hub:telemetry\"").c_str(),
      logged.c_str());
  STRCMP_CONTAINS("syscall=getppid need=\"@test for getppid\"", logged.c_str());
}

}  // namespace

TEST_GROUP(MediationKernel){};

TEST(MediationKernel, OpensCreatesRefusesAndLogsAsTheCaller) {
  check_uploader_answers(std::nullopt);
}

// A service launched with one uid and gid and no capabilities (what immutable_credentials()
// accepts): its callers are judged with those, the same answers as when /proc is read.
TEST(MediationKernel, FixedCredentialsGiveTheSameAnswersAsTheCallersOwn) {
  auto fixed = immutable_credentials({kCallerUid, kCallerGid, {kCallerGid}}, false);
  CHECK_TRUE(fixed.has_value());
  check_uploader_answers(std::move(fixed));
}

namespace {

constexpr uid_t kOtherUid = 24103;

// Runs `body` confined, its `trapped` syscalls served by `mediator`; its exit code.
int run_served(ServiceMediator& mediator, const sock_fprog& program, int (*body)()) {
  CapturedStderr capture;
  auto child = ipcrt::test::start_confined_child(program, body);
  return supervise(child, mediator);
}

// The owner of the queue at `path`, or -1 if it cannot be opened.
long queue_owner(const std::string& path) {
  mqd_t queue = ::mq_open(path.c_str(), O_RDONLY);
  if (queue < 0) return -1;
  struct stat info {};
  const long owner = ::fstat(queue, &info) == 0 ? static_cast<long>(info.st_uid) : -1;
  ::mq_close(queue);
  return owner;
}

int fixed_body() {
  if (become_caller() != 0) return 9;
  // The caller's own queue, but the service's fixed credentials are another user's.
  if (::mq_open((g_prefix + "-p-mine").c_str(), O_WRONLY) >= 0 || errno != EACCES) return 10;
  const mqd_t other = ::mq_open((g_prefix + "-p-other").c_str(), O_WRONLY);
  if (other < 0) return 11;
  ::mq_close(other);
  // A create through a pattern reads the caller from /proc (its umask): made as itself.
  const mqd_t fresh = ::mq_open((g_prefix + "-p-new").c_str(), O_WRONLY | O_CREAT, 0600, nullptr);
  if (fresh < 0) return 12;
  ::mq_close(fresh);
  return 0;
}

}  // namespace

// Which credentials judge a call when the service's are fixed: those, not the caller's
// /proc status (made different here, which no real service can be, to tell them apart).
TEST(MediationKernel, FixedCredentialsAreWhatOpensAreJudgedWith) {
  g_prefix = "/" + ipcrt::test::unique_name();
  const std::string mine = g_prefix + "-p-mine";
  const std::string other = g_prefix + "-p-other";
  const std::string created = g_prefix + "-p-new";
  make_queue(mine, kCallerUid, kCallerGid, 0600);
  make_queue(other, kOtherUid, kOtherUid, 0600);

  MediatedService service = uploader();
  service.fixed_credentials = immutable_credentials({kOtherUid, kOtherUid, {kOtherUid}}, false);
  ServiceMediator mediator(std::move(service));
  static const int trapped[] = {SYS_mq_open, SYS_mq_unlink};
  static const sock_fprog program = ipcrt::test::notify_program(trapped, 2);
  const int exit_code = run_served(mediator, program, fixed_body);
  const long created_by = queue_owner(created);
  for (const auto& path : {mine, other, created}) ::mq_unlink(path.c_str());
  LONGS_EQUAL(0, exit_code);
  LONGS_EQUAL(kCallerUid, created_by);
}

TEST(MediationKernel, OnlyAnUnprivilegedIdentityWithoutCapabilitiesHasFixedCredentials) {
  CHECK_FALSE(immutable_credentials({0, 0, {0}}, false).has_value());  // root
  CHECK_FALSE(immutable_credentials({kCallerUid, kCallerGid, {}}, true).has_value());
  auto fixed = immutable_credentials({kCallerUid, kCallerGid, {30, 10, 20}}, false);
  CHECK_TRUE(fixed.has_value());
  LONGS_EQUAL(kCallerUid, fixed->uid);
  LONGS_EQUAL(kCallerGid, fixed->gid);
  CHECK_TRUE((std::vector<gid_t>{10, 20, 30}) == fixed->groups);  // as the kernel lists them
  LONGS_EQUAL(0, fixed->capabilities);
}

namespace {

int budget_body() {
  if (become_caller() != 0) return 9;
  mq_attr small{};
  small.mq_maxmsg = 2;
  small.mq_msgsize = 16;
  mq_attr large{};
  large.mq_maxmsg = 4;
  large.mq_msgsize = 64;
  auto create = [](const char* suffix, mq_attr* attributes) {
    mqd_t queue =
        ::mq_open((g_prefix + "-p-" + suffix).c_str(), O_WRONLY | O_CREAT, 0600, attributes);
    if (queue < 0) return errno;
    ::mq_close(queue);
    return 0;
  };
  if (create("a", &small) != 0) return 10;
  if (create("b", &small) != 0) return 11;
  if (create("c", &small) != ENOSPC) return 12;  // the third queue: beyond 2
  if (create("a", &small) != 0) return 13;       // opening an existing one still works
  if (::mq_unlink((g_prefix + "-p-a").c_str()) != 0) return 14;
  if (create("c", &large) != EMFILE) return 15;  // one queue is back, but too few bytes
  if (create("c", &small) != 0) return 16;
  return 0;
}

}  // namespace

TEST(MediationKernel, PatternBudgetCountsQueuesAndBytesWhileTheyExist) {
  g_prefix = "/" + ipcrt::test::unique_name();
  MediatedService service = uploader();
  const std::uint64_t small = ipcrt::platform::queue_charge_bytes(2, 16);
  service.pattern_limits = {2, 2 * small + 8};
  ServiceMediator mediator(std::move(service));
  static const int trapped[] = {SYS_mq_open, SYS_mq_unlink};
  static const sock_fprog program = ipcrt::test::notify_program(trapped, 2);
  int exit_code = -1;
  std::string logged;
  {
    CapturedStderr capture;
    auto child = ipcrt::test::start_confined_child(program, budget_body);
    exit_code = supervise(child, mediator);
    logged = capture.text();
  }
  const auto usage = mediator.pattern_usage();
  for (const char* suffix : {"a", "b", "c"}) ::mq_unlink((g_prefix + "-p-" + suffix).c_str());

  LONGS_EQUAL(0, exit_code);
  LONGS_EQUAL(2, usage.first);
  LONGS_EQUAL(2 * small, usage.second);
  STRCMP_CONTAINS(("syscall=mq_open arg=" + g_prefix + "-p-c need=\"resources.queues: 3\"").c_str(),
                  logged.c_str());
  const std::string bytes = ipcrt::cat(
      "need=\"resources.queue-bytes: ", small + ipcrt::platform::queue_charge_bytes(4, 64), "\"");
  STRCMP_CONTAINS(bytes.c_str(), logged.c_str());
}

TEST(MediationKernel, PatternQueuesThatExistAtBootCountAgainstTheirOwner) {
  g_prefix = "/" + ipcrt::test::unique_name();
  ServiceMediator mediator(uploader());
  mediator.count_existing({{g_prefix + "-p-old", 4, 32, kCallerUid, kCallerGid, 0600},
                           {g_prefix + "-p-theirs", 4, 32, 0, 0, 0600},
                           {g_prefix + "-ro", 4, 32, kCallerUid, kCallerGid, 0600}});
  const auto usage = mediator.pattern_usage();
  LONGS_EQUAL(1, usage.first);
  LONGS_EQUAL(ipcrt::platform::queue_charge_bytes(4, 32), usage.second);
}

TEST(MediationKernel, ActingChangesTheCallingThreadOnly) {
  const std::string path = "/" + ipcrt::test::unique_name();
  make_queue(path, 0, 0, 0600);
  int acting_open = 0;
  int restored_open = 0;
  bool switched = false;
  bool restored = false;
  int main_open_while_acting = 0;
  std::mutex lock;
  std::condition_variable changed;
  int stage = 0;  // 1: the thread acts as the caller; 2: main has tried; 3: done
  std::thread worker([&] {
    ActingThread thread;
    switched = thread.act_as({kCallerUid, kCallerGid, {kCallerGid}, 0}).has_value();
    mqd_t queue = ::mq_open(path.c_str(), O_RDONLY);
    acting_open = queue >= 0 ? 0 : errno;
    if (queue >= 0) ::mq_close(queue);
    {
      std::unique_lock guard(lock);
      stage = 1;
      changed.notify_all();
      changed.wait(guard, [&] { return stage == 2; });
    }
    restored = thread.restore().has_value();
    queue = ::mq_open(path.c_str(), O_RDONLY);
    restored_open = queue >= 0 ? 0 : errno;
    if (queue >= 0) ::mq_close(queue);
  });
  {
    std::unique_lock guard(lock);
    changed.wait(guard, [&] { return stage == 1; });
    mqd_t queue = ::mq_open(path.c_str(), O_RDONLY);  // this thread is still root
    main_open_while_acting = queue >= 0 ? 0 : errno;
    if (queue >= 0) ::mq_close(queue);
    stage = 2;
    changed.notify_all();
  }
  worker.join();
  ::mq_unlink(path.c_str());
  CHECK_TRUE(switched);
  LONGS_EQUAL(EACCES, acting_open);  // uid 24101 without CAP_DAC_OVERRIDE: a private queue
  LONGS_EQUAL(0, main_open_while_acting);
  CHECK_TRUE(restored);
  LONGS_EQUAL(0, restored_open);
}

// SPEC §2.3 under the filter `run` loads for a service that may write an object: ordinary
// file work (open without O_EXCL, read, write, ftruncate, mmap, rmdir) never reaches the
// supervisor, which here serves nothing: had one call gone to it, the child would hang. Its
// exclusive creates and unlinks do; those of anything but the object are let through
// (mkstemp and unlink in the test's directory), the object's are answered: the unlink
// leaves it, the create truncates the store's file and hands it over.
namespace {

std::string g_dir;     // a TempDir of the test, where the child does ordinary file work
std::string g_object;  // the object's name: the child sees it at /dev/shm/<name>

int ordinary_body() {
  const std::string file = g_dir + "/plain";
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || ::write(fd, "abc", 3) != 3 || ::ftruncate(fd, 4096) != 0) return 10;
  void* mapped = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (mapped == MAP_FAILED || static_cast<char*>(mapped)[1] != 'b') return 11;
  ::munmap(mapped, 4096);
  ::close(fd);
  fd = ::openat(AT_FDCWD, file.c_str(), O_RDONLY | O_CLOEXEC);
  char byte = 0;
  if (fd < 0 || ::read(fd, &byte, 1) != 1) return 12;
  ::close(fd);
  const std::string dir = g_dir + "/sub";
  if (::mkdir(dir.c_str(), 0700) != 0 || ::unlinkat(AT_FDCWD, dir.c_str(), AT_REMOVEDIR) != 0) {
    return 13;
  }
  return 0;
}

int exclusive_body() {
  std::string pattern = g_dir + "/tmpXXXXXX";
  const int temporary = ::mkstemp(pattern.data());
  if (temporary < 0 || ::unlink(pattern.c_str()) != 0) return 20;
  ::close(temporary);
  const std::string object = "/dev/shm/" + g_object;
  if (::unlink(object.c_str()) != 0) return 21;  // answered: the object stays
  const int fd = ::open(object.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  struct stat info {};
  if (fd < 0 || ::fstat(fd, &info) != 0 || info.st_size != 0) return 22;
  if (::write(fd, "new", 3) != 3) return 23;
  if ((::fcntl(fd, F_GETFD) & FD_CLOEXEC) == 0) return 24;
  return 0;
}

}  // namespace

TEST(MediationKernel, OnlyExclusiveCreatesAndUnlinksOfAWritersObjectReachTheSupervisor) {
  if (!mediation_support()) {
    UT_PRINT("skipped: no name-level mediation on this kernel");
    return;
  }
  ipcrt::test::TempDir dir;
  g_dir = dir.path();
  g_object = ipcrt::test::unique_name("mko");
  const std::string store_file = dir.write_file("store-object", "old contents");
  // The service's own filter as `run` compiles it for a writer of the object.
  Service service;
  service.name = "cam";
  service.pointer = "/services/cam";
  PlannedService planned;
  planned.name = "cam";
  planned.shm.push_back({g_object, true, "cam:frames"});
  auto policy = compile_service_policy(service, planned, "native", true);
  CHECK_TRUE_TEXT(policy.has_value(), policy ? "" : policy.error().describe().c_str());
  static CompiledPolicy compiled;
  compiled = std::move(*policy);
  static sock_fprog program;
  program = {static_cast<unsigned short>(compiled.program.instructions.size()),
             compiled.program.instructions.data()};

  // Nobody serves the listener: the child must finish on its own.
  auto ordinary = ipcrt::test::start_confined_child(program, ordinary_body);
  pollfd ready{ordinary.listener.get(), POLLIN, 0};
  int status = 0;
  for (int i = 0; i < 500 && ::waitpid(ordinary.pid, &status, WNOHANG) == 0; ++i) ::usleep(10000);
  // A call waiting for the supervisor (the child could then not have exited either).
  const bool notified = ::poll(&ready, 1, 0) == 1 && (ready.revents & POLLIN) != 0;
  if (::waitpid(ordinary.pid, &status, WNOHANG) == 0) {
    ::kill(ordinary.pid, SIGKILL);
    ::waitpid(ordinary.pid, &status, 0);
  }
  CHECK_FALSE_TEXT(notified, "an ordinary file call went to the supervisor");
  CHECK_TRUE(WIFEXITED(status));
  LONGS_EQUAL(0, WEXITSTATUS(status));

  MediatedService mediated;
  mediated.name = "cam";
  mediated.objects = {{g_object, store_file}};
  mediated.shm_syscalls = shm_mediated_syscalls(service, planned);
  ServiceMediator mediator(std::move(mediated));
  auto exclusive = ipcrt::test::start_confined_child(program, exclusive_body);
  LONGS_EQUAL(0, supervise(exclusive, mediator));
  std::string contents(16, '\0');
  const int fd = ::open(store_file.c_str(), O_RDONLY | O_CLOEXEC);
  const ssize_t n = ::read(fd, contents.data(), contents.size());
  ::close(fd);
  contents.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  STRCMP_EQUAL_TEXT("new", contents.c_str(), "truncated and written through the descriptor");
  CHECK_FALSE(ipcrt::test::path_exists("/dev/shm/" + g_object));
}

namespace {

// A mediation thread held on its way out: past its last instruction of mediation (it has said
// it finished) but not yet gone, as a thread is until the scheduler runs its exit. A
// thread_local's destructor runs there, after the thread's function has returned.
std::atomic<bool> g_exiting{false};
std::atomic<bool> g_release{false};
std::atomic<bool> g_gave_up{false};  // it stopped waiting for the release: someone waited for it

struct HeldAtExit {
  ~HeldAtExit() {
    g_exiting.store(true);
    // Bounded, so that a supervisor that waits for it stalls for seconds instead of for ever.
    for (int i = 0; i < 500 && !g_release.load(); ++i) ::usleep(10000);
    if (!g_release.load()) g_gave_up.store(true);
  }
};

int refused_open_body() {
  return ::mq_open("/ipcrt-test-never-granted", O_RDONLY) < 0 && errno == EACCES ? 0 : 1;
}

}  // namespace

// The supervisor's loop joins the mediation threads of ended services as it goes (a shutdown
// does so at each service's end); a thread still exiting is left for later, never waited for.
TEST(MediationKernel, JoiningEndedThreadsNeverWaitsForOneStillExiting) {
  g_exiting = false;
  g_release = false;
  g_gave_up = false;
  std::vector<MediatedService> services(1);
  services[0].name = "held";
  MediationServer server(std::move(services));
  // Runs on the service's mediation thread, at its refused call.
  server.observe_denials([](const DenialEvent&) {
    static thread_local HeldAtExit held;
    (void)held;
  });
  static const int trapped[] = {SYS_mq_open};
  static const sock_fprog program = ipcrt::test::notify_program(trapped, 1);
  CapturedStderr capture;  // the denial line
  auto child = ipcrt::test::start_confined_child(program, refused_open_body);
  CHECK_TRUE(server.serve("held", std::move(child.listener)).has_value());
  const int exit_code = child.wait();
  // The listener hangs up with the child's end: the thread returns and is held in its exit.
  for (int i = 0; i < 500 && !g_exiting.load(); ++i) ::usleep(10000);
  const bool held = g_exiting.load();
  server.join_finished();
  // Had it waited, the thread could only have ended by giving up the wait for this release.
  const bool waited = g_gave_up.load();
  g_release = true;
  server.flush();  // joins it now that it can end

  LONGS_EQUAL(0, exit_code);
  CHECK_TRUE_TEXT(held, "the mediation thread never reached its exit");
  CHECK_FALSE_TEXT(waited, "join_finished waited for a thread that had not yet exited");
}
