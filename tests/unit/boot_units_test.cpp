// Pure parts of boot: passwd/group parsing and identity resolution, launch preparation,
// /proc/<pid>/stat parsing for session containment.
#include <CppUTest/TestHarness.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform/process.hpp"
#include "platform/shm.hpp"
#include "platform/users.hpp"
#include "runtime/launch.hpp"
#include "runtime/supervisor.hpp"
#include "runtime/seccomp/groups.hpp"
#include "tests/support/process.hpp"

using ipcrt::platform::UserDatabase;

namespace {

const char* kPasswd =
    "root:x:0:0:root:/root:/bin/bash\n"
    "# a comment\n"
    "+nis-entry\n"
    "sensor:x:1001:1001::/home/sensor:/bin/sh\n"
    "broken line\n"
    "uploader:x:1002:100::/:/usr/sbin/nologin\n";
const char* kGroup =
    "root:x:0:\n"
    "users:x:100:\n"
    "sensor:x:1001:\n"
    "dialout:x:20:sensor,uploader\n"
    "video:x:44:uploader\n";

UserDatabase database() {
  return UserDatabase(ipcrt::platform::parse_passwd(kPasswd), ipcrt::platform::parse_group(kGroup));
}

}  // namespace

TEST_GROUP(Users){};

TEST(Users, ParsesValidLinesAndSkipsTheRest) {
  auto users = ipcrt::platform::parse_passwd(kPasswd);
  LONGS_EQUAL(3, users.size());
  STRCMP_EQUAL("uploader", users[2].name.c_str());
  LONGS_EQUAL(1002, users[2].uid);
  LONGS_EQUAL(100, users[2].gid);
  STRCMP_EQUAL("/", users[2].home.c_str());
  STRCMP_EQUAL("/usr/sbin/nologin", users[2].shell.c_str());
  auto groups = ipcrt::platform::parse_group(kGroup);
  LONGS_EQUAL(5, groups.size());
  LONGS_EQUAL(2, groups[3].members.size());
}

TEST(Users, ResolvesANameToItsPrimaryAndSupplementaryGroups) {
  auto identity = database().resolve(std::string("uploader"), std::nullopt);
  CHECK_TRUE(identity.has_value());
  LONGS_EQUAL(1002, identity->uid);
  LONGS_EQUAL(100, identity->gid);
  CHECK(identity->groups == (std::vector<gid_t>{100, 20, 44}));
}

TEST(Users, GroupOverridesThePrimaryGroup) {
  auto identity = database().resolve(std::string("sensor"), std::string("dialout"));
  CHECK_TRUE(identity.has_value());
  LONGS_EQUAL(1001, identity->uid);
  LONGS_EQUAL(20, identity->gid);
  CHECK(identity->groups == (std::vector<gid_t>{20}));
}

TEST(Users, NumbersResolveEvenWithoutAnEntry) {
  auto identity = database().resolve(std::string("4321"), std::nullopt);
  CHECK_TRUE(identity.has_value());
  LONGS_EQUAL(4321, identity->uid);
  LONGS_EQUAL(4321, identity->gid);
  auto known = database().resolve(std::string("1001"), std::string("100"));
  LONGS_EQUAL(1001, known->uid);
  LONGS_EQUAL(100, known->gid);
}

TEST(Users, UnknownNamesAreErrorsWithAHint) {
  auto user = database().resolve(std::string("nobody-here"), std::nullopt);
  CHECK_FALSE(user.has_value());
  STRCMP_EQUAL("unknown user \"nobody-here\"", user.error().message.c_str());
  CHECK_FALSE(user.error().hint.empty());
  auto group = database().resolve(std::nullopt, std::string("nogroup-here"));
  CHECK_FALSE(group.has_value());
  STRCMP_EQUAL("unknown group \"nogroup-here\"", group.error().message.c_str());
}

TEST_GROUP(LaunchPreparation){};

