// Reload end to end (SPEC §12): a real `ipcrt run`, a sender writing numbered messages through
// the whole test into a queue while its consumer is changed, services are added and removed,
// a new version fails and is rolled back, and an invalid or refused manifest changes nothing.
// At the end every number was received exactly once, and untouched services kept their pids.
#include <CppUTest/TestHarness.h>
#include <mqueue.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/file.hpp"
#include "tests/support/background.hpp"
#include "tests/support/process.hpp"

using ipcrt::test::Background;
using ipcrt::test::TempDir;
using ipcrt::test::unique_name;
using Json = nlohmann::ordered_json;

namespace {

std::string probe() {
  return IPCRT_RELOAD_PROBE;
}

std::string json_text(const std::string& text) {
  return Json(text).dump();
}

struct Device {
  std::string name = unique_name("rl");
  std::string queue = "/" + unique_name("rlq");
  TempDir dir;
  std::string received;
  std::string manifest_path;
  std::unique_ptr<Background> runtime;

  Device() {
    dir.share_with_services();
    received = dir.shared_file("received");
  }
  ~Device() {
    runtime.reset();
    ::mq_unlink(queue.c_str());
  }

  // src sends into its queue; sink reads it into `received`; `extra` adds services.
  std::string manifest(const std::string& sink_command, const std::string& extra = "",
                       long max_messages = 5, const std::string& sink_env = "") const {
    return "{\"version\": 1, \"name\": " + json_text(name) +
           ", \"services\": {\n"
           "  \"src\": {\"command\": [" + json_text(probe()) + ", \"send\", " + json_text(queue) +
           "], \"slots\": {\"out\": {\"interface\": \"posix-mq\", \"path\": " + json_text(queue) +
           ", \"max-messages\": " + std::to_string(max_messages) +
           ", \"message-size\": 64}}},\n"
           "  \"sink\": {\"command\": " + sink_command + sink_env +
           ", \"plugs\": {\"out\": {\"interface\": \"posix-mq\"}}}" +
           (extra.empty() ? "" : ",\n" + extra) + "}}\n";
  }
  std::string receiver() const {
    return "[" + json_text(probe()) + ", \"receive\", " + json_text(queue) + ", " + json_text(received) +
           "]";
  }
  std::string idle(const std::string& service) const {
    return json_text(service) + ": {\"command\": [" + json_text(probe()) + ", \"idle\"]}";
  }

  void start(const std::string& text) {
    manifest_path = dir.write_file("manifest.json", text);
    runtime = std::make_unique<Background>(dir, manifest_path);
    CHECK_TEXT(runtime->wait_for("msg=\"control socket\""), runtime->err().c_str());
    wait_ready();
  }
  Json status() const {
    auto result = ipcrt::test::run_ipcrt({"status", "--json", "--manifest", name});
    if (result.exit_code != 0) FAIL(("status failed: " + result.err).c_str());
    return Json::parse(result.out);
  }
  Json service(const std::string& service_name) const {
    const Json all = status();  // not a temporary's member: the loop outlives it
    for (const auto& service : all["services"]) {
      if (service["name"] == service_name) return service;
    }
    return Json();
  }
  long pid(const std::string& service_name) const {
    Json found = service(service_name);
    return found.is_object() && found["mainPid"].is_number() ? found["mainPid"].get<long>() : 0;
  }
  void wait_ready() const {
    for (int i = 0; i < 300; ++i) {
      bool all = true;
      const Json now = status();
      for (const auto& service : now["services"]) all = all && service["state"] == "ready";
      if (all) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL(("not ready: " + status().dump()).c_str());
  }
  // A window of 0 confirms once every started service is ready (each within its own
  // start-timeout-ms): no fixed window a slow board (an emulated ARM under load) could miss.
  // The cases that test the window give their own.
  ipcrt::test::ProcessResult reload(const std::string& text, int confirm_ms = 0) {
    const std::string path = dir.write_file("next.json", text);
    return ipcrt::test::run_ipcrt({"reload", path, "--confirm-ms", std::to_string(confirm_ms),
                                   "--manifest", name});
  }
  long queued() const {
    mqd_t fd = ::mq_open(queue.c_str(), O_RDONLY);
    if (fd == (mqd_t)-1) return -1;
    mq_attr attributes{};
    ::mq_getattr(fd, &attributes);
    ::mq_close(fd);
    return attributes.mq_curmsgs;
  }
  // Stops the sender, lets the consumer drain the queue, then checks 1..N each exactly once.
  void check_every_message_once() {
    LONGS_EQUAL(0, ipcrt::test::run_ipcrt({"stop", "src", "--manifest", name}).exit_code);
    for (int i = 0; i < 500 && queued() != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto text = ipcrt::read_text_file(received);
    CHECK(text.has_value());
    std::istringstream in(*text);
    unsigned long expected = 1;
    for (std::string line; std::getline(in, line); ++expected) {
      if (line != std::to_string(expected)) {
        FAIL(("message " + std::to_string(expected) + " lost or duplicated: got " + line).c_str());
      }
    }
    CHECK_TEXT(expected > 20, "the sender sent too few messages to prove anything");
  }
};

}  // namespace

TEST_GROUP(Reload){};

TEST(Reload, AppliesOnlyTheDifferenceAndKeepsEveryMessage) {
  Device device;
  device.start(device.manifest(device.receiver(), device.idle("old")));
  const long src = device.pid("src");
  const long sink = device.pid("sink");
  CHECK_TEXT(src > 0 && sink > 0 && device.pid("old") > 0, device.status().dump().c_str());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));

