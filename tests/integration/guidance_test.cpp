// Every message leads to the fix (SPEC §6, §15), with real programs under `ipcrt run`: the
// denial line names what matters and the narrowest fix, following it makes the program work,
// harmless probes get no advice that widens the sandbox, and `${NAME}` arguments expand.
#include <CppUTest/TestHarness.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

using ipcrt::test::TempDir;
using ipcrt::test::unique_name;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

bool exists(const char* program) {
  return ::access(program, X_OK) == 0;
}

std::string quoted(const std::vector<std::string>& items) {
  nlohmann::json list = items;
  return list.dump();
}

// A one-service manifest: `name` running `command`, with `extra` keys (leading comma).
std::string one_service(const std::string& name, const std::vector<std::string>& command,
                        const std::string& extra = {}) {
  return "{\"version\": 1, \"name\": \"" + name +
         "\", \"services\": {\"svc\": {\"command\": " + quoted(command) + extra + "}}}\n";
}

ipcrt::test::ProcessResult run_manifest(const TempDir& dir, const std::string& manifest) {
  return ipcrt::test::run_ipcrt({"run", dir.write_file(unique_name("g") + ".json", manifest)});
}

// The denial lines of `syscall` in a run's output.
std::vector<std::string> denials(const std::string& err, const std::string& syscall) {
  std::vector<std::string> lines;
  std::size_t from = 0;
  while (from < err.size()) {
    std::size_t end = err.find('\n', from);
    if (end == std::string::npos) end = err.size();
    std::string line = err.substr(from, end - from);
    if (contains(line, "msg=denied") && contains(line, "syscall=" + syscall + " ")) {
      lines.push_back(line);
    }
    from = end + 1;
  }
  return lines;
}

}  // namespace

TEST_GROUP(Guidance){};

// SPEC §15: `${NAME}` inside one argument from the service's environment, `$$` a literal `$`.
TEST(Guidance, CommandArgumentsExpandFromTheServicesEnvironment) {
  TempDir dir;
  auto result =
      run_manifest(dir, one_service(unique_name("ge"),
                                    {"/bin/sh", "-c", "echo \"argv=$$0/$$1/$$2\"",
                                     "${IPCRT_SERVICE}", "$${HOME}", "at ${GREETING} end"},
                                    ", \"environment\": {\"GREETING\": \"hello there\"}"));
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_CONTAINS("argv=svc/${HOME}/at hello there end", result.out.c_str());
}

TEST(Guidance, AnUndefinedNameIsAPlanErrorAtItsArgument) {
  TempDir dir;
  const std::string manifest = dir.write_file(
      "m.json", one_service(unique_name("gu"), {"/bin/echo", "x", "${NO_SUCH_VARIABLE}"}));
  auto validated = ipcrt::test::run_ipcrt({"validate", manifest});
  LONGS_EQUAL_TEXT(0, validated.exit_code, validated.err.c_str());
  for (const char* command : {"plan", "run"}) {
    auto result = ipcrt::test::run_ipcrt({command, manifest});
    CHECK_TEXT(result.exit_code != 0, result.err.c_str());
    STRCMP_CONTAINS("/services/svc/command/2: error: \"${NO_SUCH_VARIABLE}\"", result.err.c_str());
    STRCMP_CONTAINS("hint: set NO_SUCH_VARIABLE in \"environment\"", result.err.c_str());
  }
}

