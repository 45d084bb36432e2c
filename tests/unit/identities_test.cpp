// Dynamic users (SPEC §4.3) on real files: the id registry (allocation, persistence, its file
// format, locking between processes) and the resolution of every service's account and every
// slot's group against passwd/group fixtures.
#include "runtime/identities.hpp"

#include <CppUTest/TestHarness.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "tests/support/process.hpp"

using ipcrt::platform::IdRange;
using ipcrt::platform::IdRegistry;
using ipcrt::runtime::Account;
using ipcrt::runtime::AccountSources;
using ipcrt::runtime::Identities;
using ipcrt::test::TempDir;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

IdRegistry open_registry(const std::string& dir) {
  auto registry = IdRegistry::open_for_update(dir);
  if (!registry) FAIL(registry.error().describe().c_str());
  return std::move(*registry);
}

}  // namespace

TEST_GROUP(IdRegistry){};

TEST(IdRegistry, AKeyKeepsItsIdAcrossSavesAndLoads) {
  TempDir dir;
  unsigned first = 0;
  {
    IdRegistry registry = open_registry(dir.path());
    auto id = registry.allocate("gw/sensor", ipcrt::platform::kDynamicIdRange, {});
    CHECK_TRUE(id.has_value());
    first = *id;
    CHECK_TRUE(ipcrt::platform::kDynamicIdRange.contains(first));
    CHECK_TRUE(registry.save().has_value());
  }
  struct stat info {};
  CHECK_EQUAL(0, ::stat((dir.path() + "/ids").c_str(), &info));
  LONGS_EQUAL(0644, info.st_mode & 07777);
  LONGS_EQUAL(::geteuid(), info.st_uid);
  STRCMP_CONTAINS((std::to_string(first) + " gw/sensor\n").c_str(),
                  read_file(dir.path() + "/ids").c_str());

  IdRegistry again = open_registry(dir.path());
  LONGS_EQUAL(first, again.id_of("gw/sensor").value_or(0));
  // Whatever is taken now: the key keeps what it owns.
  auto kept = again.allocate("gw/sensor", ipcrt::platform::kDynamicIdRange, {first});
  LONGS_EQUAL(first, kept.value_or(0));
  auto read_only = IdRegistry::read_only(dir.path());
  CHECK_TRUE(read_only.has_value());
  LONGS_EQUAL(first, read_only->id_of("gw/sensor").value_or(0));
}

TEST(IdRegistry, TheSameKeyGetsTheSameIdOnAnotherDevice) {
  TempDir one;
  TempDir other;
  IdRegistry first = open_registry(one.path());
  IdRegistry second = open_registry(other.path());
  auto a = first.allocate("gateway/collector", ipcrt::platform::kDynamicIdRange, {});
  auto b = second.allocate("gateway/collector", ipcrt::platform::kDynamicIdRange, {});
  CHECK_TRUE(a.has_value() && b.has_value());
  LONGS_EQUAL(*a, *b);
}

TEST(IdRegistry, TakenIdsAreSkippedNoIdIsGivenTwiceAndAFullRangeIsAnError) {
  TempDir dir;
  IdRegistry registry = open_registry(dir.path());
  const IdRange tiny{100, 104};
  const std::set<unsigned> taken{101, 103};
  std::set<unsigned> given;
  for (const char* key : {"m/a", "m/b", "m/c"}) {
    auto id = registry.allocate(key, tiny, taken);
    CHECK_TRUE_TEXT(id.has_value(), key);
    CHECK_TRUE(tiny.contains(*id));
    CHECK_FALSE_TEXT(taken.contains(*id), key);
    CHECK_TRUE_TEXT(given.insert(*id).second, key);
  }
  auto full = registry.allocate("m/d", tiny, taken);
  CHECK_FALSE(full.has_value());
  STRCMP_CONTAINS("no dynamic id left for m/d in 100-104: 3 belong to keys in",
                  full.error().message.c_str());
  STRCMP_CONTAINS("delete the lines of manifests no longer on this device",
                  full.error().hint.c_str());
}