TEST(LaunchPreparation, EnvironmentMountsRlimitsAndIdentity) {
  ipcrt::config::Service service;
  service.name = "uploader";
  service.command = {"/usr/bin/uploader", "--fast"};
  service.environment = {{"LOG_LEVEL", "info"}, {"IPCRT_SERVICE", "spoofed"}};
  service.user = "uploader";
  service.working_directory = "/var/lib/uploader";
  service.rlimits = {{"nofile", RLIMIT_NOFILE, 64, 128}};
  ipcrt::runtime::PlannedService planned;
  planned.name = "uploader";
  planned.shm_dir = "/dev/shm/ipcrt.gw.uploader";
  planned.shm_store = "/run/ipcrt/gw/shm";
  planned.shm = {{"frames", false, "hub:frames"}, {"state", true, "hub:frames"}};
  planned.environment = {{"IPCRT_SERVICE", "uploader"}, {"IPCRT_TELEMETRY_PATHS", "/a:/b"}};
  ipcrt::platform::Identity identity{1002, 100, {100, 20}};
  rlimit msgqueue{819200, 819200};

  auto spec = ipcrt::runtime::prepare_launch(
      service, planned, identity, {}, {{RLIMIT_MSGQUEUE, msgqueue}, {RLIMIT_NOFILE, {1, 1}}});
  CHECK(spec.arguments == service.command);
  CHECK(spec.environment ==
        (std::vector<std::string>{std::string("PATH=") + ipcrt::runtime::kDefaultPath,
                                  "LOG_LEVEL=info", "IPCRT_SERVICE=uploader",
                                  "IPCRT_TELEMETRY_PATHS=/a:/b"}));
  CHECK_TRUE(spec.new_mount_namespace);
  CHECK_TRUE(spec.sandboxed);
  // The private /dev is assembled in the shm dir, its /dev/shm beneath it.
  STRCMP_EQUAL("/dev/shm/ipcrt.gw.uploader", spec.sandbox.staging.c_str());
  STRCMP_EQUAL("/dev/shm/ipcrt.gw.uploader/shm", spec.sandbox.staged_shm.c_str());
  CHECK_TRUE(spec.private_shm_dir.empty());
  LONGS_EQUAL(6, spec.sandbox.device_nodes.size());
  STRCMP_EQUAL("/dev/null", spec.sandbox.device_nodes[0].source.c_str());
  STRCMP_EQUAL("/dev/shm/ipcrt.gw.uploader/null", spec.sandbox.device_nodes[0].target.c_str());
  STRCMP_EQUAL("size=16777216,mode=1777", spec.sandbox.shm_options.c_str());
  // Not uid 0: the host's mounts keep their own flags.
  CHECK_TRUE(spec.sandbox.readonly_mounts.empty());
  LONGS_EQUAL(2, spec.shm_mounts.size());
  // From the runtime's own tmpfs, never the host's /dev/shm.
  STRCMP_EQUAL("/run/ipcrt/gw/shm/frames", spec.shm_mounts[0].source.c_str());
  STRCMP_EQUAL("/dev/shm/ipcrt.gw.uploader/shm/frames", spec.shm_mounts[0].target.c_str());
  CHECK_TRUE(spec.shm_mounts[0].read_only);
  CHECK_FALSE(spec.shm_mounts[1].read_only);
  // The manifest's nofile wins over the default; msgqueue falls back to the runtime's own.
  LONGS_EQUAL(2, spec.rlimits.size());
  LONGS_EQUAL(RLIMIT_NOFILE, spec.rlimits[0].resource);
  LONGS_EQUAL(64, spec.rlimits[0].value.rlim_cur);
  LONGS_EQUAL(RLIMIT_MSGQUEUE, spec.rlimits[1].resource);
  CHECK_TRUE(spec.change_identity);
  LONGS_EQUAL(1002, spec.identity.uid);
  STRCMP_EQUAL("/var/lib/uploader", spec.working_directory.c_str());
  CHECK_TRUE(spec.filter.instructions.empty());
}

