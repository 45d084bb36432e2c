// Mediation decisions as a table: names, patterns, flags and the permission each needs; and
// the rate limit of denial lines.
#include "runtime/mediation/notification.hpp"

#include <CppUTest/TestHarness.h>
#include <fcntl.h>

#include <string>
#include <vector>

#include "config/manifest.hpp"

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