// A damaged registry is an error naming the line, never silently reset: the file is left as
// it was, for someone to repair.
TEST(IdRegistry, ACorruptFileIsAnErrorWithTheLineAndAHint) {
  struct Case {
    const char* text;
    const char* problem;
  };
  const Case cases[] = {
      {"ipcrt-ids 1\n61200 gw/a\nnot a line\n", "ids:3: expected \"ID KEY\", found \"not a line\""},
      {"61200 gw/a\n", "ids:1: expected \"ipcrt-ids 1\""},
      {"ipcrt-ids 1\n61200 gw/a\n61200 gw/b\n", "ids:3: id given twice"},
      {"ipcrt-ids 1\n61200 gw/a\n61201 gw/a\n", "ids:3: key given twice"},
      {"ipcrt-ids 1\n61200 gw/", "ids:2: the file ends in the middle of a line"},
      {"ipcrt-ids 1\n-5 gw/a\n", "ids:2: expected \"ID KEY\""},
      {"", "is empty"},
  };
  for (const auto& c : cases) {
    TempDir dir;
    std::string path = dir.write_file("ids", c.text);
    ::chmod(path.c_str(), 0644);
    auto registry = IdRegistry::open_for_update(dir.path());
    CHECK_FALSE_TEXT(registry.has_value(), c.problem);
    STRCMP_CONTAINS_TEXT(c.problem, registry.error().message.c_str(), c.problem);
    STRCMP_CONTAINS_TEXT("restore", registry.error().hint.c_str(), c.problem);
    STRCMP_EQUAL_TEXT(c.text, read_file(path).c_str(), "left as it was");
  }
}

TEST(IdRegistry, ARegistryOthersMayWriteIsRefused) {
  TempDir dir;
  std::string path = dir.write_file("ids", "ipcrt-ids 1\n");
  CHECK_EQUAL(0, ::chmod(path.c_str(), 0666));
  auto registry = IdRegistry::read_only(dir.path());
  CHECK_FALSE(registry.has_value());
  STRCMP_CONTAINS("is writable by its group or by others", registry.error().message.c_str());
  CHECK_EQUAL(0, ::chmod(path.c_str(), 0644));
  CHECK_EQUAL(0, ::chmod(dir.path().c_str(), 0777));
  auto in_open_dir = IdRegistry::open_for_update(dir.path());
  CHECK_FALSE(in_open_dir.has_value());
  STRCMP_CONTAINS("state directory", in_open_dir.error().message.c_str());
}

TEST(IdRegistry, AMissingDirectoryIsCreated0755ButNotToLookOnly) {
  TempDir dir;
  const std::string state = dir.path() + "/var/lib/ipcrt";
  auto looked = IdRegistry::read_only(state);
  CHECK_TRUE(looked.has_value());
  LONGS_EQUAL(0, looked->size());
  CHECK_FALSE(looked->save().has_value());
  struct stat info {};
  CHECK_TRUE_TEXT(::stat(state.c_str(), &info) != 0, "looking creates nothing");

  const mode_t old_umask = ::umask(077);
  auto opened = IdRegistry::open_for_update(state);
  ::umask(old_umask);
  CHECK_TRUE_TEXT(opened.has_value(), opened ? "" : opened.error().describe().c_str());
  CHECK_EQUAL(0, ::stat(state.c_str(), &info));
  LONGS_EQUAL(0755, info.st_mode & 07777);
  CHECK_TRUE(opened->save().has_value());
  CHECK_TRUE_TEXT(::stat((state + "/ids").c_str(), &info) != 0, "nothing new: nothing written");
}

TEST(IdRegistry, AHeldLockMakesAnotherUpdateWaitThenGiveUp) {
  TempDir dir;
  IdRegistry holder = open_registry(dir.path());
  auto waiting = IdRegistry::open_for_update(dir.path(), std::chrono::milliseconds(50));
  CHECK_FALSE(waiting.has_value());
  STRCMP_CONTAINS("stays locked by another process", waiting.error().message.c_str());
}