TEST(LaunchPreparation, ConfinementOffKeepsTheHostsShmAndNamespace) {
  ipcrt::config::Service service;
  service.name = "debug";
  service.command = {"/bin/true"};
  service.confinement = ipcrt::config::Confinement::Off;
  service.environment = {{"PATH", "/opt/bin"}};
  ipcrt::runtime::PlannedService planned;
  planned.name = "debug";
  planned.shm_dir = "/dev/shm/ipcrt.gw.debug";
  planned.shm = {{"frames", true, "hub:frames"}};
  auto spec = ipcrt::runtime::prepare_launch(service, planned, {}, {});
  CHECK_FALSE(spec.new_mount_namespace);
  CHECK_FALSE(spec.sandboxed);
  CHECK_TRUE(spec.private_shm_dir.empty());
  CHECK_TRUE(spec.shm_mounts.empty());
  CHECK_TRUE_TEXT(spec.change_identity, "unconfined services switch user too (SPEC §4.3)");
  CHECK(spec.environment == (std::vector<std::string>{"PATH=/opt/bin"}));
}

TEST(LaunchPreparation, AFailingPhaseIsNamedWithItsErrnoAndPath) {
  ipcrt::runtime::LaunchSpec spec;
  spec.service = "missing";
  spec.arguments = {"/nonexistent/ipcrt-program"};
  auto launched = ipcrt::runtime::launch(spec);
  CHECK_FALSE(launched.has_value());
  STRCMP_EQUAL("phase=exec errno=ENOENT path=/nonexistent/ipcrt-program",
               launched.error().describe().c_str());
  STRCMP_CONTAINS("command[0] does not exist in the service's view",
                  std::string(launched.error().hint()).c_str());
}

TEST(LaunchPreparation, AMissingWorkingDirectoryIsNamed) {
  ipcrt::runtime::LaunchSpec spec;
  spec.service = "lost";
  spec.arguments = {"/bin/true"};
  spec.working_directory = "/nonexistent/ipcrt-dir";
  auto launched = ipcrt::runtime::launch(spec);
  CHECK_FALSE(launched.has_value());
  STRCMP_EQUAL("phase=working-directory errno=ENOENT path=/nonexistent/ipcrt-dir",
               launched.error().describe().c_str());
  STRCMP_CONTAINS("does not exist in the service's view",
                  std::string(launched.error().hint()).c_str());
}

TEST_GROUP(RestartBackoff){};

TEST(RestartBackoff, DoublesFromTheStartAndIsCapped) {
  using std::chrono::milliseconds;
  LONGS_EQUAL(100,
              ipcrt::runtime::restart_delay(milliseconds(100), 0, milliseconds(30000)).count());
  LONGS_EQUAL(800,
              ipcrt::runtime::restart_delay(milliseconds(100), 3, milliseconds(30000)).count());
  LONGS_EQUAL(30000,
              ipcrt::runtime::restart_delay(milliseconds(100), 9, milliseconds(30000)).count());
  LONGS_EQUAL(30000,
              ipcrt::runtime::restart_delay(milliseconds(100), 4000, milliseconds(30000)).count());
}

// platform::remove_private_dir against a user who swaps the dir for a symlink, or plants one.
TEST_GROUP(PrivateDirCleanup){};

namespace {

bool present(const std::string& path) {
  struct stat info {};
  return ::lstat(path.c_str(), &info) == 0;
}

}  // namespace

TEST(PrivateDirCleanup, NeverFollowsASymlinkSwappedInForTheDir) {
  ipcrt::test::TempDir victim;
  std::string kept = victim.write_file("kept", "x");
  std::string dir = "/dev/shm/ipcrt." + ipcrt::test::unique_name("pc") + ".svc";
  std::string moved = dir + ".moved";
  auto created = ipcrt::platform::create_private_dir(dir);
  CHECK_TRUE_TEXT(created.has_value(), created ? "" : created.error().describe().c_str());
  CHECK_EQUAL(0, ::rename(dir.c_str(), moved.c_str()));
  CHECK_EQUAL(0, ::symlink(victim.path().c_str(), dir.c_str()));

  auto removed = ipcrt::platform::remove_private_dir(dir);
  bool kept_survived = present(kept);
  bool link_still_there = present(dir);
  ::unlink(dir.c_str());
  ::rmdir(moved.c_str());
  CHECK_FALSE(removed.has_value());
  CHECK_TRUE_TEXT(kept_survived, "the victim's file survives");
  CHECK_TRUE(link_still_there);
}

