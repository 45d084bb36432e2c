// Dynamic users under `ipcrt run` on the real kernel (SPEC §4.3): services without `user` run
// as ids of their own, queues belong to their slot's service and the slot's group, and only
// services connected to the slot have that group. boot-probe prints what each service is.
// The registry is the suite's (IPCRT_STATE_DIR, see tests/main.cpp).
#include <CppUTest/TestHarness.h>
#include <mqueue.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "platform/id_registry.hpp"
#include "tests/support/process.hpp"
#include "tests/support/system_state.hpp"

using ipcrt::test::TempDir;
using ipcrt::test::unique_name;

namespace {

std::string probe() {
  return IPCRT_BOOT_PROBE;
}

std::string state_dir() {
  const char* dir = std::getenv("IPCRT_STATE_DIR");
  return dir != nullptr ? dir : "";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

bool dynamic(unsigned id) {
  return ipcrt::platform::kDynamicIdRange.contains(id);
}

// One "SERVICE: uid=U gid=G groups=A,B home=H user=U logname=L shell=S" line of boot-probe.
struct SeenIds {
  unsigned uid = 0;
  unsigned gid = 0;
  std::vector<unsigned> groups;
  std::string home, user, logname, shell;
  bool found = false;

  SeenIds(const std::string& out, const std::string& service) {
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
      if (!line.starts_with(service + ": uid=")) continue;
      std::istringstream fields(line.substr(service.size() + 2));
      std::string field;
      while (fields >> field) {
        const auto equals = field.find('=');
        const std::string key = field.substr(0, equals);
        const std::string value = field.substr(equals + 1);
        if (key == "uid") uid = std::stoul(value);
        if (key == "gid") gid = std::stoul(value);
        if (key == "home") home = value;
        if (key == "user") user = value;
        if (key == "logname") logname = value;
        if (key == "shell") shell = value;
        if (key == "groups") {
          std::istringstream list(value);
          std::string group;
          while (std::getline(list, group, ',')) groups.push_back(std::stoul(group));
        }
      }
      found = true;
    }
  }
  [[nodiscard]] bool has_group(unsigned gid_wanted) const {
    for (unsigned group : groups) {
      if (group == gid_wanted) return true;
    }
    return false;
  }
};

// A provider of one queue, a consumer plugged into it and an outsider that is not; the two
// run unconfined, so their mq_open meets the kernel's permission check and nothing else.
struct QueueManifest {
  std::string name = unique_name("du");
  std::string queue = "/" + unique_name("duq");
  ~QueueManifest() { ::mq_unlink(queue.c_str()); }

  [[nodiscard]] std::string text() const {
    return "{\"version\": 1, \"name\": \"" + name + "\", \"services\": {\n" +
           "  \"provider\": {\"command\": [\"" + probe() +
           "\", \"ids\"], \"slots\": {\"telemetry\": {\"interface\": \"posix-mq\", \"path\": \"" +
           queue + "\"}}},\n" + "  \"consumer\": {\"command\": [\"" + probe() + "\", \"ids\", \"" +
           queue +
           "\"], \"confinement\": \"off\", \"plugs\": {\"telemetry\": {\"interface\": "
           "\"posix-mq\"}}},\n" +
           "  \"outsider\": {\"command\": [\"" + probe() + "\", \"ids\", \"" + queue +
           "\"], \"confinement\": \"off\"}}}\n";
  }
};

}  // namespace

TEST_GROUP(DynamicUsers){};

