// The sandbox around each service (SPEC §4.3, §4.4, §9 "Safe"), attacked the way the security
// review did: a service, root or not, tries to see or signal what is not its own, to write the
// host or the kernel's settings, to reach another service's files, and to stop or outlive the
// runtime. Each case checks the attack failed, the victim is unharmed, and the runtime goes on.
#include <CppUTest/TestHarness.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/file.hpp"
#include "platform/process.hpp"
#include "runtime/cgroups/service_cgroups.hpp"
#include "runtime/cgroups/support.hpp"
#include "tests/support/background.hpp"
#include "tests/support/process.hpp"

using ipcrt::test::Background;
using ipcrt::test::TempDir;
using ipcrt::test::unique_name;

namespace {

std::string probe() {
  return IPCRT_SANDBOX_PROBE;
}

std::string json_array(const std::vector<std::string>& items) {
  std::string text = "[";
  for (std::size_t i = 0; i < items.size(); ++i) text += (i ? ", \"" : "\"") + items[i] + "\"";
  return text + "]";
}

// A manifest of services, each `name: {"command": [...] EXTRA}`.
struct Service {
  std::string name;
  std::vector<std::string> command;
  std::string extra;  // more keys of the service, with a leading comma
};

std::string manifest_of(const std::string& name, const std::vector<Service>& services) {
  std::string text = "{\"version\": 1, \"name\": \"" + name + "\", \"services\": {";
  for (std::size_t i = 0; i < services.size(); ++i) {
    text += (i ? ",\n" : "\n") + std::string("  \"") + services[i].name +
            "\": {\"command\": " + json_array(services[i].command) + services[i].extra + "}";
  }
  return text + "}}\n";
}

ipcrt::test::ProcessResult run_manifest(const TempDir& dir, const std::string& manifest) {
  return ipcrt::test::run_ipcrt({"run", dir.write_file(unique_name("m") + ".json", manifest)});
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The pid ipcrt logged for `service` at its start: its init, outside the pid namespace.
pid_t started_pid(const std::string& log, const std::string& service) {
  const std::string started = "msg=started service=" + service + " pid=";
  auto at = log.find(started);
  return at == std::string::npos ? 0 : static_cast<pid_t>(std::stol(log.substr(at + started.size())));
}

// Every process whose session is `session` has gone (zombies included), within 20 s.
bool session_gone_soon(pid_t session) {
  for (int i = 0; i < 2000; ++i) {
    auto members = ipcrt::platform::list_session(session);
    if (members && members->empty()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// The size of `pid`'s [heap] mapping and its anonymous resident memory, in KiB.
struct Memory {
  unsigned long heap_kib = 0;
  unsigned long anon_kib = 0;
};
Memory memory_of(pid_t pid) {
  Memory memory;
  const std::string proc = "/proc/" + std::to_string(pid);
  if (auto maps = ipcrt::read_text_file(proc + "/maps")) {
    for (std::size_t at = 0; at < maps->size();) {
      const auto end = maps->find('\n', at);
      const std::string line = maps->substr(at, end - at);
      if (line.ends_with("[heap]")) {
        const auto dash = line.find('-');
        memory.heap_kib = (std::stoul(line.substr(dash + 1), nullptr, 16) -
                           std::stoul(line.substr(0, dash), nullptr, 16)) /
                          1024;
      }
      if (end == std::string::npos) break;
      at = end + 1;
    }
  }
  if (auto status = ipcrt::read_text_file(proc + "/status")) {
    const auto at = status->find("\nRssAnon:");
    if (at != std::string::npos) memory.anon_kib = std::stoul(status->substr(at + 10));
  }
  return memory;
}

bool has_cap_sys_resource() {
  auto status = ipcrt::read_text_file("/proc/self/status");
  if (!status) return false;
  auto at = status->find("\nCapEff:\t");
  if (at == std::string::npos) return false;
  const unsigned long long effective = std::stoull(status->substr(at + 9, 16), nullptr, 16);
  return (effective & (1ULL << 24)) != 0;  // CAP_SYS_RESOURCE
}

}  // namespace

TEST_GROUP(Sandbox){};

TEST(Sandbox, AServiceSeesOnlyItsOwnProcessesWithItsInitAsPidOne) {
  TempDir dir;
  auto result = run_manifest(dir, manifest_of(unique_name("sp"), {{"looker", {probe(), "pids"}, ""},
                                                         {"other", {probe(), "pids"}, ""}}));
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_CONTAINS("looker: pids 1,2\n", result.out.c_str());
  STRCMP_CONTAINS("other: pids 1,2\n", result.out.c_str());
}

// SPEC §4.3: services with the same explicit user still cannot reach each other through
// /proc. The attacker shares its uid with a strict victim (granted an object, which its
// /proc/PID/root would expose) and with a `confinement: off` one (whose /proc/PID/root is the
// host's, mqueue filesystem included); it is told their pids as the host sees them and tries
// /proc/PID/root, /proc/PID/fd/N and /proc/PID/mem of each, of its own init, and of whatever
// else its /proc shows. Its own pid namespace's /proc has none of them, and its init (root's,
// not dumpable, holding the pipe the service's status goes through) lets it into nothing.
// Also as root: uid 0 without capabilities gets no further.
TEST(Sandbox, ServicesOfTheSameUserCannotReachEachOtherThroughProc) {
  for (const char* user : {"60997", "\"root\""}) {
    TempDir dir;
    dir.share_with_services();
    const std::string pids = dir.path() + "/pids";
    const std::string as = std::string(", \"user\": ") + user;
    const std::string object = unique_name("sameuid");
    Background background(
        dir, dir.write_file("m.json",
                            manifest_of(unique_name("su"),
                                        {{"victim", {probe(), "wait"},
                                          as + ", \"slots\": {\"mem\": {\"interface\": "
                                               "\"shared-memory\", \"write\": [\"" +
                                              object + "\"]}}"},
                                         {"loose", {probe(), "wait"},
                                          as + ", \"confinement\": \"off\""},
                                         {"attacker", {probe(), "reach", pids},
                                          as + ", \"after\": [\"victim\", \"loose\"]"},
                                         {"peeker", {probe(), "reach", pids},
                                          as + ", \"confinement\": \"off\", "
                                               "\"after\": [\"victim\"]"}})));
    CHECK_TEXT(background.wait_for("victim: waiting"), background.err().c_str());
    CHECK_TEXT(background.wait_for("loose: waiting"), background.err().c_str());
    const pid_t victim_init = started_pid(background.err(), "victim");
    const pid_t loose = started_pid(background.err(), "loose");
    auto children = ipcrt::platform::child_pids(victim_init);
    CHECK_TRUE(victim_init > 0 && loose > 0 && children && children->size() == 1);
    const pid_t victim = children->front();
    // The victim's own /proc/PID/root is a way in from the host: what the attacker tries.
    CHECK_TRUE(::access(("/proc/" + std::to_string(victim) + "/root/dev/shm/" + object).c_str(),
                        F_OK) == 0);
    const std::string listed = std::to_string(victim_init) + " " + std::to_string(victim) + " " +
                               std::to_string(loose) + " " + std::to_string(background.pid()) +
                               "\n";
    const std::string partial = dir.write_file("pids.partial", listed);
    CHECK_EQUAL(0, ::rename(partial.c_str(), pids.c_str()));
    CHECK_TEXT(background.wait_for("msg=exited service=attacker"), background.err().c_str());
    CHECK_TEXT(background.wait_for("msg=exited service=peeker"), background.err().c_str());
    const std::string out = background.out();
    // The probe finds a way in where there is one: an unconfined service of the same user
    // sees the host's /proc and opens the victim's root (what `plan` warns about).
    STRCMP_CONTAINS(("peeker: reach pid=" + std::to_string(victim) + " stat=ok root=ok").c_str(),
                    out.c_str());
    for (pid_t pid : {victim_init, victim, loose, background.pid()}) {
      STRCMP_CONTAINS(("attacker: reach pid=" + std::to_string(pid) +
                       " stat=ENOENT root=ENOENT fd=ENOENT mem=ENOENT\n")
                          .c_str(),
                      out.c_str());
    }
    STRCMP_CONTAINS("attacker: reach pid=1 stat=ok root=EACCES fd=EACCES mem=EACCES\n",
                    out.c_str());
    STRCMP_CONTAINS("attacker: reach visible=1,2 reached=0\n", out.c_str());
    CHECK_TEXT(contains(background.err(), "services loose (confinement off) and victim run as the "
                                          "same user"),
               background.err().c_str());
    CHECK_TRUE(background.running());
    CHECK_FALSE(contains(background.err(), "msg=exited service=victim"));
    background.signal(SIGTERM);
    LONGS_EQUAL_TEXT(0, background.wait(), background.err().c_str());
  }
}

TEST(Sandbox, KillMinusOneReachesNothingOutsideTheService) {
  TempDir dir;
  Background background(
      dir, dir.write_file("m.json",
                          manifest_of(unique_name("sk"),
                                      {{"victim", {probe(), "wait"}, ""},
                                       {"attacker", {probe(), "kill-all"}, ", \"user\": \"root\""}})));
  CHECK_TEXT(background.wait_for("msg=exited service=attacker"), background.err().c_str());
  CHECK_TEXT(background.wait_for("victim: waiting"), background.err().c_str());
  CHECK_TRUE(background.running());
  CHECK_FALSE_TEXT(contains(background.err(), "msg=exited service=victim"), background.err().c_str());
  background.signal(SIGTERM);
  LONGS_EQUAL_TEXT(0, background.wait(), background.err().c_str());
}

TEST(Sandbox, RootSeesTheHostAndTheKernelsSettingsReadOnly) {
  TempDir dir;
  const std::string host_file = "/etc/" + unique_name("sandbox-written");
  const std::string root = ", \"user\": \"root\"";
  const std::string cgroup_file = "/sys/fs/cgroup/" + unique_name("sandbox-written");
  auto result = run_manifest(
      dir, manifest_of(unique_name("sr"),
                       {{"etc", {probe(), "write", host_file}, root},
                        {"core", {probe(), "write", "/proc/sys/kernel/core_pattern"}, root},
                        {"sysrq", {probe(), "write", "/proc/sysrq-trigger"}, root},
                        {"sysfs", {probe(), "write", "/sys/kernel/uevent_helper"}, root},
                        {"dynamic", {probe(), "write", "/proc/sys/kernel/core_pattern"}, ""},
                        {"cgroupfs", {probe(), "write", cgroup_file}, ""}}));
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  CHECK_EQUAL(-1, ::access(host_file.c_str(), F_OK));
  STRCMP_CONTAINS(("etc: write " + host_file + " result=EROFS").c_str(), result.out.c_str());
  STRCMP_CONTAINS("core: write /proc/sys/kernel/core_pattern result=EROFS", result.out.c_str());
  CHECK_TEXT(contains(result.out, "sysrq: write /proc/sysrq-trigger result=EROFS") ||
                 contains(result.out, "sysrq: write /proc/sysrq-trigger result=ENOENT"),
             result.out.c_str());  // ENOENT: a kernel without CONFIG_MAGIC_SYSRQ
  STRCMP_CONTAINS("sysfs: write /sys/kernel/uevent_helper result=EROFS", result.out.c_str());
  // Everything mounted under /sys too, for any user (EROFS before the permission check's
  // EACCES): a dynamic user on a writable cgroup mount would be told EACCES.
  STRCMP_CONTAINS(("cgroupfs: write " + cgroup_file + " result=EROFS").c_str(), result.out.c_str());
  CHECK_TEXT(contains(result.out, "dynamic: write /proc/sys/kernel/core_pattern result=E") &&
                 !contains(result.out, "dynamic: write /proc/sys/kernel/core_pattern result=ok"),
             result.out.c_str());
}

TEST(Sandbox, AMinimalDevMaskedProcFilesAndStdioThatAreNotTheRuntimes) {
  TempDir dir;
  auto result = run_manifest(dir, manifest_of(unique_name("sd"),
                                     {{"dev", {probe(), "ls", "/dev"}, ""},
                                      {"kcore", {probe(), "read", "/proc/kcore"}, ", \"user\": \"root\""},
                                      {"keys", {probe(), "read", "/proc/keys"}, ", \"user\": \"root\""},
                                      {"run", {probe(), "ls", "/run/ipcrt"}, ""},
                                      {"stdin", {probe(), "fd", "0"}, ""},
                                      {"stdout", {probe(), "fd", "1"}, ""},
                                      {"disk", {probe(), "file", "/dev/mem"}, ", \"user\": \"root\""}}));
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_CONTAINS("dev: ls /dev fd,full,null,ptmx,pts,random,shm,stderr,stdin,stdout,tty,urandom,zero\n",
                  result.out.c_str());
  // Masked where the kernel has it (CONFIG_PROC_KCORE).
  CHECK_TEXT(contains(result.out, "kcore: read /proc/kcore bytes=0") ||
                 contains(result.out, "kcore: read /proc/kcore result=ENOENT"),
             result.out.c_str());
  STRCMP_CONTAINS("keys: read /proc/keys bytes=0", result.out.c_str());
  // /run/ipcrt holds every runtime's locks and sockets: empty in a service's view.
  STRCMP_CONTAINS("run: ls /run/ipcrt \n", result.out.c_str());
  STRCMP_CONTAINS("stdin: fd 0 /dev/null", result.out.c_str());
  STRCMP_CONTAINS("stdout: fd 1 pipe:[", result.out.c_str());
  STRCMP_CONTAINS("disk: file /dev/mem ENOENT", result.out.c_str());
}

// The standard nodes are nodes of the service's /dev (mknod), not mounts of the host's: they
// work, and the only mounts below /dev are its pts and shm (and the host's /dev beneath).
TEST(Sandbox, TheStandardDevicesAreNodesOfTheServicesDevNotMounts) {
  TempDir dir;
  auto result = run_manifest(dir, manifest_of(unique_name("sn"),
                                              {{"mounts", {probe(), "mounts", "/dev"}, ""},
                                               {"null", {probe(), "write", "/dev/null"}, ""},
                                               {"zero", {probe(), "read", "/dev/zero"}, ""}}));
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_CONTAINS("null: write /dev/null result=ok", result.out.c_str());
  STRCMP_CONTAINS("zero: read /dev/zero bytes=256", result.out.c_str());
  const auto at = result.out.find("mounts: mounts /dev ");
  CHECK_TEXT(at != std::string::npos, result.out.c_str());
  const std::string points = result.out.substr(at, result.out.find('\n', at) - at);
  for (const char* node : {"null", "zero", "full", "random", "urandom", "tty"}) {
    CHECK_FALSE_TEXT(contains(points + ",", "/dev/" + std::string(node) + ","), points.c_str());
  }
  STRCMP_CONTAINS("/dev/pts", points.c_str());
  STRCMP_CONTAINS("/dev/shm", points.c_str());
}

TEST(Sandbox, TmpIsPrivateToEachServiceAndShmIsFreshAtEachStart) {
  TempDir dir;
  const std::string name = unique_name("sandbox-tmp");
  const std::string manifest = manifest_of(
      unique_name("st"), {{"writer", {probe(), "write", "/tmp/" + name}, ""},
                          {"reader", {probe(), "file", "/tmp/" + name}, ", \"after\": [\"writer\"]"},
                          {"chmod", {probe(), "chmod-shm"}, ", \"user\": \"root\""}});
  auto result = run_manifest(dir, manifest);
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_CONTAINS(("writer: write /tmp/" + name + " result=ok").c_str(), result.out.c_str());
  STRCMP_CONTAINS(("reader: file /tmp/" + name + " ENOENT").c_str(), result.out.c_str());
  CHECK_EQUAL(-1, ::access(("/tmp/" + name).c_str(), F_OK));
  // A root service may change its own /dev/shm: it is a tmpfs of its own, made anew at each
  // start, so the next boot is not affected.
  STRCMP_CONTAINS("chmod: chmod-shm result=ok", result.out.c_str());
  auto again = run_manifest(dir, manifest);
  LONGS_EQUAL_TEXT(0, again.exit_code, again.err.c_str());
}

TEST(Sandbox, ServicesStartAtOomScoreZeroWhileTheRuntimeIsProtected) {
  TempDir dir;
  Background background(dir, dir.write_file("m.json", manifest_of(unique_name("so"),
                                                                  {{"app", {probe(), "oom"}, ""},
                                                                   {"idle", {probe(), "wait"}, ""}})));
  CHECK_TEXT(background.wait_for("idle: waiting"), background.err().c_str());
  CHECK_TEXT(background.wait_for("app: oom 0"), background.err().c_str());
  auto runtime = ipcrt::read_text_file("/proc/" + std::to_string(background.pid()) + "/oom_score_adj");
  CHECK_TRUE(runtime.has_value());
  if (has_cap_sys_resource()) {
    STRCMP_EQUAL("-1000\n", runtime->c_str());
  } else {
    // Some containers withhold CAP_SYS_RESOURCE even from root: then ipcrt says so.
    STRCMP_CONTAINS("msg=\"oom_score_adj not set\"", background.err().c_str());
    UT_PRINT("skipped: no CAP_SYS_RESOURCE here, the runtime cannot lower its oom_score_adj");
  }
  background.signal(SIGTERM);
  LONGS_EQUAL_TEXT(0, background.wait(), background.err().c_str());
}

// Each init is forked from the supervisor, and drops the copy of its heap before it forks the
// service: it keeps a few pages (its thread's TLS), where it held the supervisor's whole heap
// (every plan, filter and launch spec), which its exit tore down and whose pages the
// supervisor then copied for it at each write. Init and service still do their work: the
// services run, stop on SIGTERM, and the run ends with their exit status.
TEST(Sandbox, EachInitKeepsOnlyAFewPagesOfTheSupervisorsHeap) {
  TempDir dir;
  std::vector<Service> services;
  for (int i = 0; i < 32; ++i)
    services.push_back({"app" + std::to_string(i), {probe(), "wait"}, ""});
  Background background(dir, dir.write_file("m.json", manifest_of(unique_name("sm"), services)));
  for (int i = 0; i < 32; ++i) {
    CHECK_TEXT(background.wait_for("app" + std::to_string(i) + ": waiting"),
               background.err().c_str());
  }
  const Memory supervisor = memory_of(background.pid());
  // Twice what an init may keep (396 KiB with 16 services on armhf).
  CHECK_TEXT(supervisor.heap_kib >= 384, std::to_string(supervisor.heap_kib).c_str());
  for (int i = 0; i < 32; ++i) {
    const pid_t init = started_pid(background.err(), "app" + std::to_string(i));
    CHECK_TRUE(init > 0);
    const Memory kept = memory_of(init);
    // 64 KiB of TLS span, rounded to pages (64 KiB pages on some arm64 kernels).
    CHECK_TEXT(kept.heap_kib > 0 && kept.heap_kib <= 192,
               ("init heap " + std::to_string(kept.heap_kib) + " KiB").c_str());
    CHECK_TEXT(kept.anon_kib * 2 < supervisor.anon_kib,
               ("init " + std::to_string(kept.anon_kib) + " KiB anonymous, supervisor " +
                std::to_string(supervisor.anon_kib))
                   .c_str());
  }
  background.signal(SIGTERM);
  LONGS_EQUAL_TEXT(0, background.wait(), background.err().c_str());
}

TEST(Sandbox, AServicesProcessesDieWithTheRuntimeEvenWhenItIsSigkilled) {
  TempDir dir;
  const std::string name = unique_name("sg");
  Background background(
      dir, dir.write_file("m.json", manifest_of(name,
                                                {{"leaver", {IPCRT_BOOT_PROBE, "stragglers",
                                                             "ignore-term"}, ""}})));
  CHECK_TEXT(background.wait_for("session 1"), background.err().c_str());
  const pid_t init = started_pid(background.err(), "leaver");
  CHECK_TRUE(init > 0);
  auto members = ipcrt::platform::list_session(init);
  CHECK_TRUE(members.has_value() && members->size() >= 3);  // init, the service, its stragglers
  background.signal(SIGKILL);
  LONGS_EQUAL(128 + SIGKILL, background.wait());
  CHECK_TRUE_TEXT(session_gone_soon(init), "a process of the service outlived the runtime");
  // What a SIGKILLed runtime could not remove (the next run of the manifest would).
  ::umount2(("/run/ipcrt/" + name + "/staging").c_str(), MNT_DETACH);
  ::rmdir(("/run/ipcrt/" + name + "/staging").c_str());
  ::rmdir(("/run/ipcrt/" + name).c_str());
  if (const auto cgroups = ipcrt::runtime::probe_cgroups(); cgroups.usable) {
    (void)ipcrt::runtime::remove_leftover_cgroups(cgroups.manifest_dir(name));
  }
}

TEST(Sandbox, ASecondRunOfTheSameManifestExitsThreeNamingTheFirstAndTouchesNothing) {
  TempDir dir;
  const std::string name = unique_name("sl");
  const std::string path = dir.write_file("m.json", manifest_of(name, {{"app", {probe(), "wait"}, ""}}));
  Background first(dir, path);
  CHECK_TEXT(first.wait_for("app: waiting"), first.err().c_str());
  const std::string staging = "/run/ipcrt/" + name + "/staging/app";
  struct stat before {};
  CHECK_EQUAL(0, ::stat(staging.c_str(), &before));
  // Its parents are root's alone: no other user can plant a staging directory (SPEC §4.2).
  for (const std::string& parent : {"/run/ipcrt/" + name, "/run/ipcrt/" + name + "/staging"}) {
    struct stat info {};
    CHECK_EQUAL(0, ::lstat(parent.c_str(), &info));
    CHECK_TRUE_TEXT(S_ISDIR(info.st_mode), parent.c_str());
    LONGS_EQUAL_TEXT(0, info.st_uid, parent.c_str());
    LONGS_EQUAL_TEXT(0700, info.st_mode & 07777, parent.c_str());
  }
  auto second = ipcrt::test::run_ipcrt({"run", path});
  LONGS_EQUAL_TEXT(3, second.exit_code, second.err.c_str());
  STRCMP_CONTAINS(("already running (ipcrt pid " + std::to_string(first.pid()) + ")").c_str(),
                  second.err.c_str());
  CHECK_FALSE(contains(second.err, "msg=started"));
  struct stat after {};
  CHECK_EQUAL(0, ::stat(staging.c_str(), &after));
  CHECK_EQUAL(before.st_ino, after.st_ino);
  CHECK_TRUE(first.running());
  first.signal(SIGTERM);
  LONGS_EQUAL_TEXT(0, first.wait(), first.err().c_str());
  CHECK_FALSE_TEXT(std::filesystem::exists("/run/ipcrt/" + name),
                   "the run removes its staging directories and their parents");
}

TEST(Sandbox, SignalsThatWouldEndTheRuntimeDoNot) {
  TempDir dir;
  Background background(
      dir, dir.write_file("m.json", manifest_of(unique_name("ss"), {{"app", {probe(), "wait"}, ""}})));
  CHECK_TEXT(background.wait_for("app: waiting"), background.err().c_str());
  for (int signal : {SIGPIPE, SIGUSR1, SIGUSR2, SIGALRM, SIGHUP, SIGVTALRM, SIGXFSZ, SIGTSTP,
                     SIGTTIN, SIGTTOU, SIGRTMIN + 1}) {
    background.signal(signal);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK_TRUE_TEXT(background.running(), background.err().c_str());
  auto state = ipcrt::platform::read_process_stat(background.pid());
  CHECK_TRUE(state.has_value() && state->state != 'T');  // not stopped by SIGTSTP either
  background.signal(SIGTERM);
  LONGS_EQUAL_TEXT(0, background.wait(), background.err().c_str());
}

TEST(Sandbox, ARootServiceWritesOnlyItsWritablePaths) {
  TempDir dir;
  // Not the directory of the manifest, which no service may write.
  const std::string writable = dir.path() + "/data";
  ::mkdir(writable.c_str(), 0755);
  const std::string allowed = writable + "/" + unique_name("allowed");
  const std::string elsewhere = "/var/lib/" + unique_name("sandbox-elsewhere");
  auto result = run_manifest(
      dir, manifest_of(unique_name("sw"),
                       {{"root", {probe(), "write", allowed},
                         ", \"user\": \"root\", \"writable-paths\": [\"" + writable + "\"]"},
                        {"other", {probe(), "write", elsewhere},
                         ", \"user\": \"root\", \"writable-paths\": [\"" + writable + "\"]"}}));
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_CONTAINS(("root: write " + allowed + " result=ok").c_str(), result.out.c_str());
  CHECK_EQUAL(0, ::access(allowed.c_str(), F_OK));
  STRCMP_CONTAINS(("other: write " + elsewhere + " result=EROFS").c_str(), result.out.c_str());
  CHECK_EQUAL(-1, ::access(elsewhere.c_str(), F_OK));
}
