// Hostile services under `ipcrt run` (SPEC §6, §9 "Safe"): each case boots a real manifest in
// which tests/hostile/hostile_service attacks name-level mediation, and checks both what the
// attacker got and what the runtime logged. `owner` holds a read-only queue and a pattern the
// attacker is granted; `vault` holds a queue it is not.
#include <CppUTest/TestHarness.h>
#include <mqueue.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "runtime/mediation/notification.hpp"
#include "tests/support/process.hpp"

using ipcrt::test::ProcessResult;
using ipcrt::test::TempDir;
using ipcrt::test::unique_name;

namespace {

std::string hostile() {
  return ipcrt::test::build_dir() + "/tests/hostile/hostile_service";
}
std::string example(const std::string& name) {
  return ipcrt::test::build_dir() + "/examples/" + name;
}

std::string quoted_list(const std::vector<std::string>& items) {
  std::string text = "[";
  for (std::size_t i = 0; i < items.size(); ++i) text += (i ? ", \"" : "\"") + items[i] + "\"";
  return text + "]";
}

std::size_t count(const std::string& text, const std::string& part) {
  std::size_t found = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++found;
  return found;
}

// Unique queue names for one case; every queue is removed when the case ends.
struct Queues {
  std::string manifest = unique_name("mh");
  std::string prefix = unique_name("mhq");  // raw names, as the syscall sees them
  std::string granted = prefix + "-granted";
  std::string secret = prefix + "-secret";
  std::string telemetry = prefix + "-telemetry";
  std::string object = unique_name("mho");
  std::string camera = prefix + "-cam-1";
  std::string vault_mode = "0660";
  std::string hostile_extra;  // more keys of the hostile service (JSON members)
  ~Queues() {
    for (const auto& raw : {granted, secret, telemetry, camera}) ::mq_unlink(("/" + raw).c_str());
    ::unlink(("/dev/shm/" + object).c_str());
  }

  // `attack`: hostile_service's arguments. `extra`: more services (JSON members).
  [[nodiscard]] std::string manifest_for(const std::vector<std::string>& attack,
                                         const std::string& confinement = "strict",
                                         const std::string& extra = "",
                                         bool with_pattern = true) const {
    const std::string pattern_slot =
        with_pattern ? ",\n    \"cams\": {\"interface\": \"posix-mq\", \"path\": \"/" + prefix +
                           "-cam-*\", \"permissions\": [\"write\", \"create\"]}"
                     : "";
    const std::string pattern_plug =
        with_pattern ? ", \"cams\": {\"interface\": \"posix-mq\"}" : "";
    std::vector<std::string> command = {hostile()};
    command.insert(command.end(), attack.begin(), attack.end());
    return "{\"version\": 1, \"name\": \"" + manifest + "\", \"services\": {\n" +
           "  \"owner\": {\"command\": " + quoted_list({hostile(), "idle"}) +
           ", \"slots\": {\n"
           "    \"shared\": {\"interface\": \"posix-mq\", \"path\": \"/" +
           granted + "\", \"permissions\": [\"read\"], \"max-messages\": 3, \"message-size\": 64}" +
           pattern_slot + "}},\n" +
           "  \"vault\": {\"command\": " + quoted_list({hostile(), "idle"}) +
           ", \"slots\": {\"vault\": {\"interface\": \"posix-mq\", \"path\": \"/" + secret +
           "\", \"max-messages\": 5, \"message-size\": 64, \"mode\": \"" + vault_mode + "\"}}},\n" +
           "  \"hostile\": {\"command\": " + quoted_list(command) + hostile_extra +
           ", \"confinement\": \"" + confinement +
           "\",\n"
           "    \"plugs\": {\"shared\": {\"interface\": \"posix-mq\"}" +
           pattern_plug + "}}" + extra + "}}\n";
  }
};

ProcessResult boot(const std::string& manifest) {
  TempDir dir;
  return ipcrt::test::run_ipcrt({"run", dir.write_file("manifest.json", manifest)});
}

}  // namespace

TEST_GROUP(MediationHostile){void setup() override{if (!ipcrt::runtime::mediation_support()){
    TEST_EXIT;  // kernel < 5.14: the fallback case below covers it
}
}
}
;

