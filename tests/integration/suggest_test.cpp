// `ipcrt suggest` with real programs on the real kernel (SPEC §15): the manifest runs in complain
// mode, the merge patch it prints (applied here with nlohmann's RFC 7396 merge_patch) lets the
// same run go through `strict` with no denial, `{}` when nothing is needed, exit 3 while the
// manifest runs, nothing left behind; and complain never lets through what strict never would.
#include <CppUTest/TestHarness.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <string>
#include <vector>

#include "runtime/cgroups/support.hpp"
#include "tests/support/background.hpp"
#include "tests/support/process.hpp"
#include "tests/support/system_state.hpp"

using ipcrt::test::TempDir;
using ipcrt::test::unique_name;
using Json = nlohmann::json;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

bool exists(const char* program) {
  return ::access(program, X_OK) == 0;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t from = 0;
  while (from < text.size()) {
    std::size_t end = text.find('\n', from);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(from, end - from));
    from = end + 1;
  }
  return lines;
}

// The denial lines of a run that are not the harmless nscd probe (level=info, need "nothing
// if this is glibc's name-service probe"), which no patch is meant to silence.
std::vector<std::string> real_denials(const std::string& err) {
  std::vector<std::string> found;
  for (const auto& line : lines_of(err)) {
    if (!contains(line, "msg=denied")) continue;
    if (contains(line, "level=info") && contains(line, "name-service probe of nscd")) continue;
    found.push_back(line);
  }
  return found;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

// A manifest's entries containing `name`, in the places a run creates things.
std::vector<std::string> traces_of(const std::string& name) {
  std::vector<std::string> found;
  for (const char* place : {"/dev/mqueue", "/dev/shm", "/run/ipcrt"}) {
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(place, error)) {
      const std::string file = entry.path().filename().string();
      // The lock file stays, as after every run: it is how the next run finds no holder.
      if (contains(file, name) && file != name + ".lock") found.push_back(entry.path().string());
    }
  }
  const auto cgroups = ipcrt::runtime::probe_cgroups();
  if (cgroups.usable && ipcrt::test::path_exists(cgroups.manifest_dir(name))) {
    found.push_back(cgroups.manifest_dir(name));
  }
  return found;
}

// suggest's stdout is the patch; run_ipcrt's `out` then has what the services wrote.
std::pair<Json, std::string> split_patch(const std::string& out) {
  const std::size_t end = out.starts_with("{}\n") ? 3 : out.find("\n}\n") + 3;
  if (end < 3 || end > out.size()) FAIL(("no patch on stdout: " + out).c_str());
  return {Json::parse(out.substr(0, end)), out.substr(end)};
}

struct RoundTrip {
  Json patch;
  std::string suggest_err;
  ipcrt::test::ProcessResult strict;
};

// suggest, apply the patch, run strict: both exit 0, the strict run has no denial left.
RoundTrip round_trip(const TempDir& dir, const std::string& name, const Json& manifest) {
  const std::string path = dir.write_file(name + ".json", manifest.dump(2));
  auto suggested = ipcrt::test::run_ipcrt({"suggest", path, "--seconds", "20"});
  LONGS_EQUAL_TEXT(0, suggested.exit_code, suggested.err.c_str());
  RoundTrip trip;
  trip.suggest_err = suggested.err;
  trip.patch = split_patch(suggested.out).first;
  CHECK_TEXT(traces_of(name).empty(), joined(traces_of(name)).c_str());
  Json patched = manifest;
  patched.merge_patch(trip.patch);
  trip.strict =
      ipcrt::test::run_ipcrt({"run", dir.write_file(name + "-strict.json", patched.dump(2))});
  LONGS_EQUAL_TEXT(0, trip.strict.exit_code, trip.strict.err.c_str());
  CHECK_TEXT(real_denials(trip.strict.err).empty(),
             (trip.patch.dump(2) + "\n" + joined(real_denials(trip.strict.err))).c_str());
  return trip;
}

Json one_service(const std::string& name, const std::vector<std::string>& command) {
  return Json{{"version", 1}, {"name", name}, {"services", {{"svc", {{"command", command}}}}}};
}

std::string busybox() {
  for (const char* path : {"/usr/bin/busybox", "/bin/busybox"}) {
    if (exists(path)) return path;
  }
  return {};
}

}  // namespace

TEST_GROUP(Suggest){};

