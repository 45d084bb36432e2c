// The control server's bounds with short timeouts (SPEC §10): the server runs in this process,
// in a real supervisor loop on a thread of its own, serving a real service (/bin/sleep) and a
// socket in a temporary directory; clients connect as other users from forked children.
#include <CppUTest/TestHarness.h>
#include <fcntl.h>
#include <grp.h>
#include <mqueue.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "runtime/control/queue_census.hpp"
#include "runtime/control/server.hpp"
#include "runtime/logs/logs.hpp"
#include "runtime/logs/runtime_log.hpp"
#include "runtime/supervisor.hpp"
#include "tests/support/control_client.hpp"
#include "tests/support/process.hpp"

namespace control = ipcrt::runtime::control;
using ipcrt::runtime::SupervisedService;
using ipcrt::runtime::Supervisor;
using ipcrt::runtime::SupervisorOptions;
using ipcrt::test::closed_within;
using ipcrt::test::connect_control;
using ipcrt::test::receive_message;
using ipcrt::test::send_bytes;

namespace {

constexpr gid_t kControlGroup = 64998;

std::string call(const std::string& method) {
  return "{\"method\": \"" + method + "\"}" + std::string(1, '\0');
}

// A supervisor loop with one service and a control server, on its own thread.
class LiveServer {
 public:
  // With `logs`, the service's output is read into it and GetLogs serves it.
  explicit LiveServer(std::chrono::milliseconds idle_timeout, ipcrt::runtime::Logs* logs = nullptr,
                      std::vector<std::string> command = {"/bin/sleep", "1000"})
      : logs_(logs) {
    ::chmod(dir_.path().c_str(), 0755);  // other users must reach the socket
    manifest_.name = ipcrt::test::unique_name("cs");
    manifest_.control.group = std::to_string(kControlGroup);
    ipcrt::config::Service sleeper;
    sleeper.name = "sleeper";
    manifest_.services.push_back(sleeper);
    plan_.identities.set_account("sleeper", ipcrt::runtime::Account{});

    control::ControlOptions options;
    options.socket_path = dir_.path() + "/control.varlink";
    options.idle_timeout = idle_timeout;
    server_ = std::make_unique<control::ControlServer>(
        control::ControlContext{&manifest_, &plan_, "/manifest.json", false, nullptr, logs},
        options);
    auto listening = server_->listen();
    if (!listening) FAIL(listening.error().describe().c_str());

    SupervisedService service;
    service.spec.service = "sleeper";
    service.spec.arguments = std::move(command);
    service.spec.capture_output = logs != nullptr;
    std::vector<SupervisedService> services;
    services.push_back(std::move(service));
    SupervisorOptions supervisor_options;
    supervisor_options.subreaper = false;  // the test process is no runtime
    supervisor_options.stop_timeout = std::chrono::milliseconds(2000);
    supervisor_options.on_state_change = [this](const std::string&) { server_->service_changed(); };
    if (logs != nullptr) supervisor_options.on_output = logs->handler();
    supervisor_ = std::make_unique<Supervisor>(std::move(services), supervisor_options);
    if (logs != nullptr) logs->start(*supervisor_);
    CHECK(server_->attach(*supervisor_).has_value());
    loop_ = std::thread([this] { (void)supervisor_->run(); });
    // The loop runs (and has blocked SIGTERM on its thread) once it answers.
    const int probe = connect_control(socket());
    CHECK(send_bytes(probe, call("org.varlink.service.GetInfo")));
    CHECK(!receive_message(probe).empty());
    ::close(probe);
  }
  ~LiveServer() {
    // The supervisor's signalfd reads a signal sent to its thread: a shutdown like SIGTERM.
    ::pthread_kill(loop_.native_handle(), SIGTERM);
    loop_.join();
    server_.reset();
    if (logs_ != nullptr) logs_->finish();  // its timers are the supervisor's
    supervisor_.reset();
  }
  [[nodiscard]] std::string socket() const { return dir_.path() + "/control.varlink"; }