TEST(MediationHostile, OpeningAnUngrantedQueueIsRefusedAndLogged) {
  Queues q;
  auto result = boot(q.manifest_for({"open", q.secret, "O_RDONLY"}));
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_CONTAINS("result=EACCES op=mq_open", result.out.c_str());
  STRCMP_CONTAINS(("syscall=mq_open arg=/" + q.secret +
                   " need=\"a posix-mq plug connected to a slot with path /" + q.secret + "\"")
                      .c_str(),
                  result.err.c_str());
  STRCMP_CONTAINS("level=warn msg=denied service=hostile pid=", result.err.c_str());
}

TEST(MediationHostile, ForbiddenAccessModeCreateAndUnlinkAreRefusedWithTheirPermission) {
  struct Case {
    std::vector<std::string> attack;
    std::string need;
  };
  Queues q;
  const Case cases[] = {
      {{"open", q.granted, "O_WRONLY"}, "need=\"write on owner:shared\""},
      {{"open", q.granted, "O_RDWR"}, "need=\"write on owner:shared\""},
      {{"open", q.granted, "O_RDONLY|O_CREAT|O_EXCL"}, "need=\"create on owner:shared\""},
      {{"unlink", q.granted}, "need=\"delete on owner:shared\""},
  };
  for (const auto& c : cases) {
    auto result = boot(q.manifest_for(c.attack));
    LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
    STRCMP_CONTAINS_TEXT("result=EACCES", result.out.c_str(), c.need.c_str());
    STRCMP_CONTAINS_TEXT(c.need.c_str(), result.err.c_str(), c.need.c_str());
  }
  // The granted access works, and the queue survived the unlink attempt.
  auto allowed = boot(q.manifest_for({"open", q.granted, "O_RDONLY"}));
  STRCMP_CONTAINS("result=ok op=mq_open", allowed.out.c_str());
}

TEST(MediationHostile, OCreatWithoutExclOpensADeclaredQueueAndNeverCreatesOne) {
  Queues q;
  // The default of most client libraries, on a queue the runtime created: an open.
  auto granted = boot(q.manifest_for({"open", q.granted, "O_RDONLY|O_CREAT"}));
  LONGS_EQUAL_TEXT(0, granted.exit_code, granted.err.c_str());
  STRCMP_CONTAINS("result=ok op=mq_open", granted.out.c_str());
  CHECK_TEXT(granted.err.find("msg=denied") == std::string::npos, granted.err.c_str());
  // A declared queue the runtime does not create (create=false) and nobody has: the same call
  // without `create` finds nothing, and leaves nothing behind.
  const std::string manifest =
      "{\"version\": 1, \"name\": \"" + q.manifest + "\", \"services\": {\n" +
      "  \"owner\": {\"command\": " + quoted_list({hostile(), "idle"}) +
      ", \"slots\": {\"later\": {\"interface\": \"posix-mq\", \"path\": \"/" + q.telemetry +
      "\", \"permissions\": [\"read\"], \"create\": false}}},\n" + "  \"hostile\": {\"command\": " +
      quoted_list({hostile(), "open", q.telemetry, "O_RDONLY|O_CREAT"}) +
      ", \"plugs\": {\"later\": {\"interface\": \"posix-mq\"}}}}}\n";
  auto missing = boot(manifest);
  LONGS_EQUAL_TEXT(0, missing.exit_code, missing.err.c_str());
  STRCMP_CONTAINS("result=ENOENT op=mq_open", missing.out.c_str());
  CHECK_TRUE(::mq_open(("/" + q.telemetry).c_str(), O_RDONLY) < 0);
  LONGS_EQUAL(ENOENT, errno);
}

TEST(MediationHostile, PatternGrantCreatesQueuesOwnedByTheService) {
  Queues q;
  auto result = boot(q.manifest_for({"open", q.camera, "O_WRONLY|O_CREAT"}));
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_CONTAINS("result=ok op=mq_open", result.out.c_str());
  mq_attr attributes{};
  mqd_t created = ::mq_open(("/" + q.camera).c_str(), O_RDONLY);
  CHECK_TRUE(created >= 0);
  ::mq_getattr(created, &attributes);
  ::mq_close(created);
  LONGS_EQUAL(2, attributes.mq_maxmsg);  // what hostile_service asked for
  // Reading from it is not granted: the pattern slot gives write and create only.
  auto read = boot(q.manifest_for({"open", q.camera, "O_RDONLY"}));
  STRCMP_CONTAINS("result=EACCES", read.out.c_str());
}

