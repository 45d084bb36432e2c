// A real gateway daemon from Debian inside the sandbox (SPEC §4a): mosquitto, confined with the
// manifest the README shows (examples/mosquitto/), as a dynamic user in the host's network
// namespace. Clients on the host exchange messages through it, its retained messages survive a
// restart in its state directory, and `ipcrt exec` shows its user and that its filter holds.
// Skipped, saying so, where Debian's mosquitto and mosquitto-clients are not installed (the ARM
// images carry static programs only); scripts/lib.sh installs both for the host suites.
#include <CppUTest/TestHarness.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/file.hpp"
#include "tests/support/background.hpp"
#include "tests/support/process.hpp"

using ipcrt::test::Background;
using ipcrt::test::TempDir;
using ipcrt::test::unique_name;

namespace {

constexpr const char* kBroker = "/usr/sbin/mosquitto";
constexpr const char* kSub = "/usr/bin/mosquitto_sub";
constexpr const char* kPub = "/usr/bin/mosquitto_pub";

bool mosquitto_installed() {
  return ::access(kBroker, X_OK) == 0 && ::access(kSub, X_OK) == 0 && ::access(kPub, X_OK) == 0;
}

std::string state_root() {
  const char* dir = std::getenv("IPCRT_STATE_DIR");
  return dir != nullptr ? dir : "/var/lib/ipcrt";
}

// A TCP port of 127.0.0.1 nothing listens on now (the kernel's pick): a broker of the host's
// own may have 1883.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  int port = -1;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0) {
    port = ntohs(address.sin_port);
  }
  if (fd >= 0) ::close(fd);
  return port;
}

// A port below 1024 of 127.0.0.1 nothing listens on now, or -1.
int free_low_port() {
  for (int port = 1000; port > 800; --port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    if (free) return port;
  }
  return -1;
}

// Whether something accepts TCP connections on 127.0.0.1:port, trying for up to 10 s.
bool listening(int port) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    const bool connected =
        ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    if (connected) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// Replaces the one occurrence of `from` in `text`; fails the test if the example changed so
// that it is not there.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  CHECK_TEXT(at != std::string::npos, ("examples/mosquitto: no \"" + from + "\"").c_str());
  return text.replace(at, from.size(), to);
}

// The example's manifest and configuration as they are, but for what a test must change: a
// manifest name of its own (and so its state directory), the configuration's path, and a free
// port on the loopback interface. Returns the manifest's path.
std::string example_broker(const TempDir& dir, const std::string& name, int port,
                           const std::vector<std::string>& capabilities = {}) {
  auto manifest = nlohmann::json::parse(
      ipcrt::read_text_file(ipcrt::test::source_path("examples/mosquitto/mqtt.json")).value());
  auto conf =
      ipcrt::read_text_file(ipcrt::test::source_path("examples/mosquitto/mosquitto.conf")).value();
  conf = replaced(conf, "\nlistener 1883\n", "\nlistener " + std::to_string(port) + " 127.0.0.1\n");
  conf = replaced(conf, "persistence_location /var/lib/ipcrt/mqtt/broker/",
                  "persistence_location " + state_root() + "/" + name + "/broker/");
  manifest["name"] = name;
  auto& command = manifest["services"]["broker"]["command"];
  CHECK_TEXT(command.size() == 3 && command[2] == "/etc/ipcrt/mosquitto.conf",
             command.dump().c_str());
  command[2] = dir.write_file("mosquitto.conf", conf);
  if (!capabilities.empty()) manifest["services"]["broker"]["capabilities"] = capabilities;
  // The broker's user (a dynamic one) reads its configuration here.
  CHECK_EQUAL(0, ::chmod(dir.path().c_str(), 0755));
  return dir.write_file("mqtt.json", manifest.dump(2));
}