// Two runtimes of different manifests allocate at once: without the lock, one's save would
// drop the other's ids (each read the file before the other wrote it).
TEST(IdRegistry, TwoProcessesAllocatingAtOnceLoseNoIdAndShareNone) {
  TempDir dir;
  constexpr int kRounds = 40;
  pid_t children[2];
  for (int child = 0; child < 2; ++child) {
    children[child] = ::fork();
    if (children[child] == 0) {
      for (int round = 0; round < kRounds; ++round) {
        auto registry = IdRegistry::open_for_update(dir.path());
        if (!registry) ::_exit(1);
        auto key = "m" + std::to_string(child) + "/s" + std::to_string(round);
        if (!registry->allocate(key, ipcrt::platform::kDynamicIdRange, {})) ::_exit(2);
        if (!registry->save()) ::_exit(3);
      }
      ::_exit(0);
    }
  }
  for (pid_t child : children) {
    int status = 0;
    CHECK_EQUAL(child, ::waitpid(child, &status, 0));
    CHECK_TRUE(WIFEXITED(status));
    LONGS_EQUAL(0, WEXITSTATUS(status));
  }
  auto registry = IdRegistry::read_only(dir.path());
  CHECK_TRUE_TEXT(registry.has_value(), registry ? "" : registry.error().describe().c_str());
  LONGS_EQUAL(2 * kRounds, registry->size());
  std::set<unsigned> ids;
  for (int child = 0; child < 2; ++child) {
    for (int round = 0; round < kRounds; ++round) {
      auto id = registry->id_of("m" + std::to_string(child) + "/s" + std::to_string(round));
      CHECK_TRUE(id.has_value());
      CHECK_TRUE(ids.insert(*id).second);
    }
  }
}

namespace {

using ipcrt::config::Connection;
using ipcrt::config::Interface;

// Host accounts: /etc and an extrausers directory, each with passwd and group.
struct Fixture {
  TempDir root;
  AccountSources sources;
  Fixture(const std::string& passwd, const std::string& group, const std::string& extra_passwd,
          IdRange range) {
    for (const char* dir : {"etc", "extrausers", "state"}) {
      ::mkdir((root.path() + "/" + dir).c_str(), 0755);
    }
    root.write_file("etc/passwd", passwd);
    root.write_file("etc/group", group);
    root.write_file("extrausers/passwd", extra_passwd);  // no extrausers/group: empty
    sources.account_dirs = {root.path() + "/etc", root.path() + "/extrausers"};
    sources.state_dir = root.path() + "/state";
    sources.range = range;
  }

  ipcrt::Result<Identities> resolve(const ipcrt::config::Manifest& manifest,
                                    const std::vector<Connection>& connections = {}) {
    auto accounts = ipcrt::platform::UserDatabase::load(sources.account_dirs);
    if (!accounts) return std::unexpected(accounts.error());
    auto registry = IdRegistry::open_for_update(sources.state_dir);
    if (!registry) return std::unexpected(registry.error());
    auto identities =
        ipcrt::runtime::resolve_identities(manifest, connections, *accounts, *registry, sources);
    if (identities) {
      auto saved = registry->save();
      if (!saved) return std::unexpected(saved.error());
    }
    return identities;
  }
};

const char* kPasswd =
    "root:x:0:0:root:/root:/bin/bash\n"
    "sensor:x:1001:1001::/home/sensor:/bin/dash\n";
const char* kGroup =
    "root:x:0:\n"
    "sensor:x:1001:\n"
    "dialout:x:20:sensor\n"
    "video:x:44:\n";

ipcrt::config::Service service(const std::string& name) {
  ipcrt::config::Service result;
  result.name = name;
  result.command = {"/bin/true"};
  result.pointer = "/services/" + name;
  return result;
}

ipcrt::config::Slot slot(const std::string& service_name, const std::string& name) {
  ipcrt::config::Slot result;
  result.name = name;
  result.identifier = name;
  ipcrt::config::MqSlot queue;
  queue.paths = {"/" + name};
  result.attributes = queue;
  result.pointer = "/services/" + service_name + "/slots/" + name;
  return result;
}

ipcrt::config::Manifest manifest(std::vector<ipcrt::config::Service> services) {
  ipcrt::config::Manifest result;
  result.file = "gw.json";
  result.name = "gw";
  result.services = std::move(services);
  return result;
}

Connection plugged(const std::string& service, const std::string& slot_service,
                   const std::string& slot_name) {
  return Connection{service, slot_name, slot_service, slot_name, Interface::PosixMq, true};
}

bool in(const std::vector<gid_t>& groups, gid_t gid) {
  return std::ranges::find(groups, gid) != groups.end();
}

}  // namespace

TEST_GROUP(Identities){};