// A network service: a TCP listener and a client on the loopback, through busybox nc.
namespace {

// Whether a TCP connection to 127.0.0.1 can be made here at all.
bool loopback_up() {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  bool up = ::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
            ::listen(listener, 1) == 0 &&
            ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  if (up) {
    const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    up = client >= 0 &&
         ::connect(client, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    if (client >= 0) ::close(client);
  }
  ::close(listener);
  return up;
}

}  // namespace

TEST(Suggest, ANetworkServiceGetsItsSocketCallsAndRunsStrict) {
  const std::string nc = busybox();
  if (nc.empty()) return;
  if (!loopback_up()) {
    UT_PRINT("skipped: no loopback interface up here (the ARM test images bring none up)");
    return;
  }
  TempDir dir;
  const std::string name = unique_name("suggest");
  const std::string port = std::to_string(20000 + ::getpid() % 20000);
  // The client retries until the listener is up (a loaded machine may be slow to start it).
  const std::string script =
      nc + " nc -l -p " + port + " 127.0.0.1 > /tmp/got & l=$$!; " +
      "i=0; while [ $$i -lt 100 ]; do echo hello-tcp | " + nc + " nc -w 2 127.0.0.1 " + port +
      " 2>/dev/null && break; i=$$((i+1)); sleep 0.1; done; " +
      // A listener nobody reached must not hold the run forever.
      "sleep 0.2; kill $$l 2>/dev/null; wait; cat /tmp/got";
  auto trip = round_trip(dir, name, one_service(name, {"/bin/sh", "-c", script}));
  const Json& allow = trip.patch["services"]["svc"]["seccomp"]["allow"];
  for (const char* call : {"socket", "bind", "listen", "connect"}) {
    CHECK_TEXT(std::find(allow.begin(), allow.end(), call) != allow.end(),
               trip.patch.dump().c_str());
  }
  STRCMP_CONTAINS(
      "/services/svc/seccomp/allow: \"socket\": denied socket arg=\"AF_INET SOCK_STREAM",
      trip.suggest_err.c_str());
  STRCMP_CONTAINS(
      ("/services/svc/seccomp/allow: \"bind\": denied bind arg=\"AF_INET port " + port).c_str(),
      trip.suggest_err.c_str());
  STRCMP_CONTAINS("hello-tcp", trip.strict.out.c_str());
}

// A shell script: nice needs setpriority; ls -l's nscd probe is not patched, and said so.
TEST(Suggest, AShellScriptGetsSetpriorityAndNotTheNscdProbe) {
  if (!exists("/usr/bin/nice")) return;
  TempDir dir;
  const std::string name = unique_name("suggest");
  auto trip = round_trip(
      dir, name,
      one_service(
          name, {"/bin/sh", "-c", "/usr/bin/nice -n 5 /bin/echo niced; /bin/ls -l / >/dev/null"}));
  // Where /bin/sh is busybox (the ARM images), its privilege drop to its own ids adds
  // setgid and setuid (32-bit ARM: setgid32, setuid32); nothing else may come in, and never
  // the probe's socket or connect.
  const Json& allow = trip.patch["services"]["svc"]["seccomp"]["allow"];
  CHECK_TEXT(std::find(allow.begin(), allow.end(), "setpriority") != allow.end(),
             trip.patch.dump().c_str());
  for (const auto& entry : allow) {
    const std::string name = entry.get<std::string>();
    CHECK_TEXT(name == "setpriority" || name.starts_with("setgid") || name.starts_with("setuid"),
               trip.patch.dump().c_str());
  }
  CHECK_EQUAL(1, trip.patch["services"].size());
  STRCMP_CONTAINS(
      "/services/svc/seccomp/allow: \"setpriority\": denied setpriority arg=\"which 0 who 0 nice "
      "5\"\n",
      trip.suggest_err.c_str());
  STRCMP_CONTAINS("niced", trip.strict.out.c_str());
}

// A Python program writing to a queue its slot grants only for reading, and lowering its
// priority: the slot's whole permissions and the service's seccomp.allow.
TEST(Suggest, APythonProgramGetsTheSlotPermissionItUses) {
  if (!exists("/usr/bin/python3")) return;
  TempDir dir;
  const std::string name = unique_name("suggest");
  const std::string queue = "/" + name;
  const std::string script =
      "import ctypes, os\n"
      "libc = ctypes.CDLL(None, use_errno=True)\n"
      "q = libc.mq_open(os.environ['IPCRT_TELEMETRY_PATHS'].encode(), os.O_WRONLY)\n"
      "if q < 0: raise SystemExit('mq_open errno %d' % ctypes.get_errno())\n"
      "if libc.mq_send(q, b'hello', 5, 0) != 0:\n"
      "  raise SystemExit('mq_send errno %d' % ctypes.get_errno())\n"
      "os.nice(1)\n"
      "print('sent')\n";
  const Json manifest = {{"version", 1},
                         {"name", name},
                         {"services",
                          {{"hub",
                            {{"command", {"/bin/sleep", "1"}},
                             {"slots",
                              {{"telemetry",
                                {{"interface", "posix-mq"},
                                 {"path", queue},
                                 {"permissions", {"read"}},
                                 {"remove-on-stop", true}}}}}}},
                           {"py",
                            {{"command", {"/usr/bin/python3", "-c", script}},
                             {"plugs", {{"telemetry", {{"interface", "posix-mq"}}}}}}}}}};
  auto trip = round_trip(dir, name, manifest);
  const Json expected = Json::parse(R"({"services": {
      "hub": {"slots": {"telemetry": {"permissions": ["read", "write"]}}},
      "py": {"seccomp": {"allow": ["setpriority"]}}}})");
  CHECK_TEXT(trip.patch == expected, trip.patch.dump().c_str());
  STRCMP_CONTAINS(("/services/hub/slots/telemetry/permissions: \"write\": denied mq_open arg=\"" +
                   queue + "\" in service py")
                      .c_str(),
                  trip.suggest_err.c_str());
  STRCMP_CONTAINS("sent", trip.strict.out.c_str());
  CHECK_FALSE(ipcrt::test::queue_exists(queue));  // remove-on-stop, in both runs
}