TEST(MediationHostile, MalformedNamesAreRefused) {
  Queues q;
  struct Case {
    std::string raw;
    const char* result;
  };
  const Case cases[] = {
      {"..", "result=EACCES"},
      {"/" + q.granted, "result=EACCES"},  // "//name" from the caller: a doubled slash
      {q.prefix + "/../" + q.granted, "result=EACCES"},
      {std::string(300, 'a'), "result=ENAMETOOLONG"},
  };
  for (const auto& c : cases) {
    auto result = boot(q.manifest_for({"open", c.raw, "O_RDONLY"}));
    LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
    STRCMP_CONTAINS_TEXT(c.result, result.out.c_str(), c.raw.c_str());
    STRCMP_CONTAINS_TEXT("msg=denied service=hostile", result.err.c_str(), c.raw.c_str());
  }
}

TEST(MediationHostile, RewritingTheNameDuringTheCallNeverOpensAnotherQueue) {
  Queues q;
  auto result = boot(q.manifest_for({"toctou", q.granted, q.secret, "5", "3000"}));
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_CONTAINS("result=ok op=toctou", result.out.c_str());
  CHECK_TEXT(result.out.find("secret=0") != std::string::npos, result.out.c_str());
  CHECK_TEXT(result.out.find("opened=0 ") == std::string::npos, result.out.c_str());
}

TEST(MediationHostile, FloodIsServedRateLimitedAndOtherServicesKeepWorking) {
  Queues q;
  const std::string pair =
      ",\n  \"collector\": {\"command\": " + quoted_list({example("mq-provider"), "--count", "5"}) +
      ", \"slots\": {\"telemetry\": {\"interface\": \"posix-mq\", \"path\": \"/" + q.telemetry +
      "\"}, \"frames\": {\"interface\": \"shared-memory\", \"write\": [\"" + q.object +
      "\"]}}},\n  \"sensor\": {\"command\": " +
      quoted_list({example("mq-consumer"), "--count", "5"}) +
      ", \"plugs\": {\"telemetry\": {\"interface\": \"posix-mq\"}, "
      "\"frames\": {\"interface\": \"shared-memory\"}}}";
  auto result = boot(q.manifest_for({"flood", q.granted, q.secret, "16", "100"}, "strict", pair));
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_CONTAINS("result=ok op=flood opened=800 refused=800 other=0", result.out.c_str());
  STRCMP_CONTAINS("collector: received #5", result.out.c_str());
  // 800 denials, but only a burst of lines; the rest is counted.
  const std::size_t lines = count(result.err, "msg=denied service=hostile");
  CHECK_TEXT(lines >= 1 && lines < 100, result.err.c_str());
  STRCMP_CONTAINS("msg=denials-suppressed service=hostile count=", result.err.c_str());
}

TEST(MediationHostile, DyingWithCallsPendingDoesNotHurtTheRuntime) {
  Queues q;
  auto result = boot(q.manifest_for({"die-pending", q.granted}));
  LONGS_EQUAL_TEXT(4, result.exit_code, result.err.c_str());  // the hostile service failed
  STRCMP_CONTAINS("result=ok op=die-pending", result.out.c_str());
  STRCMP_CONTAINS("msg=exited service=hostile", result.err.c_str());
  STRCMP_CONTAINS("msg=\"all services ended\" status=4", result.err.c_str());
}

TEST(MediationHostile, ComplainLogsAtInfoAndLetsTheCallThrough) {
  Queues q;
  // Let through, the call is the kernel's to decide with the caller's own credentials: the
  // vault's queue must let others read for it to succeed.
  q.vault_mode = "0664";
  auto result = boot(q.manifest_for({"open", q.secret, "O_RDONLY"}, "complain"));
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_CONTAINS("result=ok op=mq_open", result.out.c_str());
  STRCMP_CONTAINS("level=info msg=denied service=hostile", result.err.c_str());
  STRCMP_CONTAINS(("syscall=mq_open arg=/" + q.secret).c_str(), result.err.c_str());
}