  auto result = device.reload(device.manifest(device.receiver(), device.idle("new"), 5,
                                              ", \"environment\": {\"VERSION\": \"2\"}"));
  LONGS_EQUAL_TEXT(0, result.exit_code, (result.err + device.runtime->err()).c_str());
  CHECK(result.out.find("started new") != std::string::npos);
  CHECK(result.out.find("stopped old") != std::string::npos);
  CHECK(result.out.find("restarted sink") != std::string::npos);
  LONGS_EQUAL(src, device.pid("src"));                   // unchanged: the same process
  CHECK(device.pid("sink") > 0 && device.pid("sink") != sink);  // changed: restarted
  CHECK(device.pid("new") > 0);                          // added: started
  CHECK(device.service("old").is_null());                // removed: gone
  // The last known good manifest is the new one.
  const char* state = std::getenv("IPCRT_STATE_DIR");
  CHECK(state != nullptr);
  auto good = ipcrt::read_text_file(std::string(state) + "/" + device.name + "/last-good.json");
  CHECK(good.has_value());
  CHECK(good->find("\"VERSION\"") != std::string::npos);
  auto metrics = ipcrt::test::run_ipcrt({"metrics", "--manifest", device.name});
  CHECK_TEXT(metrics.out.find("ipcrt_reloads_total") != std::string::npos, metrics.out.c_str());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  device.check_every_message_once();
}

TEST(Reload, AFailingNewVersionIsRolledBackWithoutLosingAMessage) {
  Device device;
  device.start(device.manifest(device.receiver()));
  const long src = device.pid("src");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const std::string failing =
      "[" + json_text(IPCRT_BOOT_PROBE) + ", \"exit\", \"3\"]";
  auto result = device.reload(device.manifest(failing), 1000);
  LONGS_EQUAL_TEXT(3, result.exit_code, (result.out + result.err).c_str());
  CHECK_TEXT(result.err.find("rolled back") != std::string::npos, result.err.c_str());
  CHECK_TEXT(result.err.find("sink") != std::string::npos, result.err.c_str());
  LONGS_EQUAL(src, device.pid("src"));
  device.wait_ready();
  CHECK_TEXT(device.service("sink")["state"] == "ready", device.runtime->err().c_str());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  device.check_every_message_once();
}