TEST(Suggest, AManifestThatNeedsNothingGetsAnEmptyPatch) {
  TempDir dir;
  const std::string name = unique_name("suggest");
  const std::string path = dir.write_file("m.json", one_service(name, {"/bin/true"}).dump());
  auto suggested = ipcrt::test::run_ipcrt({"suggest", path});
  LONGS_EQUAL_TEXT(0, suggested.exit_code, suggested.err.c_str());
  STRCMP_EQUAL("{}\n", suggested.out.c_str());
  CHECK_TEXT(traces_of(name).empty(), joined(traces_of(name)).c_str());
}

// Until --seconds: a service that never ends is stopped as SIGTERM would stop it.
TEST(Suggest, ARunIsStoppedAfterItsSecondsAndNothingIsLeftBehind) {
  TempDir dir;
  const std::string name = unique_name("suggest");
  Json manifest =
      one_service(name, {"/bin/sh", "-c", "/usr/bin/nice -n 3 /bin/true; exec /bin/sleep 60"});
  manifest["services"]["svc"]["slots"] = {
      {"q", {{"interface", "posix-mq"}, {"path", "/" + name}, {"remove-on-stop", true}}}};
  const std::string path = dir.write_file("m.json", manifest.dump());
  const auto started = std::chrono::steady_clock::now();
  auto suggested = ipcrt::test::run_ipcrt({"suggest", path, "--seconds", "1"});
  const auto took = std::chrono::steady_clock::now() - started;
  LONGS_EQUAL_TEXT(0, suggested.exit_code, suggested.err.c_str());
  CHECK_TEXT(took < std::chrono::seconds(8), suggested.err.c_str());
  STRCMP_CONTAINS("msg=stopped", suggested.err.c_str());
  if (exists("/usr/bin/nice")) STRCMP_CONTAINS("\"setpriority\"", suggested.out.c_str());
  CHECK_TEXT(traces_of(name).empty(), joined(traces_of(name)).c_str());
}

TEST(Suggest, ExitsThreeWhileTheManifestRuns) {
  TempDir dir;
  const std::string name = unique_name("suggest");
  const std::string path = dir.write_file("m.json", one_service(name, {"/bin/sleep", "30"}).dump());
  ipcrt::test::Background running(dir, path);
  CHECK_TRUE_TEXT(running.wait_for("msg=started service=svc"), running.err().c_str());
  auto suggested = ipcrt::test::run_ipcrt({"suggest", path, "--seconds", "1"});
  LONGS_EQUAL_TEXT(3, suggested.exit_code, suggested.err.c_str());
  STRCMP_CONTAINS("already running", suggested.err.c_str());
  STRCMP_EQUAL("", suggested.out.c_str());
  CHECK_TRUE(running.running());  // the running one was not touched
  running.signal(SIGTERM);
  LONGS_EQUAL(0, running.wait());
}

