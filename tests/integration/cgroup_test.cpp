// Resource control end to end (SPEC §13): real `ipcrt run`s whose services run in cgroups of
// the real kernel's cgroup2. Placement, containment by cgroup.kill, leftovers of a SIGKILLed
// runtime, a delegated subtree and the plan's fallback run wherever there is a writable cgroup2
// (this VM's hybrid /sys/fs/cgroup/unified too); the limits (memory, pids, cpu) need cgroup2
// with its controllers, which the ARM images mount (tests/image/test_init.cpp): elsewhere those
// tests say why they skip and pass.
#include "platform/cgroup.hpp"

#include <CppUTest/TestHarness.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "platform/process.hpp"
#include "runtime/cgroups/support.hpp"
#include "tests/support/background.hpp"
#include "tests/support/process.hpp"

using ipcrt::test::Background;
using ipcrt::test::TempDir;
using ipcrt::test::unique_name;

namespace {

std::string probe() {
  return IPCRT_CGROUP_PROBE;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool exists(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0;
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// This process's cgroup as /proc names it ("/" at the root) and as a directory.
std::string own_cgroup_path(pid_t pid = 0) {
  std::string text =
      read_file(pid == 0 ? "/proc/self/cgroup" : "/proc/" + std::to_string(pid) + "/cgroup");
  return ipcrt::platform::parse_unified_cgroup(text).value_or("");
}

std::string under(const std::string& parent, const std::string& child) {
  return parent == "/" ? "/" + child : parent + "/" + child;
}

// The pid of `service`'s main process from its "started" line (ipcrt's init when sandboxed).
pid_t started_pid(const std::string& log, const std::string& service) {
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (ipcrt::test::logfmt_field(line, "msg") == "started" &&
        ipcrt::test::logfmt_field(line, "service") == service) {
      return static_cast<pid_t>(std::stol(ipcrt::test::logfmt_field(line, "pid")));
    }
  }
  return -1;
}

bool alive(pid_t pid) {
  auto stat = ipcrt::platform::read_process_stat(pid);
  return stat && stat->state != 'Z' && stat->state != 'X';
}

bool dies_within(pid_t pid, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (alive(pid)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

pid_t wait_for_pid_file(const std::string& path) {
  for (int i = 0; i < 2000; ++i) {
    std::string text = trimmed(read_file(path));
    if (!text.empty()) return static_cast<pid_t>(std::stol(text));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

std::string service_json(const std::string& name, const std::string& command,
                         const std::string& extra = "") {
  return "\"" + name + "\": {\"command\": " + command + extra + "}";
}

std::string manifest_json(const std::string& name, const std::vector<std::string>& services) {
  std::string text = "{\"version\": 1, \"name\": \"" + name + "\", \"services\": {";
  for (std::size_t i = 0; i < services.size(); ++i) text += (i ? ", " : "") + services[i];
  return text + "}}";
}

std::string probe_command(const std::vector<std::string>& arguments) {
  std::string text = "[\"" + probe() + "\"";
  for (const auto& argument : arguments) text += ", \"" + argument + "\"";
  return text + "]";
}

struct Support {
  ipcrt::runtime::CgroupSupport cgroups = ipcrt::runtime::probe_cgroups();
  [[nodiscard]] bool usable() const { return cgroups.usable; }
  [[nodiscard]] bool offers(const char* controller) const { return cgroups.offers(controller); }
};

void skip(const char* why) {
  std::fprintf(stderr, "\n  skipped: %s\n", why);
}

// ipcrt status --json of one service, through the CLI.
nlohmann::json status_of(const std::string& manifest, const std::string& service) {
  auto result = ipcrt::test::run_ipcrt({"status", "--manifest", manifest, service, "--json"});
  auto parsed = nlohmann::json::parse(result.out, nullptr, false);
  if (parsed.is_discarded() || !parsed.contains("services")) return nlohmann::json::object();
  return parsed["services"][0];
}

}  // namespace

TEST_GROUP(Cgroups){};

// SPEC §13: the service is in <ipcrt's cgroup>/ipcrt.<manifest>/<service> from its start, its
// init (pid 1 of its namespace) and the program alike; the tree is gone after the run.
TEST(Cgroups, EachServiceRunsInItsOwnCgroupFromItsStart) {
  Support support;
  if (!support.usable()) return skip(support.cgroups.why_not.describe().c_str());
  TempDir dir;
  const std::string name = unique_name();
  auto manifest = dir.write_file(
      "m.json", manifest_json(name, {service_json("worker", probe_command({"sleep"})),
                                     service_json("other", probe_command({"sleep"}))}));
  Background runtime(dir, manifest);
  CHECK_TRUE_TEXT(runtime.wait_for("msg=started service=other"), runtime.err().c_str());
  CHECK_TRUE(runtime.wait_for("msg=started service=worker"));
  const pid_t init = started_pid(runtime.err(), "worker");
  CHECK_TRUE(init > 0);

  // ipcrt's cgroup: ours, or, where ours is not the root, the leaf it moved itself into.
  const std::string ours = own_cgroup_path();
  const std::string expected = under(under(ours, "ipcrt." + name), "worker");
  STRCMP_EQUAL(expected.c_str(), own_cgroup_path(init).c_str());
  auto children = ipcrt::platform::child_pids(init);
  CHECK_TRUE(children.has_value() && children->size() == 1);
  STRCMP_EQUAL(expected.c_str(), own_cgroup_path(children->front()).c_str());
  STRCMP_EQUAL(under(under(ours, "ipcrt." + name), "other").c_str(),
               own_cgroup_path(started_pid(runtime.err(), "other")).c_str());
  if (support.cgroups.at_root) {
    STRCMP_EQUAL(ours.c_str(), own_cgroup_path(runtime.pid()).c_str());
  } else {
    STRCMP_EQUAL(under(ours, "ipcrt.supervisor").c_str(), own_cgroup_path(runtime.pid()).c_str());
  }

  const std::string tree = support.cgroups.manifest_dir(name);
  CHECK_TRUE(exists(tree + "/worker/cgroup.procs"));
  // A restart re-enters the same cgroup, which had its cgroup.kill when the old run ended.
  auto restarted = ipcrt::test::run_ipcrt({"restart", "--manifest", name, "worker"});
  LONGS_EQUAL_TEXT(0, restarted.exit_code, restarted.err.c_str());
  auto again = status_of(name, "worker");
  CHECK_TRUE_TEXT(again.contains("mainPid") && again["mainPid"].is_number(), again.dump().c_str());
  STRCMP_EQUAL(expected.c_str(), own_cgroup_path(again["mainPid"].get<pid_t>()).c_str());
  runtime.signal(SIGTERM);
  LONGS_EQUAL(0, runtime.wait());
  CHECK_FALSE_TEXT(exists(tree), "the manifest's cgroups outlived the run");
}

// Containment (SPEC §13): when the main process ends, cgroup.kill ends a grandchild that left
// the service's session, which no /proc sweep of the session finds, while the runtime and
// another service run on.
TEST(Cgroups, AGrandchildThatLeftTheSessionEndsWithTheMainProcess) {
  Support support;
  if (!support.usable()) return skip(support.cgroups.why_not.describe().c_str());
  TempDir dir;
  const std::string pid_file = dir.shared_file("grandchild");
  const std::string name = unique_name();
  auto manifest = dir.write_file(
      "m.json",
      manifest_json(name, {service_json("leaver", probe_command({"escape", pid_file, "exit"}),
                                        ", \"confinement\": \"off\""),
                           service_json("stayer", probe_command({"sleep"}))}));
  Background runtime(dir, manifest);
  CHECK_TRUE_TEXT(runtime.wait_for("msg=exited service=leaver"), runtime.err().c_str());
  const pid_t grandchild = wait_for_pid_file(pid_file);
  CHECK_TRUE(grandchild > 0);
  CHECK_TRUE_TEXT(dies_within(grandchild, std::chrono::seconds(5)),
                  "the grandchild outlived its service's main process");
  CHECK_TRUE(runtime.running());
  CHECK_TRUE(runtime.wait_for("msg=started service=stayer"));
  CHECK_TRUE(alive(started_pid(runtime.err(), "stayer")));
  runtime.signal(SIGTERM);
  runtime.wait();
}

// A SIGKILLed runtime leaves what its PID namespaces do not hold (a service without one, here
// a grandchild of its own session); the next run of the manifest kills it, removes the old
// cgroups and says so.
TEST(Cgroups, TheNextRunKillsAndRemovesWhatASigkilledRuntimeLeft) {
  Support support;
  if (!support.usable()) return skip(support.cgroups.why_not.describe().c_str());
  TempDir dir;
  const std::string pid_file = dir.shared_file("grandchild");
  const std::string name = unique_name();
  auto manifest = dir.write_file(
      "m.json",
      manifest_json(name, {service_json("leaver", probe_command({"escape", pid_file, "stay"}),
                                        ", \"confinement\": \"off\"")}));
  const std::string tree = support.cgroups.manifest_dir(name);
  pid_t grandchild = -1;
  {
    Background first(dir, manifest);
    CHECK_TRUE_TEXT(first.wait_for("msg=started service=leaver"), first.err().c_str());
    grandchild = wait_for_pid_file(pid_file);
    CHECK_TRUE(grandchild > 0);
    first.signal(SIGKILL);
    first.wait();
  }
  CHECK_TRUE_TEXT(alive(grandchild), "nothing was left to find: the test proves nothing");
  STRCMP_EQUAL(under(under(own_cgroup_path(), "ipcrt." + name), "leaver").c_str(),
               own_cgroup_path(grandchild).c_str());
  CHECK_TRUE(exists(tree + "/leaver"));

  Background second(dir, manifest);
  CHECK_TRUE_TEXT(second.wait_for("msg=started service=leaver"), second.err().c_str());
  CHECK_TRUE_TEXT(contains(second.err(), "msg=\"removed leftover cgroups\""), second.err().c_str());
  // The grandchild, and the main process if its parent-death SIGKILL has not ended it yet.
  std::string killed;
  std::istringstream lines(second.err());
  for (std::string line; std::getline(lines, line);) {
    if (contains(line, "removed leftover cgroups")) {
      killed = ipcrt::test::logfmt_field(line, "processes-killed");
    }
  }
  CHECK_TRUE_TEXT(killed == "1" || killed == "2", second.err().c_str());
  CHECK_TRUE_TEXT(dies_within(grandchild, std::chrono::seconds(5)), "the leftover still runs");
  second.signal(SIGTERM);
  second.wait();
  CHECK_FALSE(exists(tree));
}

// The stop of many services (SPEC §13, issue 18): each service's cgroup goes as soon as it has
// ended, while a slower one still runs in its own; what an unconfined service left outside its
// session dies with it; afterwards no process of the run is left and the manifest's tree is gone.
TEST(Cgroups, AtTheStopEachCgroupGoesWithItsServiceAndNothingIsLeft) {
  Support support;
  if (!support.usable()) return skip(support.cgroups.why_not.describe().c_str());
  TempDir dir;
  const std::string pid_file = dir.shared_file("grandchild");
  const std::string name = unique_name();
  constexpr int kQuick = 16;
  std::vector<std::string> services;
  std::vector<std::string> quick;
  for (int i = 0; i < kQuick; ++i) {
    quick.push_back("s" + std::to_string(i));
    services.push_back(service_json(quick.back(), probe_command({"sleep"})));
  }
  // SIGWINCH ends nothing: it runs on until its stop timeout's SIGKILL (long enough for the
  // quick ones to end first under qemu too).
  services.push_back(service_json("slow", probe_command({"sleep"}),
                                  ", \"stop-signal\": \"SIGWINCH\", \"stop-timeout-ms\": 4000"));
  services.push_back(service_json("leaver", probe_command({"escape", pid_file, "stay"}),
                                  ", \"confinement\": \"off\""));
  auto manifest = dir.write_file("m.json", manifest_json(name, services));
  Background runtime(dir, manifest);
  std::vector<std::string> all = quick;
  all.push_back("slow");
  all.push_back("leaver");
  std::vector<pid_t> processes;
  for (const auto& service : all) {
    CHECK_TRUE_TEXT(runtime.wait_for("msg=started service=" + service + " "),
                    runtime.err().c_str());
    const pid_t main = started_pid(runtime.err(), service);
    CHECK_TRUE(main > 0);
    processes.push_back(main);
    if (auto children = ipcrt::platform::child_pids(main)) {
      processes.insert(processes.end(), children->begin(), children->end());
    }
  }
  const pid_t grandchild = wait_for_pid_file(pid_file);
  CHECK_TRUE(grandchild > 0);
  processes.push_back(grandchild);
  const std::string tree = support.cgroups.manifest_dir(name);
  for (const auto& service : all) CHECK_TRUE(exists(tree + "/" + service));

  runtime.signal(SIGTERM);
  for (const auto& service : quick) {
    CHECK_TRUE_TEXT(runtime.wait_for("msg=exited service=" + service + " "),
                    runtime.err().c_str());
  }
  // Logged after its cgroup went; "slow" waits out its stop timeout meanwhile.
  CHECK_TRUE_TEXT(runtime.running(), runtime.err().c_str());
  CHECK_FALSE(contains(runtime.err(), "msg=exited service=slow "));
  for (const auto& service : quick) {
    CHECK_FALSE_TEXT(exists(tree + "/" + service), ("still there: " + service).c_str());
  }
  CHECK_TRUE(exists(tree + "/slow"));
  CHECK_TRUE(alive(started_pid(runtime.err(), "slow")));

  LONGS_EQUAL_TEXT(0, runtime.wait(), runtime.err().c_str());
  for (pid_t pid : processes) {
    CHECK_TRUE_TEXT(dies_within(pid, std::chrono::seconds(5)),
                    ("a process of the run outlived it: " + std::to_string(pid)).c_str());
  }
  CHECK_FALSE_TEXT(exists(tree), "the manifest's cgroups outlived the run");
  CHECK_FALSE_TEXT(contains(runtime.err(), "cgroups not removed"), runtime.err().c_str());
}

// A systemd-style delegated subtree: ipcrt starts in a cgroup of its own below ours, moves
// itself into its leaf (no-internal-process rule) and puts the services beside it, with their
// limits where the controllers can be passed down.
TEST(Cgroups, UnderADelegatedSubtreeIpcrtRunsInALeafBesideItsServices) {
  Support support;
  if (!support.usable()) return skip(support.cgroups.why_not.describe().c_str());
  const std::string delegated_name = unique_name("ipcrt-delegated");
  const std::string delegated = support.cgroups.own + "/" + delegated_name;
  CHECK_TRUE(ipcrt::platform::make_cgroup(delegated).has_value());
  // What systemd's Delegate=yes gives: the controllers ours has, passed down where ours may.
  const bool limits =
      support.offers("pids") && support.offers("memory") &&
      ipcrt::platform::enable_controllers(support.cgroups.own, {"memory", "pids"}).has_value();
  {
    TempDir dir;
    const std::string name = unique_name();
    const std::string extra =
        limits ? ", \"resources\": {\"memory-max\": \"64M\", \"pids-max\": 20}" : "";
    auto manifest = dir.write_file(
        "m.json", manifest_json(name, {service_json("worker", probe_command({"sleep"}), extra)}));
    Background runtime(dir, manifest, delegated);
    CHECK_TRUE_TEXT(runtime.wait_for("msg=started service=worker"), runtime.err().c_str());
    const std::string base = under(own_cgroup_path(), delegated_name);
    STRCMP_EQUAL(under(base, "ipcrt.supervisor").c_str(), own_cgroup_path(runtime.pid()).c_str());
    STRCMP_EQUAL(under(under(base, "ipcrt." + name), "worker").c_str(),
                 own_cgroup_path(started_pid(runtime.err(), "worker")).c_str());
    const std::string service_dir = delegated + "/ipcrt." + name + "/worker";
    if (limits) {
      STRCMP_EQUAL("67108864", trimmed(read_file(service_dir + "/memory.max")).c_str());
      STRCMP_EQUAL("20", trimmed(read_file(service_dir + "/pids.max")).c_str());
    } else {
      skip("limits under the delegated subtree: no memory and pids controllers here");
    }
    runtime.signal(SIGTERM);
    LONGS_EQUAL(0, runtime.wait());
    CHECK_FALSE(exists(delegated + "/ipcrt." + name));
  }
  CHECK_TRUE(ipcrt::platform::remove_cgroup(delegated + "/ipcrt.supervisor").has_value());
  CHECK_TRUE(ipcrt::platform::remove_cgroup(delegated).has_value());
}

// SPEC §13: where a limit cannot be applied, `plan` refuses it at its pointer and names the
// fix; without cgroups at all (IPCRT_CGROUP=off) every limit is refused the same way.
TEST(Cgroups, PlanRefusesLimitsThisMachineCannotApplyAndNamesTheFix) {
  Support support;
  TempDir dir;
  auto manifest = dir.write_file(
      "m.json",
      manifest_json(unique_name(),
                    {service_json("hog", probe_command({"hog"}),
                                  ", \"resources\": {\"memory-max\": \"64M\", \"cpu-max\": "
                                  "\"50%\"}")}));
  auto result = ipcrt::test::run_ipcrt({"plan", manifest});
  if (support.offers("memory")) {
    LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
    CHECK_TRUE_TEXT(contains(result.out, "memory.max=67108864"), result.out.c_str());
  } else {
    CHECK_TRUE(result.exit_code != 0);
    CHECK_TRUE_TEXT(contains(result.err, "/services/hog/resources/memory-max"), result.err.c_str());
    CHECK_TRUE(contains(result.err, "memory controller"));
    CHECK_TRUE(contains(result.err, "remove resources.memory-max"));
  }

  ::setenv("IPCRT_CGROUP", "off", 1);
  auto off = ipcrt::test::run_ipcrt({"plan", manifest});
  ::unsetenv("IPCRT_CGROUP");
  CHECK_TRUE(off.exit_code != 0);
  CHECK_TRUE_TEXT(contains(off.err,
                           "/services/hog/resources/memory-max: error: memory-max needs "
                           "cgroup v2"),
                  off.err.c_str());
  CHECK_TRUE(contains(off.err, "/services/hog/resources/cpu-max"));
  CHECK_TRUE(contains(off.err, "PID namespaces alone"));

  // Without limits the same machine runs services, contained by their PID namespaces.
  auto plain = dir.write_file(
      "plain.json", manifest_json(unique_name(), {service_json("once", "[\"/bin/true\"]")}));
  ::setenv("IPCRT_CGROUP", "off", 1);
  auto ran = ipcrt::test::run_ipcrt({"run", plain});
  ::unsetenv("IPCRT_CGROUP");
  LONGS_EQUAL_TEXT(0, ran.exit_code, ran.err.c_str());
  CHECK_TRUE(contains(ran.err, "no cgroups: services are contained by their PID namespaces"));
}

// The limits as the kernel holds them, in its units (SPEC §13), and memory.oom.group.
TEST(Cgroups, TheLimitsAreInTheServicesCgroupFiles) {
  Support support;
  if (!support.offers("memory") || !support.offers("pids") || !support.offers("cpu")) {
    return skip("no memory, pids and cpu controllers in ipcrt's cgroup (the ARM images have them)");
  }
  TempDir dir;
  const std::string name = unique_name();
  auto manifest = dir.write_file(
      "m.json",
      manifest_json(name, {service_json("limited", probe_command({"sleep"}),
                                        ", \"resources\": {\"memory-max\": \"64M\", "
                                        "\"memory-high\": \"48M\", \"pids-max\": 32, "
                                        "\"cpu-weight\": 50, \"cpu-max\": \"50%\"}"),
                           service_json("free", probe_command({"sleep"}),
                                        ", \"resources\": {\"cpu-max\": \"20000 50000\"}")}));
  Background runtime(dir, manifest);
  CHECK_TRUE_TEXT(runtime.wait_for("msg=started service=limited"), runtime.err().c_str());
  CHECK_TRUE(runtime.wait_for("msg=started service=free"));
  const std::string limited = support.cgroups.manifest_dir(name) + "/limited";
  STRCMP_EQUAL("67108864", trimmed(read_file(limited + "/memory.max")).c_str());
  STRCMP_EQUAL("50331648", trimmed(read_file(limited + "/memory.high")).c_str());
  STRCMP_EQUAL("32", trimmed(read_file(limited + "/pids.max")).c_str());
  STRCMP_EQUAL("50", trimmed(read_file(limited + "/cpu.weight")).c_str());
  STRCMP_EQUAL("50000 100000", trimmed(read_file(limited + "/cpu.max")).c_str());
  STRCMP_EQUAL("1", trimmed(read_file(limited + "/memory.oom.group")).c_str());
  const std::string free = support.cgroups.manifest_dir(name) + "/free";
  STRCMP_EQUAL("max", trimmed(read_file(free + "/memory.max")).c_str());
  STRCMP_EQUAL("20000 50000", trimmed(read_file(free + "/cpu.max")).c_str());
  STRCMP_EQUAL("1", trimmed(read_file(free + "/memory.oom.group")).c_str());

  auto status = status_of(name, "limited");
  CHECK_TRUE_TEXT(status.contains("tasks") && status["tasks"].is_number(), status.dump().c_str());
  CHECK_TRUE(status["tasks"].get<int>() >= 2);  // ipcrt's init and the service
  CHECK_TRUE(status["memoryBytes"].is_number());
  LONGS_EQUAL(0, status["oomKills"].get<int>());
  runtime.signal(SIGTERM);
  LONGS_EQUAL(0, runtime.wait());
}

// A memory hog is killed inside its cgroup at memory-max; the runtime and another service run
// on, and the kill is logged with its name and counted by `status`.
TEST(Cgroups, AMemoryHogIsKilledInsideItsCgroupAndNothingElseIs) {
  Support support;
  if (!support.offers("memory")) {
    return skip("no memory controller in ipcrt's cgroup (the ARM images have it)");
  }
  TempDir dir;
  const std::string name = unique_name();
  auto manifest = dir.write_file(
      "m.json", manifest_json(name, {service_json("hog", probe_command({"hog"}),
                                                  ", \"resources\": {\"memory-max\": \"24M\"}"),
                                     service_json("bystander", probe_command({"sleep"}))}));
  Background runtime(dir, manifest);
  CHECK_TRUE_TEXT(runtime.wait_for("msg=started service=bystander"), runtime.err().c_str());
  CHECK_TRUE_TEXT(runtime.wait_for("msg=\"out of memory: killed\" service=hog"),
                  runtime.err().c_str());
  CHECK_TRUE(runtime.wait_for("msg=exited service=hog"));
  CHECK_TRUE(contains(runtime.err(), "memory-max=25165824"));
  // Its cgroup's event, read as its: never logged as the bystander's.
  CHECK_FALSE(contains(runtime.err(), "killed\" service=bystander"));
  CHECK_TRUE(runtime.running());
  CHECK_TRUE(alive(started_pid(runtime.err(), "bystander")));
  auto status = status_of(name, "hog");
  CHECK_TRUE_TEXT(status.contains("oomKills") && status["oomKills"].is_number() &&
                      status["oomKills"].get<int>() >= 1,
                  status.dump().c_str());
  STRCMP_EQUAL("ready", status_of(name, "bystander").value("state", "").c_str());
  runtime.signal(SIGTERM);
  runtime.wait();
}

// pids-max binds root too (RLIMIT_NPROC does not): a fork bomb running as uid 0 stops at it,
// the refusal is logged with the service's name and counted.
TEST(Cgroups, AForkBombRunningAsRootIsBoundedByPidsMax) {
  Support support;
  if (!support.offers("pids")) {
    return skip("no pids controller in ipcrt's cgroup (the ARM images have it)");
  }
  TempDir dir;
  const std::string name = unique_name();
  auto manifest = dir.write_file(
      "m.json", manifest_json(name, {service_json("bomb", probe_command({"fork-bomb"}),
                                                  ", \"user\": \"root\", \"resources\": "
                                                  "{\"pids-max\": 16}")}));
  Background runtime(dir, manifest);
  CHECK_TRUE_TEXT(runtime.wait_for("forked "), runtime.err().c_str());
  CHECK_TRUE_TEXT(runtime.wait_for("msg=\"fork refused\" service=bomb"), runtime.err().c_str());
  CHECK_TRUE(contains(runtime.err(), "pids-max=16"));
  // ipcrt's init and the bomb itself count: 14 children at most.
  const std::string out = runtime.out();
  const auto at = out.find("forked ");
  CHECK_TRUE(at != std::string::npos);
  const long forked = std::stol(out.substr(at + 7));
  CHECK_TRUE_TEXT(forked > 0 && forked <= 14, out.c_str());
  CHECK_TRUE(contains(out, "errno=EAGAIN"));
  auto status = status_of(name, "bomb");
  CHECK_TRUE_TEXT(status["tasks"].is_number() && status["tasks"].get<int>() <= 16,
                  status.dump().c_str());
  CHECK_TRUE(status["forksRefused"].is_number() && status["forksRefused"].get<int>() >= 1);
  runtime.signal(SIGTERM);
  LONGS_EQUAL(0, runtime.wait());
}
