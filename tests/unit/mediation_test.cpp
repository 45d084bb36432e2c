// Mediation decisions as a table: names, patterns, flags and the permission each needs; the
// rate limits; the pattern budget; the caller's credentials as /proc shows them.
#include <CppUTest/TestHarness.h>
#include <fcntl.h>

#include <chrono>
#include <string>
#include <vector>

#include "config/manifest.hpp"
#include "runtime/mediation/budget.hpp"
#include "runtime/mediation/credentials.hpp"
#include "runtime/mediation/notification.hpp"
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
