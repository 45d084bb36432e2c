// Mediation decisions as a table: names, patterns, flags and the permission each needs; the
// rate limits; the pattern budget; the caller's credentials as /proc shows them.
#include <CppUTest/TestHarness.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "config/manifest.hpp"
#include "runtime/mediation/budget.hpp"
#include "runtime/mediation/credentials.hpp"
#include "runtime/mediation/denial_detail.hpp"
#include "runtime/mediation/notification.hpp"
#include "runtime/mediation/shm_calls.hpp"
#include "runtime/mediation/token_bucket.hpp"

using namespace ipcrt::runtime;
using namespace ipcrt::config;

namespace {

const std::vector<QueueGrant> kGrants = {
    {"/telemetry", kPermRead, "hub:telemetry", false},
    {"/camera-*", kPermRead | kPermWrite | kPermCreate, "hub:cameras", false},
    {"/own", kPermAll, "self:own", true},
    {"/logs-*", kPermRead, "hub:logs", false},
};

struct OpenCase {
  const char* raw_name;
  int flags;
  bool allowed;
  const char* need;  // expected `need` when denied
};

}  // namespace

TEST_GROUP(Mediation){};

TEST(Mediation, MqOpenDecisions) {
  const OpenCase cases[] = {
      {"telemetry", O_RDONLY, true, ""},
      {"telemetry", O_WRONLY, false, "write on hub:telemetry"},
      {"telemetry", O_RDWR, false, "write on hub:telemetry"},
      // O_CREAT without O_EXCL on a declared queue opens it; O_EXCL asks for a new one.
      {"telemetry", O_RDONLY | O_CREAT, true, ""},
      {"telemetry", O_RDONLY | O_CREAT | O_EXCL, false, "create on hub:telemetry"},
      {"telemetry", O_WRONLY | O_CREAT, false, "write on hub:telemetry"},
      {"telemetry", O_WRONLY | O_CREAT | O_EXCL, false, "write+create on hub:telemetry"},
      // A pattern names queues that may not exist: there O_CREAT always needs create.
      {"logs-1", O_RDONLY, true, ""},
      {"logs-1", O_RDONLY | O_CREAT, false, "create on hub:logs"},
      {"camera-front", O_WRONLY | O_CREAT | O_EXCL, true, ""},
      {"camera-", O_RDONLY, false, "a posix-mq plug connected to a slot with path /camera-"},
      {"camera-a/b", O_RDONLY, false, "a posix-mq plug connected to a slot with path /camera-a/b"},
      {"other", O_RDONLY, false, "a posix-mq plug connected to a slot with path /other"},
      {"..", O_RDONLY, false, "a posix-mq plug connected to a slot with path /.."},
      {"", O_RDONLY, false, "a posix-mq plug connected to a slot with path /"},
      {"own", O_RDWR | O_CREAT, true, ""},
  };
  for (const auto& c : cases) {
    auto decision = decide_mq_open(kGrants, c.raw_name, c.flags);
    CHECK_EQUAL_TEXT(c.allowed, decision.allowed, c.raw_name);
    STRCMP_EQUAL_TEXT((std::string("/") + c.raw_name).c_str(), decision.queue_path.c_str(),
                      c.raw_name);
    if (!c.allowed) STRCMP_EQUAL_TEXT(c.need, decision.need.c_str(), c.raw_name);
  }
}

TEST(Mediation, OCreatWithoutCreateOnADeclaredQueueOnlyOpensIt) {
  auto open = decide_mq_open(kGrants, "telemetry", O_RDONLY | O_CREAT);
  CHECK_TRUE(open.allowed);
  CHECK_TRUE(open.open_existing_only);
  // With create the supervisor may create it, as the caller asked.
  auto created = decide_mq_open(kGrants, "camera-front", O_WRONLY | O_CREAT);
  CHECK_TRUE(created.allowed);
  CHECK_FALSE(created.open_existing_only);
  auto owned = decide_mq_open(kGrants, "own", O_RDWR | O_CREAT);
  CHECK_FALSE(owned.open_existing_only);
  CHECK_FALSE(decide_mq_open(kGrants, "telemetry", O_RDONLY).open_existing_only);
}

TEST(Mediation, TooLongNamesAreDenied) {
  std::vector<QueueGrant> grants = {{"/q-*", kPermAll, "a:b", true}};
  CHECK_TRUE(decide_mq_open(grants, "q-" + std::string(253, 'x'), O_RDONLY).allowed);
  CHECK_FALSE(decide_mq_open(grants, "q-" + std::string(254, 'x'), O_RDONLY).allowed);
}

