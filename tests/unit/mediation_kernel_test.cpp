// Mediation on the real kernel: a confined child's mq_open/mq_unlink go to handle_notification,
// which opens, creates or refuses, and logs each denial with what would allow it.
#include <CppUTest/TestHarness.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "config/manifest.hpp"
#include "runtime/mediation/notification.hpp"
#include "tests/support/confined_child.hpp"
#include "tests/support/process.hpp"

using namespace ipcrt::runtime;
using namespace ipcrt::config;

namespace {

std::string g_prefix;  // "/ipcrt-test-<pid>-<n>": read by the child's body

// Plays the supervisor until the child exits; returns the child's exit code.
int supervise(ipcrt::test::ConfinedChild& child, const MediatedService& service, DenialLog& log) {
  for (;;) {
    pollfd ready{child.listener.get(), POLLIN, 0};
    if (::poll(&ready, 1, 50) == 1 && (ready.revents & POLLIN) != 0) {
      handle_notification(child.listener.get(), service, log);
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

int child_body() {
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
  attributes.mq_maxmsg = 100000;  // above msg_max: refused although the supervisor is root
  if (::mq_open((g_prefix + "-p-big").c_str(), O_WRONLY | O_CREAT, 0600, &attributes) >= 0 ||
      errno != EINVAL) {
    return 15;
  }
  if (::mq_unlink(readable.c_str()) == 0 || errno != EACCES) return 16;
  if (::syscall(SYS_getppid) >= 0 || errno != EPERM) return 17;
  return 0;
}

}  // namespace

TEST_GROUP(MediationKernel){};

TEST(MediationKernel, OpensCreatesRefusesAndLogs) {
  g_prefix = "/" + ipcrt::test::unique_name();
  const std::string readable = g_prefix + "-ro";
  const std::string created = g_prefix + "-p-new";
  mq_attr attributes{};
  attributes.mq_maxmsg = 4;
  attributes.mq_msgsize = 32;
  mqd_t existing = ::mq_open(readable.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &attributes);
  CHECK_TRUE(existing >= 0);
  ::mq_close(existing);

  MediatedService service;
  service.name = "uploader";
  service.grants = {{readable, kPermRead, "hub:telemetry", false},
                    {g_prefix + "-p-*", kPermWrite | kPermCreate, "hub:cameras", false}};
  service.uid = 1234;
  service.gid = 4321;
  service.msg_max = 10;
  service.msgsize_max = 8192;
  service.need_for_syscall = [](const std::string& syscall) { return "@test for " + syscall; };
  DenialLog log(service.name);

  static const int trapped[] = {SYS_mq_open, SYS_mq_unlink, SYS_getppid};
  static const sock_fprog program = ipcrt::test::notify_program(trapped, 3);
  int exit_code = -1;
  std::string logged;
  {
    CapturedStderr capture;
    auto child = ipcrt::test::start_confined_child(program, child_body);
    exit_code = supervise(child, service, log);
    logged = capture.text();
  }
  mqd_t check = ::mq_open(created.c_str(), O_RDONLY);
  struct stat info {};
  const int stat_rc = check >= 0 ? ::fstat(check, &info) : -1;
  char message[32] = {};
  const ssize_t received = check >= 0 ? ::mq_receive(check, message, sizeof message, nullptr) : -1;
  if (check >= 0) ::mq_close(check);
  ::mq_unlink(readable.c_str());
  ::mq_unlink(created.c_str());
  ::mq_unlink((g_prefix + "-p-big").c_str());

  LONGS_EQUAL(0, exit_code);
  LONGS_EQUAL(0, stat_rc);
  LONGS_EQUAL(1234, info.st_uid);
  LONGS_EQUAL(4321, info.st_gid);
  LONGS_EQUAL(0644, info.st_mode & 0777);  // 0666 under the child's umask 022
  LONGS_EQUAL(4, received);
  STRCMP_EQUAL("made", message);
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
