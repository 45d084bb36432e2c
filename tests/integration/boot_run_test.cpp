// `ipcrt run` end to end on the real kernel: real queues, real mount namespaces, real
// filters, real processes (examples/ and tests/services/boot_probe). Every manifest is
// generated with unique names so parallel runs do not collide, and every test removes the
// queues and objects it made, even when it fails.
#include <CppUTest/TestHarness.h>
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/file.hpp"
#include "platform/process.hpp"
#include "tests/support/background.hpp"
#include "tests/support/process.hpp"
#include "tests/support/system_state.hpp"

extern char** environ;

using ipcrt::test::Background;
using ipcrt::test::ProcessResult;
using ipcrt::test::TempDir;
using ipcrt::test::path_exists;
using ipcrt::test::queue_exists;
using ipcrt::test::queue_state;
using ipcrt::test::unique_name;

namespace {

std::string example(const std::string& name) {
  return ipcrt::test::build_dir() + "/examples/" + name;
}
std::string probe() {
  return IPCRT_BOOT_PROBE;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Unique names for one test, removed from the system when the test ends.
struct Names {
  std::string manifest = unique_name("bt");
  std::string queue = "/" + unique_name("bq");
  std::string queue2 = "/" + unique_name("bq");
  std::string object = unique_name("bo");
  std::string object2 = unique_name("bo");
  std::string other = unique_name("bx");
  ~Names() {
    ::mq_unlink(queue.c_str());
    ::mq_unlink(queue2.c_str());
    ::unlink(("/dev/shm/" + other).c_str());  // the only one a case puts in the host's /dev/shm
    ipcrt::test::ShmStoreCleanup{manifest};
  }
  [[nodiscard]] std::string private_dir(const std::string& service) const {
    return "/run/ipcrt/" + manifest + "/staging/" + service;
  }
};

std::string json_array(const std::vector<std::string>& items) {
  std::string text = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    text += (i ? ", \"" : "\"") + items[i] + "\"";
  }
  return text + "]";
}

// The demo's shape: `collector` owns a queue and a shm object, `sensor` plugs into both. The
// queue's mode lets the slot's group write: mediation opens it with the sensor's credentials.
std::string demo_manifest(const Names& names, const std::vector<std::string>& provider,
                          const std::vector<std::string>& consumer,
                          const std::string& provider_extra = "",
                          const std::string& queue_extra = "") {
  return "{\"version\": 1, \"name\": \"" + names.manifest +
         "\", \"services\": {\n"
         "  \"collector\": {\"command\": " +
         json_array(provider) + provider_extra +
         ",\n"
         "    \"slots\": {\"telemetry\": {\"interface\": \"posix-mq\", \"path\": \"" +
         names.queue + "\", \"max-messages\": 8, \"message-size\": 128, \"mode\": \"0660\"" +
         queue_extra +
         "},\n"
         "      \"frames\": {\"interface\": \"shared-memory\", \"write\": [\"" +
         names.object +
         "\"]}}},\n"
         "  \"sensor\": {\"command\": " +
         json_array(consumer) +
         ",\n"
         "    \"plugs\": {\"telemetry\": {\"interface\": \"posix-mq\"},\n"
         "              \"frames\": {\"interface\": \"shared-memory\"}}}}}\n";
}

// What a service's "stragglers" probe left behind. Their printed pids are of the service's pid
// namespace; from outside they are the processes whose session is the service's main process
// (ipcrt's init of that namespace), whose pid ipcrt logged when it started.
struct Stragglers {
  std::size_t printed = 0;  // "straggler PID" lines
  pid_t session = 0;
  Stragglers(const std::string& out, const std::string& err, const std::string& service) {
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.starts_with("straggler ")) ++printed;
    }
    const std::string started = "msg=started service=" + service + " pid=";
    if (auto at = err.find(started); at != std::string::npos) {
      session = static_cast<pid_t>(std::stol(err.substr(at + started.size())));
    }
  }
  Stragglers(const Stragglers&) = delete;
  Stragglers& operator=(const Stragglers&) = delete;
  ~Stragglers() {
    if (session <= 0) return;
    if (auto members = ipcrt::platform::list_session(session)) {
      for (const auto& member : *members) ::kill(member.pid, SIGKILL);
    }
  }
  // No process of the session is left, not even a zombie nobody reaped.
  [[nodiscard]] bool all_gone() const {
    auto members = ipcrt::platform::list_session(session);
    return session > 0 && members && members->empty();
  }
  // Polls for 20 s at most: a safety net against hanging the suite, not a timing assertion.
  [[nodiscard]] bool all_gone_soon() const {
    for (int i = 0; i < 2000; ++i) {
      if (all_gone()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
};

ProcessResult run_manifest(const TempDir& dir, const std::string& manifest) {
  return ipcrt::test::run_ipcrt({"run", dir.write_file("manifest.json", manifest)});
}

}  // namespace

TEST_GROUP(BootRun){};

TEST(BootRun, MessagesFlowFromConsumerToProviderAndRunReturnsZero) {
  Names names;
  TempDir dir;
  auto result = run_manifest(dir, demo_manifest(names, {example("mq-provider"), "--count", "3"},
                                                {example("mq-consumer"), "--count", "3"}));
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  CHECK_TEXT(contains(result.out, "collector: received #3: reading 3 from sensor"),
             result.out.c_str());
  CHECK_TEXT(contains(result.out, "shm " + names.object + ": \"hello from sensor"),
             result.out.c_str());
  CHECK(contains(result.err, "msg=started service=collector"));
  CHECK(contains(result.err, "msg=exited service=sensor"));
  CHECK_FALSE(path_exists(names.private_dir("collector")));
  CHECK_FALSE(path_exists(names.private_dir("sensor")));
}

TEST(BootRun, QueueHasTheManifestsAttributes) {
  Names names;
  TempDir dir;
  auto result =
      run_manifest(dir, demo_manifest(names, {probe(), "exit", "0"}, {probe(), "exit", "0"}));
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  mqd_t queue = ::mq_open(names.queue.c_str(), O_RDONLY);
  CHECK_TEXT(queue != static_cast<mqd_t>(-1), "the queue persists after run (kernel-persistent)");
  mq_attr attributes{};
  CHECK_EQUAL(0, ::mq_getattr(queue, &attributes));
  struct stat info {};
  CHECK_EQUAL(0, ::fstat(queue, &info));
  ::mq_close(queue);
  LONGS_EQUAL(8, attributes.mq_maxmsg);
  LONGS_EQUAL(128, attributes.mq_msgsize);
  LONGS_EQUAL(0660, info.st_mode & 07777);
}

// Read-only is enforced twice: by the object's mode (the viewer is in the slot's group,
// which may only read it) and by a read-only bind mount, which stops even a viewer that shares
// the owner's user.
TEST(BootRun, ServiceSeesOnlyItsGrantedObjectsAndReadOnlyIsEnforced) {
  struct Case {
    const char* user;  // of both services
    const char* read_only_write;
  };
  for (const Case& c : {Case{"", "errno=EACCES"}, Case{", \"user\": 60998", "errno=EROFS"}}) {
    Names names;
    TempDir dir;
    // A host object nobody was granted: it must not be visible inside the sandbox.
    int other = ::open(("/dev/shm/" + names.other).c_str(), O_CREAT | O_WRONLY, 0666);
    ::close(other);
    std::string manifest =
        "{\"version\": 1, \"name\": \"" + names.manifest +
        "\", \"services\": {\n"
        "  \"owner\": {\"command\": [\"" +
        probe() + "\", \"exit\", \"0\"]" + c.user +
        ",\n"
        "    \"slots\": {\"frames\": {\"interface\": \"shared-memory\", \"read\": [\"" +
        names.object + "\"], \"write\": [\"" + names.object2 +
        "\"]}}},\n"
        "  \"viewer\": {\"command\": [\"" +
        probe() + "\", \"shm-view\", \"" + names.object + "\", \"" + names.object2 + "\", \"" +
        names.other + "\"]" + c.user +
        ",\n"
        "    \"plugs\": {\"frames\": {\"interface\": \"shared-memory\"}}}}}\n";
    auto result = run_manifest(dir, manifest);
    LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
    std::string expected_entries = "entry " + names.object + "\nentry " + names.object2 + "\n";
    CHECK_TEXT(result.out.starts_with(expected_entries), result.out.c_str());
    CHECK_FALSE_TEXT(contains(result.out, "entry " + names.other), result.out.c_str());
    CHECK_TEXT(contains(result.out, "write " + names.object + " " + c.read_only_write),
               result.out.c_str());
    CHECK_TEXT(contains(result.out, "write " + names.object2 + " ok"), result.out.c_str());
    CHECK_TEXT(contains(result.out, "write " + names.other + " errno=ENOENT"), result.out.c_str());
  }
}

TEST(BootRun, CrashedProviderIsRestartedAndNoQueuedMessageIsLost) {
  Names names;
  TempDir dir;
  dir.share_with_services();
  std::string marker = dir.path() + "/crashed-once";
  auto result = run_manifest(
      dir,
      demo_manifest(names, {probe(), "crash-once", marker, example("mq-provider"), "--count", "4"},
                    {example("mq-consumer"), "--count", "4"},
                    ", \"restart\": \"on-failure\", \"restart-delay-ms\": 50"));
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  CHECK_TEXT(contains(result.err, "msg=exited service=collector"), result.err.c_str());
  CHECK_TEXT(contains(result.err, "signal=SEGV"), result.err.c_str());
  CHECK_TEXT(contains(result.err, "msg=restarting service=collector delay-ms=50"),
             result.err.c_str());
  for (int i = 1; i <= 4; ++i) {
    CHECK_TEXT(contains(result.out, "received #" + std::to_string(i) + ": reading " +
                                        std::to_string(i) + " from sensor"),
               result.out.c_str());
  }
}

TEST(BootRun, RuntimeKilledWithSigkillAdoptsItsQueueWithItsMessages) {
  Names names;
  TempDir dir;
  std::string log = dir.shared_file("term.log");
  {
    Background first(
        dir,
        dir.write_file("first.json", demo_manifest(names, {probe(), "log-term", "collector", log},
                                                   {example("mq-consumer"), "--count", "2"})));
    CHECK_TEXT(first.wait_for("msg=exited service=sensor"), first.err().c_str());
    first.signal(SIGKILL);
    first.wait();
  }
  // The objects' tmpfs could not be unmounted: it is still there with what the sensor wrote.
  CHECK_TRUE(ipcrt::test::shm_store_mounted(names.manifest));
  STRCMP_CONTAINS("hello from sensor",
                  read_file(ipcrt::test::shm_object(names.manifest, names.object)).c_str());
  // The same queue, now with a provider that reads what the first boot's consumer sent, and
  // the same object, adopted with its contents.
  auto result = run_manifest(
      dir, demo_manifest(names, {example("mq-provider"), "--count", "2"}, {probe(), "exit", "0"}));
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  CHECK_TEXT(contains(result.err, "msg=\"adopted queue\" path=" + names.queue +
                                      " slot=collector:telemetry messages=2"),
             result.err.c_str());
  CHECK_TEXT(contains(result.out, "received #2: reading 2 from sensor"), result.out.c_str());
  CHECK_TEXT(contains(result.err, "msg=\"adopted shm store\" path=" +
                                      ipcrt::test::shm_store(names.manifest)),
             result.err.c_str());
  CHECK_TEXT(contains(result.out, "shm " + names.object + ": \"hello from sensor"),
             result.out.c_str());
  CHECK_FALSE_TEXT(ipcrt::test::shm_store_mounted(names.manifest), "unmounted at the end");
}

TEST(BootRun, SigtermStopsConsumersFirstAndLeavesNothingBehind) {
  Names names;
  TempDir dir;
  std::string log = dir.shared_file("term.log");
  Background run(
      dir, dir.write_file("m.json", demo_manifest(names, {probe(), "log-term", "collector", log},
                                                  {probe(), "log-term", "sensor", log}, "",
                                                  ", \"remove-on-stop\": true")));
  // "started" is logged at fork: a SIGTERM before the probes block it would kill them unlogged.
  CHECK_TEXT(run.wait_for("sensor waits for SIGTERM"), run.err().c_str());
  CHECK_TEXT(run.wait_for("collector waits for SIGTERM"), run.err().c_str());
  CHECK(path_exists(names.private_dir("sensor")));
  CHECK(queue_exists(names.queue));
  run.signal(SIGTERM);
  LONGS_EQUAL_TEXT(0, run.wait(), run.err().c_str());
  STRCMP_EQUAL("sensor\ncollector\n", read_file(log).c_str());
  CHECK_FALSE(path_exists(names.private_dir("sensor")));
  CHECK_FALSE(path_exists(names.private_dir("collector")));
  CHECK_FALSE_TEXT(queue_exists(names.queue), "remove-on-stop queue removed");
  CHECK(contains(run.err(), "msg=\"removed queue\" path=" + names.queue));
  CHECK_FALSE_TEXT(ipcrt::test::shm_store_mounted(names.manifest), "the objects' tmpfs too");
  CHECK_FALSE(path_exists("/run/ipcrt/" + names.manifest));
  // The staging directories went with their tmpfs's unmount, not one by one: no mount of the
  // run is left, and nothing failed on the way.
  CHECK_FALSE(contains(ipcrt::read_text_file("/proc/self/mountinfo").value_or(""),
                       "/run/ipcrt/" + names.manifest + "/"));
  CHECK_FALSE_TEXT(contains(run.err(), "cleanup failed"), run.err().c_str());
  // Each service's lines in their order, the stop signal before the exit.
  for (const char* service : {"sensor", "collector"}) {
    const std::string err = run.err();
    const auto stopping = err.find(std::string("msg=stopping service=") + service);
    const auto exited = err.find(std::string("msg=exited service=") + service);
    CHECK_TEXT(stopping != std::string::npos && exited != std::string::npos && stopping < exited,
               err.c_str());
  }
}

// The supervisor has a mediation thread only for a service that has asked it something; the
// listener of one that has not is watched by its loop until it does (server.hpp).
TEST(BootRun, OnlyAServiceThatHasAskedHasAMediationThread) {
  Names names;
  TempDir dir;
  Background run(
      dir, dir.write_file("m.json", demo_manifest(names, {probe(), "log-term", "collector", "-"},
                                                  {probe(), "open-then-wait", names.queue})));
  CHECK_TEXT(run.wait_for("collector waits for SIGTERM"), run.err().c_str());
  CHECK_TEXT(run.wait_for("opened " + names.queue + ": yes"), run.err().c_str());
  const std::string proc = "/proc/" + std::to_string(run.pid());
  std::size_t threads = 0;
  for (const auto& entry : std::filesystem::directory_iterator(proc + "/task")) {
    (void)entry;
    ++threads;
  }
  std::size_t listeners = 0;
  for (const auto& entry : std::filesystem::directory_iterator(proc + "/fd")) {
    std::error_code error;
    if (std::filesystem::read_symlink(entry.path(), error) == "anon_inode:seccomp notify") {
      ++listeners;
    }
  }
  LONGS_EQUAL_TEXT(2, threads, "the loop's and the sensor's mediation thread");
  LONGS_EQUAL_TEXT(2, listeners, "both services' listeners, the collector's still waiting");
  run.signal(SIGTERM);
  LONGS_EQUAL_TEXT(0, run.wait(), run.err().c_str());
}

TEST(BootRun, ConflictingExistingQueueFailsTheBootAndLeavesNoTrace) {
  Names names;
  TempDir dir;
  // The second queue exists with other attributes: boot must refuse it and undo the first.
  mq_attr attributes{};
  attributes.mq_maxmsg = 2;
  attributes.mq_msgsize = 64;
  mqd_t conflicting = ::mq_open(names.queue2.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &attributes);
  CHECK(conflicting != static_cast<mqd_t>(-1));
  ::mq_close(conflicting);
  std::string manifest = "{\"version\": 1, \"name\": \"" + names.manifest +
                         "\", \"services\": {\n"
                         "  \"collector\": {\"command\": [\"" +
                         probe() +
                         "\", \"exit\", \"0\"],\n"
                         "    \"slots\": {\"a\": {\"interface\": \"posix-mq\", \"path\": \"" +
                         names.queue +
                         "\", \"max-messages\": 4, \"message-size\": 64},\n"
                         "               \"b\": {\"interface\": \"posix-mq\", \"path\": \"" +
                         names.queue2 +
                         "\", \"max-messages\": 4, \"message-size\": 64},\n"
                         "               \"f\": {\"interface\": \"shared-memory\", \"write\": [\"" +
                         names.object + "\"]}}}}}\n";
  auto result = run_manifest(dir, manifest);
  LONGS_EQUAL_TEXT(3, result.exit_code, result.err.c_str());
  CHECK_TEXT(contains(result.err, names.queue2 + " already exists"), result.err.c_str());
  CHECK_FALSE_TEXT(queue_exists(names.queue), "the queue this boot created was removed");
  CHECK_TRUE_TEXT(queue_exists(names.queue2), "the pre-existing queue is never removed");
  CHECK_FALSE(ipcrt::test::shm_store_mounted(names.manifest));
  CHECK_FALSE(path_exists(names.private_dir("collector")));
}

// Another local user may create the manifest's queue before boot to read or inject its
// messages: a queue owned by someone else fails `run` before anything is created, and the
// queue is left exactly as it was.
TEST(BootRun, QueueLeftByAnotherUserFailsTheBootUntouched) {
  Names names;
  TempDir dir;
  mq_attr attributes{};
  attributes.mq_maxmsg = 8;  // the demo manifest's attributes: only the owner differs
  attributes.mq_msgsize = 128;
  mqd_t planted = ::mq_open(names.queue.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &attributes);
  CHECK(planted != static_cast<mqd_t>(-1));
  CHECK_EQUAL(0, ::mq_send(planted, "injected", 8, 0));
  CHECK_EQUAL(0, ::fchmod(planted, 0640));
  CHECK_EQUAL(0, ::fchown(planted, 65534, ::getgid()));
  ::mq_close(planted);

  auto result =
      run_manifest(dir, demo_manifest(names, {probe(), "exit", "0"}, {probe(), "exit", "0"}));
  LONGS_EQUAL_TEXT(3, result.exit_code, result.err.c_str());
  CHECK_TEXT(contains(result.err, "/services/collector/slots/telemetry/path: error: queue " +
                                      names.queue + " already exists with owner uid 65534"),
             result.err.c_str());
  CHECK_TEXT(contains(result.err, "slot collector:telemetry needs owner uid "), result.err.c_str());
  CHECK_TEXT(contains(result.err, "(service collector), gid "), result.err.c_str());
  CHECK_TEXT(contains(result.err, "mode 0660: another user owns it"), result.err.c_str());
  CHECK_TEXT(contains(result.err, "remove it (rm /dev/mqueue" + names.queue + ")"),
             result.err.c_str());
  CHECK_FALSE_TEXT(contains(result.err, "msg=started"), result.err.c_str());
  CHECK_FALSE(ipcrt::test::shm_store_mounted(names.manifest));
  CHECK_FALSE(path_exists(names.private_dir("collector")));
  CHECK_FALSE(path_exists(names.private_dir("sensor")));

  auto kept = queue_state(names.queue);
  CHECK(kept.has_value());
  LONGS_EQUAL(65534, kept->owner);
  LONGS_EQUAL(0640, kept->mode);
  LONGS_EQUAL_TEXT(1, kept->messages, "the queue keeps its message: nothing read or removed");
}

// SPEC §4.2: a queue root left (a runtime before services had users of their own), with a
// wider mode, is adopted with its messages and given the slot's owner, group and mode.
TEST(BootRun, AdoptedQueueGetsTheSlotsOwnerGroupAndModeBack) {
  Names names;
  TempDir dir;
  mq_attr attributes{};
  attributes.mq_maxmsg = 8;
  attributes.mq_msgsize = 128;
  mqd_t planted = ::mq_open(names.queue.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &attributes);
  CHECK(planted != static_cast<mqd_t>(-1));
  CHECK_EQUAL(0, ::mq_send(planted, "kept", 4, 0));
  CHECK_EQUAL(0, ::fchmod(planted, 0666));
  ::mq_close(planted);

  auto result =
      run_manifest(dir, demo_manifest(names, {probe(), "exit", "0"}, {probe(), "exit", "0"}));
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  CHECK_TEXT(contains(result.err, "msg=\"put back queue owner and mode\" path=" + names.queue +
                                      " found-owner=0:"),
             result.err.c_str());
  auto kept = queue_state(names.queue);
  CHECK(kept.has_value());
  CHECK_TEXT(kept->owner >= 61184 && kept->owner <= 65519, "the collector's dynamic uid");
  CHECK_TEXT(kept->group >= 61184 && kept->group <= 65519, "the slot's dynamic gid");
  CHECK(kept->owner != kept->group);
  LONGS_EQUAL(0660, kept->mode);
  LONGS_EQUAL(1, kept->messages);
}

TEST(BootRun, BootFailingHalfWayUndoesWhatItCreated) {
  Names names;
  TempDir dir;
  // The queue is created first; the shared-memory object then cannot be (a directory is in
  // the way, in the store a SIGKILLed runtime left), so the boot must remove the queue again,
  // and leave the store it adopted as it was.
  ipcrt::test::LeftoverShmStore store(names.manifest);
  std::string in_the_way = store.object(names.object);
  CHECK_EQUAL(0, ::mkdir(in_the_way.c_str(), 0700));
  auto result =
      run_manifest(dir, demo_manifest(names, {probe(), "exit", "0"}, {probe(), "exit", "0"}, "",
                                      ", \"remove-on-stop\": false"));
  CHECK_TRUE(path_exists(in_the_way));
  ::rmdir(in_the_way.c_str());
  LONGS_EQUAL_TEXT(3, result.exit_code, result.err.c_str());
  CHECK_TEXT(contains(result.err, "msg=\"rolled back\" kind=queue path=" + names.queue),
             result.err.c_str());
  CHECK_TEXT(contains(result.err, "is not a regular file"), result.err.c_str());
  CHECK_FALSE(queue_exists(names.queue));
  CHECK_FALSE(path_exists(names.private_dir("collector")));
  CHECK_FALSE(path_exists(names.private_dir("sensor")));
}

TEST(BootRun, UnknownUserFailsBeforeAnythingIsCreated) {
  Names names;
  TempDir dir;
  std::string manifest = demo_manifest(names, {probe(), "exit", "0"}, {probe(), "exit", "0"},
                                       ", \"user\": \"no-such-user-ipcrt\"");
  auto result = run_manifest(dir, manifest);
  LONGS_EQUAL_TEXT(3, result.exit_code, result.err.c_str());
  CHECK_TEXT(contains(result.err, "unknown user \\\"no-such-user-ipcrt\\\""), result.err.c_str());
  CHECK_FALSE(queue_exists(names.queue));
  CHECK_FALSE(ipcrt::test::shm_store_mounted(names.manifest));
  CHECK_FALSE(path_exists(names.private_dir("collector")));
}

TEST(BootRun, FailingPhaseIsReportedByNameAndCountsAsFailure) {
  Names names;
  TempDir dir;
  std::string manifest = demo_manifest(names, {probe(), "exit", "0"}, {probe(), "exit", "0"},
                                       ", \"working-directory\": \"/nonexistent-ipcrt-dir\"");
  auto result = run_manifest(dir, manifest);
  LONGS_EQUAL_TEXT(4, result.exit_code, result.err.c_str());
  CHECK_TEXT(contains(result.err,
                      "msg=\"start failed\" service=collector phase=working-directory "
                      "errno=ENOENT path=/nonexistent-ipcrt-dir hint=\"the working directory "
                      "does not exist in the service's view"),
             result.err.c_str());
  CHECK_TEXT(contains(result.err, "msg=\"not started\" service=sensor"), result.err.c_str());
}

TEST(BootRun, AMissingProgramIsNamedWithAHint) {
  Names names;
  TempDir dir;
  std::string manifest =
      demo_manifest(names, {"/nonexistent-ipcrt/program", "--flag"}, {probe(), "exit", "0"});
  auto result = run_manifest(dir, manifest);
  LONGS_EQUAL_TEXT(4, result.exit_code, result.err.c_str());
  CHECK_TEXT(contains(result.err,
                      "msg=\"start failed\" service=collector phase=exec errno=ENOENT "
                      "path=/nonexistent-ipcrt/program hint=\"command[0] does not exist in the "
                      "service's view"),
             result.err.c_str());
}

TEST(BootRun, ServiceExitingNonZeroMakesRunExitFour) {
  Names names;
  TempDir dir;
  auto result =
      run_manifest(dir, demo_manifest(names, {probe(), "exit", "0"}, {probe(), "exit", "3"}));
  LONGS_EQUAL_TEXT(4, result.exit_code, result.err.c_str());
  CHECK(contains(result.err, "msg=exited service=sensor"));
  CHECK(contains(result.err, "status=3"));
}

TEST(BootRun, InvalidManifestExitsOneAndUnknownBoardExitsTwo) {
  TempDir dir;
  auto invalid = run_manifest(dir, "{\"version\": 2}");
  LONGS_EQUAL_TEXT(1, invalid.exit_code, invalid.err.c_str());
  auto board = ipcrt::test::run_ipcrt(
      {"run", dir.path() + "/manifest.json", "--board", "no-such-board-ipcrt"});
  LONGS_EQUAL_TEXT(2, board.exit_code, board.err.c_str());
  CHECK_TEXT(contains(board.err, "no-such-board-ipcrt"), board.err.c_str());
}

// Containment: a service's processes do not outlive its main process.
TEST(BootRun, ProcessesLeftByAServiceAreKilledAndReapedWhenItsMainProcessExits) {
  Names names;
  TempDir dir;
  std::string log = dir.shared_file("term.log");
  std::string manifest = "{\"version\": 1, \"name\": \"" + names.manifest +
                         "\", \"services\": {\n"
                         "  \"leaver\": {\"command\": " +
                         json_array({probe(), "stragglers", "exit", "0"}) +
                         "},\n"
                         "  \"keeper\": {\"command\": " +
                         json_array({probe(), "log-term", "keeper", log}) + "}}}\n";
  Background run(dir, dir.write_file("m.json", manifest));
  CHECK_TEXT(run.wait_for("msg=exited service=leaver"), run.err().c_str());
  Stragglers left(run.out(), run.err(), "leaver");
  LONGS_EQUAL_TEXT(2, left.printed, run.out().c_str());
  // They went with the service's pid namespace when its init ended.
  CHECK_TEXT(left.all_gone_soon(), (run.out() + run.err()).c_str());
  // ipcrt is still running: the processes went with the service, not with the runtime.
  CHECK_TEXT(run.wait_for("keeper waits for SIGTERM"), run.err().c_str());
  CHECK_FALSE(contains(run.err(), "all services ended"));
  run.signal(SIGTERM);
  LONGS_EQUAL_TEXT(0, run.wait(), run.err().c_str());
}

TEST(BootRun, StopSendsSigtermToTheMainProcessAndNothingOfTheServiceOutlivesIt) {
  Names names;
  TempDir dir;
  std::string log = dir.shared_file("term.log");
  std::string manifest = "{\"version\": 1, \"name\": \"" + names.manifest +
                         "\", \"services\": {\"holder\": {\"command\": " +
                         json_array({probe(), "stragglers", "log-term", "holder", log}) + "}}}\n";
  Background run(dir, dir.write_file("m.json", manifest));
  CHECK_TEXT(run.wait_for("holder waits for SIGTERM"), run.err().c_str());
  Stragglers left(run.out(), run.err(), "holder");
  LONGS_EQUAL_TEXT(2, left.printed, run.out().c_str());
  CHECK_FALSE(left.all_gone());
  run.signal(SIGTERM);
  LONGS_EQUAL_TEXT(0, run.wait(), run.err().c_str());
  // Gone (killed and reaped by ipcrt) by the time ipcrt has exited: no polling here.
  CHECK_TEXT(left.all_gone(), run.err().c_str());
  STRCMP_EQUAL("holder\n", read_file(log).c_str());  // the main process stopped on SIGTERM
  CHECK_TEXT(contains(run.err(), "msg=stopping service=holder"), run.err().c_str());
}

// setsid is not in @default: a confined service cannot leave the session that contains it.
// Allowing it (by name or through @process) gives that up, as does `confinement: off`.
TEST(BootRun, SetsidIsRefusedToAConfinedServiceUnlessItsManifestAllowsIt) {
  Names names;
  TempDir dir;
  std::string command = json_array({probe(), "setsid"});
  std::string manifest = "{\"version\": 1, \"name\": \"" + names.manifest +
                         "\", \"services\": {\n"
                         "  \"strict\": {\"command\": " +
                         command +
                         "},\n"
                         "  \"allowed\": {\"command\": " +
                         command +
                         ", \"seccomp\": {\"allow\": [\"setsid\"]}},\n"
                         "  \"unconfined\": {\"command\": " +
                         command + ", \"confinement\": \"off\"}}}\n";
  auto result = run_manifest(dir, manifest);
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  CHECK_TEXT(contains(result.out, "strict: setsid errno=EPERM"), result.out.c_str());
  CHECK_TEXT(contains(result.out, "allowed: setsid ok"), result.out.c_str());
  CHECK_TEXT(contains(result.out, "unconfined: setsid ok"), result.out.c_str());
}

// rlimits.nproc is the fork-bomb limit: it counts every process of the service's uid (the
// kernel does not apply it to uid 0), so the service runs as a uid of its own here: one
// outside the dynamic range, which no concurrently running suite's service can get.
TEST(BootRun, NprocLimitsHowManyProcessesAServiceUidMayHave) {
  Names names;
  TempDir dir;
  std::string manifest =
      "{\"version\": 1, \"name\": \"" + names.manifest +
      "\", \"services\": {\"forker\": {\"command\": " + json_array({probe(), "fork-until"}) +
      ", \"user\": 60999, \"rlimits\": {\"nproc\": 4}}}}\n";
  auto result = run_manifest(dir, manifest);
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  // The service itself is the first of its uid's four processes.
  CHECK_TEXT(contains(result.out, "forked 3 errno=EAGAIN"), (result.out + result.err).c_str());
}