TEST(DynamicUsers, ServicesRunAsIdsOfTheirOwnAndOnlyConnectedOnesReachTheSlotsQueue) {
  QueueManifest m;
  TempDir dir;
  const std::string manifest = dir.write_file("manifest.json", m.text());
  auto result = ipcrt::test::run_ipcrt({"run", manifest});
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  const SeenIds provider(result.out, "provider");
  const SeenIds consumer(result.out, "consumer");
  const SeenIds outsider(result.out, "outsider");
  CHECK_TEXT(provider.found && consumer.found && outsider.found, result.out.c_str());

  for (const SeenIds* seen : {&provider, &consumer, &outsider}) {
    CHECK_TEXT(dynamic(seen->uid), result.out.c_str());
    LONGS_EQUAL_TEXT(seen->uid, seen->gid, result.out.c_str());
    CHECK_TEXT(seen->has_group(seen->gid), result.out.c_str());
  }
  CHECK(provider.uid != consumer.uid && consumer.uid != outsider.uid &&
        provider.uid != outsider.uid);

  // The queue: the provider's uid and the slot's own group, the manifest's mode.
  auto queue = ipcrt::test::queue_state(m.queue);
  CHECK(queue.has_value());
  LONGS_EQUAL(provider.uid, queue->owner);
  const unsigned slot_group = queue->group;
  CHECK_TEXT(dynamic(slot_group), "the slot's group is a dynamic gid");
  CHECK(slot_group != provider.uid && slot_group != consumer.uid && slot_group != outsider.uid);
  LONGS_EQUAL(0660, queue->mode);
  CHECK_TEXT(provider.has_group(slot_group), result.out.c_str());
  CHECK_TEXT(consumer.has_group(slot_group), result.out.c_str());
  CHECK_FALSE_TEXT(outsider.has_group(slot_group), result.out.c_str());
  LONGS_EQUAL_TEXT(2, consumer.groups.size(), "its own group and the slot's: nothing else");
  CHECK_TEXT(contains(result.out, "consumer: mq_open " + m.queue + " ok"), result.out.c_str());
  CHECK_TEXT(contains(result.out, "outsider: mq_open " + m.queue + " errno=EACCES"),
             result.out.c_str());

  // The account's variables (SPEC §4.3).
  STRCMP_EQUAL((state_dir() + "/" + m.name + "/consumer").c_str(), consumer.home.c_str());
  STRCMP_EQUAL("ipcrt-consumer", consumer.user.c_str());
  STRCMP_EQUAL("ipcrt-consumer", consumer.logname.c_str());
  STRCMP_EQUAL("/bin/sh", consumer.shell.c_str());

  // Recorded in the registry, which another run reads back: the same ids.
  const std::string ids = read_file(state_dir() + "/ids");
  CHECK_TEXT(contains(ids, std::to_string(provider.uid) + " " + m.name + "/provider\n"),
             ids.c_str());
  CHECK_TEXT(contains(ids, std::to_string(slot_group) + " " + m.name + "/provider:telemetry\n"),
             ids.c_str());
  struct stat info {};
  CHECK_EQUAL(0, ::stat((state_dir() + "/ids").c_str(), &info));
  LONGS_EQUAL(0644, info.st_mode & 07777);
  auto again = ipcrt::test::run_ipcrt({"run", manifest});
  LONGS_EQUAL_TEXT(0, again.exit_code, again.err.c_str());
  LONGS_EQUAL(provider.uid, SeenIds(again.out, "provider").uid);
  LONGS_EQUAL(consumer.uid, SeenIds(again.out, "consumer").uid);
}

// `plan` shows the ids and variables `run` will use, and allocates nothing: only `run` does.
TEST(DynamicUsers, PlanShowsTheIdsRunWillUseWithoutRecordingThem) {
  QueueManifest m;
  TempDir dir;
  const std::string manifest = dir.write_file("manifest.json", m.text());
  auto planned = ipcrt::test::run_ipcrt({"plan", manifest, "--json"});
  LONGS_EQUAL_TEXT(0, planned.exit_code, planned.err.c_str());
  auto json = nlohmann::json::parse(planned.out);
  const auto& provider = json["services"][0];
  STRCMP_EQUAL("provider", provider["name"].get<std::string>().c_str());
  const unsigned uid = provider["uid"].get<unsigned>();
  CHECK_TRUE(dynamic(uid));
  LONGS_EQUAL(uid, provider["gid"].get<unsigned>());
  STRCMP_EQUAL("ipcrt-provider", provider["environment"]["USER"].get<std::string>().c_str());
  CHECK_TRUE(json["queues"][0]["owner"].get<std::string>().starts_with(std::to_string(uid) + ":"));
  CHECK_FALSE_TEXT(contains(read_file(state_dir() + "/ids"), " " + m.name + "/"),
                   "plan recorded an id");

  auto text = ipcrt::test::run_ipcrt({"plan", manifest});
  CHECK_TEXT(contains(text.out, "user ipcrt-provider uid " + std::to_string(uid)),
             text.out.c_str());
  CHECK_TEXT(contains(text.out, "env HOME=" + state_dir() + "/" + m.name + "/provider"),
             text.out.c_str());

  auto run = ipcrt::test::run_ipcrt({"run", manifest});
  LONGS_EQUAL_TEXT(0, run.exit_code, run.err.c_str());
  LONGS_EQUAL(uid, SeenIds(run.out, "provider").uid);
}

// Root has to be asked for by name, and is worth a second look.
TEST(DynamicUsers, RootWrittenOutGetsAWarningFromValidateAndPlan) {
  for (const char* root : {"\"root\"", "0"}) {
    TempDir dir;
    const std::string manifest = dir.write_file(
        "manifest.json", "{\"version\": 1, \"name\": \"" + unique_name("dr") +
                             "\", \"services\": {\"a\": {\"command\": [\"/bin/true\"], "
                             "\"user\": " +
                             root + "}}}\n");
    for (const char* command : {"validate", "plan"}) {
      auto result = ipcrt::test::run_ipcrt({command, manifest});
      LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
      CHECK_TEXT(contains(result.err, "/services/a/user: warning: runs as root"),
                 result.err.c_str());
    }
  }
}