// mosquitto_sub on the host, waiting for one message on `topic`; finish() returns what it got.
class Subscriber {
 public:
  Subscriber(int port, const std::string& topic) {
    int out[2], err[2];
    CHECK_EQUAL(0, ::pipe2(out, O_CLOEXEC));
    CHECK_EQUAL(0, ::pipe2(err, O_CLOEXEC));
    const std::string port_text = std::to_string(port);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::dup2(err[1], STDERR_FILENO);
      ::execl(kSub, kSub, "-h", "127.0.0.1", "-p", port_text.c_str(), "-t", topic.c_str(), "-C",
              "1", "-W", "20", nullptr);
      _exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    out_ = out[0];
    err_ = err[0];
  }
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;
  ~Subscriber() {
    if (pid_ > 0 && !done_) {
      ::kill(pid_, SIGKILL);
      finish();
    }
  }
  // Whether it has exited (got its message or gave up).
  bool exited() {
    if (done_) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
    done_ = true;
    result_.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
  }
  ipcrt::test::ProcessResult finish() {
    const int code = result_.exit_code;
    ipcrt::test::collect_output(out_, err_, result_);  // until it closes its pipes
    if (!done_) {
      int status = 0;
      ::waitpid(pid_, &status, 0);
      done_ = true;
      result_.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    } else {
      result_.exit_code = code;
    }
    return result_;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  int err_ = -1;
  bool done_ = false;
  ipcrt::test::ProcessResult result_;
};

ipcrt::test::ProcessResult publish(int port, const std::string& topic, const std::string& text,
                                   bool retain) {
  std::vector<std::string> argv{kPub, "-h", "127.0.0.1", "-p", std::to_string(port), "-t", topic,
                                "-m", text, "-q",        "1"};
  if (retain) argv.push_back("-r");
  return ipcrt::test::run_process(argv);
}

ipcrt::test::ProcessResult retained(int port, const std::string& topic) {
  return ipcrt::test::run_process(
      {kSub, "-h", "127.0.0.1", "-p", std::to_string(port), "-t", topic, "-C", "1", "-W", "10"});
}

}  // namespace

TEST_GROUP(Mosquitto){};