TEST(PrivateDirCleanup, LeavesADirOwnedByAnotherUserAndEmptiesOurs) {
  std::string dir = "/dev/shm/ipcrt." + ipcrt::test::unique_name("pc") + ".svc";
  CHECK_EQUAL(0, ::mkdir(dir.c_str(), 0700));
  ::close(::open((dir + "/theirs").c_str(), O_CREAT | O_WRONLY, 0600));
  CHECK_EQUAL(0, ::chown(dir.c_str(), 65534, 65534));
  auto refused = ipcrt::platform::remove_private_dir(dir);
  bool theirs_survived = present(dir + "/theirs");
  CHECK_EQUAL(0, ::chown(dir.c_str(), ::geteuid(), ::getegid()));
  if (refused.has_value() || !theirs_survived) {
    ::unlink((dir + "/theirs").c_str());
    ::rmdir(dir.c_str());
  }
  CHECK_FALSE(refused.has_value());
  CHECK_TRUE(theirs_survived);

  auto removed = ipcrt::platform::remove_private_dir(dir);
  CHECK_TRUE_TEXT(removed.has_value(), removed ? "" : removed.error().describe().c_str());
  CHECK_FALSE(present(dir));
}

TEST_GROUP(Containment){};

TEST(Containment, ProcStatFieldsAreReadAfterTheLastParenthesisOfTheName) {
  auto plain = ipcrt::platform::parse_process_stat("4242 (sleep) S 1 4240 4239 0 -1 4194560 99");
  CHECK_TRUE(plain.has_value());
  LONGS_EQUAL(4242, plain->pid);
  LONGS_EQUAL('S', plain->state);
  LONGS_EQUAL(1, plain->parent);
  LONGS_EQUAL(4240, plain->process_group);
  LONGS_EQUAL(4239, plain->session);
  // A program chooses its own name: spaces and ") Z 1 1 1" in it must not fool the parser.
  auto hostile = ipcrt::platform::parse_process_stat("77 (a) Z 1 1 1 (x) R 70 71 72 0 -1\n");
  CHECK_TRUE(hostile.has_value());
  LONGS_EQUAL('R', hostile->state);
  LONGS_EQUAL(70, hostile->parent);
  LONGS_EQUAL(72, hostile->session);
  CHECK_FALSE(ipcrt::platform::parse_process_stat("").has_value());
  CHECK_FALSE(ipcrt::platform::parse_process_stat("12 (cut) S 1 2").has_value());
  CHECK_FALSE(ipcrt::platform::parse_process_stat("x (y) S 1 2 3").has_value());
}

TEST(Containment, OwnSessionIsListedWithThisProcessInIt) {
  auto members = ipcrt::platform::list_session(::getsid(0));
  CHECK_TRUE_TEXT(members.has_value(), members ? "" : members.error().describe().c_str());
  bool found = false;
  for (const auto& member : *members) {
    found = found || member.pid == ::getpid();
    LONGS_EQUAL(::getsid(0), member.session);
  }
  CHECK_TRUE(found);
  CHECK_FALSE(ipcrt::platform::list_session(1, "/nonexistent-proc").has_value());
}

// A confined service must not leave its session (containment); setpgid stays, it cannot.
TEST(Containment, SetsidIsOnlyInProcessNotInDefault) {
  auto contains = [](std::string_view group_name, std::string_view syscall) {
    bool found = false;
    ipcrt::runtime::for_each_group_syscall(
        *ipcrt::runtime::find_syscall_group(group_name),
        [&](std::string_view name) { found = found || name == syscall; });
    return found;
  };
  CHECK_FALSE(contains("@default", "setsid"));
  CHECK_TRUE(contains("@default", "setpgid"));
  CHECK_TRUE(contains("@process", "setsid"));
}