 private:
  ipcrt::test::TempDir dir_;
  ipcrt::config::Manifest manifest_;
  ipcrt::runtime::Plan plan_;
  std::unique_ptr<control::ControlServer> server_;
  ipcrt::runtime::Logs* logs_ = nullptr;
  std::unique_ptr<Supervisor> supervisor_;
  std::thread loop_;
};

// A connection made by a child running as `uid` in the control group, handed back to us: its
// credentials stay the child's.
int connect_as(const std::string& socket, uid_t uid) {
  int channel[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channel) != 0) return -1;
  const pid_t child = ::fork();
  if (child == 0) {
    const gid_t groups[] = {kControlGroup};
    if (::setgroups(1, groups) != 0 || ::setresgid(uid, uid, uid) != 0 ||
        ::setresuid(uid, uid, uid) != 0) {
      ::_exit(1);
    }
    const int fd = connect_control(socket);
    if (fd < 0) ::_exit(2);
    char control_buffer[CMSG_SPACE(sizeof(int))] = {};
    char byte = 'x';
    iovec io{&byte, 1};
    msghdr message{};
    message.msg_iov = &io;
    message.msg_iovlen = 1;
    message.msg_control = control_buffer;
    message.msg_controllen = sizeof control_buffer;
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &fd, sizeof(int));
    ::_exit(::sendmsg(channel[1], &message, 0) == 1 ? 0 : 3);
  }
  ::close(channel[1]);
  char byte = 0;
  char control_buffer[CMSG_SPACE(sizeof(int))] = {};
  iovec io{&byte, 1};
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  message.msg_control = control_buffer;
  message.msg_controllen = sizeof control_buffer;
  int fd = -1;
  if (::recvmsg(channel[0], &message, 0) == 1 && CMSG_FIRSTHDR(&message) != nullptr) {
    std::memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&message)), sizeof(int));
  }
  ::close(channel[0]);
  ::waitpid(child, nullptr, 0);
  return fd;
}

// A connection the server has admitted: it answers (the level does not matter for that).
bool answers(int fd) {
  return send_bytes(fd, call("org.varlink.service.GetInfo")) && !receive_message(fd).empty();
}

}  // namespace

TEST_GROUP(ControlServerBounds){};