TEST(Mosquitto, DebiansBrokerRunsConfinedWithTheExampleManifestAndKeepsItsStateAcrossRestarts) {
  if (!mosquitto_installed()) {
    UT_PRINT(
        "SKIPPED: Debian's mosquitto and mosquitto-clients are not installed (/usr/sbin/"
        "mosquitto, /usr/bin/mosquitto_sub, /usr/bin/mosquitto_pub); apt-get install "
        "mosquitto mosquitto-clients, as scripts/test does on Debian");
    return;
  }
  TempDir dir;
  const std::string name = unique_name("mq");
  const int port = free_port();
  CHECK_TEXT(port > 0, "no free port on 127.0.0.1");
  const std::string manifest = example_broker(dir, name, port);
  const std::string topic = "gateway/" + name + "/telemetry";
  {
    Background runtime(dir, manifest);
    CHECK_TEXT(listening(port), runtime.err().c_str());
    // A live message: the subscriber is on the host, so the broker shares its network.
    Subscriber live(port, topic);
    for (int attempt = 0; attempt < 100 && !live.exited(); ++attempt) {
      publish(port, topic, "reading 1", false);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    auto got = live.finish();
    LONGS_EQUAL_TEXT(0, got.exit_code, (got.err + runtime.err()).c_str());
    STRCMP_EQUAL("reading 1\n", got.out.c_str());
    auto kept = publish(port, topic + "/last", "kept across restarts", true);
    LONGS_EQUAL_TEXT(0, kept.exit_code, kept.err.c_str());

    // Inside its sandbox: its own dynamic user, and a filter that refuses what it was not
    // granted (ptrace, which any uid may call) with a denial line naming it.
    auto exec = [&](std::vector<std::string> command) {
      std::vector<std::string> argv{ipcrt::test::ipcrt_binary(), "exec", "--manifest", name,
                                    "broker"};
      argv.insert(argv.end(), command.begin(), command.end());
      return ipcrt::test::run_process(argv);
    };
    const std::string id = ::access("/usr/bin/id", X_OK) == 0 ? "/usr/bin/id" : "/bin/id";
    auto user = exec({id, "-un"});
    LONGS_EQUAL_TEXT(0, user.exit_code, user.err.c_str());
    STRCMP_EQUAL("ipcrt-broker\n", user.out.c_str());
    auto refused = exec({IPCRT_GATEWAY_PROBE, "ptrace"});
    STRCMP_CONTAINS("broker: ptrace result=EPERM", refused.out.c_str());
    STRCMP_CONTAINS("syscall=ptrace", refused.err.c_str());
    auto caps = exec({IPCRT_GATEWAY_PROBE, "caps"});
    STRCMP_CONTAINS(
        "broker: caps CapEff=0000000000000000 CapBnd=0000000000000000 CapAmb=0000000000000000",
        caps.out.c_str());

    runtime.signal(SIGTERM);  // mosquitto saves its database as it ends
    LONGS_EQUAL_TEXT(0, runtime.wait(), runtime.err().c_str());
    STRCMP_CONTAINS("service=broker stream=stderr", runtime.err().c_str());
  }
  // Its database is in its state directory, its user's.
  struct stat database {};
  const std::string db = state_root() + "/" + name + "/broker/mosquitto.db";
  CHECK_EQUAL_TEXT(0, ::stat(db.c_str(), &database), db.c_str());
  CHECK_TEXT(database.st_uid >= 61184 && database.st_uid <= 65519, db.c_str());

  // The next run's broker has the retained message back from there.
  Background again(dir, manifest);
  CHECK_TEXT(listening(port), again.err().c_str());
  auto back = retained(port, topic + "/last");
  LONGS_EQUAL_TEXT(0, back.exit_code, (back.err + again.err()).c_str());
  STRCMP_EQUAL("kept across restarts\n", back.out.c_str());
  again.signal(SIGTERM);
  LONGS_EQUAL_TEXT(0, again.wait(), again.err().c_str());
}

// A listener below 1024 needs net_bind_service, kept as the broker's one ambient capability;
// without it mosquitto cannot bind and ends.
TEST(Mosquitto, APortBelow1024TakesNetBindServiceAndNothingElse) {
  if (!mosquitto_installed()) {
    UT_PRINT("SKIPPED: Debian's mosquitto and mosquitto-clients are not installed");
    return;
  }
  const int port = free_low_port();
  CHECK_TEXT(port > 0, "no free port below 1024 on 127.0.0.1");
  {
    TempDir dir;
    const std::string name = unique_name("mq");
    auto refused = ipcrt::test::run_ipcrt({"run", example_broker(dir, name, port)});
    CHECK_TEXT(refused.exit_code != 0, refused.err.c_str());
    STRCMP_CONTAINS("Error: Permission denied", refused.err.c_str());
  }
  TempDir dir;
  const std::string name = unique_name("mq");
  Background runtime(dir, example_broker(dir, name, port, {"net_bind_service"}));
  CHECK_TEXT(listening(port), runtime.err().c_str());
  const std::string topic = "gateway/" + name + "/low";
  auto kept = publish(port, topic, "on a low port", true);
  LONGS_EQUAL_TEXT(0, kept.exit_code, kept.err.c_str());
  auto back = retained(port, topic);
  STRCMP_EQUAL("on a low port\n", back.out.c_str());
  auto caps = ipcrt::test::run_process({ipcrt::test::ipcrt_binary(), "exec", "--manifest", name,
                                        "broker", IPCRT_GATEWAY_PROBE, "caps"});
  STRCMP_CONTAINS(
      "broker: caps CapEff=0000000000000400 CapBnd=0000000000000400 CapAmb=0000000000000400",
      caps.out.c_str());
  runtime.signal(SIGTERM);
  LONGS_EQUAL_TEXT(0, runtime.wait(), runtime.err().c_str());
}