// hub owns slot q; app and the explicit user sensor plug into it; loner plugs into nothing.
TEST(Identities, EveryServiceAndSlotGetsIdsOfItsOwnAndConsumersGetTheSlotsGroupOnly) {
  Fixture fixture(kPasswd, kGroup, "", ipcrt::platform::kDynamicIdRange);
  auto hub = service("hub");
  hub.slots = {slot("hub", "q")};
  auto sensor = service("sensor");
  sensor.user = "sensor";
  auto m = manifest({hub, service("app"), service("loner"), sensor});
  auto resolved = fixture.resolve(m, {plugged("app", "hub", "q"), plugged("sensor", "hub", "q")});
  CHECK_TRUE_TEXT(resolved.has_value(), resolved ? "" : resolved.error().describe().c_str());

  const gid_t q = resolved->slot_group("hub:q").value_or(0);
  CHECK_TRUE(ipcrt::platform::kDynamicIdRange.contains(q));
  std::set<unsigned> ids{q};
  for (const char* name : {"hub", "app", "loner"}) {
    const Account& account = resolved->account(name);
    CHECK_TRUE_TEXT(account.dynamic, name);
    CHECK_TRUE_TEXT(ipcrt::platform::kDynamicIdRange.contains(account.identity.uid), name);
    LONGS_EQUAL_TEXT(account.identity.uid, account.identity.gid, name);
    CHECK_TRUE_TEXT(ids.insert(account.identity.uid).second, "never shared");
    STRCMP_EQUAL_TEXT((std::string("ipcrt-") + name).c_str(), account.user_name.c_str(), name);
    STRCMP_EQUAL_TEXT((fixture.sources.state_dir + "/gw/" + name).c_str(), account.home.c_str(),
                      name);
    STRCMP_EQUAL("/bin/sh", account.shell.c_str());
  }
  const auto& hub_groups = resolved->account("hub").identity.groups;
  CHECK(hub_groups == (std::vector<gid_t>{resolved->account("hub").identity.gid, q}));
  const auto& app_groups = resolved->account("app").identity.groups;
  CHECK(app_groups == (std::vector<gid_t>{resolved->account("app").identity.gid, q}));
  const auto& loner_groups = resolved->account("loner").identity.groups;
  CHECK(loner_groups == (std::vector<gid_t>{resolved->account("loner").identity.gid}));
  // An explicit user keeps its primary group and its /etc/group memberships.
  const Account& explicit_user = resolved->account("sensor");
  CHECK_FALSE(explicit_user.dynamic);
  LONGS_EQUAL(1001, explicit_user.identity.uid);
  CHECK(explicit_user.identity.groups == (std::vector<gid_t>{1001, 20, q}));
  STRCMP_EQUAL("sensor", explicit_user.user_name.c_str());
  STRCMP_EQUAL("/home/sensor", explicit_user.home.c_str());
  STRCMP_EQUAL("/bin/dash", explicit_user.shell.c_str());
  CHECK_FALSE_TEXT(in(app_groups, 20), "no group of another service travels");
}

TEST(Identities, IdsStayWithTheirServiceAcrossRunsAndManifestChanges) {
  Fixture fixture(kPasswd, kGroup, "", ipcrt::platform::kDynamicIdRange);
  auto hub = service("hub");
  hub.slots = {slot("hub", "q")};
  auto first = fixture.resolve(manifest({hub, service("app")}));
  CHECK_TRUE(first.has_value());
  // Another run, with a service added before the others: nobody's ids move.
  auto second = fixture.resolve(manifest({service("new"), service("app"), hub}));
  CHECK_TRUE(second.has_value());
  LONGS_EQUAL(first->account("hub").identity.uid, second->account("hub").identity.uid);
  LONGS_EQUAL(first->account("app").identity.uid, second->account("app").identity.uid);
  LONGS_EQUAL(*first->slot_group("hub:q"), *second->slot_group("hub:q"));
  CHECK(second->account("new").identity.uid != second->account("app").identity.uid);
}