TEST(ControlServerBounds, AnIdleClientIsClosedAndAnActiveOneIsNot) {
  LiveServer server(std::chrono::milliseconds(300));
  const int idle = connect_control(server.socket());
  const int active = connect_control(server.socket());
  CHECK(answers(idle));
  // A partial call is no activity: a client dribbling bytes is idle too.
  CHECK(send_bytes(idle, "{\"method\""));
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(900);
  while (std::chrono::steady_clock::now() < until) {
    CHECK(answers(active));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(closed_within(idle, std::chrono::seconds(5)));
  CHECK(answers(active));
  ::close(idle);
  ::close(active);
}

TEST(ControlServerBounds, AClientThatDoesNotReadIsDroppedWhileOthersAreServed) {
  LiveServer server(std::chrono::milliseconds(60000));
  const int hoarder = connect_control(server.socket());
  // Each reply is the whole IDL (about 9 KiB): 600 of them are far past the 1 MiB bound plus
  // what the socket buffers, and the calls themselves stay within the 64 KiB request bound.
  std::string calls;
  for (int i = 0; i < 600; ++i) {
    calls +=
        "{\"method\": \"org.varlink.service.GetInterfaceDescription\", \"parameters\": "
        "{\"interface\": \"io.ipcrt.Runtime\"}}" +
        std::string(1, '\0');
  }
  CHECK(calls.size() < 64 * 1024);
  CHECK(send_bytes(hoarder, calls));
  const int other = connect_control(server.socket());
  CHECK(answers(other));
  // The server drops the hoarder once its replies pile up past the bound: wait for that hang-up
  // (which shows with replies still unread) before reading, or our reading would be what lets
  // the server go on.
  pollfd hung_up{hoarder, POLLRDHUP, 0};
  CHECK_EQUAL(1, ::poll(&hung_up, 1, 20000));
  CHECK((hung_up.revents & (POLLRDHUP | POLLHUP)) != 0);
  // Now read: some replies came, then the end, long before all 600.
  std::size_t received = 0;
  char buffer[65536];
  for (;;) {
    const ssize_t count = ::recv(hoarder, buffer, sizeof buffer, 0);
    if (count <= 0) break;
    received += static_cast<std::size_t>(count);
  }
  CHECK(received > 0);
  CHECK(received < 600U * 9000U);
  CHECK(answers(other));
  ::close(hoarder);
  ::close(other);
}

TEST(ControlServerBounds, AClientThatStopsReadingIsDroppedAfterTheTimeout) {
  LiveServer server(std::chrono::milliseconds(300));
  const int stalled = connect_control(server.socket());
  int small = 4096;
  ::setsockopt(stalled, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  std::string calls;
  for (int i = 0; i < 40; ++i) {
    calls +=
        "{\"method\": \"org.varlink.service.GetInterfaceDescription\", \"parameters\": "
        "{\"interface\": \"io.ipcrt.Runtime\"}}" +
        std::string(1, '\0');
  }
  CHECK(send_bytes(stalled, calls));  // ~360 KiB of replies: under the bound, over the buffers
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  std::size_t received = 0;
  char buffer[65536];
  for (;;) {
    const ssize_t count = ::recv(stalled, buffer, sizeof buffer, 0);
    if (count <= 0) break;
    received += static_cast<std::size_t>(count);
  }
  CHECK(received < 40U * 9000U);
  ::close(stalled);
}

TEST(ControlServerBounds, AFifthConnectionOfOneUserClosesItsLongestIdle) {
  LiveServer server(std::chrono::milliseconds(60000));
  std::vector<int> mine;
  for (int i = 0; i < 4; ++i) {
    mine.push_back(connect_as(server.socket(), 65534));
    CHECK(answers(mine.back()));
  }
  const int other_user = connect_as(server.socket(), 65533);
  CHECK(answers(other_user));
  // mine[0] answered first and has been idle the longest since.
  CHECK(answers(mine[1]));
  CHECK(answers(mine[2]));
  CHECK(answers(mine[3]));
  const int fifth = connect_as(server.socket(), 65534);
  CHECK(answers(fifth));
  CHECK(closed_within(mine[0], std::chrono::seconds(5)));
  for (int i = 1; i < 4; ++i) CHECK(answers(mine[i]));
  CHECK(answers(other_user));
  for (int fd : mine) ::close(fd);
  ::close(fifth);
  ::close(other_user);
}

TEST(ControlServerBounds, OneSlotIsAlwaysKeptForRoot) {
  LiveServer server(std::chrono::milliseconds(60000));
  // Fifteen non-root clients of four users: all that may be.
  std::vector<int> users;
  for (int i = 0; i < 15; ++i) {
    users.push_back(connect_as(server.socket(), static_cast<uid_t>(65530 + i % 4)));
    CHECK(answers(users.back()));
  }
  // Root gets the sixteenth slot and closes nobody.
  const int root = connect_control(server.socket());
  CHECK(answers(root));
  for (int fd : users) CHECK_FALSE(closed_within(fd, std::chrono::milliseconds(20)));
  // One more non-root client: room is made by closing the longest-idle non-root one.
  const int late = connect_as(server.socket(), 65529);
  CHECK(answers(late));
  CHECK(closed_within(users[0], std::chrono::seconds(5)));
  CHECK(answers(root));
  for (int fd : users) ::close(fd);
  ::close(root);
  ::close(late);
}

TEST(ControlServerBounds, PipelinedCallsAreAllAnsweredInOrderOverSeveralTurns) {
  LiveServer server(std::chrono::milliseconds(60000));
  const int fd = connect_control(server.socket());
  // More calls than one turn of the loop answers for one client.
  std::string calls;
  for (int i = 0; i < 100; ++i) {
    const char* interface = i % 2 == 0 ? "org.varlink.service" : "io.ipcrt.Runtime";
    calls += std::string(
                 "{\"method\": \"org.varlink.service.GetInterfaceDescription\", "
                 "\"parameters\": {\"interface\": \"") +
             interface + "\"}}" + std::string(1, '\0');
  }
  CHECK(send_bytes(fd, calls));
  for (int i = 0; i < 100; ++i) {
    const std::string reply = receive_message(fd);
    const char* expected =
        i % 2 == 0 ? "interface org.varlink.service" : "interface io.ipcrt.Runtime";
    CHECK_TEXT(reply.find(expected) != std::string::npos, std::to_string(i).c_str());
  }
  ::close(fd);
}

TEST_GROUP(ControlQueueCensus){};

// Some hosts do not mount /dev/mqueue: the census then reads QSIZE through a mount of its own
// that no mount point shows. Children in mount namespaces of their own try both ways, so the
// host keeps its mounts.
TEST(ControlQueueCensus, BytesAreReadWithAndWithoutDevMqueue) {
  for (const bool mounted : {false, true}) {
    const std::string queue = "/" + ipcrt::test::unique_name("cq");
    const pid_t child = ::fork();
    if (child == 0) {
      if (::unshare(CLONE_NEWNS) != 0 ||
          ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
        ::_exit(10);
      }
      ::umount2("/dev/mqueue", MNT_DETACH);  // not mounted is fine too
      if (mounted && ::mount("mqueue", "/dev/mqueue", "mqueue", 0, nullptr) != 0) ::_exit(16);
      mq_attr attributes{};
      attributes.mq_maxmsg = 4;
      attributes.mq_msgsize = 16;
      const mqd_t fd = ::mq_open(queue.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600, &attributes);
      if (fd == static_cast<mqd_t>(-1)) ::_exit(11);
      const bool sent = ::mq_send(fd, "abc", 3, 0) == 0 && ::mq_send(fd, "defg", 4, 0) == 0;
      ::mq_close(fd);
      const control::QueueCensus census;
      const auto seen = census.observe(queue);
      ::mq_unlink(queue.c_str());
      if (!sent) ::_exit(12);
      if (!census.sees_bytes()) ::_exit(13);
      if (!seen.attributes || seen.attributes->current_messages != 2) ::_exit(14);
      ::_exit(seen.bytes == 7U ? 0 : 15);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    ::mq_unlink(queue.c_str());
    CHECK(WIFEXITED(status));
    LONGS_EQUAL_TEXT(0, WEXITSTATUS(status), mounted ? "with /dev/mqueue" : "without /dev/mqueue");
  }
}

TEST_GROUP(ControlServerLogs){};

// A `logs -f` reader that reads nothing while the service writes without end: the server
// holds a bounded amount for it, closes it after the idle timeout and says so (in the log and
// in the metrics), and serves everyone else meanwhile.
TEST(ControlServerLogs, AFollowerThatDoesNotReadIsDroppedAndSaidToBe) {
  // The runtime's own lines (the warning) go to the ring and /dev/null, not the suite's output.
  struct QuietLog {
    int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    QuietLog() { ipcrt::runtime::RuntimeLog::instance().open(null); }
    ~QuietLog() {
      ipcrt::runtime::RuntimeLog::instance().open(STDERR_FILENO);
      ::close(null);
    }
  } quiet;
  ipcrt::runtime::LogOptions options;
  options.rate_bytes_per_s = 4 * 1024 * 1024;  // the flood reaches the follower quickly
  options.burst_bytes = 4 * 1024 * 1024;
  ipcrt::runtime::Logs logs("cs", {"sleeper"}, options);
  logs.open();
  {
    LiveServer server(std::chrono::milliseconds(500), &logs,
                      {"/bin/sh", "-c", "while :; do echo a line the follower never reads; done"});
    const int hoarder = connect_control(server.socket());
    const int small = 4096;
    ::setsockopt(hoarder, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    CHECK(send_bytes(hoarder,
                     "{\"method\": \"io.ipcrt.Runtime.GetLogs\", \"parameters\": {\"follow\": "
                     "true, \"lines\": 0}, \"more\": true}" +
                         std::string(1, '\0')));
    // Others are served meanwhile, and at once.
    const int other = connect_control(server.socket());
    for (int i = 0; i < 5; ++i) {
      CHECK(answers(other));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    // The hang-up, with replies still unread: no reading of ours let the server go on.
    pollfd hung_up{hoarder, POLLRDHUP, 0};
    CHECK_EQUAL(1, ::poll(&hung_up, 1, 20000));
    CHECK((hung_up.revents & (POLLRDHUP | POLLHUP)) != 0);
    std::size_t unread = 0;
    char buffer[65536];
    for (ssize_t n; (n = ::recv(hoarder, buffer, sizeof buffer, MSG_DONTWAIT)) > 0;) {
      unread += static_cast<std::size_t>(n);
    }
    // Bounded: what the kernel buffers plus the server's high-water mark and one batch.
    CHECK_TEXT(unread > 0, "nothing was sent");
    CHECK_TEXT(unread < 4 * 1024 * 1024, std::to_string(unread).c_str());
    CHECK(answers(other));
    const std::string metrics = call("io.ipcrt.Runtime.GetMetrics");
    CHECK(send_bytes(other, metrics));
    STRCMP_CONTAINS("\"logFollowers\":0,\"logFollowersDropped\":1", receive_message(other).c_str());
    ::close(other);
    ::close(hoarder);
  }
  std::string said;
  const auto kept = logs.last(100000);
  CHECK(kept.has_value());
  for (const auto& record : *kept) {
    if (record.line.find("control client dropped") != std::string::npos) said = record.line;
  }
  STRCMP_CONTAINS("a `logs -f` reader that read none of its lines for 500 ms", said.c_str());
}
