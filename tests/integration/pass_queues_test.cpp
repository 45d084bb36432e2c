// Pre-opened queues (SPEC §11) and ipcrt/service.h on the real kernel: `ipcrt run` of a
// pass-queues service (tests/services/pass_queues_probe.c, a C program using the header) that
// reports what it received at fds 3…, and the header's notify calls against a socket this
// test owns, as systemd would.
#include <CppUTest/TestHarness.h>
#include <mqueue.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "platform/fd.hpp"
#include "tests/support/process.hpp"

using ipcrt::test::ProcessResult;
using ipcrt::test::TempDir;
using ipcrt::test::unique_name;

namespace {

std::string probe() {
  return IPCRT_PASS_QUEUES_PROBE;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Unique queue names for one test, unlinked when it ends.
struct Queues {
  std::string manifest = unique_name("pq");
  std::string both = "/" + unique_name("pqb");    // read+write
  std::string reads = "/" + unique_name("pqr");   // read only
  std::string writes = "/" + unique_name("pqw");  // write only
  ~Queues() {
    for (const auto& path : {both, reads, writes}) ::mq_unlink(path.c_str());
  }
};

std::string slot(const std::string& path, const std::string& permissions) {
  return "{\"interface\": \"posix-mq\", \"path\": \"" + path +
         "\", \"max-messages\": 4, \"message-size\": 64" +
         (permissions.empty() ? "" : ", \"permissions\": " + permissions) + "}";
}

// `owner` owns three queues and exits; `reader` plugs into all three with pass-queues.
std::string manifest(const Queues& queues, const std::string& reader_extra = "",
                     const std::string& reader_plugs = "", const std::string& mode = "listen") {
  return "{\"version\": 1, \"name\": \"" + queues.manifest +
         "\", \"services\": {\n"
         "  \"owner\": {\"command\": [\"" +
         probe() +
         "\", \"exit\"],\n"
         "    \"slots\": {\"both\": " +
         slot(queues.both, "") + ",\n      \"reads\": " + slot(queues.reads, "[\"read\"]") +
         ",\n      \"writes\": " + slot(queues.writes, "[\"write\"]") +
         "}},\n"
         "  \"reader\": {\"command\": [\"" +
         probe() + "\", \"" + mode + "\"], \"pass-queues\": true" + reader_extra +
         ",\n    \"plugs\": {\"both\": {\"interface\": \"posix-mq\"}, "
         "\"reads\": {\"interface\": \"posix-mq\"}, \"writes\": {\"interface\": \"posix-mq\"}" +
         reader_plugs + "}}}}\n";
}

std::string name_of(const std::string& path) {
  return path.substr(1);
}

// The reader's lines as ipcrt logged them.
std::string reader_output(const ProcessResult& result) {
  return ipcrt::test::service_output(result.err, "reader");
}

// A datagram socket at `path` (or an abstract one, "@name") this test reads, as systemd
// reads its notify socket.
ipcrt::platform::UniqueFd notify_socket(const std::string& path) {
  ipcrt::platform::UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  if (path.starts_with('@')) {
    address.sun_path[0] = '\0';
  } else {
    ++length;
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0) return {};
  return fd;
}

std::vector<std::string> datagrams(int fd) {
  std::vector<std::string> messages;
  char buffer[4096];
  ssize_t n;
  while ((n = ::recv(fd, buffer, sizeof buffer, 0)) >= 0) {
    messages.emplace_back(buffer, static_cast<std::size_t>(n));
  }
  return messages;
}

// Runs the probe directly (no ipcrt) with `variables` set for it only.
ProcessResult run_probe(const std::vector<std::string>& arguments,
                        const std::vector<std::pair<std::string, std::string>>& variables) {
  for (const auto& [key, value] : variables) ::setenv(key.c_str(), value.c_str(), 1);
  std::vector<std::string> argv = {probe()};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  ProcessResult result = ipcrt::test::run_process(argv);
  for (const auto& [key, value] : variables) ::unsetenv(key.c_str());
  return result;
}

}  // namespace

TEST_GROUP(PassQueues){};

// fds 3, 4, 5 in plan order with the granted access modes, not close-on-exec, blocking; the
// variables as sd_listen_fds_with_names() reads them; LISTEN_PID the service's own pid (2,
// under ipcrt's init); mq_open refused by the filter; the header finds each queue by name.
TEST(PassQueues, GrantedQueuesArriveOpenFromFdThreeWithTheirAccessModes) {
  Queues queues;
  TempDir dir;
  const std::string path = dir.write_file("manifest.json", manifest(queues));
  auto result = ipcrt::test::run_ipcrt({"run", path});
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  const std::string out = reader_output(result);
  const std::string names =
      name_of(queues.both) + ":" + name_of(queues.reads) + ":" + name_of(queues.writes);
  CHECK_TEXT(contains(out, "LISTEN_FDS 3\n"), out.c_str());
  CHECK_TEXT(contains(out, "LISTEN_FDNAMES " + names + "\n"), out.c_str());
  CHECK_TEXT(contains(out, "LISTEN_PID 2\n"), out.c_str());
  CHECK_TEXT(contains(out, "getpid 2\n"), out.c_str());
  CHECK_TEXT(contains(out, "listen-fds 3\n"), out.c_str());
  CHECK_TEXT(contains(out, "fd-after closed\n"), out.c_str());
  CHECK_TEXT(
      contains(out, "fd 3 name " + name_of(queues.both) + " access O_RDWR cloexec 0 nonblock 0\n"),
      out.c_str());
  CHECK_TEXT(contains(out, "fd 4 name " + name_of(queues.reads) +
                               " access O_RDONLY cloexec 0 nonblock 0\n"),
             out.c_str());
  CHECK_TEXT(contains(out, "fd 5 name " + name_of(queues.writes) +
                               " access O_WRONLY cloexec 0 nonblock 0\n"),
             out.c_str());
  for (const char* fd : {"3", "4", "5"}) {
    const std::string prefix = std::string("fd ") + fd + " ";
    CHECK_TEXT(contains(out, prefix + "getattr ok\n"), out.c_str());
    CHECK_TEXT(contains(out, prefix + "mq_open EPERM\n"), out.c_str());
    CHECK_TEXT(contains(out, prefix + "ipcrt_queue_open " + fd + " ok\n"), out.c_str());
    CHECK_TEXT(contains(out, prefix + "after-open nonblock 1\n"), out.c_str());
  }
  // The access modes hold: read-write both ways, read-only refuses a send (EBADF), write-only
  // a receive.
  CHECK_TEXT(contains(out, "fd 3 send ok\n") && contains(out, "fd 3 receive ok\n"), out.c_str());
  CHECK_TEXT(contains(out, "fd 4 send EBADF\n"), out.c_str());
  CHECK_TEXT(contains(out, "fd 4 receive EAGAIN\n"), out.c_str());
  CHECK_TEXT(contains(out, "fd 5 send ok\n") && contains(out, "fd 5 receive EBADF\n"), out.c_str());
  // The message sent on the write-only descriptor is in the queue.
  mqd_t writes = ::mq_open(queues.writes.c_str(), O_RDONLY | O_NONBLOCK);
  CHECK(writes != static_cast<mqd_t>(-1));
  mq_attr attributes{};
  CHECK_EQUAL(0, ::mq_getattr(writes, &attributes));
  ::mq_close(writes);
  LONGS_EQUAL(1, attributes.mq_curmsgs);
  // The refused mq_open was reported as a refused syscall, naming the queue it asked for.
  CHECK_TEXT(contains(result.err, "service=reader") && contains(result.err, "syscall=mq_open"),
             result.err.c_str());
  CHECK_TEXT(contains(result.err, "arg=" + queues.both + " "), result.err.c_str());
}

// `plan` says which fd each queue is, in the order LISTEN_FDNAMES has them; the policy has no
// mq_open, and keeps what the grants give for the passed descriptors.
TEST(PassQueues, PlanShowsThePassedFdsAndThePolicyHasNoMqOpen) {
  Queues queues;
  TempDir dir;
  const std::string path = dir.write_file("manifest.json", manifest(queues));
  auto plan = ipcrt::test::run_ipcrt({"plan", path});
  LONGS_EQUAL_TEXT(0, plan.exit_code, plan.err.c_str());
  CHECK_TEXT(contains(plan.out, "fd  3 " + queues.both), plan.out.c_str());
  CHECK_TEXT(contains(plan.out, "fd  4 " + queues.reads), plan.out.c_str());
  CHECK_TEXT(contains(plan.out, "fd  5 " + queues.writes), plan.out.c_str());
  // The launch's variables, in the view (SPEC §15): not in the manifest's environment.
  const std::string fds = "view fds       3 " + queues.both + " O_RDWR, 4 " + queues.reads +
                          " O_RDONLY, 5 " + queues.writes + " O_WRONLY (LISTEN_FDS=3 ";
  CHECK_TEXT(contains(plan.out, fds + "LISTEN_FDNAMES="), plan.out.c_str());
  CHECK_TEXT(contains(plan.out, " LISTEN_PID=2)\n"), plan.out.c_str());
  CHECK_FALSE_TEXT(contains(plan.out, "env LISTEN_"), plan.out.c_str());
  auto json = ipcrt::test::run_ipcrt({"plan", path, "--json"});
  LONGS_EQUAL_TEXT(0, json.exit_code, json.err.c_str());
  CHECK_TEXT(contains(json.out, "\"fd\": 4,\n          \"path\": \"" + queues.reads +
                                    "\",\n          \"access\": \"O_RDONLY\""),
             json.out.c_str());
  auto policy = ipcrt::test::run_ipcrt({"policy", path, "reader"});
  LONGS_EQUAL_TEXT(0, policy.exit_code, policy.err.c_str());
  CHECK_FALSE_TEXT(contains(policy.out, "mq_open"), policy.out.c_str());
  // Not granted (no `delete`): absent, or where mediation runs sent to the supervisor, which
  // refuses it, as for any service.
  CHECK_FALSE_TEXT(
      contains(policy.out, "mq_unlink ") && !contains(policy.out, "mediated by name (no grant)"),
      policy.out.c_str());
  for (const char* call : {"mq_getsetattr", "mq_timedsend", "mq_timedreceive", "mq_notify"}) {
    CHECK_TEXT(contains(policy.out, call), policy.out.c_str());
  }
  // The owner opens by name as before.
  auto owner = ipcrt::test::run_ipcrt({"policy", path, "owner"});
  CHECK_TEXT(contains(owner.out, "mq_open"), owner.out.c_str());
}

// Without the sandbox's pid namespace, LISTEN_PID is the service's own pid in the host's.
TEST(PassQueues, UnconfinedServiceGetsItsOwnPidInListenPid) {
  Queues queues;
  TempDir dir;
  auto result = ipcrt::test::run_ipcrt(
      {"run", dir.write_file("manifest.json", manifest(queues, ", \"confinement\": \"off\""))});
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  const std::string out = reader_output(result);
  const auto at = out.find("getpid ");
  CHECK_TEXT(at != std::string::npos, out.c_str());
  const std::string pid = out.substr(at + 7, out.find('\n', at) - at - 7);
  CHECK_TEXT(pid != "2", out.c_str());
  CHECK_TEXT(contains(out, "LISTEN_PID " + pid + "\n"), out.c_str());
  CHECK_TEXT(contains(out, "listen-fds 3\n"), out.c_str());
  CHECK_TEXT(contains(out, "fd 3 access") || contains(out, "fd 3 name"), out.c_str());
}

// The control plug's descriptor goes above the passed queues, and still works.
TEST(PassQueues, ControlPlugDescriptorStaysAboveThePassedQueues) {
  Queues queues;
  TempDir dir;
  auto result = ipcrt::test::run_ipcrt(
      {"run",
       dir.write_file("manifest.json",
                      manifest(queues, "",
                               ", \"runtime\": {\"interface\": \"ipcrt-control\", \"access\": "
                               "\"observe\"}"))});
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  const std::string out = reader_output(result);
  const auto at = out.find("control-fd ");
  CHECK_TEXT(at != std::string::npos, out.c_str());
  const int control = std::atoi(out.c_str() + at + 11);
  CHECK_TEXT(control >= 6, out.c_str());
  CHECK_TEXT(contains(out, "control-fd-open yes\n"), out.c_str());
  CHECK_TEXT(contains(out, "fd 5 name " + name_of(queues.writes)), out.c_str());
}

std::size_t count(const std::string& text, const std::string& part) {
  std::size_t found = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++found;
  return found;
}

// A notify service with passed queues that fails once: both starts get the queues at 3… and a
// notify socket (sd_notify's rule in a filter without mq_open); the restart follows the kill of
// its cgroup, so it joins that cgroup from the child (launch.cpp), before the queues are placed.
TEST(PassQueues, RestartedNotifyServiceGetsItsQueuesAgainInItsCgroup) {
  Queues queues;
  TempDir dir;
  auto result = ipcrt::test::run_ipcrt(
      {"run", dir.write_file("manifest.json",
                             manifest(queues,
                                      ", \"type\": \"notify\", \"restart\": \"on-failure\", "
                                      "\"restart-delay-ms\": 50",
                                      "", "restart"))});
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  const std::string out = reader_output(result);
  CHECK_TEXT(contains(out, "run first\n") && contains(out, "run again\n"), out.c_str());
  LONGS_EQUAL_TEXT(2, count(out, "ready 1\n"), out.c_str());
  LONGS_EQUAL_TEXT(2, count(out, "LISTEN_PID 2\n"), out.c_str());
  LONGS_EQUAL_TEXT(2, count(out, "fd-after closed\n"), out.c_str());
  for (const auto& [fd, queue, access] :
       {std::tuple{"3", queues.both, "O_RDWR"}, std::tuple{"4", queues.reads, "O_RDONLY"},
        std::tuple{"5", queues.writes, "O_WRONLY"}}) {
    const std::string line = std::string("fd ") + fd + " name " + name_of(queue) + " access " +
                             access + " cloexec 0 nonblock 0\n";
    LONGS_EQUAL_TEXT(2, count(out, line), out.c_str());
  }
  // The same cgroup both times: the service's own, where the run has cgroups.
  const auto first = out.find("cgroup ");
  const auto second = out.find("cgroup ", first + 1);
  CHECK_TEXT(first != std::string::npos && second != std::string::npos, out.c_str());
  const std::string cgroup = out.substr(first, out.find('\n', first) - first);
  STRCMP_EQUAL(cgroup.c_str(), out.substr(second, out.find('\n', second) - second).c_str());
  if (!contains(result.err, "no cgroups")) {
    CHECK_TEXT(cgroup.ends_with("ipcrt." + queues.manifest + "/reader"), out.c_str());
  }
}

TEST(PassQueues, HeaderSendsTheNotifyProtocolToAPathSocket) {
  TempDir dir;
  const std::string path = dir.path() + "/notify.sock";
  auto socket = notify_socket(path);
  CHECK(socket.valid());
  auto result = run_probe({"notify"}, {{"NOTIFY_SOCKET", path}});
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  CHECK_TEXT(contains(result.out, "ready 1\nstatus 1\nwatchdog 1\nstopping 1\n"),
             result.out.c_str());
  const auto messages = datagrams(socket.get());
  // STATUS= is one line: the probe's "\nSECOND=line" would be an assignment of its own.
  const std::vector<std::string> expected = {"READY=1", "STATUS=probing", "WATCHDOG=1",
                                             "STOPPING=1"};
  CHECK_TEXT(messages == expected, messages.empty() ? "none" : messages.front().c_str());
  ::unlink(path.c_str());
}

TEST(PassQueues, HeaderSendsTheNotifyProtocolToAnAbstractSocket) {
  const std::string name = "@" + unique_name("ipcrt-notify");
  auto socket = notify_socket(name);
  CHECK(socket.valid());
  auto result = run_probe({"notify"}, {{"NOTIFY_SOCKET", name}});
  CHECK_TEXT(contains(result.out, "ready 1\n"), result.out.c_str());
  const auto messages = datagrams(socket.get());
  CHECK_TEXT(!messages.empty() && messages.front() == "READY=1", result.out.c_str());
}

TEST(PassQueues, HeaderWithoutANotifySocketSendsNothingAndSaysSo) {
  ::unsetenv("NOTIFY_SOCKET");
  auto result = run_probe({"notify"}, {});
  CHECK_TEXT(contains(result.out, "ready 0\nstatus 0\nwatchdog 0\nstopping 0\n"),
             result.out.c_str());
  CHECK_TEXT(contains(result.out, "watchdog-usec 0\n"), result.out.c_str());
}

TEST(PassQueues, HeaderReadsWatchdogUsecOnlyForItsOwnPid) {
  auto own = run_probe({"notify"}, {{"WATCHDOG_USEC", "5000000"}});
  CHECK_TEXT(contains(own.out, "watchdog-usec 5000000\n"), own.out.c_str());
  auto other = run_probe({"notify"}, {{"WATCHDOG_USEC", "5000000"}, {"WATCHDOG_PID", "1"}});
  CHECK_TEXT(contains(other.out, "watchdog-usec 0\n"), other.out.c_str());
}

TEST(PassQueues, HeaderListsAPlugsPaths) {
  auto result = run_probe({"paths", "sensor-data"}, {{"IPCRT_SENSOR_DATA_PATHS", "/a:/bb"}});
  CHECK_TEXT(contains(result.out, "path 0 /a\npath 1 /bb\npaths 2\n"), result.out.c_str());
  auto none = run_probe({"paths", "nothing"}, {});
  CHECK_TEXT(contains(none.out, "paths 0\n"), none.out.c_str());
}

// LISTEN_FDS meant for another process (its parent's, say) is not this one's.
TEST(PassQueues, HeaderIgnoresListenFdsOfAnotherPid) {
  auto result =
      run_probe({"listen"}, {{"LISTEN_FDS", "2"}, {"LISTEN_PID", "1"}, {"LISTEN_FDNAMES", "a:b"}});
  CHECK_TEXT(contains(result.out, "listen-fds 0\n"), result.out.c_str());
}