// In a range of four, /etc/passwd, /etc/group and extrausers' passwd each hold one id: the only
// free one is the fourth, and a second dynamic user finds none.
TEST(Identities, IdsOfHostAccountsAreNeverGivenAndAnExhaustedRangeIsAnError) {
  Fixture fixture(std::string(kPasswd) + "taken:x:5000:44::/:/bin/sh\n",
                  std::string(kGroup) + "taken-group:x:5001:\n", "snapuser:x:5002:5002::/:\n",
                  {5000, 5003});
  auto one = fixture.resolve(manifest({service("only")}));
  CHECK_TRUE_TEXT(one.has_value(), one ? "" : one.error().describe().c_str());
  LONGS_EQUAL(5003, one->account("only").identity.uid);
  auto two = fixture.resolve(manifest({service("only"), service("second")}));
  CHECK_FALSE(two.has_value());
  STRCMP_CONTAINS("gw.json: /services/second: no dynamic id left for gw/second in 5000-5003",
                  two.error().message.c_str());
}

TEST(Identities, AGroupWithoutAUserIsTheDynamicUsersPrimaryGroup) {
  Fixture fixture(kPasswd, kGroup, "", ipcrt::platform::kDynamicIdRange);
  auto camera = service("camera");
  camera.group = "video";
  auto resolved = fixture.resolve(manifest({camera}));
  CHECK_TRUE(resolved.has_value());
  const Account& account = resolved->account("camera");
  CHECK_TRUE(account.dynamic);
  CHECK_TRUE(ipcrt::platform::kDynamicIdRange.contains(account.identity.uid));
  LONGS_EQUAL(44, account.identity.gid);
  CHECK(account.identity.groups == (std::vector<gid_t>{44}));
}

TEST(Identities, AnExplicitIdThatIsAnotherKeysDynamicIdIsAnError) {
  Fixture fixture(kPasswd, kGroup, "", ipcrt::platform::kDynamicIdRange);
  auto hub = service("hub");
  hub.slots = {slot("hub", "q")};
  auto first = fixture.resolve(manifest({hub}));
  CHECK_TRUE(first.has_value());
  const gid_t q = *first->slot_group("hub:q");
  auto intruder = service("intruder");
  intruder.user = "1001";
  intruder.group = std::to_string(q);
  auto clash = fixture.resolve(manifest({hub, intruder}));
  CHECK_FALSE(clash.has_value());
  STRCMP_CONTAINS(("gw.json: /services/intruder/group: id " + std::to_string(q) +
                   " is the dynamic id of gw/hub:q")
                      .c_str(),
                  clash.error().message.c_str());
  // Its own former dynamic uid, written out, keeps a service its files.
  auto kept = service("hub");
  kept.slots = hub.slots;
  kept.user = std::to_string(first->account("hub").identity.uid);
  CHECK_TRUE(fixture.resolve(manifest({kept})).has_value());
}

TEST(Identities, ADynamicIdAHostAccountTookSinceIsAnError) {
  Fixture fixture(kPasswd, kGroup, "", ipcrt::platform::kDynamicIdRange);
  auto first = fixture.resolve(manifest({service("app")}));
  CHECK_TRUE(first.has_value());
  const unsigned uid = first->account("app").identity.uid;
  fixture.root.write_file("extrausers/passwd",
                          "late:x:" + std::to_string(uid) + ":" + std::to_string(uid) + "::/:\n");
  auto after = fixture.resolve(manifest({service("app")}));
  CHECK_FALSE(after.has_value());
  STRCMP_CONTAINS(("dynamic uid " + std::to_string(uid) + " of gw/app").c_str(),
                  after.error().message.c_str());
  STRCMP_CONTAINS("is now also used by a host account", after.error().message.c_str());
}

TEST(Identities, PreviewWritesNothing) {
  Fixture fixture(kPasswd, kGroup, "", ipcrt::platform::kDynamicIdRange);
  auto previewed =
      ipcrt::runtime::preview_identities(manifest({service("app")}), {}, fixture.sources);
  CHECK_TRUE(previewed.has_value());
  auto resolved = fixture.resolve(manifest({service("app")}));
  LONGS_EQUAL(previewed->account("app").identity.uid, resolved->account("app").identity.uid);
  fixture.sources.state_dir = fixture.root.path() + "/never";
  CHECK_TRUE(ipcrt::runtime::preview_identities(manifest({service("app")}), {}, fixture.sources)
                 .has_value());
  struct stat info {};
  CHECK_TRUE(::stat(fixture.sources.state_dir.c_str(), &info) != 0);
}