TEST(Mediation, UnlinkNeedsDelete) {
  CHECK_FALSE(decide_mq_unlink(kGrants, "telemetry").allowed);
  STRCMP_EQUAL("delete on hub:telemetry", decide_mq_unlink(kGrants, "telemetry").need.c_str());
  CHECK_TRUE(decide_mq_unlink(kGrants, "own").allowed);
}

TEST(Mediation, PatternMatching) {
  CHECK_TRUE(queue_path_matches("/a", "/a"));
  CHECK_FALSE(queue_path_matches("/a", "/ab"));
  CHECK_TRUE(queue_path_matches("/a-*", "/a-1"));
  CHECK_FALSE(queue_path_matches("/a-*", "/a-"));
  CHECK_FALSE(queue_path_matches("/a-*", "/b-1"));
}

TEST(Mediation, DenialLinesAreRateLimitedAndTheRestCounted) {
  DenialLog log("svc", 3, std::chrono::seconds(1));
  auto start = DenialLog::Clock::now();
  int written = 0;
  for (int i = 0; i < 100; ++i) written += log.report("level=warn msg=denied n=1", start) ? 1 : 0;
  LONGS_EQUAL(3, written);
  LONGS_EQUAL(97, log.suppressed());
  // One interval later one more line is allowed; it first reports what was suppressed.
  CHECK_TRUE(log.report("level=warn msg=denied n=2", start + std::chrono::seconds(1)));
  LONGS_EQUAL(0, log.suppressed());
  CHECK_FALSE(log.report("level=warn msg=denied n=3", start + std::chrono::seconds(1)));
  LONGS_EQUAL(1, log.suppressed());
  log.flush();
  LONGS_EQUAL(0, log.suppressed());
}

// SPEC §15: noise of one kind cannot hide a denial of another.
TEST(Mediation, TheFirstDenialOfEachKindIsAlwaysWrittenAndSuppressionsNameTheirKind) {
  DenialLog log("svc", 2, std::chrono::seconds(1));
  std::vector<std::string> lines;
  log.route_to([&](const std::string&, std::string_view line) { lines.emplace_back(line); });
  auto start = DenialLog::Clock::now();
  int written = 0;
  for (int i = 0; i < 50; ++i) {
    written += log.report("msg=denied syscall=socket", "socket", "probe", start) ? 1 : 0;
  }
  LONGS_EQUAL(2, written);
  // The budget is spent, but setpriority is a new kind: written at once, after the count of
  // what was held back.
  CHECK_TRUE(log.report("msg=denied syscall=setpriority", "setpriority", "allow", start));
  CHECK_FALSE(log.report("msg=denied syscall=setpriority", "setpriority", "allow", start));
  log.flush();
  std::string all;
  for (const auto& line : lines) all += line + "\n";
  STRCMP_CONTAINS("msg=denials-suppressed service=svc count=48 syscall=socket need=probe",
                  all.c_str());
  STRCMP_CONTAINS("msg=denied syscall=setpriority", all.c_str());
  STRCMP_CONTAINS("count=1 syscall=setpriority need=allow", all.c_str());
  LONGS_EQUAL(0, log.suppressed());
}

TEST(Mediation, KindsBeyondTheLimitShareOneBudget) {
  DenialLog log("svc", 1, std::chrono::seconds(1));
  auto start = DenialLog::Clock::now();
  int written = 0;
  for (std::size_t i = 0; i < DenialLog::kMaxKinds + 10; ++i) {
    written += log.report("msg=denied", "mq_open", std::to_string(i), start) ? 1 : 0;
  }
  LONGS_EQUAL(DenialLog::kMaxKinds, written);
  LONGS_EQUAL(10, log.suppressed());
}

namespace {

RefusedCall refused(std::string_view syscall, std::array<std::uint64_t, 6> args) {
  RefusedCall call;
  call.syscall = syscall;
  call.args = args;
  return call;
}

}  // namespace

