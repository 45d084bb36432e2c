// Seccomp user notification on the real kernel: the feature probe, reading a caller's memory,
// and the supervisor answering a trapped mq_open with a descriptor it opened itself.
#include <CppUTest/TestHarness.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <mqueue.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <string>

#include "platform/seccomp.hpp"
#include "platform/seccomp_notify.hpp"
#include "tests/support/confined_child.hpp"
#include "tests/support/process.hpp"

namespace platform = ipcrt::platform;

namespace {

int wait_exit_code(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

ipcrt::test::ConfinedChild confine_mq_open(int (*body)()) {
  static const int trapped[] = {SYS_mq_open};
  static const sock_fprog program = ipcrt::test::notify_program(trapped, 1);
  return ipcrt::test::start_confined_child(program, body);
}

platform::Notification next_notification(int listener) {
  pollfd ready{listener, POLLIN, 0};
  CHECK_EQUAL(1, ::poll(&ready, 1, 5000));
  auto notification = platform::receive_notification(listener);
  CHECK_TRUE(notification.has_value());
  return *notification;
}

}  // namespace

TEST_GROUP(PlatformSeccompNotify){};

TEST(PlatformSeccompNotify, ProbeFindsUserNotificationWithAddfdSend) {
  auto probed = platform::probe_user_notification();
  if (!probed) FAIL(probed.error().describe().c_str());
}

// `run` skips the probe's child where the answer is certain; certain must never be wrong.
TEST(PlatformSeccompNotify, CertainWithoutAProbeOnlyWhereTheProbeSucceeds) {
  if (!platform::user_notification_certain()) {
    UT_PRINT("not certain here: the probe decides");
    return;
  }
  auto probed = platform::probe_user_notification();
  CHECK_TRUE_TEXT(probed.has_value(), probed ? "" : probed.error().describe().c_str());
}

// A process under a filter may have a listener above it, which would refuse the services'
// own with EBUSY: only the probe can tell, so it is never certain there.
TEST(PlatformSeccompNotify, NeverCertainUnderAFilter) {
  pid_t child = ::fork();
  if (child == 0) {
    sock_filter allow_all[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    sock_fprog program{1, allow_all};
    if (platform::set_no_new_privs() != 0) ::_exit(10);
    if (platform::load_seccomp_filter(program, false) < 0) ::_exit(11);
    ::_exit(platform::user_notification_certain() ? 12 : 0);
  }
  LONGS_EQUAL(0, wait_exit_code(child));
}

TEST(PlatformSeccompNotify, KernelReleasesCompareByMajorThenMinor) {
  CHECK_TRUE(platform::kernel_release_at_least("5.14.0", 5, 14));
  CHECK_TRUE(platform::kernel_release_at_least("6.1.0-18-arm64", 5, 14));
  CHECK_TRUE(platform::kernel_release_at_least("10.0", 5, 14));
  CHECK_TRUE(platform::kernel_release_at_least("5.15-rc1", 5, 14));
  CHECK_FALSE(platform::kernel_release_at_least("5.13.19", 5, 14));
  CHECK_FALSE(platform::kernel_release_at_least("4.19.0-26-armmp", 5, 14));
  CHECK_FALSE(platform::kernel_release_at_least("5", 5, 14));
  CHECK_FALSE(platform::kernel_release_at_least("", 5, 14));
  CHECK_FALSE(platform::kernel_release_at_least("v6.1", 5, 14));
}

TEST(PlatformSeccompNotify, ReadsAStringFromAnotherProcessesMemory) {
  static char text[64] = "parent's value";
  int ready[2];
  CHECK_EQUAL(0, ::pipe2(ready, O_CLOEXEC));
  pid_t pid = ::fork();
  if (pid == 0) {
    std::strcpy(text, "child's value");  // only the child's copy changes
    if (::write(ready[1], "r", 1) != 1) ::_exit(1);
    ::pause();
    ::_exit(0);
  }
  char byte = 0;
  CHECK_EQUAL(1, ::read(ready[0], &byte, 1));
  auto read = platform::read_remote_string(pid, reinterpret_cast<std::uintptr_t>(text), 255);
  auto too_short = platform::read_remote_string(pid, reinterpret_cast<std::uintptr_t>(text), 4);
  ::kill(pid, SIGKILL);
  wait_exit_code(pid);
  ::close(ready[0]);
  ::close(ready[1]);
  CHECK_TRUE(read.has_value());
  STRCMP_EQUAL("child's value", read->c_str());
  CHECK_FALSE(too_short.has_value());
  LONGS_EQUAL(ENAMETOOLONG, too_short.error().errnum);
}

TEST(PlatformSeccompNotify, ReadsAStringThatEndsAtAnUnmappedPage) {
  const long page = ::sysconf(_SC_PAGESIZE);
  auto* pages = static_cast<char*>(
      ::mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  CHECK_TRUE(pages != MAP_FAILED);
  CHECK_EQUAL(0, ::munmap(pages + page, page));
  char* name = pages + page - 6;
  std::memcpy(name, "edge!", 6);  // the NUL is the page's last byte
  auto read = platform::read_remote_string(::getpid(), reinterpret_cast<std::uintptr_t>(name), 255);
  ::munmap(pages, page);
  CHECK_TRUE(read.has_value());
  STRCMP_EQUAL("edge!", read->c_str());
}

TEST(PlatformSeccompNotify, SupervisorOpensTheQueueAndInstallsTheDescriptor) {
  const std::string queue = "/" + ipcrt::test::unique_name();
  mq_attr attributes{};
  attributes.mq_maxmsg = 4;
  attributes.mq_msgsize = 64;
  mqd_t ours = ::mq_open(queue.c_str(), O_CREAT | O_EXCL | O_RDONLY, 0600, &attributes);
  CHECK_TRUE(ours >= 0);
  static std::string child_queue;
  child_queue = queue;
  auto child = confine_mq_open([] {
    mqd_t mq = ::mq_open(child_queue.c_str(), O_WRONLY);
    if (mq < 0) return 20;
    if (::fcntl(mq, F_GETFD) != FD_CLOEXEC) return 21;
    return ::mq_send(mq, "hello", 5, 1) == 0 ? 0 : 22;
  });
  auto notification = next_notification(child.listener.get());
  LONGS_EQUAL(SYS_mq_open, notification.syscall);
  auto name = platform::read_remote_string(notification.pid, notification.args[0], 255);
  CHECK_TRUE(name.has_value());
  STRCMP_EQUAL(queue.substr(1).c_str(), name->c_str());  // glibc strips the leading '/'
  LONGS_EQUAL(O_WRONLY, static_cast<int>(notification.args[1]) & O_ACCMODE);
  CHECK_TRUE(platform::notification_still_valid(child.listener.get(), notification.id));
  mqd_t for_child = ::mq_open(queue.c_str(), O_WRONLY | O_CLOEXEC);
  CHECK_TRUE(for_child >= 0);
  auto installed = platform::answer_with_fd(child.listener.get(), notification.id, for_child, true);
  ::close(for_child);
  CHECK_TRUE(installed.has_value());
  const int exit_code = child.wait();
  char message[64] = {};
  unsigned priority = 0;
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  now.tv_sec += 2;
  ssize_t received = ::mq_timedreceive(ours, message, sizeof message, &priority, &now);
  ::mq_close(ours);
  ::mq_unlink(queue.c_str());
  LONGS_EQUAL(0, exit_code);
  LONGS_EQUAL(5, received);
  STRCMP_EQUAL("hello", message);
}

TEST(PlatformSeccompNotify, SupervisorRefusesWithAnErrno) {
  auto child = confine_mq_open([] {
    mqd_t mq = ::mq_open("/not-granted", O_RDONLY);
    return (mq < 0 && errno == EACCES) ? 0 : 30;
  });
  auto notification = next_notification(child.listener.get());
  CHECK_TRUE(platform::answer_error(child.listener.get(), notification.id, EACCES).has_value());
  LONGS_EQUAL(0, child.wait());
}
