// `ipcrt limits` and `ipcrt plan` as a user runs them, against the real /proc and real queues.
#include <CppUTest/TestHarness.h>
#include <mqueue.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "common/file.hpp"
#include "common/text.hpp"
#include "tests/support/process.hpp"

using ipcrt::cat;
using ipcrt::test::run_ipcrt;
using Json = nlohmann::json;

namespace {

long read_sysctl(const char* name) {
  auto text = ipcrt::read_text_file(cat("/proc/sys/fs/mqueue/", name));
  return text ? std::strtol(text->c_str(), nullptr, 10) : -1;
}

struct QueueName {
  std::string name = ipcrt::test::unique_name("ipcrt-plan");
  std::string path = cat('/', name);
  ~QueueName() { ::mq_unlink(path.c_str()); }
};

// A provider with one queue slot and a consumer, as a manifest file in `dir`.
std::string write_manifest(const ipcrt::test::TempDir& dir, const std::string& queue_path,
                           long max_messages, long message_size) {
  return dir.write_file("gateway.json",
                        cat(R"({"version": 1, "name": "gateway", "publisher": "acme", "services": {
  "hub": {"command": ["/bin/true"], "slots": {"q": {"interface": "posix-mq", "path": ")",
                            queue_path, R"(", "max-messages": )", max_messages,
                            R"(, "message-size": )", message_size, R"(}}},
  "app": {"command": ["/bin/true"], "plugs": {"q": {"interface": "posix-mq"}}}}})"));
}

}  // namespace

TEST_GROUP(LimitsCommand){};

TEST(LimitsCommand, JsonMatchesTheRealProcAndCountsOurQueue) {
  QueueName queue;
  mq_attr attr{};
  attr.mq_maxmsg = 2;
  attr.mq_msgsize = 16;
  mqd_t fd = ::mq_open(queue.path.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
  CHECK_TRUE(fd >= 0);
  ::mq_close(fd);

  auto result = run_ipcrt({"limits", "--json"});
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  auto json = Json::parse(result.out);
  for (const char* name :
       {"msg_max", "msgsize_max", "msg_default", "msgsize_default", "queues_max"}) {
    LONGS_EQUAL_TEXT(read_sysctl(name), json[name].get<long>(), name);
  }
  rlimit rl{};
  ::getrlimit(RLIMIT_MSGQUEUE, &rl);
  UNSIGNED_LONGLONGS_EQUAL(rl.rlim_cur, json["rlimit_msgqueue"]["soft"].get<std::uint64_t>());
  UNSIGNED_LONGLONGS_EQUAL(rl.rlim_max, json["rlimit_msgqueue"]["hard"].get<std::uint64_t>());
  CHECK_TRUE(json["usage"]["queues"].get<long>() >= 1);
  LONGS_EQUAL(json["queues_max"].get<long>() - json["usage"]["queues"].get<long>(),
              json["headroom"]["queues"].get<long>());
  // Our 2 x 16 queue alone: 2 * (msg_msg + tree node) + 2 * 16, both structs six kernel words
  // (at least this process's words: a 32-bit process may run on a 64-bit kernel).
  const std::uint64_t our_charge = sizeof(void*) == 8 ? 2 * 48 + 2 * 48 + 2 * 16   // 64-bit
                                                      : 2 * 24 + 2 * 24 + 2 * 16;  // 32-bit ARM
  CHECK_TRUE(json["usage"]["charged_bytes"].get<std::uint64_t>() >= our_charge);
}

TEST(LimitsCommand, TextNamesEveryLimit) {
  auto result = run_ipcrt({"limits"});
  LONGS_EQUAL(0, result.exit_code);
  for (const char* name : {"fs.mqueue.msg_max", "fs.mqueue.msgsize_max", "fs.mqueue.queues_max",
                           "RLIMIT_MSGQUEUE soft", "headroom"}) {
    STRCMP_CONTAINS(name, result.out.c_str());
  }
}

TEST_GROUP(PlanCommand){};

TEST(PlanCommand, BoardGatewayPlansAsJson) {
  auto result = run_ipcrt(
      {"plan", ipcrt::test::source_path("boards/qemu-virt-arm64/gateway.json"), "--json"});
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  auto json = Json::parse(result.out);
  STRCMP_EQUAL("/gateway-telemetry", json["queues"][0]["path"].get<std::string>().c_str());
  STRCMP_EQUAL("collector:telemetry", json["queues"][0]["slot"].get<std::string>().c_str());
  STRCMP_EQUAL("collector", json["services"][0]["name"].get<std::string>().c_str());
  STRCMP_EQUAL(R"(["write"])", json["services"][1]["queues"]["/gateway-telemetry"].dump().c_str());
  STRCMP_EQUAL("gateway-frames", json["shm"][0]["name"].get<std::string>().c_str());
}

TEST(PlanCommand, TextListsQueuesAndStartOrderAndCreatesNothing) {
  QueueName queue;
  ipcrt::test::TempDir dir;
  auto file = write_manifest(dir, queue.path, 3, 32);
  auto result = run_ipcrt({"plan", file});
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_CONTAINS(cat("create ", queue.path).c_str(), result.out.c_str());
  STRCMP_CONTAINS("0 hub", result.out.c_str());
  STRCMP_CONTAINS("1 app", result.out.c_str());
  CHECK_TRUE(::mq_open(queue.path.c_str(), O_RDONLY) < 0);  // plan changed nothing
  LONGS_EQUAL(ENOENT, errno);
}

TEST(PlanCommand, LimitViolationExitsThreeNamingPointerValueAndFix) {
  const long msg_max = read_sysctl("msg_max");
  if (msg_max >= 65536) TEST_EXIT;  // no value between this machine's limit and the ceiling
  QueueName queue;
  ipcrt::test::TempDir dir;
  auto file = write_manifest(dir, queue.path, msg_max + 1, 32);
  auto result = run_ipcrt({"plan", file});
  LONGS_EQUAL(3, result.exit_code);
  STRCMP_CONTAINS(cat(file, ": /services/hub/slots/q/max-messages: error: queue ", queue.path,
                      ": max-messages ", msg_max + 1, " exceeds fs.mqueue.msg_max (", msg_max,
                      "); raise fs.mqueue.msg_max in the board profile")
                      .c_str(),
                  result.err.c_str());
  STRCMP_EQUAL("", result.out.c_str());
}

TEST(PlanCommand, AboveTheHardCeilingIsAnInvalidManifestOnEveryDevice) {
  QueueName queue;
  ipcrt::test::TempDir dir;
  auto file = write_manifest(dir, queue.path, 70000, 32);
  for (const char* command : {"validate", "plan"}) {
    auto result = run_ipcrt({command, file});
    LONGS_EQUAL_TEXT(1, result.exit_code, command);
    STRCMP_CONTAINS_TEXT(cat(file,
                             ": /services/hub/slots/q/max-messages: error: expected a "
                             "positive integer up to 65536, got 70000 (hint: 65536 messages is "
                             "the kernel's hard ceiling, which binds even root)")
                             .c_str(),
                         result.err.c_str(), command);
  }
}

TEST(PlanCommand, ExistingQueueWithOtherAttributesExitsThree) {
  QueueName queue;
  mq_attr attr{};
  attr.mq_maxmsg = 2;
  attr.mq_msgsize = 16;
  mqd_t fd = ::mq_open(queue.path.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
  CHECK_TRUE(fd >= 0);
  ::mq_close(fd);
  ipcrt::test::TempDir dir;
  auto file = write_manifest(dir, queue.path, 3, 16);
  auto result = run_ipcrt({"plan", file});
  LONGS_EQUAL(3, result.exit_code);
  STRCMP_CONTAINS(cat("rm /dev/mqueue/", queue.name).c_str(), result.err.c_str());
  STRCMP_CONTAINS("max-messages 2, message-size 16", result.err.c_str());
}

namespace {

// An existing queue with the manifest's attributes (3 x 16), then given `uid`/`gid` and an
// exact `mode` on its descriptor, as another local user could leave it.
void plant_queue(const std::string& path, uid_t uid, gid_t gid, mode_t mode) {
  mq_attr attr{};
  attr.mq_maxmsg = 3;
  attr.mq_msgsize = 16;
  mqd_t fd = ::mq_open(path.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
  CHECK_TRUE(fd >= 0);
  CHECK_EQUAL(0, ::mq_send(fd, "mine", 4, 0));
  CHECK_EQUAL(0, ::fchmod(fd, mode));
  CHECK_EQUAL(0, ::fchown(fd, uid, gid));
  ::mq_close(fd);
}

// Owner, mode and message count of a queue, to show `plan` changed nothing.
std::string queue_state(const std::string& path) {
  mqd_t fd = ::mq_open(path.c_str(), O_RDONLY);
  if (fd < 0) return "missing";
  struct stat info {};
  mq_attr attr{};
  ::fstat(fd, &info);
  ::mq_getattr(fd, &attr);
  ::mq_close(fd);
  return cat(info.st_uid, ':', info.st_gid, ' ', info.st_mode & 07777, ' ', attr.mq_curmsgs);
}

}  // namespace

TEST(PlanCommand, ExistingQueueOfAnotherUserExitsThreeAndRootsIsAdoptedForRepair) {
  // The manifest's queue: hub's dynamic user and the slot's group, mode 0660.
  const gid_t group = ::getgid();
  QueueName queue;
  plant_queue(queue.path, 65534, group, 0600);
  const std::string before = queue_state(queue.path);
  ipcrt::test::TempDir dir;
  auto file = write_manifest(dir, queue.path, 3, 16);
  auto result = run_ipcrt({"plan", file});
  LONGS_EQUAL_TEXT(3, result.exit_code, result.err.c_str());
  STRCMP_CONTAINS(cat(file, ": /services/hub/slots/q/path: error: queue ", queue.path,
                      " already exists with owner uid 65534, gid ", group, ", mode 0600")
                      .c_str(),
                  result.err.c_str());
  STRCMP_CONTAINS("another user owns it", result.err.c_str());
  STRCMP_CONTAINS("needs owner uid ", result.err.c_str());
  STRCMP_CONTAINS(" (service hub), gid ", result.err.c_str());
  STRCMP_CONTAINS(cat("remove it (rm /dev/mqueue/", queue.name, ")").c_str(), result.err.c_str());
  STRCMP_EQUAL("", result.out.c_str());
  STRCMP_EQUAL(before.c_str(), queue_state(queue.path).c_str());  // plan changed nothing

  // Root's queue (a runtime before dynamic users), even with a wider mode, is adopted, messages
  // and all; `run` puts its owner and mode back, `plan` only says so.
  QueueName own;
  plant_queue(own.path, 0, group, 0666);
  const std::string own_before = queue_state(own.path);
  ipcrt::test::TempDir own_dir;
  auto adopted = run_ipcrt({"plan", write_manifest(own_dir, own.path, 3, 16)});
  LONGS_EQUAL_TEXT(0, adopted.exit_code, adopted.err.c_str());
  STRCMP_CONTAINS(cat("adopt  ", own.path).c_str(), adopted.out.c_str());
  STRCMP_CONTAINS("(owner and mode put back)", adopted.out.c_str());
  STRCMP_CONTAINS("0 to create, 1 to adopt", adopted.out.c_str());
  STRCMP_EQUAL(own_before.c_str(), queue_state(own.path).c_str());
}

TEST(PlanCommand, InvalidManifestExitsOne) {
  ipcrt::test::TempDir dir;
  auto file =
      dir.write_file("bad.json", R"({"version": 1, "name": "x", "services": {}, "typo": 1})");
  auto result = run_ipcrt({"plan", file});
  LONGS_EQUAL(1, result.exit_code);
  STRCMP_CONTAINS(cat(file, ": ").c_str(), result.err.c_str());
}