TEST(Suggest, BadSecondsAreAUsageError) {
  for (const char* seconds : {"0", "-1", "ten", "100000"}) {
    auto result = ipcrt::test::run_ipcrt({"suggest", "/nonexistent.json", "--seconds", seconds});
    LONGS_EQUAL_TEXT(2, result.exit_code, seconds);
  }
}

// SPEC §15: complain never lifts the never-allowed list, io_uring or CLONE_NEWUSER. The same
// probes under confinement "off" (no filter, the same dynamic user) succeed or get the
// kernel's own answer, so each row can fail.
TEST(Suggest, ComplainNeverLetsThroughWhatStrictNeverWould) {
  TempDir dir;
  const std::string probe = ipcrt::test::build_dir() + "/tests/probe/probe";
  const std::vector<std::vector<std::string>> calls = {{"unshare", "CLONE_NEWUSER"},
                                                       {"clone", "CLONE_NEWUSER"},
                                                       {"ptrace"},
                                                       {"io_uring_setup"},
                                                       {"setpriority"}};
  std::string script;
  for (const auto& call : calls) {
    script += "echo " + call[0] + "; " + probe;
    for (const auto& word : call) script += " " + word;
    script += "; ";
  }
  auto answers = [&](const std::string& out) {
    std::vector<std::string> lines;
    for (const auto& line : lines_of(out)) {
      if (line.starts_with("errno=")) lines.push_back(line);
    }
    return lines;
  };
  const std::string name = unique_name("suggest");
  Json manifest = one_service(name, {"/bin/sh", "-c", script});
  manifest["services"]["svc"]["confinement"] = "off";
  auto unfiltered = ipcrt::test::run_ipcrt({"run", dir.write_file("off.json", manifest.dump())});
  LONGS_EQUAL_TEXT(0, unfiltered.exit_code, unfiltered.err.c_str());
  const auto free = answers(unfiltered.out);
  CHECK_EQUAL_TEXT(calls.size(), free.size(), unfiltered.out.c_str());
  // An unprivileged user namespace, where the kernel allows them (else those rows cannot fail).
  if (free[0] != "errno=0" || free[1] != "errno=0") {
    UT_PRINT("this kernel refuses unprivileged user namespaces itself");
  }
  CHECK_TEXT(free[2] != "errno=1", free[2].c_str());  // ptrace: the kernel's own answer
  const bool io_uring = free[3] == "errno=0";         // some kernels disable it

  // suggest runs every service in complain mode, whatever the manifest says.
  auto suggested = ipcrt::test::run_ipcrt({"suggest", dir.write_file("m.json", manifest.dump())});
  LONGS_EQUAL_TEXT(0, suggested.exit_code, suggested.err.c_str());
  const auto [patch, written] = split_patch(suggested.out);
  const auto complain = answers(written);
  CHECK_EQUAL_TEXT(calls.size(), complain.size(), suggested.out.c_str());
  STRCMP_EQUAL("errno=1", complain[0].c_str());
  STRCMP_EQUAL("errno=1", complain[1].c_str());
  STRCMP_EQUAL("errno=1", complain[2].c_str());
  if (io_uring) STRCMP_EQUAL("errno=1", complain[3].c_str());
  STRCMP_EQUAL("errno=0", complain[4].c_str());  // what complain does let through
  for (const char* call : {"unshare", "clone", "ptrace"}) {
    STRCMP_CONTAINS((std::string("/services/svc: cannot be patched: ") + call).c_str(),
                    suggested.err.c_str());
  }
  // setpriority, and where /bin/sh is busybox (the ARM images) its drop to its own ids
  // (setgid, setuid; setgid32, setuid32 on 32-bit ARM); never what complain refused.
  CHECK_TEXT(patch["services"]["svc"]["confinement"].is_null(), patch.dump().c_str());
  const Json& allow = patch["services"]["svc"]["seccomp"]["allow"];
  CHECK_TEXT(std::find(allow.begin(), allow.end(), "setpriority") != allow.end(),
             patch.dump().c_str());
  for (const auto& entry : allow) {
    const std::string call = entry.get<std::string>();
    CHECK_TEXT(call == "setpriority" || call.starts_with("setgid") || call.starts_with("setuid"),
               patch.dump().c_str());
  }
}