// Runs `ipcrt run MANIFEST` in a private mount namespace where the mqueue filesystem is
// mounted at `mount_point`; the host's mounts are untouched. No external tools: the test
// images have no unshare(1).
ProcessResult run_with_mqueue_mounted(const std::string& mount_point, const std::string& manifest,
                                      const TempDir& dir) {
  const std::string out_path = dir.path() + "/out";
  const std::string err_path = dir.path() + "/err";
  pid_t child = ::fork();
  if (child == 0) {
    if (::unshare(CLONE_NEWNS) != 0 ||
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount("none", mount_point.c_str(), "mqueue", 0, nullptr) != 0) {
      std::perror("setting up the mount namespace");
      ::_exit(100);
    }
    ProcessResult inner = ipcrt::test::run_ipcrt({"run", manifest});
    std::ofstream(out_path) << inner.out;
    std::ofstream(err_path) << inner.err;
    ::_exit(inner.exit_code);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ProcessResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream out(out_path);
  std::ifstream err(err_path);
  result.out.assign(std::istreambuf_iterator<char>(out), {});
  result.err.assign(std::istreambuf_iterator<char>(err), {});
  return result;
}

// The sandbox around mediation: what a service could use to go around it.
TEST_GROUP(ServiceSandbox){};

TEST(ServiceSandbox, ConfinedServicesKeepNoCapabilitiesEvenAsRoot) {
  Queues q;
  q.hostile_extra = ", \"user\": \"root\"";
  auto result = boot(q.manifest_for({"capabilities"}, "strict", "", false));
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_CONTAINS("result=ok op=capabilities effective=0000000000000000", result.out.c_str());
  // Without capabilities a root service cannot reach the supervisor's memory.
  auto memory = boot(q.manifest_for({"open-file", "parent-mem"}, "strict", "", false));
  LONGS_EQUAL_TEXT(0, memory.exit_code, memory.err.c_str());
  CHECK_TEXT(memory.out.find("result=ok") == std::string::npos, memory.out.c_str());
  STRCMP_CONTAINS("op=open-file", memory.out.c_str());
}

TEST(ServiceSandbox, TheMqueueFilesystemIsHiddenFromServices) {
  // With the mqueue filesystem mounted where ipcrt runs, a service could open any queue
  // with open(2) through it, around mediation; inside the service it must be empty.
  Queues q;
  TempDir dir;
  dir.share_with_services();  // the service, a user of its own, must reach the mount point
  const std::string mount_point = dir.path() + "/mq";
  ::mkdir(mount_point.c_str(), 0755);
  const std::string manifest = dir.write_file(
      "manifest.json",
      q.manifest_for({"open-file", mount_point + "/" + q.secret}, "strict", "", false));
  auto result = run_with_mqueue_mounted(mount_point, manifest, dir);
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  // The queue exists (the runtime created it) but the service cannot see it as a file.
  STRCMP_CONTAINS(("created queue\" path=/" + q.secret).c_str(), result.err.c_str());
  STRCMP_CONTAINS("result=ENOENT op=open-file", result.out.c_str());
}

TEST_GROUP(MediationFallback){};

TEST(MediationFallback, WithoutMediationTheFiltersAloneApplyAndTheRuntimeSaysSoOnce) {
  Queues q;
  ::setenv("IPCRT_MEDIATION", "off", 1);
  auto flags = boot(q.manifest_for({"open", q.granted, "O_WRONLY"}, "strict", "", false));
  auto pattern = boot(q.manifest_for({"open", q.granted, "O_RDONLY"}));
  ::unsetenv("IPCRT_MEDIATION");
  // SPEC §5 alone: the mq_open flag filter refuses a write open of a read-only grant (EPERM,
  // from the kernel, so no denial line), and the runtime says once why names go unchecked.
  LONGS_EQUAL_TEXT(0, flags.exit_code, flags.err.c_str());
  STRCMP_CONTAINS("result=EPERM op=mq_open", flags.out.c_str());
  LONGS_EQUAL(1, count(flags.err, "name-level mediation unavailable"));
  LONGS_EQUAL(0, count(flags.err, "msg=denied"));
  // Queue patterns need mediation: refused as an invalid manifest, nothing created.
  LONGS_EQUAL_TEXT(1, pattern.exit_code, pattern.err.c_str());
  STRCMP_CONTAINS("queue path patterns ('*') need name-level mediation", pattern.err.c_str());
}