TEST(Mediation, DenialArgumentsSayWhatMattersForTheCall) {
  STRCMP_EQUAL("AF_INET SOCK_DGRAM|SOCK_CLOEXEC",
               describe_argument(refused("socket", {AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0})).c_str());
  STRCMP_EQUAL("fd 1 request TCGETS", describe_argument(refused("ioctl", {1, 0x5401})).c_str());
  STRCMP_EQUAL("CLONE_NEWNS|CLONE_NEWUSER",
               describe_argument(refused("unshare", {CLONE_NEWNS | CLONE_NEWUSER})).c_str());
  // clone's exit signal is not a flag.
  STRCMP_EQUAL("CLONE_NEWPID", describe_argument(refused("clone", {CLONE_NEWPID | 17})).c_str());
  RefusedCall open = refused("openat", {static_cast<std::uint64_t>(AT_FDCWD), 0x1000});
  open.read_string = [](std::uint64_t address, std::size_t) -> std::optional<std::string> {
    return address == 0x1000 ? std::optional<std::string>("/etc/shadow") : std::nullopt;
  };
  STRCMP_EQUAL("/etc/shadow", describe_argument(open).c_str());
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strcpy(address.sun_path, "/var/run/nscd/socket");
  RefusedCall connect = refused("connect", {3, 0x2000, sizeof address});
  connect.read_memory = [&](std::uint64_t at, void* out, std::size_t size) {
    if (at != 0x2000) return false;
    std::memcpy(out, &address, std::min(size, sizeof address));
    return true;
  };
  STRCMP_EQUAL("AF_UNIX /var/run/nscd/socket", describe_argument(connect).c_str());
  // Unreadable memory leaves the argument out rather than guessing.
  STRCMP_EQUAL("", describe_argument(refused("openat", {0, 0x1000})).c_str());
}

TEST(Mediation, AdviceForCallsNoFilterCanHelpNamesTheManifestChange) {
  auto setgroups = advise(refused("setgroups", {0, 0}), "seccomp.allow: @process");
  STRCMP_CONTAINS("set \"user\"", setgroups.need.c_str());
  CHECK_FALSE(setgroups.recoverable);
  STRCMP_CONTAINS("CAP_SYSLOG", advise(refused("syslog", {3}), "seccomp.allow: syslog").need.c_str());
  STRCMP_CONTAINS("CAP_SYS_NICE",
                  advise(refused("setpriority", {0, 0, static_cast<std::uint64_t>(-5)}),
                         "seccomp.allow: setpriority")
                      .need.c_str());
  // A positive nice value needs only the syscall.
  STRCMP_EQUAL("seccomp.allow: setpriority",
               advise(refused("setpriority", {0, 0, 10}), "seccomp.allow: setpriority").need.c_str());
  // glibc's nscd probe: recoverable, and the advice does not just say "give it sockets".
  auto probe = advise(refused("socket", {AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK}),
                      "seccomp.allow: @network-io");
  CHECK_TRUE(probe.recoverable);
  STRCMP_CONTAINS("nscd", probe.need.c_str());
  auto raw = advise(refused("socket", {AF_INET, SOCK_RAW, 1}), "seccomp.allow: @network-io");
  STRCMP_CONTAINS("net_raw", raw.need.c_str());
}

TEST(Mediation, CallerCredentialsAreTheFsIdsGroupsCapabilitiesAndUmask) {
  const char* status =
      "Name:\tcam\nUmask:\t0027\nState:\tS (sleeping)\nUid:\t1000\t1001\t1002\t1003\n"
      "Gid:\t2000\t2001\t2002\t2003\nFDSize:\t64\nGroups:\t2003 4000 \nCapInh:\t0000000000000000\n"
      "CapEff:\t0000000000003000\n";
  auto parsed = parse_proc_status(status);
  CHECK_TRUE(parsed.has_value());
  LONGS_EQUAL(1003, parsed->credentials.uid);  // the fs uid decides file access
  LONGS_EQUAL(2003, parsed->credentials.gid);
  CHECK_TRUE((parsed->credentials.groups == std::vector<gid_t>{2003, 4000}));
  CHECK_EQUAL(0x3000U, parsed->credentials.capabilities);
  LONGS_EQUAL(0027, parsed->umask);
  // No groups at all is an empty list, not an error.
  auto none = parse_proc_status(
      "Umask:\t0022\nUid:\t1\t1\t1\t1\nGid:\t1\t1\t1\t1\nGroups:\t\n"
      "CapEff:\t0000000000000000\n");
  CHECK_TRUE(none.has_value());
  CHECK_TRUE(none->credentials.groups.empty());
  // Anything missing or malformed: no credentials to act with.
  CHECK_FALSE(parse_proc_status("Uid:\t1\t1\t1\t1\nGid:\t1\t1\t1\t1\n").has_value());
  CHECK_FALSE(parse_proc_status("Umask:\t0022\nUid:\t1\t1\nGid:\t1\t1\t1\t1\nGroups:\t\n"
                                "CapEff:\t0\n")
                  .has_value());
  CHECK_FALSE(parse_proc_status("Umask:\t0022\nUid:\t1\t1\t1\tx\nGid:\t1\t1\t1\t1\nGroups:\t\n"
                                "CapEff:\t0\n")
                  .has_value());
}