// `plan` shows what the program will get: its expanded command, whole environment and view.
TEST(Guidance, PlanShowsTheCommandEnvironmentAndFilesystemView) {
  TempDir dir;
  const std::string manifest =
      dir.write_file("m.json", one_service(unique_name("gp"), {"/bin/echo", "${IPCRT_SERVICE}"},
                                           ", \"environment\": {\"LEVEL\": \"debug\"}"));
  auto text = ipcrt::test::run_ipcrt({"plan", manifest});
  LONGS_EQUAL_TEXT(0, text.exit_code, text.err.c_str());
  STRCMP_CONTAINS("command /bin/echo svc\n", text.out.c_str());
  STRCMP_CONTAINS("env LEVEL=debug\n", text.out.c_str());
  STRCMP_CONTAINS("env PATH=", text.out.c_str());
  STRCMP_CONTAINS("view /tmp /var/tmp its own tmpfs", text.out.c_str());
  STRCMP_CONTAINS("view /         the host's, as uid ", text.out.c_str());
  auto json = ipcrt::test::run_ipcrt({"plan", manifest, "--json"});
  LONGS_EQUAL_TEXT(0, json.exit_code, json.err.c_str());
  auto parsed = nlohmann::json::parse(json.out);
  const auto& service = parsed["services"][0];
  CHECK(service["command"] == nlohmann::json::array({"/bin/echo", "svc"}));
  STRCMP_EQUAL("debug", service["environment"]["LEVEL"].get<std::string>().c_str());
  CHECK_TRUE(service["view"].is_array() && service["view"].size() >= 5);
}

// `ls -l` and `id` look users up through glibc's NSS, which probes nscd over a Unix socket and
// carries on: the program works, and the line does not advise sockets at warn level.
TEST(Guidance, GlibcsNscdProbeGetsNoAdviceThatWidensTheSandbox) {
  TempDir dir;
  auto result = run_manifest(dir, one_service(unique_name("gn"), {"/bin/ls", "-ld", "/"}));
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_CONTAINS(" root root ", result.out.c_str());
  for (const auto& line : denials(result.err, "socket")) {
    STRCMP_CONTAINS("level=info", line.c_str());
    STRCMP_CONTAINS("arg=\"AF_UNIX SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC\"", line.c_str());
    STRCMP_CONTAINS("nscd", line.c_str());
  }
}

// A denial of another kind is reported however much noise came first, and the line's advice,
// followed, makes the program work with no denial left.
TEST(Guidance, NoiseCannotHideADenialAndFollowingTheAdviceWorks) {
  const std::string name = unique_name("gs");
  // 40 refused sockets (the noise), then one setpriority (the denial that matters).
  const std::vector<std::string> command = {
      "/bin/sh", "-c",
      "i=0; while [ $$i -lt 40 ]; do /bin/ls -ld / >/dev/null 2>&1; i=$$((i+1)); done; "
      "exec /usr/bin/nice -n 5 /bin/echo niced"};
  if (!exists("/usr/bin/nice")) return;
  TempDir dir;
  auto refused = run_manifest(dir, one_service(name, command));
  const auto lines = denials(refused.err, "setpriority");
  CHECK_TEXT(!lines.empty(), refused.err.c_str());
  const std::string& line = lines.front();
  STRCMP_CONTAINS("arg=\"which 0 who 0 nice 5\"", line.c_str());
  const auto at = line.find("need=\"seccomp.allow: ");
  CHECK_TEXT(at != std::string::npos, line.c_str());
  const std::string need = line.substr(at + 21, line.find('"', at + 21) - at - 21);
  auto allowed = run_manifest(
      dir, one_service(name, command, ", \"seccomp\": {\"allow\": [\"" + need + "\"]}"));
  LONGS_EQUAL_TEXT(0, allowed.exit_code, allowed.err.c_str());
  STRCMP_CONTAINS("niced", allowed.out.c_str());
  CHECK_TEXT(denials(allowed.err, "setpriority").empty(), allowed.err.c_str());
}

// A root-dropping daemon's setgroups cannot work under any filter (no CAP_SETGID): the advice
// is the manifest's "user", not a syscall group.
TEST(Guidance, AnIdChangeIsAdvisedAsAUserNotASyscall) {
  if (!exists("/usr/bin/python3")) return;
  TempDir dir;
  auto result = run_manifest(
      dir,
      one_service(unique_name("gg"), {"/usr/bin/python3", "-c",
                                      "import os\ntry:\n os.setgroups([])\nexcept OSError as e:\n "
                                      "print('setgroups', e.errno)"}));
  STRCMP_CONTAINS("setgroups 1", result.out.c_str());
  const auto lines = denials(result.err, "setgroups");
  CHECK_TEXT(!lines.empty(), result.err.c_str());
  STRCMP_CONTAINS("need=\"set \\\"user\\\"", lines.front().c_str());
}