// --confirm-ms 0: confirmed as soon as every started service is ready (each bounded by its own
// start-timeout-ms), not failed because nothing can be ready at 0 ms.
TEST(Reload, AWindowOfZeroConfirmsOnceEveryStartedServiceIsReady) {
  Device device;
  device.start(device.manifest(device.receiver()));
  const long src = device.pid("src");
  const long sink = device.pid("sink");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto result = device.reload(device.manifest(device.receiver(), device.idle("new"), 5,
                                              ", \"environment\": {\"VERSION\": \"0\"}"),
                              0);
  LONGS_EQUAL_TEXT(0, result.exit_code, (result.err + device.runtime->err()).c_str());
  LONGS_EQUAL(src, device.pid("src"));
  CHECK(device.pid("sink") > 0 && device.pid("sink") != sink);
  CHECK(device.pid("new") > 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  device.check_every_message_once();
}

// The new version fails and so does the old one when put back (its program is gone since it
// started): exit 4, the unchanged services still run, the runtime still answers, and the kept
// queue still holds what the producer sent.
TEST(Reload, ARollbackThatFailsTooExitsFour) {
  Device device;
  const std::string old_sink = device.dir.path() + "/old-sink";
  std::filesystem::copy_file(probe(), old_sink);
  ::chmod(old_sink.c_str(), 0755);
  device.start(device.manifest("[" + json_text(old_sink) + ", \"receive\", " +
                               json_text(device.queue) + ", " + json_text(device.received) + "]"));
  const long src = device.pid("src");
  ::unlink(old_sink.c_str());
  const std::string failing = "[" + json_text(IPCRT_BOOT_PROBE) + ", \"exit\", \"3\"]";
  auto result = device.reload(device.manifest(failing), 1000);
  LONGS_EQUAL_TEXT(4, result.exit_code, (result.out + result.err).c_str());
  CHECK_TEXT(result.err.find("rolled back") != std::string::npos &&
                 result.err.find("failed too") != std::string::npos,
             result.err.c_str());
  CHECK_TEXT(device.runtime->err().find("msg=\"rollback failed\"") != std::string::npos,
             device.runtime->err().c_str());
  LONGS_EQUAL(src, device.pid("src"));
  CHECK_TEXT(device.service("sink")["state"] != "ready", device.status().dump().c_str());
  for (int i = 0; i < 100 && device.queued() < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  LONGS_EQUAL(5, device.queued());  // full: the producer waits, nothing dropped
}

TEST(Reload, AnInvalidManifestChangesNothing) {
  Device device;
  device.start(device.manifest(device.receiver()));
  const long src = device.pid("src");
  const long sink = device.pid("sink");
  auto result = device.reload("{\"version\": 1, \"name\": " + json_text(device.name) +
                              ", \"services\": {\"x\": {}}}");
  LONGS_EQUAL_TEXT(1, result.exit_code, result.err.c_str());
  CHECK(result.err.find("nothing was changed") != std::string::npos);
  LONGS_EQUAL(src, device.pid("src"));
  LONGS_EQUAL(sink, device.pid("sink"));
  // Nor may the name change.
  std::string renamed = device.manifest(device.receiver());
  renamed.replace(renamed.find(device.name), device.name.size(), device.name + "x");
  result = device.reload(renamed);
  LONGS_EQUAL_TEXT(3, result.exit_code, result.err.c_str());
  CHECK(result.err.find("name changed") != std::string::npos);
  LONGS_EQUAL(sink, device.pid("sink"));
}

TEST(Reload, ANonEmptyQueueWhoseAttributesChangeIsRefusedWithItsCount) {
  Device device;
  device.start(device.manifest(device.receiver()));
  LONGS_EQUAL(0, ipcrt::test::run_ipcrt({"stop", "sink", "--manifest", device.name}).exit_code);
  for (int i = 0; i < 300 && device.queued() < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  LONGS_EQUAL(5, device.queued());
  const long src = device.pid("src");
  auto result = device.reload(device.manifest(device.receiver(), "", 8));
  LONGS_EQUAL_TEXT(3, result.exit_code, result.err.c_str());
  CHECK_TEXT(result.err.find(device.queue + " holds 5 messages") != std::string::npos,
             result.err.c_str());
  // Its producer was stopped to find out, and runs again (a new process); the messages wait.
  CHECK(device.pid("src") > 0);
  (void)src;
  LONGS_EQUAL(5, device.queued());
  CHECK(device.service("sink")["state"] == "stopped");  // the operator's stop stands
}

// A quiet producer: the queue is empty once both are stopped.
TEST(Reload, AnEmptyQueueWhoseAttributesChangeIsRecreated) {
  Device device;
  auto quiet = [&](long max_messages) {
    std::string text = device.manifest(device.receiver(), "", max_messages);
    text.replace(text.find("\"send\""), 6, "\"idle\"");
    return text;
  };
  device.start(quiet(5));
  auto result = device.reload(quiet(8));
  LONGS_EQUAL_TEXT(0, result.exit_code, (result.err + device.runtime->err()).c_str());
  mqd_t fd = ::mq_open(device.queue.c_str(), O_RDONLY);
  mq_attr attributes{};
  ::mq_getattr(fd, &attributes);
  ::mq_close(fd);
  LONGS_EQUAL(8, attributes.mq_maxmsg);
}

TEST(Reload, ASecondReloadIsRefusedWhileOneRuns) {
  Device device;
  device.start(device.manifest(device.receiver()));
  const std::string next = device.dir.write_file(
      "slow.json", device.manifest(device.receiver(), device.idle("extra")));
  pid_t first = ::fork();
  if (first == 0) {
    auto result = ipcrt::test::run_ipcrt(
        {"reload", next, "--confirm-ms", "2000", "--manifest", device.name});
    ::_exit(result.exit_code);
  }
  CHECK(device.runtime->wait_for("msg=\"reload plan\""));
  auto second = device.reload(device.manifest(device.receiver()));
  LONGS_EQUAL_TEXT(3, second.exit_code, (second.err + device.runtime->err()).c_str());
  CHECK(second.err.find("another reload is in progress") != std::string::npos);
  int status = 0;
  ::waitpid(first, &status, 0);
  CHECK(WIFEXITED(status));
  LONGS_EQUAL(0, WEXITSTATUS(status));
  CHECK(device.pid("extra") > 0);
}

TEST(Reload, SighupReloadsTheSameFile) {
  Device device;
  device.start(device.manifest(device.receiver()));
  const long src = device.pid("src");
  device.dir.write_file("manifest.json", device.manifest(device.receiver(), device.idle("late")));
  device.runtime->signal(SIGHUP);
  // With the default confirm window (30 s) the reload is still confirming: started already.
  CHECK_TEXT(device.runtime->wait_for("msg=\"reload plan\""), device.runtime->err().c_str());
  for (int i = 0; i < 200 && device.pid("late") == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(device.pid("late") > 0);
  LONGS_EQUAL(src, device.pid("src"));
}