TEST(Mediation, PatternBudgetCountsQueuesAndBytes) {
  PatternBudget budget({2, 100});
  CHECK_TRUE(budget.check(60) == PatternBudget::Over::Nothing);
  budget.add("/a", 60, 11);
  CHECK_TRUE(budget.check(50) == PatternBudget::Over::Bytes);
  CHECK_TRUE(budget.check(40) == PatternBudget::Over::Nothing);
  budget.add("/b", 40, 12);
  CHECK_TRUE(budget.check(0) == PatternBudget::Over::Queues);
  budget.add("/b", 10, 13);  // the same path again replaces its share
  LONGS_EQUAL(2, budget.queues());
  LONGS_EQUAL(70, budget.bytes());
  CHECK_TRUE(budget.remove("/a"));
  CHECK_FALSE(budget.remove("/a"));
  LONGS_EQUAL(10, budget.bytes());
  budget.add("/c", 20, 0);
  budget.forget_missing([](const std::string& path, ino_t) { return path != "/b"; });
  LONGS_EQUAL(1, budget.queues());
  LONGS_EQUAL(20, budget.bytes());
}

TEST(Mediation, TokenBucketAllowsABurstThenTheRate) {
  auto start = TokenBucket::Clock::now();
  TokenBucket bucket(3, 10, start);  // 3 at once, then 10 a second
  for (int i = 0; i < 3; ++i) CHECK_TRUE(bucket.take(start));
  CHECK_FALSE(bucket.take(start));
  const auto wait = bucket.wait(start);
  CHECK_TRUE(wait > std::chrono::milliseconds(99) && wait <= std::chrono::milliseconds(101));
  CHECK_FALSE(bucket.take(start + std::chrono::milliseconds(50)));
  CHECK_TRUE(bucket.take(start + std::chrono::milliseconds(100)));
  // Rate 0: unlimited.
  TokenBucket unlimited(0, 0, start);
  for (int i = 0; i < 1000; ++i) CHECK_TRUE(unlimited.take(start));
}

TEST_GROUP(ShmCalls){};

// Which path names an object a service may write, on the text alone (SPEC §2.3).
TEST(ShmCalls, AbsolutePathsNameAnObjectOnlyInDevShmRelativeOnesAreLeftToCheck) {
  const std::vector<ipcrt::runtime::MediatedObject> objects = {
      {"frames", "/run/ipcrt/gw/shm/frames"}, {"sem.ready", "/run/ipcrt/gw/shm/sem.ready"}};
  auto named = [&](const char* path) {
    const auto found = ipcrt::runtime::object_path(objects, path);
    return found.object == nullptr ? std::string("-")
           : found.relative        ? "relative:" + found.directory + ":" + found.object->name
                                   : found.object->name;
  };
  STRCMP_EQUAL("frames", named("/dev/shm/frames").c_str());
  STRCMP_EQUAL("sem.ready", named("/dev/shm/sem.ready").c_str());
  STRCMP_EQUAL("frames", named("//dev//shm/./frames").c_str());
  STRCMP_EQUAL("frames", named("/dev/../dev/shm/frames").c_str());
  STRCMP_EQUAL("frames", named("/../dev/shm/frames").c_str());
  // Not an object: another directory, another name, a directory's name, the name's prefix.
  STRCMP_EQUAL("-", named("/tmp/frames").c_str());
  STRCMP_EQUAL("-", named("/dev/shm/sub/frames").c_str());
  STRCMP_EQUAL("-", named("/dev/shm/../frames").c_str());
  STRCMP_EQUAL("-", named("/dev/shm/frames/").c_str());
  STRCMP_EQUAL("-", named("/dev/shm/frame").c_str());
  STRCMP_EQUAL("-", named("/dev/shm/psm_3f2a").c_str());
  STRCMP_EQUAL("-", named("/dev/shm/.").c_str());
  STRCMP_EQUAL("-", named("").c_str());
  STRCMP_EQUAL("-", named("/tmp/tmpXXXXXX").c_str());
  // Relative: decided against the caller's directory, by the mediator.
  STRCMP_EQUAL("relative::frames", named("frames").c_str());
  STRCMP_EQUAL("relative:./dev/shm/:frames", named("./dev/shm/frames").c_str());
  STRCMP_EQUAL("-", named("other").c_str());
}
