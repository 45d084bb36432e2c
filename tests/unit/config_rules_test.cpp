// The manifest rules of SPEC §2.1–2.4 as tables: for every rule at least one manifest that must
// pass and one that must fail at an exact JSON pointer with a message naming the problem.
#include <CppUTest/TestHarness.h>
#include <sys/resource.h>

#include <csignal>

#include <string>
#include <vector>

#include "config/parser.hpp"

using ipcrt::config::Diagnostic;
using ipcrt::config::Interface;
using ipcrt::config::parse_manifest;
using ipcrt::config::ParseOptions;
using ipcrt::config::Severity;

namespace {

struct Case {
  const char* rule;
  std::string json;
  const char* pointer;       // nullptr: the manifest is valid
  const char* message = "";  // part of the message or of its hint
  bool patterns = false;
};

// One service "a" with a command, plus `body` (a JSON member list, may be empty).
std::string one(const std::string& body) {
  return R"({"version": 1, "name": "gw", "services": {"a": {"command": ["/bin/a"])" +
         (body.empty() ? "" : ", " + body) + "}}}";
}

// Services "a" and "b", each with its own extra members.
std::string two(const std::string& a, const std::string& b, const std::string& top = "") {
  return R"({"version": 1, "name": "gw", "services": {"a": {"command": ["/bin/a"])" +
         (a.empty() ? "" : ", " + a) + R"(}, "b": {"command": ["/bin/b"])" +
         (b.empty() ? "" : ", " + b) + "}}" + (top.empty() ? "" : ", " + top) + "}";
}

std::string mq_slot(const std::string& attributes) {
  return R"("slots": {"s": {"interface": "posix-mq", )" + attributes + "}}";
}

std::string shm_slot(const std::string& attributes) {
  return R"("slots": {"s": {"interface": "shared-memory", )" + attributes + "}}";
}

void run_cases(const std::vector<Case>& cases) {
  for (const auto& test_case : cases) {
    ParseOptions options;
    options.allow_queue_patterns = test_case.patterns;
    auto result = parse_manifest(test_case.json, "m.json", options);
    const std::string printed = result.diagnostics.format("m.json");
    const std::string context =
        std::string(test_case.rule) + "\n" + test_case.json + "\n" + printed;
    if (test_case.pointer == nullptr) {
      CHECK_TEXT(!result.diagnostics.has_errors(), context.c_str());
      CHECK_TEXT(result.manifest.has_value(), context.c_str());
      continue;
    }
    CHECK_TEXT(!result.manifest.has_value(), context.c_str());
    bool found = false;
    for (const Diagnostic& item : result.diagnostics.items()) {
      if (item.severity == Severity::Error && item.pointer == test_case.pointer &&
          item.text().find(test_case.message) != std::string::npos) {
        found = true;
      }
    }
    CHECK_TEXT(found, (context + "expected an error at " + test_case.pointer + " containing \"" +
                       test_case.message + "\"")
                          .c_str());
  }
}

// Each manifest must be valid and carry a warning at `pointer` containing `message`.
void run_warning_cases(const std::vector<Case>& cases) {
  for (const auto& test_case : cases) {
    auto result = parse_manifest(test_case.json, "m.json");
    const std::string printed = result.diagnostics.format("m.json");
    const std::string context =
        std::string(test_case.rule) + "\n" + test_case.json + "\n" + printed;
    CHECK_TEXT(result.manifest.has_value(), context.c_str());
    bool found = false;
    for (const Diagnostic& item : result.diagnostics.items()) {
      found = found || (item.severity == Severity::Warning && item.pointer == test_case.pointer &&
                        item.text().find(test_case.message) != std::string::npos);
    }
    CHECK_TEXT(found, (context + "expected a warning at " + test_case.pointer + " containing \"" +
                       test_case.message + "\"")
                          .c_str());
  }
}

// Parses a manifest that must be valid; its diagnostics must be exactly `expected`.
ipcrt::config::Manifest valid(const std::string& json, const std::string& expected = "") {
  auto result = parse_manifest(json, "m.json");
  const std::string printed = result.diagnostics.format("m.json");
  STRCMP_EQUAL_TEXT(expected.c_str(), printed.c_str(), json.c_str());
  if (!result.manifest) FAIL(printed.c_str());
  return *result.manifest;
}

}  // namespace

TEST_GROUP(ConfigRules){};

TEST(ConfigRules, TopLevel) {
  run_cases({
      {"version 1", one(""), nullptr},
      {"version 2", R"({"version": 2, "name": "gw", "services": {"a": {"command": ["/a"]}}})",
       "/version", "use 1"},
      {"version string",
       R"({"version": "1", "name": "gw", "services": {"a": {"command": ["/a"]}}})", "/version",
       "use 1"},
      {"version missing", R"({"name": "gw", "services": {"a": {"command": ["/a"]}}})", "",
       "missing \"version\" (hint: add \"version\": 1)"},
      {"name missing", R"({"version": 1, "services": {"a": {"command": ["/a"]}}})", "",
       "missing \"name\""},
      {"name upper-case", R"({"version": 1, "name": "GW", "services": {"a": {"command": ["/a"]}}})",
       "/name", "starts with 'G'"},
      {"name too long",
       R"({"version": 1, "name": "a23456789012345678901234567890123456789012", "services": {"a": {"command": ["/a"]}}})",
       "/name", "use at most 40"},
      {"name 40 chars",
       R"({"version": 1, "name": "a234567890123456789012345678901234567890", "services": {"a": {"command": ["/a"]}}})",
       nullptr},
      {"publisher string",
       R"({"version": 1, "name": "gw", "publisher": "acme", "services": {"a": {"command": ["/a"]}}})",
       nullptr},
      {"publisher number",
       R"({"version": 1, "name": "gw", "publisher": 3, "services": {"a": {"command": ["/a"]}}})",
       "/publisher", "expected a string"},
      {"services missing", R"({"version": 1, "name": "gw"})", "", "missing \"services\""},
      {"services empty", R"({"version": 1, "name": "gw", "services": {}})", "/services",
       "no services"},
      {"services array", R"({"version": 1, "name": "gw", "services": []})", "/services",
       "expected an object, got an array"},
      {"unknown top-level key",
       R"({"version": 1, "name": "gw", "services": {"a": {"command": ["/a"]}}, "servces": 1})",
       "/servces", "did you mean \"services\"?"},
      {"unknown key lists allowed keys",
       R"({"version": 1, "name": "gw", "services": {"a": {"command": ["/a"]}}, "zzzzzz": 1})",
       "/zzzzzz",
       "(hint: allowed keys: version, name, publisher, services, connections, control, "
       "failure-action, log)"},
      {"duplicate key",
       R"({"version": 1, "name": "gw", "services": {"a": {"command": ["/a"]}}, "name": "x"})",
       "/name", "duplicate key \"name\""},
      {"duplicate nested key in array",
       R"({"version": 1, "name": "gw", "services": {"a": {"command": ["/a"]}}, "connections": [{}, {"plug": "a:b", "plug": "a:c"}]})",
       "/connections/1/plug", "duplicate key"},
  });
}

TEST(ConfigRules, ServiceNamesAndCommand) {
  run_cases({
      {"service name ok", one(""), nullptr},
      {"service name upper-case",
       R"({"version": 1, "name": "gw", "services": {"Hub": {"command": ["/a"]}}})", "/services/Hub",
       "service name starts with 'H'"},
      {"service name underscore",
       R"({"version": 1, "name": "gw", "services": {"a_b": {"command": ["/a"]}}})", "/services/a_b",
       "contains '_'"},
      {"pointer escapes / and ~",
       R"({"version": 1, "name": "gw", "services": {"a/b~c": {"command": ["/a"]}}})",
       "/services/a~1b~0c", "contains '/'"},
      {"unknown service key", one(R"("comand": ["/x"])"), "/services/a/comand",
       "did you mean \"command\"?"},
      {"command missing", R"({"version": 1, "name": "gw", "services": {"a": {}}})", "/services/a",
       "missing \"command\""},
      {"command relative",
       R"({"version": 1, "name": "gw", "services": {"a": {"command": ["bin/a"]}}})",
       "/services/a/command/0", "not an absolute path"},
      {"command empty", R"({"version": 1, "name": "gw", "services": {"a": {"command": []}}})",
       "/services/a/command", "got an empty array"},
      {"command string", R"({"version": 1, "name": "gw", "services": {"a": {"command": "/a"}}})",
       "/services/a/command", "got a string"},
      {"command non-string argument",
       R"({"version": 1, "name": "gw", "services": {"a": {"command": ["/a", 1]}}})",
       "/services/a/command/1", "expected a string, got an integer"},
      {"command with NUL",
       R"({"version": 1, "name": "gw", "services": {"a": {"command": ["/a", "x\u0000y"]}}})",
       "/services/a/command/1", "NUL"},
  });
}

TEST(ConfigRules, ServiceSettings) {
  run_cases({
      {"user and group names", one(R"("user": "sensor", "group": "_daemon")"), nullptr},
      {"user and group numbers", one(R"("user": 1000, "group": "1000")"), nullptr},
      {"user with space", one(R"("user": "bad user")"), "/services/a/user", "user name contains"},
      {"user negative", one(R"("user": -1)"), "/services/a/user", "name or number"},
      {"group id out of range", one(R"("group": 4294967295)"), "/services/a/group", "out of range"},
      {"environment", one(R"("environment": {"LOG": "info", "EMPTY": ""})"), nullptr},
      {"environment '=' in name", one(R"("environment": {"A=B": "x"})"),
       "/services/a/environment/A=B", "without '='"},
      {"environment empty name", one(R"("environment": {"": "x"})"), "/services/a/environment/",
       "non-empty"},
      {"environment reserved", one(R"("environment": {"IPCRT_SERVICE": "x"})"),
       "/services/a/environment/IPCRT_SERVICE", "reserved"},
      {"environment number value", one(R"("environment": {"N": 1})"), "/services/a/environment/N",
       "expected a string"},
      {"environment array", one(R"("environment": ["A=B"])"), "/services/a/environment",
       "expected an object"},
      {"working-directory", one(R"("working-directory": "/var/lib/a")"), nullptr},
      {"working-directory relative", one(R"("working-directory": "var")"),
       "/services/a/working-directory", "absolute path"},
      {"restart values", one(R"("restart": "on-failure")"), nullptr},
      {"restart unknown", one(R"("restart": "sometimes")"), "/services/a/restart",
       "use one of \"no\", \"on-failure\", \"always\""},
      {"restart-delay-ms", one(R"("restart-delay-ms": 1)"), nullptr},
      {"restart-delay-ms zero", one(R"("restart-delay-ms": 0)"), "/services/a/restart-delay-ms",
       "positive integer"},
      {"restart-delay-ms fraction", one(R"("restart-delay-ms": 1.5)"),
       "/services/a/restart-delay-ms", "got a number with a fraction"},
      {"after", two("", R"("after": ["a"])"), nullptr},
      {"after itself", one(R"("after": ["a"])"), "/services/a/after/0", "after itself"},
      {"after unknown", one(R"("after": ["zz"])"), "/services/a/after/0",
       "no service named \"zz\""},
      {"confinement", one(R"("confinement": "complain")"), nullptr},
      {"confinement unknown", one(R"("confinement": "loose")"), "/services/a/confinement",
       "\"strict\", \"complain\", \"off\""},
      {"publisher per service", one(R"("publisher": "acme")"), nullptr},
  });
}

TEST(ConfigRules, Rlimits) {
  run_cases({
      {"rlimit forms",
       one(R"("rlimits": {"msgqueue": 819200, "nofile": {"soft": 64, "hard": 128}, "core": "infinity", "stack": {"soft": 1, "hard": "infinity"}})"),
       nullptr},
      {"rlimit unknown", one(R"("rlimits": {"files": 1})"), "/services/a/rlimits/files",
       "use one of as, core"},
      {"rlimit negative", one(R"("rlimits": {"nofile": -1})"), "/services/a/rlimits/nofile",
       "got -1"},
      {"rlimit other string", one(R"("rlimits": {"core": "unlimited"})"),
       "/services/a/rlimits/core", "\"infinity\""},
      {"rlimit soft above hard", one(R"("rlimits": {"nofile": {"soft": 2, "hard": 1}})"),
       "/services/a/rlimits/nofile/soft", "above the hard limit"},
      {"rlimit infinite soft above hard",
       one(R"("rlimits": {"nofile": {"soft": "infinity", "hard": 1}})"),
       "/services/a/rlimits/nofile/soft", "above the hard limit"},
      {"rlimit missing hard", one(R"("rlimits": {"nofile": {"soft": 2}})"),
       "/services/a/rlimits/nofile", "both \"soft\" and \"hard\""},
      {"rlimit unknown key", one(R"("rlimits": {"nofile": {"soft": 2, "hard": 3, "max": 4}})"),
       "/services/a/rlimits/nofile/max", "unknown key"},
  });
}

TEST(ConfigRules, Seccomp) {
  run_cases({
      {"seccomp",
       one(R"("seccomp": {"allow": ["@network-io", "sendmsg"], "deny": ["fork"], "architectures": ["arm", "x86"]})"),
       nullptr},
      {"seccomp allow not array", one(R"("seccomp": {"allow": "sendmsg"})"),
       "/services/a/seccomp/allow", "expected an array of strings"},
      {"seccomp bad syscall", one(R"("seccomp": {"deny": ["open at"]})"),
       "/services/a/seccomp/deny/0", "not a syscall name"},
      {"seccomp unknown architecture", one(R"("seccomp": {"architectures": ["arm64"]})"),
       "/services/a/seccomp/architectures/0", "unknown architecture \"arm64\""},
      {"seccomp unknown key", one(R"("seccomp": {"alow": []})"), "/services/a/seccomp/alow",
       "did you mean \"allow\"?"},
  });
}

TEST(ConfigRules, SlotsAndPlugsShape) {
  run_cases({
      {"slot name", one(mq_slot(R"("path": "/q")")), nullptr},
      {"slot name bad", one(R"("slots": {"S": {"interface": "posix-mq", "path": "/q"}})"),
       "/services/a/slots/S", "slot name starts with 'S'"},
      {"plug name bad", one(R"("plugs": {"p_": {"interface": "posix-mq"}})"),
       "/services/a/plugs/p_", "plug name contains '_'"},
      {"interface missing", one(R"("slots": {"s": {"path": "/q"}})"), "/services/a/slots/s",
       "missing \"interface\""},
      {"interface unknown", one(R"("plugs": {"p": {"interface": "dbus"}})"),
       "/services/a/plugs/p/interface", "unknown value \"dbus\""},
      {"slot not an object", one(R"("slots": {"s": "posix-mq"})"), "/services/a/slots/s",
       "expected an object"},
      {"slot and plug share a name",
       one(R"("slots": {"x": {"interface": "posix-mq", "path": "/x"}}, "plugs": {"x": {"interface": "posix-mq", "posix-mq": "y"}})"),
       "/services/a/plugs/x", "rename one"},
      {"identifier", one(mq_slot(R"("posix-mq": "telemetry", "path": "/q")")), nullptr},
      {"identifier not a string", one(mq_slot(R"("posix-mq": 1, "path": "/q")")),
       "/services/a/slots/s/posix-mq", "expected a string"},
      {"identifier empty", one(mq_slot(R"("posix-mq": "", "path": "/q")")), nullptr},
      {"plug identifier empty",
       one(R"("plugs": {"p": {"interface": "shared-memory", "shared-memory": ""}})"), nullptr},
      {"plug identifier not a string",
       one(R"("plugs": {"p": {"interface": "shared-memory", "shared-memory": ["f"]}})"),
       "/services/a/plugs/p/shared-memory", "expected a string, got an array"},
      {"posix-mq plug", one(R"("plugs": {"p": {"interface": "posix-mq", "posix-mq": "q"}})"),
       nullptr},
      {"posix-mq plug with path", one(R"("plugs": {"p": {"interface": "posix-mq", "path": "/q"}})"),
       "/services/a/plugs/p/path", "attributes come from the slot"},
      {"posix-mq slot with shm key", one(mq_slot(R"("path": "/q", "read": ["x"])")),
       "/services/a/slots/s/read", "unknown key \"read\" in a posix-mq slot"},
  });
}

TEST(ConfigRules, PosixMqPaths) {
  run_cases({
      {"path string", one(mq_slot(R"("path": "/q")")), nullptr},
      {"path array", one(mq_slot(R"("path": ["/q", "r", "s.t"])")), nullptr},
      {"path 255 chars", one(mq_slot("\"path\": \"/" + std::string(255, 'x') + "\"")), nullptr},
      {"path 256 chars", one(mq_slot("\"path\": \"/" + std::string(256, 'x') + "\"")),
       "/services/a/slots/s/path", "use at most 255"},
      {"path missing", one(mq_slot(R"("permissions": ["read"])")), "/services/a/slots/s",
       "missing \"path\""},
      {"path empty string", one(mq_slot(R"("path": "")")), "/services/a/slots/s/path",
       "empty queue path"},
      {"path empty array", one(mq_slot(R"("path": [])")), "/services/a/slots/s/path",
       "got an empty array (hint: list at least one queue"},
      {"path object", one(mq_slot(R"("path": {})")), "/services/a/slots/s/path",
       "expected a string or a non-empty array of strings, got an object"},
      {"path non-string item", one(mq_slot(R"("path": ["/q", 1])")), "/services/a/slots/s/path/1",
       "expected a string"},
      {"path only slash", one(mq_slot(R"("path": "/")")), "/services/a/slots/s/path", "no name"},
      {"path second slash", one(mq_slot(R"("path": "/a/b")")), "/services/a/slots/s/path",
       "'/' after the leading one"},
      {"path dot-dot", one(mq_slot(R"("path": "/..")")), "/services/a/slots/s/path", "not clean"},
      {"path dot", one(mq_slot(R"("path": ".")")), "/services/a/slots/s/path", "not clean"},
      {"path reserved char", one(mq_slot(R"("path": ["/a{b}"])")), "/services/a/slots/s/path/0",
       "contains '{'"},
      {"path NUL", one(mq_slot(R"("path": "/a\u0000b")")), "/services/a/slots/s/path",
       "contains a NUL character"},
      {"path listed twice", one(mq_slot(R"("path": ["/q", "q"])")), "/services/a/slots/s/path/1",
       "listed twice"},
      {"path two owners",
       two(R"("slots": {"x": {"interface": "posix-mq", "path": "/q"}})",
           R"("slots": {"y": {"interface": "posix-mq", "path": "q"}})"),
       "/services/b/slots/y/path/0", "already declared by slot a:x (now also by b:y)"},
      {"pattern rejected by default", one(mq_slot(R"("path": "/camera-*")")),
       "/services/a/slots/s/path", "need name-level mediation"},
      {"pattern accepted with mediation", one(mq_slot(R"("path": "/camera-*")")), nullptr, "",
       true},
      {"pattern without prefix", one(mq_slot(R"("path": "/*")")), "/services/a/slots/s/path",
       "put a prefix", true},
      {"pattern star in the middle", one(mq_slot(R"("path": "/a*b")")), "/services/a/slots/s/path",
       "one '*', at the end", true},
      {"pattern with another reserved char", one(mq_slot(R"("path": "/a?*")")),
       "/services/a/slots/s/path", "contains '?'", true},
      {"pattern overlaps a path of another slot",
       two(R"("slots": {"x": {"interface": "posix-mq", "path": "/camera-*"}})",
           R"("slots": {"y": {"interface": "posix-mq", "path": "/camera-1"}})"),
       "/services/b/slots/y/path/0", "overlaps \"/camera-*\"", true},
      {"path of another slot inside a later pattern",
       two(R"("slots": {"x": {"interface": "posix-mq", "path": "/camera-1"}})",
           R"("slots": {"y": {"interface": "posix-mq", "path": ["/cam", "/camera-*"]}})"),
       "/services/b/slots/y/path/1", "overlaps \"/camera-1\", declared by slot a:x", true},
      {"overlapping patterns of two slots",
       two(R"("slots": {"x": {"interface": "posix-mq", "path": "/cam-*"}})",
           R"("slots": {"y": {"interface": "posix-mq", "path": "/cam-front-*"}})"),
       "/services/b/slots/y/path/0", "overlaps \"/cam-*\"", true},
      {"pattern and path within one slot", one(mq_slot(R"("path": ["/cam-*", "/cam-1"])")), nullptr,
       "", true},
      {"patterns that do not overlap",
       two(R"("slots": {"x": {"interface": "posix-mq", "path": "/camera-*"}})",
           R"("slots": {"y": {"interface": "posix-mq", "path": "/cam-*"}})"),
       nullptr, "", true},
  });
}

TEST(ConfigRules, PosixMqAttributes) {
  run_cases({
      {"permissions",
       one(mq_slot(
           R"("path": "/q", "permissions": ["open", "read", "write", "create", "delete"])")),
       nullptr},
      {"permissions unknown", one(mq_slot(R"("path": "/q", "permissions": ["read", "exec"])")),
       "/services/a/slots/s/permissions/1",
       "use \"read\", \"write\", \"create\", \"delete\", \"open\""},
      {"permissions open and read",
       one(mq_slot(R"("path": "/q", "permissions": ["open", "read"])")), nullptr},
      {"permissions unknown after a non-string",
       one(mq_slot(R"("path": "/q", "permissions": [1, "exec"])")),
       "/services/a/slots/s/permissions/1", "unknown permission \"exec\""},
      {"max-messages at the hard ceiling", one(mq_slot(R"("path": "/q", "max-messages": 65536)")),
       nullptr},
      {"max-messages above the hard ceiling",
       one(mq_slot(R"("path": "/q", "max-messages": 65537)")), "/services/a/slots/s/max-messages",
       "expected a positive integer up to 65536, got 65537 (hint: 65536 messages is the kernel's "
       "hard ceiling, which binds even root)"},
      {"message-size at the hard ceiling",
       one(mq_slot(R"("path": "/q", "message-size": 16777216)")), nullptr},
      {"message-size above the hard ceiling",
       one(mq_slot(R"("path": "/q", "message-size": 16777217)")),
       "/services/a/slots/s/message-size",
       "got 16777217 (hint: 16777216 bytes (16 MiB) is the kernel's hard ceiling"},
      {"permissions string", one(mq_slot(R"("path": "/q", "permissions": "read")")),
       "/services/a/slots/s/permissions", "expected an array of strings"},
      {"sizes", one(mq_slot(R"("path": "/q", "max-messages": 1, "message-size": 8192)")), nullptr},
      {"max-messages zero", one(mq_slot(R"("path": "/q", "max-messages": 0)")),
       "/services/a/slots/s/max-messages", "positive integer"},
      {"message-size string", one(mq_slot(R"("path": "/q", "message-size": "512")")),
       "/services/a/slots/s/message-size", "got a string"},
      {"mode", one(mq_slot(R"("path": "/q", "mode": "0640")")), nullptr},
      {"mode three digits", one(mq_slot(R"("path": "/q", "mode": "604")")), nullptr},
      {"mode number", one(mq_slot(R"("path": "/q", "mode": 660)")), "/services/a/slots/s/mode",
       "octal string"},
      {"mode not octal", one(mq_slot(R"("path": "/q", "mode": "0680")")),
       "/services/a/slots/s/mode", "not an octal mode"},
      {"mode setuid", one(mq_slot(R"("path": "/q", "mode": "4660")")), "/services/a/slots/s/mode",
       "only permission bits"},
      {"mode world-writable", one(mq_slot(R"("path": "/q", "mode": "0662")")),
       "/services/a/slots/s/mode", "world-writable"},
      {"create and remove-on-stop",
       one(mq_slot(R"("path": "/q", "create": false, "remove-on-stop": true)")), nullptr},
      {"create not boolean", one(mq_slot(R"("path": "/q", "create": "yes")")),
       "/services/a/slots/s/create", "expected true or false"},
      {"remove-on-stop not boolean", one(mq_slot(R"("path": "/q", "remove-on-stop": 1)")),
       "/services/a/slots/s/remove-on-stop", "expected true or false"},
  });
}

TEST(ConfigRules, SharedMemory) {
  run_cases({
      {"shm slot", one(shm_slot(R"("read": ["config"], "write": ["frames", "sem.lock"])")),
       nullptr},
      {"shm slot only write", one(shm_slot(R"("write": ["frames"])")), nullptr},
      {"shm slot empty", one(shm_slot(R"("read": [])")), "/services/a/slots/s",
       "at least one object"},
      {"shm list not array", one(shm_slot(R"("read": "x")")), "/services/a/slots/s/read",
       "expected an array of shared-memory objects, got a string"},
      {"shm name in both lists", one(shm_slot(R"("read": ["x"], "write": ["x"])")),
       "/services/a/slots/s/write/0", "in both \"read\" and \"write\""},
      {"shm glob", one(shm_slot(R"("read": ["frames-*"])")), "/services/a/slots/s/read/0",
       "pre-creates"},
      {"shm slash", one(shm_slot(R"("read": ["/dev/shm/x"])")), "/services/a/slots/s/read/0",
       "/dev/shm/ prefix"},
      {"shm dot-dot", one(shm_slot(R"("read": [".."])")), "/services/a/slots/s/read/0",
       "not a shared-memory object name: it would be the directory above /dev/shm"},
      {"shm dot", one(shm_slot(R"("read": ["."])")), "/services/a/slots/s/read/0",
       "\".\" is not a shared-memory object name: it would be /dev/shm itself"},
      {"shm empty name", one(shm_slot(R"("read": [""])")), "/services/a/slots/s/read/0",
       "empty shared-memory object name"},
      {"shm leading space", one(shm_slot(R"("read": [" x"])")), "/services/a/slots/s/read/0",
       "starts with a space: names with leading or trailing whitespace look like other names"},
      {"shm backquote", one(shm_slot(R"("write": ["a`b"])")), "/services/a/slots/s/write/0",
       "contains '`'"},
      {"shm 256 chars", one(shm_slot("\"write\": [\"" + std::string(256, 'x') + "\"]")),
       "/services/a/slots/s/write/0", "is 256 bytes long: use at most 255 bytes"},
      {"shm reserved prefix", one(shm_slot(R"("write": ["ipcrt.gw.a"])")),
       "/services/a/slots/s/write/0", "reserved"},
      {"shm two owners",
       two(R"("slots": {"x": {"interface": "shared-memory", "write": ["f"]}})",
           R"("slots": {"y": {"interface": "shared-memory", "read": ["f"]}})"),
       "/services/b/slots/y/read/0", "already declared by slot a:x"},
      {"shm slot with mq key", one(shm_slot(R"("write": ["f"], "path": "/q")")),
       "/services/a/slots/s/path", "unknown key \"path\" in a shared-memory slot"},
      {"shm plug", one(R"("plugs": {"p": {"interface": "shared-memory", "shared-memory": "f"}})"),
       nullptr},
      {"private plug", one(R"("plugs": {"p": {"interface": "shared-memory", "private": true}})"),
       nullptr},
      {"private not boolean",
       one(R"("plugs": {"p": {"interface": "shared-memory", "private": "yes"}})"),
       "/services/a/plugs/p/private", "expected true or false"},
      {"private with identifier",
       one(R"("plugs": {"p": {"interface": "shared-memory", "private": true, "shared-memory": "x"}})"),
       "/services/a/plugs/p/private", "remove \"shared-memory\" or \"private\""},
      {"private with another shm plug",
       one(R"("plugs": {"p": {"interface": "shared-memory", "private": true}, "q": {"interface": "shared-memory"}})"),
       "/services/a/plugs/p/private", "shared-memory plug \"q\""},
      {"private with shm slot",
       one(R"("slots": {"s": {"interface": "shared-memory", "write": ["f"]}}, "plugs": {"p": {"interface": "shared-memory", "private": true}})"),
       "/services/a/plugs/p/private", "shared-memory slot \"s\""},
      {"private with a posix-mq plug",
       one(R"("plugs": {"p": {"interface": "shared-memory", "private": true}, "q": {"interface": "posix-mq"}})"),
       nullptr},
      {"shm plug unknown key",
       one(R"("plugs": {"p": {"interface": "shared-memory", "read": ["x"]}})"),
       "/services/a/plugs/p/read", "unknown key \"read\" in a shared-memory plug"},
  });
}

TEST(ConfigRules, SharedMemoryNamesAsSnapdChecksThem) {
  run_cases({
      {"trailing tab", one(shm_slot(R"("write": ["x\t"])")), "/services/a/slots/s/write/0",
       "ends with a tab"},
      {"trailing newline", one(shm_slot(R"("write": ["x\n"])")), "/services/a/slots/s/write/0",
       "ends with a newline"},
      {"leading carriage return", one(shm_slot(R"("write": ["\rx"])")),
       "/services/a/slots/s/write/0", "starts with a carriage return"},
      {"leading no-break space", one(shm_slot(R"("write": ["\u00a0x"])")),
       "/services/a/slots/s/write/0", "starts with a no-break space (U+00A0)"},
      {"trailing no-break space", one(shm_slot("\"write\": [\"x\xc2\xa0\"]")),
       "/services/a/slots/s/write/0", "ends with a no-break space (U+00A0)"},
      {"trailing ideographic space", one(shm_slot(R"("write": ["x\u3000"])")),
       "/services/a/slots/s/write/0", "ends with whitespace U+3000"},
      {"leading line separator", one(shm_slot(R"("write": ["\u2028x"])")),
       "/services/a/slots/s/write/0", "starts with whitespace U+2028"},
      {"trailing next line", one(shm_slot(R"("write": ["x\u0085"])")),
       "/services/a/slots/s/write/0", "ends with whitespace U+0085"},
      {"inner space", one(shm_slot(R"("write": ["a b", "a\u00a0b"])")), nullptr},
      {"zero-width no-break space is not whitespace", one(shm_slot(R"("write": ["\ufeffx"])")),
       nullptr},
      {"colon", one(shm_slot(R"("write": ["a:b"])")), "/services/a/slots/s/write/0",
       "contains ':': ':' separates the names in IPCRT_<NAME>_PATHS"},
      {"control character", one(shm_slot(R"("write": ["a\u0001b"])")),
       "/services/a/slots/s/write/0", "contains control character 0x01"},
      {"delete character", one(shm_slot(R"("write": ["a\u007fb"])")), "/services/a/slots/s/write/0",
       "contains control character 0x7F"},
      {"C1 control character", one(shm_slot(R"("write": ["a\u0085b"])")),
       "/services/a/slots/s/write/0", "contains control character U+0085"},
      {"caret", one(shm_slot(R"("write": ["a^b"])")), "/services/a/slots/s/write/0",
       "pattern and quoting characters"},
      // 128 two-byte characters: 128 characters, 256 bytes.
      {"length counts bytes",
       one(shm_slot(R"("write": [")" +
                    [] {
                      std::string text;
                      for (int i = 0; i < 128; ++i) text += "\u00e9";
                      return text;
                    }() +
                    "\"]")),
       "/services/a/slots/s/write/0", "is 256 bytes long"},
  });
}

TEST(ConfigRules, SharedMemoryObjectsWithSizesAndSemaphores) {
  run_cases({
      {"sized object", one(shm_slot(R"("write": [{"name": "frames", "size": 65536}])")), nullptr},
      {"semaphore", one(shm_slot(R"("write": [{"name": "sem.ready", "value": 0}, "sem.go"])")),
       nullptr},
      {"sized object in read", one(shm_slot(R"("read": [{"name": "config", "size": 4096}])")),
       nullptr},
      {"semaphore in read", one(shm_slot(R"("read": ["sem.ready"])")), "/services/a/slots/s/read/0",
       "semaphore \"sem.ready\" is in \"read\": waiting on a semaphore (sem_wait) changes it"},
      {"semaphore object in read", one(shm_slot(R"("read": [{"name": "sem.ready", "value": 1}])")),
       "/services/a/slots/s/read/0", "(hint: move it to \"write\")"},
      {"value on a plain object", one(shm_slot(R"("write": [{"name": "ready", "value": 0}])")),
       "/services/a/slots/s/write/0/value",
       "\"value\" is a semaphore's initial value, and \"ready\" is not a semaphore"},
      {"size on a semaphore", one(shm_slot(R"("write": [{"name": "sem.ready", "size": 32}])")),
       "/services/a/slots/s/write/0/size", "is a semaphore, whose size is glibc's sem_t"},
      {"size zero", one(shm_slot(R"("write": [{"name": "f", "size": 0}])")),
       "/services/a/slots/s/write/0/size", "expected a positive integer"},
      {"size not a number", one(shm_slot(R"("write": [{"name": "f", "size": "64K"}])")),
       "/services/a/slots/s/write/0/size", "got a string"},
      {"negative value", one(shm_slot(R"("write": [{"name": "sem.x", "value": -1}])")),
       "/services/a/slots/s/write/0/value", "expected a non-negative integer up to 2147483647"},
      {"value above SEM_VALUE_MAX",
       one(shm_slot(R"("write": [{"name": "sem.x", "value": 2147483648}])")),
       "/services/a/slots/s/write/0/value", "got 2147483648 (hint: SEM_VALUE_MAX"},
      {"object without a name", one(shm_slot(R"("write": [{"size": 1}])")),
       "/services/a/slots/s/write/0", "missing \"name\""},
      {"object key typo", one(shm_slot(R"("write": [{"name": "f", "sise": 1}])")),
       "/services/a/slots/s/write/0/sise", "did you mean \"size\"?"},
      {"object with a bad name", one(shm_slot(R"("write": [{"name": " f"}])")),
       "/services/a/slots/s/write/0/name", "starts with a space"},
      {"entry of another type", one(shm_slot(R"("write": [3])")), "/services/a/slots/s/write/0",
       "expected an object name or an object such as"},
      {"same object as a name and an object", one(shm_slot(R"("write": ["f", {"name": "f"}])")),
       "/services/a/slots/s/write/1", "listed twice"},
      {"objects have one owner",
       two(R"("slots": {"x": {"interface": "shared-memory", "write": [{"name": "f", "size": 1}]}})",
           R"("slots": {"y": {"interface": "shared-memory", "write": [{"name": "f"}]}})"),
       "/services/b/slots/y/write/0", "already declared by slot a:x"},
  });
  run_warning_cases({
      {"underscore", one(shm_slot(R"("write": ["sem_ready"])")), "/services/a/slots/s/write/0",
       "\"sem_ready\" looks like a semaphore, but sem_open(\"/NAME\") opens the object "
       "\"sem.NAME\", never this one (hint: if a program opens it with sem_open(\"/sem_ready\"), "
       "write "
       "\"sem.sem_ready\")"},
      {"dash", one(shm_slot(R"("write": ["sem-ready"])")), "/services/a/slots/s/write/0",
       "looks like a semaphore"},
      {"word", one(shm_slot(R"("write": [{"name": "Semaphore1", "size": 8}])")),
       "/services/a/slots/s/write/0/name", "looks like a semaphore"},
  });
}

TEST(ConfigRules, SharedMemoryObjectsReachTheModel) {
  auto manifest = valid(one(shm_slot(
      R"("write": [{"name": "frames", "size": 65536}, {"name": "sem.ready", "value": 3}, "sem.go", "semantic"], "read": ["config"])")));
  const auto* shm = manifest.services[0].slots[0].shm();
  CHECK(shm != nullptr);
  LONGS_EQUAL(4, shm->write.size());
  STRCMP_EQUAL("frames", shm->write[0].name.c_str());
  LONGS_EQUAL(65536, *shm->write[0].size);
  CHECK_FALSE(shm->write[0].is_semaphore());
  CHECK_FALSE(shm->write[0].semaphore_value.has_value());
  STRCMP_EQUAL("/services/a/slots/s/write/0", shm->write[0].pointer.c_str());
  CHECK(shm->write[1].is_semaphore());
  LONGS_EQUAL(3, *shm->write[1].semaphore_value);
  CHECK_FALSE(shm->write[1].size.has_value());
  CHECK(shm->write[2].is_semaphore());
  CHECK_FALSE(shm->write[2].semaphore_value.has_value());
  CHECK_FALSE(shm->write[3].is_semaphore());  // and, from valid(), no warning for "semantic"
  STRCMP_EQUAL("/services/a/slots/s/read/0", shm->read[0].pointer.c_str());
}

TEST(ConfigRules, PermissionsThatGrantOnlyOpenAreAcceptedWithAWarning) {
  run_warning_cases({
      {"empty", one(mq_slot(R"("path": "/q", "permissions": [])")),
       "/services/a/slots/s/permissions",
       "grants connected plugs neither read, write, create nor delete: they can at most open the "
       "queue and read its attributes"},
      {"only open", one(mq_slot(R"("path": "/q", "permissions": ["open"])")),
       "/services/a/slots/s/permissions", "(hint: add \"read\" or \"write\""},
  });
  auto manifest = valid(one(mq_slot(R"("path": "/q", "permissions": ["open", "write"])")));
  LONGS_EQUAL(ipcrt::config::kPermWrite, manifest.services[0].slots[0].mq()->permissions);
  auto open_only = parse_manifest(one(mq_slot(R"("path": "/q", "permissions": ["open"])")), "m");
  LONGS_EQUAL(0, open_only.manifest->services[0].slots[0].mq()->permissions);
}

TEST(ConfigRules, AnEmptyIdentifierFallsBackToTheName) {
  auto manifest = valid(one(
      R"("slots": {"s": {"interface": "posix-mq", "posix-mq": "", "path": "/q"}}, "plugs": {"p": {"interface": "shared-memory", "shared-memory": ""}})"));
  STRCMP_EQUAL("s", manifest.services[0].slots[0].identifier.c_str());
  STRCMP_EQUAL("p", manifest.services[0].plugs[0].identifier.c_str());
}

TEST(ConfigRules, QueuePathCharactersSaidWhy) {
  run_cases({
      {"colon", one(mq_slot(R"("path": "/a:b")")), "/services/a/slots/s/path",
       "queue path contains ':': ':' separates the names in IPCRT_<NAME>_PATHS and LISTEN_FDNAMES"},
      {"control character", one(mq_slot(R"("path": "/a\tb")")), "/services/a/slots/s/path",
       "contains control character 0x09: control characters are invisible"},
      {"C1 control character", one(mq_slot(R"("path": "/a\u009bb")")), "/services/a/slots/s/path",
       "contains control character U+009B"},
      {"length counts bytes",
       one(mq_slot(R"("path": "/)" +
                   [] {
                     std::string text;
                     for (int i = 0; i < 128; ++i) text += "\u00e9";
                     return text;
                   }() +
                   "\"")),
       "/services/a/slots/s/path", "queue name is 256 bytes long: use at most 255 bytes"},
      {"non-ASCII within the limit", one(mq_slot(R"("path": "/caf\u00e9")")), nullptr},
  });
}

TEST(ConfigRules, AfterCyclesAreNamed) {
  run_cases({
      {"chain",
       R"({"version": 1, "name": "gw", "services": {"a": {"command": ["/a"], "after": ["b"]}, "b": {"command": ["/b"], "after": ["c"]}, "c": {"command": ["/c"]}}})",
       nullptr},
      {"two services", two(R"("after": ["b"])", R"("after": ["a"])"), "/services/a/after",
       "start order has a cycle: a -> b -> a (each waits for the next through `after`) (hint: "
       "remove one `after` entry)"},
      {"cycle behind a service outside it",
       R"({"version": 1, "name": "gw", "services": {"a": {"command": ["/a"], "after": ["b"]}, "b": {"command": ["/b"], "after": ["c"]}, "c": {"command": ["/c"], "after": ["b"]}}})",
       "/services/b/after", "start order has a cycle: b -> c -> b"},
  });
  auto result = parse_manifest(
      R"({"version": 1, "name": "gw", "services": {"a": {"command": ["/a"], "after": ["b"]}, "b": {"command": ["/b"], "after": ["a"]},
          "c": {"command": ["/c"], "after": ["d"]}, "d": {"command": ["/d"], "after": ["e"]}, "e": {"command": ["/e"], "after": ["c"]}}})",
      "m.json");
  STRCMP_EQUAL(
      "m.json: /services/a/after: error: start order has a cycle: a -> b -> a (each waits for the "
      "next through `after`) (hint: remove one `after` entry)\n"
      "m.json: /services/c/after: error: start order has a cycle: c -> d -> e -> c (each waits "
      "for the next through `after`) (hint: remove one `after` entry)\n",
      result.diagnostics.format("m.json").c_str());
}

TEST(ConfigRules, SystemSlotInAConnection) {
  run_cases({
      {"plug end may not be a system end",
       two("", "", R"("connections": [{"plug": ":p", "slot": ":shared-memory"}])"),
       "/connections/0/plug", "is not of the form \"SERVICE:PLUG\""},
  });
  auto manifest = valid(
      R"({"version": 1, "name": "gw", "services": {"a": {"command": ["/a"], "plugs": {"p": {"interface": "shared-memory", "private": true}}}},
      "connections": [{"plug": "a:p", "slot": ":shared-memory"}]})");
  LONGS_EQUAL(1, manifest.connections.size());
  STRCMP_EQUAL("", manifest.connections[0].slot_service.c_str());
  STRCMP_EQUAL("shared-memory", manifest.connections[0].slot.c_str());
}

TEST(ConfigRules, ConnectionEntries) {
  run_cases({
      {"connection", two("", "", R"("connections": [{"plug": "a:p", "slot": "b:s"}])"), nullptr},
      {"connections not a list", two("", "", R"("connections": {"plug": "a:p", "slot": "b:s"})"),
       "/connections", "expected an array of connections"},
      {"connection not an object", two("", "", R"("connections": ["a:p"])"), "/connections/0",
       "expected an object"},
      {"connection without slot", two("", "", R"("connections": [{"plug": "a:p"}])"),
       "/connections/0", "missing \"slot\""},
      {"connection bad form", two("", "", R"("connections": [{"plug": "a-p", "slot": "b:s"}])"),
       "/connections/0/plug", "SERVICE:PLUG"},
      {"connection unknown key",
       two("", "", R"("connections": [{"plug": "a:p", "slot": "b:s", "auto": true}])"),
       "/connections/0/auto",
       "unknown key \"auto\" in a connection (hint: allowed keys: plug, slot)"},
  });
}

TEST(ConfigRules, PermissionWordsAreTheManifestsSpellingInOneOrder) {
  using ipcrt::config::permission_words;
  auto words = permission_words(ipcrt::config::kPermDelete | ipcrt::config::kPermRead);
  LONGS_EQUAL(2, words.size());
  CHECK(words[0] == "read");
  CHECK(words[1] == "delete");
  CHECK(permission_words(0).empty());
  LONGS_EQUAL(4, permission_words(ipcrt::config::kPermAll).size());
}

TEST(ConfigRules, EveryErrorIsReportedNotOnlyTheFirst) {
  auto result = parse_manifest(
      one(R"("restart": "x", "confinement": "y", "slots": {"s": {"interface": "posix-mq", "path": ["/a/b", "/c?"]}})"),
      "m.json");
  LONGS_EQUAL(4, result.diagnostics.items().size());
}

TEST(ConfigRules, NormalisedModelKeepsDocumentOrderAndDefaults) {
  auto result = parse_manifest(
      R"({"version": 1, "name": "gw", "publisher": "acme", "services": {
           "zeta": {"command": ["/z"], "environment": {"B": "2", "A": "1"},
                    "rlimits": {"nofile": {"soft": 8, "hard": "infinity"}},
                    "slots": {"q2": {"interface": "posix-mq", "path": ["x", "/y"], "permissions": ["open", "read", "delete"], "mode": "640"},
                              "q1": {"interface": "shared-memory", "shared-memory": "frames", "write": ["f"]}}},
           "alpha": {"command": ["/a"], "publisher": "other", "plugs": {"q2": {"interface": "posix-mq"}}}}})",
      "m.json");
  CHECK_TEXT(result.manifest.has_value(), result.diagnostics.format("m.json").c_str());
  const auto& manifest = *result.manifest;
  STRCMP_EQUAL("m.json", manifest.file.c_str());
  LONGS_EQUAL(2, manifest.services.size());
  STRCMP_EQUAL("zeta", manifest.services[0].name.c_str());
  STRCMP_EQUAL("acme", manifest.services[0].publisher.c_str());
  STRCMP_EQUAL("other", manifest.services[1].publisher.c_str());
  const auto& zeta = manifest.services[0];
  STRCMP_EQUAL("B", zeta.environment[0].first.c_str());
  LONGS_EQUAL(8, zeta.rlimits[0].soft);
  CHECK(zeta.rlimits[0].hard == RLIM_INFINITY);
  LONGS_EQUAL(RLIMIT_NOFILE, zeta.rlimits[0].resource);
  STRCMP_EQUAL("q2", zeta.slots[0].name.c_str());
  STRCMP_EQUAL("/services/zeta/slots/q2", zeta.slots[0].pointer.c_str());
  const auto* mq = zeta.slots[0].mq();
  CHECK(mq != nullptr);
  STRCMP_EQUAL("/x", mq->paths[0].c_str());
  STRCMP_EQUAL("/y", mq->paths[1].c_str());
  LONGS_EQUAL(ipcrt::config::kPermRead | ipcrt::config::kPermDelete, mq->permissions);
  LONGS_EQUAL(0640, mq->mode);
  CHECK(mq->create);
  CHECK_FALSE(mq->remove_on_stop);
  CHECK_FALSE(mq->max_messages.has_value());
  STRCMP_EQUAL("q2", zeta.slots[0].identifier.c_str());
  STRCMP_EQUAL("frames", zeta.slots[1].identifier.c_str());
  CHECK(zeta.slots[1].interface == Interface::SharedMemory);
  STRCMP_EQUAL("f", zeta.slots[1].shm()->write[0].name.c_str());
  LONGS_EQUAL(ipcrt::config::kPermRead | ipcrt::config::kPermWrite,
              ipcrt::config::MqSlot{}.permissions);
}

// ---- SPEC §13 resources ------------------------------------------------------------------

TEST(ConfigRules, Resources) {
  run_cases({
      {"every key",
       one(R"("resources": {"memory-max": "256M", "memory-high": 134217728, "pids-max": 64, "cpu-weight": 100, "cpu-max": "150%", "shm-bytes": "1G", "tmp-bytes": 4096, "queues": 0, "queue-bytes": 0})"),
       nullptr},
      {"max where a cgroup limit may be off",
       one(R"("resources": {"memory-max": "max", "memory-high": "max", "pids-max": "max", "cpu-max": "max"})"),
       nullptr},
      {"not an object", one(R"("resources": 1)"), "/services/a/resources", "expected an object"},
      {"unknown key", one(R"("resources": {"memory-mx": "1G"})"),
       "/services/a/resources/memory-mx", "did you mean \"memory-max\"?"},
      {"memory in bytes below 1M", one(R"("resources": {"memory-max": 512})"),
       "/services/a/resources/memory-max",
       "512 is below 1M (1048576 bytes), less than any program needs to run (hint: a number "
       "without a unit is bytes: did you mean \"512M\"?)"},
      {"memory string below 1M", one(R"("resources": {"memory-high": "1023K"})"),
       "/services/a/resources/memory-high", "\"1023K\" is below 1M"},
      {"memory at 1M", one(R"("resources": {"memory-max": "1M"})"), nullptr},
      {"lower-case suffix", one(R"("resources": {"memory-max": "64m"})"),
       "/services/a/resources/memory-max",
       "\"64m\" is not a size: write bytes (65536) or a size with K, M, G or T (\"64M\"), or "
       "\"max\" (hint: write \"64M\""},
      {"MiB", one(R"("resources": {"memory-max": "64MiB"})"), "/services/a/resources/memory-max",
       "write \"64M\""},
      {"fraction", one(R"("resources": {"memory-max": "1.5G"})"),
       "/services/a/resources/memory-max", "no fractions"},
      {"negative", one(R"("resources": {"memory-max": -1})"), "/services/a/resources/memory-max",
       "or \"max\", got -1"},
      {"boolean", one(R"("resources": {"memory-max": true})"), "/services/a/resources/memory-max",
       "got a boolean"},
      {"overflow", one(R"("resources": {"memory-max": "16777216T"})"),
       "/services/a/resources/memory-max", "too large: at most 9223372036854775807 bytes"},
      {"integer above off_t", one(R"("resources": {"memory-max": 18446744073709551615})"),
       "/services/a/resources/memory-max", "too large"},
      {"pids-max 1", one(R"("resources": {"pids-max": 1})"), "/services/a/resources/pids-max",
       "from 2 to 4194304 (ipcrt's init in the service's pid namespace counts as one), or "
       "\"max\", got 1"},
      {"pids-max above PID_MAX_LIMIT", one(R"("resources": {"pids-max": 4194305})"),
       "/services/a/resources/pids-max", "got 4194305"},
      {"pids-max string", one(R"("resources": {"pids-max": "64"})"),
       "/services/a/resources/pids-max", "got \"64\""},
      {"cpu-weight 0", one(R"("resources": {"cpu-weight": 0})"), "/services/a/resources/cpu-weight",
       "expected a positive integer up to 10000, got 0"},
      {"cpu-weight 10001", one(R"("resources": {"cpu-weight": 10001})"),
       "/services/a/resources/cpu-weight", "cpu.weight takes 1 to 10000"},
      {"cpu-max forms",
       two(R"("resources": {"cpu-max": "12.5%"})", R"("resources": {"cpu-max": "50000 100000"})"),
       nullptr},
      {"cpu-max max with period", one(R"("resources": {"cpu-max": "max 50000"})"), nullptr},
      {"cpu-max number", one(R"("resources": {"cpu-max": 50})"), "/services/a/resources/cpu-max",
       "got an integer (hint: write a percentage as a string, e.g. \"50%\")"},
      {"cpu-max below 1%", one(R"("resources": {"cpu-max": "0.9%"})"),
       "/services/a/resources/cpu-max", "below the kernel's smallest CPU quota, 1%"},
      {"cpu-max four decimals", one(R"("resources": {"cpu-max": "12.3456%"})"),
       "/services/a/resources/cpu-max", "at most three decimals"},
      {"cpu-max quota without period", one(R"("resources": {"cpu-max": "50000"})"),
       "/services/a/resources/cpu-max", "a quota needs its period: \"50000 100000\""},
      {"cpu-max period too long", one(R"("resources": {"cpu-max": "50000 2000000"})"),
       "/services/a/resources/cpu-max", "the period must be from 1000 to 1000000 µs"},
      {"cpu-max quota too small", one(R"("resources": {"cpu-max": "999 100000"})"),
       "/services/a/resources/cpu-max", "the quota must be from 1000"},
      {"cpu-max garbage", one(R"("resources": {"cpu-max": "half"})"),
       "/services/a/resources/cpu-max", "\"half\" is not a CPU limit: write \"50%\" of one CPU"},
      {"budget max refused", one(R"("resources": {"tmp-bytes": "max"})"),
       "/services/a/resources/tmp-bytes", "\"max\" is not allowed here: this budget always applies"},
      {"tmpfs below a page", one(R"("resources": {"shm-bytes": 4095})"),
       "/services/a/resources/shm-bytes", "below 4K (4096 bytes), less than one page"},
      {"tmpfs zero", one(R"("resources": {"tmp-bytes": "0K"})"), "/services/a/resources/tmp-bytes",
       "below 4K"},
      {"queues negative", one(R"("resources": {"queues": -1})"), "/services/a/resources/queues",
       "non-negative integer up to 65536"},
      {"queue-bytes spaced", one(R"("resources": {"queue-bytes": "1 M"})"),
       "/services/a/resources/queue-bytes", "no space between the number and the unit"},
  });
  run_warning_cases({
      {"memory-high at memory-max",
       one(R"("resources": {"memory-max": "64M", "memory-high": 67108864})"),
       "/services/a/resources/memory-high",
       "memory-high (64M) is not below memory-max (64M): the service is killed before it is "
       "ever throttled"},
  });
}

TEST(ConfigRules, ResourcesReachTheModelTypedWithTheDefaultsFilledIn) {
  using ipcrt::config::kMiB;
  using ipcrt::config::kNoLimit;
  auto defaults = valid(one("")).services[0].resources;
  CHECK_FALSE(defaults.memory_max || defaults.memory_high || defaults.pids_max ||
              defaults.cpu_weight || defaults.cpu_max);
  CHECK(defaults.cgroup_keys().empty());
  CHECK(defaults.shm_bytes == 16 * kMiB);
  CHECK(defaults.tmp_bytes == 16 * kMiB);
  LONGS_EQUAL(8, defaults.queues);
  CHECK(defaults.queue_bytes == kMiB);

  auto set = valid(
      one(R"("resources": {"memory-max": "2G", "memory-high": 1048576, "pids-max": "max", "cpu-weight": 7, "cpu-max": "250%", "shm-bytes": "8K", "tmp-bytes": "1T", "queues": 3, "queue-bytes": "0"})"))
                 .services[0]
                 .resources;
  CHECK(*set.memory_max == 2048 * kMiB);
  CHECK(*set.memory_high == kMiB);
  CHECK(*set.pids_max == kNoLimit);
  LONGS_EQUAL(7, *set.cpu_weight);
  CHECK(set.cpu_max->quota_us == 250000);
  CHECK(set.cpu_max->period_us == 100000);
  CHECK(set.shm_bytes == 8192);
  CHECK(set.tmp_bytes == 1ULL << 40U);
  LONGS_EQUAL(3, set.queues);
  CHECK(set.queue_bytes == 0);
  const auto keys = set.cgroup_keys();
  LONGS_EQUAL(5, keys.size());
  CHECK(keys[0] == "memory-max");
  CHECK(keys[4] == "cpu-max");

  auto cpu = valid(one(R"("resources": {"cpu-max": "30000 50000", "memory-max": "max"})"))
                 .services[0]
                 .resources;
  CHECK(cpu.cpu_max->quota_us == 30000);
  CHECK(cpu.cpu_max->period_us == 50000);
  CHECK(*cpu.memory_max == kNoLimit);
  auto unlimited = valid(one(R"("resources": {"cpu-max": "max"})")).services[0].resources;
  CHECK(unlimited.cpu_max->quota_us == kNoLimit);
  CHECK(unlimited.cpu_max->period_us == 100000);
}

// ---- SPEC §11 lifecycle ------------------------------------------------------------------

TEST(ConfigRules, Lifecycle) {
  run_cases({
      {"every key",
       one(R"("type": "notify", "start-timeout-ms": 1000, "stop-signal": "SIGINT", "stop-timeout-ms": 100, "watchdog-ms": 500, "restart-limit": {"burst": 1, "interval-ms": 1}, "critical": true, "pass-queues": false)"),
       nullptr},
      {"oneshot without restart", one(R"("type": "oneshot")"), nullptr},
      {"oneshot with restart no", one(R"("type": "oneshot", "restart": "no")"), nullptr},
      {"oneshot with on-failure", one(R"("type": "oneshot", "restart": "on-failure")"),
       "/services/a/restart",
       "\"restart\": \"on-failure\" on a oneshot service: a oneshot is done once it exits 0 and "
       "is never restarted (hint: remove \"restart\", or use \"type\": \"simple\""},
      {"oneshot with always", one(R"("restart": "always", "type": "oneshot")"),
       "/services/a/restart", "\"always\" on a oneshot service"},
      {"type unknown", one(R"("type": "forking")"), "/services/a/type",
       "unknown value \"forking\": use one of \"simple\", \"notify\", \"oneshot\""},
      {"watchdog without notify", one(R"("watchdog-ms": 1000)"), "/services/a/watchdog-ms",
       "\"watchdog-ms\" needs \"type\": \"notify\": only a notify service gets the socket"},
      {"watchdog on a oneshot", one(R"("type": "oneshot", "watchdog-ms": 1000)"),
       "/services/a/watchdog-ms", "needs \"type\": \"notify\""},
      {"start-timeout 0", one(R"("start-timeout-ms": 0)"), "/services/a/start-timeout-ms",
       "expected a positive integer up to 86400000, got 0"},
      {"stop-timeout above an hour", one(R"("stop-timeout-ms": 3600001)"),
       "/services/a/stop-timeout-ms", "up to 3600000"},
      {"watchdog fraction", one(R"("type": "notify", "watchdog-ms": 0.5)"),
       "/services/a/watchdog-ms", "got a number with a fraction"},
      {"stop-signal without SIG", one(R"("stop-signal": "QUIT")"), nullptr},
      {"stop-signal WINCH", one(R"("stop-signal": "SIGWINCH")"), nullptr},
      {"stop-signal SIGKILL", one(R"("stop-signal": "SIGKILL")"), "/services/a/stop-signal",
       "\"SIGKILL\" cannot be a stop signal: SIGKILL cannot be caught, so the service never gets "
       "to stop cleanly"},
      {"stop-signal STOP", one(R"("stop-signal": "STOP")"), "/services/a/stop-signal",
       "SIGSTOP cannot be caught and suspends the service"},
      {"stop-signal TSTP", one(R"("stop-signal": "SIGTSTP")"), "/services/a/stop-signal",
       "suspends the service by default"},
      {"stop-signal number", one(R"("stop-signal": 15)"), "/services/a/stop-signal",
       "signal numbers differ between architectures"},
      {"stop-signal lower-case", one(R"("stop-signal": "sigterm")"), "/services/a/stop-signal",
       "unknown signal \"sigterm\" (hint: signal names are upper-case: \"SIGTERM\")"},
      {"stop-signal lower-case of a refused one", one(R"("stop-signal": "kill")"),
       "/services/a/stop-signal", "upper-case: \"KILL\""},
      {"stop-signal unknown", one(R"("stop-signal": "SIGFOO")"), "/services/a/stop-signal",
       "(hint: use one of SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGABRT, SIGALRM, "
       "SIGWINCH, SIGPWR)"},
      {"restart-limit not an object", one(R"("restart-limit": 5)"), "/services/a/restart-limit",
       "expected an object"},
      {"restart-limit burst 0", one(R"("restart-limit": {"burst": 0})"),
       "/services/a/restart-limit/burst", "positive integer up to 1000"},
      {"restart-limit unknown key", one(R"("restart-limit": {"burts": 5})"),
       "/services/a/restart-limit/burts", "did you mean \"burst\"?"},
      {"critical not boolean", one(R"("critical": 1)"), "/services/a/critical",
       "expected true or false"},
      {"pass-queues not boolean", one(R"("pass-queues": "yes")"), "/services/a/pass-queues",
       "expected true or false"},
      {"failure-action values", R"({"version": 1, "name": "gw", "failure-action": "none",
           "services": {"a": {"command": ["/a"], "critical": true}}})",
       nullptr},
      {"failure-action unknown",
       R"({"version": 1, "name": "gw", "failure-action": "halt", "services": {"a": {"command": ["/a"]}}})",
       "/failure-action", "use one of \"none\", \"reboot\", \"poweroff\""},
  });
  run_warning_cases({
      {"failure-action without a critical service",
       R"({"version": 1, "name": "gw", "failure-action": "reboot", "services": {"a": {"command": ["/a"], "critical": false}}})",
       "/failure-action",
       "\"failure-action\": \"reboot\" has no effect: no service is \"critical\" (hint: add "
       "\"critical\": true"},
      {"pass-queues without queues", one(R"("pass-queues": true)"), "/services/a/pass-queues",
       "it has no posix-mq slot or plug: nothing is passed"},
  });
  // A critical service with failure-action "none" stops the runtime (exit 4) and leaves the
  // rest to the host: no warning.
  valid(one(R"("critical": true)"));
  valid(one(R"("pass-queues": true, "plugs": {"q": {"interface": "posix-mq"}})"));
}

TEST(ConfigRules, LifecycleReachesTheModelWithItsDefaults) {
  using ipcrt::config::FailureAction;
  using ipcrt::config::ServiceType;
  auto manifest = valid(one(""));
  const auto& defaults = manifest.services[0];
  CHECK(manifest.failure_action == FailureAction::None);
  CHECK(defaults.type == ServiceType::Simple);
  LONGS_EQUAL(30000, defaults.start_timeout_ms);
  LONGS_EQUAL(SIGTERM, defaults.stop_signal);
  LONGS_EQUAL(5000, defaults.stop_timeout_ms);
  CHECK_FALSE(defaults.watchdog_ms.has_value());
  LONGS_EQUAL(5, defaults.restart_limit.burst);
  LONGS_EQUAL(60000, defaults.restart_limit.interval_ms);
  CHECK_FALSE(defaults.critical);
  CHECK_FALSE(defaults.pass_queues);

  auto set = valid(
      R"({"version": 1, "name": "gw", "failure-action": "poweroff", "services": {"a": {"command": ["/a"],
          "type": "notify", "start-timeout-ms": 7, "stop-signal": "USR2", "stop-timeout-ms": 8, "watchdog-ms": 9,
          "restart-limit": {"interval-ms": 10}, "critical": true, "pass-queues": true,
          "slots": {"q": {"interface": "posix-mq", "path": "/q"}}}}})");
  const auto& service = set.services[0];
  CHECK(set.failure_action == FailureAction::Poweroff);
  CHECK(service.type == ServiceType::Notify);
  LONGS_EQUAL(7, service.start_timeout_ms);
  LONGS_EQUAL(SIGUSR2, service.stop_signal);
  LONGS_EQUAL(8, service.stop_timeout_ms);
  LONGS_EQUAL(9, *service.watchdog_ms);
  LONGS_EQUAL(5, service.restart_limit.burst);  // the default where only the interval is set
  LONGS_EQUAL(10, service.restart_limit.interval_ms);
  CHECK(service.critical);
  CHECK(service.pass_queues);
  CHECK(valid(one(R"("type": "oneshot")")).services[0].type == ServiceType::Oneshot);
}

// ---- SPEC §4a sandbox keys ---------------------------------------------------------------

TEST(ConfigRules, Devices) {
  run_cases({
      {"devices",
       one(R"("devices": [{"path": "/dev/ttyUSB0", "access": "rw"}, {"path": "/dev/ttyACM*", "access": "r"}, {"path": "/dev/bus/usb/001/*", "access": "w"}])"),
       nullptr},
      {"not an array", one(R"("devices": {"path": "/dev/ttyUSB0"})"), "/services/a/devices",
       "expected an array of devices, got an object"},
      {"a string entry", one(R"("devices": ["/dev/ttyUSB0"])"), "/services/a/devices/0",
       "expected a device such as {\"path\": \"/dev/ttyUSB0\", \"access\": \"rw\"}, got a string"},
      {"access missing", one(R"("devices": [{"path": "/dev/ttyUSB0"}])"), "/services/a/devices/0",
       "missing \"access\" (hint: add \"access\": \"r\", \"w\" or \"rw\")"},
      {"path missing", one(R"("devices": [{"access": "r"}])"), "/services/a/devices/0",
       "missing \"path\""},
      {"access m", one(R"("devices": [{"path": "/dev/ttyUSB0", "access": "rwm"}])"),
       "/services/a/devices/0/access", "'m' (mknod) needs CAP_MKNOD, which no service has"},
      {"access wr", one(R"("devices": [{"path": "/dev/ttyUSB0", "access": "wr"}])"),
       "/services/a/devices/0/access", "unknown access \"wr\": use \"r\", \"w\" or \"rw\""},
      {"access not a string", one(R"("devices": [{"path": "/dev/ttyUSB0", "access": true}])"),
       "/services/a/devices/0/access", "got a boolean"},
      {"unknown key", one(R"("devices": [{"path": "/dev/ttyUSB0", "access": "r", "mode": "0660"}])"),
       "/services/a/devices/0/mode", "unknown key \"mode\" in a device"},
      {"relative", one(R"("devices": [{"path": "ttyUSB0", "access": "r"}])"),
       "/services/a/devices/0/path", "is not absolute"},
      {"outside /dev", one(R"("devices": [{"path": "/sys/class/gpio/gpio4", "access": "r"}])"),
       "/services/a/devices/0/path", "is not under /dev"},
      {"/dev itself", one(R"("devices": [{"path": "/dev", "access": "r"}])"),
       "/services/a/devices/0/path", "is not under /dev"},
      {"not clean", one(R"("devices": [{"path": "/dev/serial//by-id", "access": "r"}])"),
       "/services/a/devices/0/path", "is not clean (\"//\")"},
      {"dot-dot", one(R"("devices": [{"path": "/dev/../etc/shadow", "access": "r"}])"),
       "/services/a/devices/0/path", "a \"..\" component"},
      {"trailing slash", one(R"("devices": [{"path": "/dev/input/", "access": "r"}])"),
       "/services/a/devices/0/path", "ends with '/'"},
      {"everything", one(R"("devices": [{"path": "/dev/*", "access": "r"}])"),
       "/services/a/devices/0/path", "would grant every device of the host"},
      {"two stars", one(R"("devices": [{"path": "/dev/tty*S*", "access": "r"}])"),
       "/services/a/devices/0/path", "a pattern has one '*', in the last component"},
      {"star in a directory", one(R"("devices": [{"path": "/dev/bus/usb/*/002", "access": "r"}])"),
       "/services/a/devices/0/path", "in the last component"},
      {"other glob", one(R"("devices": [{"path": "/dev/ttyS?", "access": "r"}])"),
       "/services/a/devices/0/path", "contains '?'"},
      {"/dev/mem", one(R"("devices": [{"path": "/dev/mem", "access": "r"}])"),
       "/services/a/devices/0/path",
       "device path \"/dev/mem\" may not be granted: it is physical memory"},
      {"/dev/kmem", one(R"("devices": [{"path": "/dev/kmem", "access": "r"}])"),
       "/services/a/devices/0/path", "kernel memory"},
      {"/dev/port", one(R"("devices": [{"path": "/dev/port", "access": "w"}])"),
       "/services/a/devices/0/path", "I/O ports"},
      {"a pattern matching /dev/mem", one(R"("devices": [{"path": "/dev/me*", "access": "r"}])"),
       "/services/a/devices/0/path", "device pattern \"/dev/me*\" also matches /dev/mem"},
      {"a pattern matching /dev/pts", one(R"("devices": [{"path": "/dev/pt*", "access": "r"}])"),
       "/services/a/devices/0/path", "also matches /dev/pts"},
      {"under /dev/shm", one(R"("devices": [{"path": "/dev/shm/frames", "access": "rw"}])"),
       "/services/a/devices/0/path", "(it is under /dev/shm): every service has a /dev/shm"},
      {"/dev/mqueue", one(R"("devices": [{"path": "/dev/mqueue", "access": "rw"}])"),
       "/services/a/devices/0/path", "posix-mq plugs"},
      {"in every sandbox", one(R"("devices": [{"path": "/dev/urandom", "access": "r"}])"),
       "/services/a/devices/0/path", "is in every service's /dev already"},
      {"listed twice",
       one(R"("devices": [{"path": "/dev/ttyUSB0", "access": "r"}, {"path": "/dev/ttyUSB0", "access": "w"}])"),
       "/services/a/devices/1/path",
       "device \"/dev/ttyUSB0\" is listed twice (also at /services/a/devices/0): keep one"},
  });
  auto devices = valid(one(
      R"("devices": [{"path": "/dev/ttyUSB0", "access": "rw"}, {"path": "/dev/ttyACM*", "access": "r"}, {"path": "/dev/watchdog1", "access": "w"}])"))
                     .services[0]
                     .devices;
  LONGS_EQUAL(3, devices.size());
  STRCMP_EQUAL("/dev/ttyUSB0", devices[0].path.c_str());
  CHECK(devices[0].read && devices[0].write && !devices[0].is_pattern());
  CHECK(devices[1].read && !devices[1].write && devices[1].is_pattern());
  CHECK(!devices[2].read && devices[2].write);
  STRCMP_EQUAL("/services/a/devices/2", devices[2].pointer.c_str());
}

TEST(ConfigRules, Capabilities) {
  run_cases({
      {"allowed, any case, cap_ optional",
       one(R"("capabilities": ["net_bind_service", "CAP_NET_RAW", "Net_Admin", "cap_ipc_lock", "WAKE_ALARM", "block_suspend"])"),
       nullptr},
      {"not an array", one(R"("capabilities": "net_raw")"), "/services/a/capabilities",
       "expected an array of capability names, got a string"},
      {"not a string", one(R"("capabilities": [12])"), "/services/a/capabilities/0",
       "expected a string, got an integer"},
      {"unknown", one(R"("capabilities": ["net_rw"])"), "/services/a/capabilities/0",
       "unknown capability \"net_rw\" (hint: did you mean \"net_raw\"? allowed: net_bind_service, "
       "net_admin, net_raw, ipc_lock, sys_time, wake_alarm, block_suspend)"},
      {"listed twice in two spellings", one(R"("capabilities": ["net_raw", "CAP_NET_RAW"])"),
       "/services/a/capabilities/1", "capability net_raw is listed twice"},
      {"sys_admin", one(R"("capabilities": ["CAP_SYS_ADMIN"])"), "/services/a/capabilities/0",
       "capability sys_admin is refused: it mounts, creates namespaces"},
      {"sys_ptrace", one(R"("capabilities": ["sys_ptrace"])"), "/services/a/capabilities/0",
       "take over any process it can see"},
      {"sys_module", one(R"("capabilities": ["sys_module"])"), "/services/a/capabilities/0",
       "loads code into the kernel"},
      {"sys_rawio", one(R"("capabilities": ["sys_rawio"])"), "/services/a/capabilities/0",
       "physical memory"},
      {"dac_override", one(R"("capabilities": ["dac_override"])"), "/services/a/capabilities/0",
       "bypasses file permissions"},
      {"dac_read_search", one(R"("capabilities": ["dac_read_search"])"),
       "/services/a/capabilities/0", "open_by_handle_at"},
      {"setuid", one(R"("capabilities": ["setuid"])"), "/services/a/capabilities/0",
       "become any user"},
      {"setgid", one(R"("capabilities": ["setgid"])"), "/services/a/capabilities/0",
       "slot groups of queues and objects it was not granted"},
      {"setpcap", one(R"("capabilities": ["setpcap"])"), "/services/a/capabilities/0",
       "the allowlist would stop binding"},
      {"sys_resource", one(R"("capabilities": ["sys_resource"])"), "/services/a/capabilities/0",
       "oom_score_adj below the supervisor's"},
      {"sys_nice", one(R"("capabilities": ["sys_nice"])"), "/services/a/capabilities/0",
       "starve the supervisor"},
      {"refusal hint lists the allowlist", one(R"("capabilities": ["mknod"])"),
       "/services/a/capabilities/0", "(hint: allowed: net_bind_service,"},
  });
  run_warning_cases({
      {"sys_time without a clock call", one(R"("capabilities": ["sys_time"])"),
       "/services/a/capabilities",
       "sys_time lets the service set the clock, but its filter allows no call that does"},
  });
  valid(one(R"("capabilities": ["sys_time"], "seccomp": {"allow": ["clock_settime"]})"));
  valid(one(R"("capabilities": ["sys_time"], "confinement": "off")"));
  auto capabilities =
      valid(one(R"("capabilities": ["CAP_NET_BIND_SERVICE", "net_raw"])")).services[0].capabilities;
  LONGS_EQUAL(2, capabilities.size());
  STRCMP_EQUAL("net_bind_service", capabilities[0].name.c_str());
  LONGS_EQUAL(10, capabilities[0].number);  // CAP_NET_BIND_SERVICE
  LONGS_EQUAL(13, capabilities[1].number);  // CAP_NET_RAW
}

TEST(ConfigRules, StateDirectoryAndWritablePaths) {
  run_cases({
      {"writable paths and no state directory",
       one(R"("writable-paths": ["/srv/data", "/var/lib/ipcrt-tests", "/data/a b"], "state-directory": false)"),
       nullptr},
      {"inside its own state directory",
       one(R"("writable-paths": ["/var/lib/ipcrt/gw/a", "/var/lib/ipcrt/gw/a/cache"])"), nullptr},
      {"state-directory not boolean", one(R"("state-directory": "yes")"),
       "/services/a/state-directory", "expected true or false"},
      {"not an array", one(R"("writable-paths": "/srv")"), "/services/a/writable-paths",
       "expected an array of absolute paths, got a string"},
      {"relative", one(R"("writable-paths": ["srv"])"), "/services/a/writable-paths/0",
       "writable path \"srv\" is not absolute: start it with '/'"},
      {"empty", one(R"("writable-paths": [""])"), "/services/a/writable-paths/0",
       "empty writable path"},
      {"trailing slash", one(R"("writable-paths": ["/srv/"])"), "/services/a/writable-paths/0",
       "ends with '/': write \"/srv\""},
      {"dot", one(R"("writable-paths": ["/srv/./x"])"), "/services/a/writable-paths/0",
       "a \".\" component"},
      {"control character", one(R"("writable-paths": ["/srv/a\u0001"])"),
       "/services/a/writable-paths/0", "control character 0x01"},
      {"listed twice", one(R"("writable-paths": ["/srv", "/srv"])"), "/services/a/writable-paths/1",
       "listed twice"},
      {"the root", one(R"("writable-paths": ["/srv", "/"])"), "/services/a/writable-paths/1",
       "writable path \"/\" contains the runtime's configuration (/etc/ipcrt)"},
      {"/etc", one(R"("writable-paths": ["/etc"])"), "/services/a/writable-paths/0",
       "contains the runtime's configuration (/etc/ipcrt) (hint: a service may not write the "
       "runtime's own files"},
      {"/etc/ipcrt", one(R"("writable-paths": ["/etc/ipcrt"])"), "/services/a/writable-paths/0",
       "writable path \"/etc/ipcrt\" is the runtime's configuration"},
      {"inside /run/ipcrt", one(R"("writable-paths": ["/run/ipcrt/gw"])"),
       "/services/a/writable-paths/0", "lies inside the runtime's run directory (/run/ipcrt)"},
      {"/var/lib", one(R"("writable-paths": ["/var/lib"])"), "/services/a/writable-paths/0",
       "contains the runtime's state (/var/lib/ipcrt) (hint: its own state directory, "
       "/var/lib/ipcrt/gw/a, is writable already"},
      {"another service's state directory",
       two(R"("writable-paths": ["/var/lib/ipcrt/gw/b"])", ""), "/services/a/writable-paths/0",
       "lies inside the runtime's state"},
      {"the manifest's state directory", one(R"("writable-paths": ["/var/lib/ipcrt/gw"])"),
       "/services/a/writable-paths/0", "lies inside the runtime's state"},
      {"the id registry", one(R"("writable-paths": ["/var/lib/ipcrt/ids"])"),
       "/services/a/writable-paths/0", "lies inside the runtime's state"},
      {"own state directory without state-directory",
       one(R"("state-directory": false, "writable-paths": ["/var/lib/ipcrt/gw/a"])"),
       "/services/a/writable-paths/0",
       "(hint: a service may not write the runtime's state; \"state-directory\": true gives it a "
       "directory of its own there)"},
      {"pointer of an entry after a bad one", one(R"("writable-paths": [1, "/etc"])"),
       "/services/a/writable-paths/1", "contains the runtime's configuration"},
  });
  auto service = valid(one(R"("writable-paths": ["/srv/data", "/var/log/a"])")).services[0];
  CHECK(service.state_directory);
  LONGS_EQUAL(2, service.writable_paths.size());
  STRCMP_EQUAL("/var/log/a", service.writable_paths[1].path.c_str());
  STRCMP_EQUAL("/services/a/writable-paths/1", service.writable_paths[1].pointer.c_str());
  CHECK_FALSE(valid(one(R"("state-directory": false)")).services[0].state_directory);
}

// ---- SPEC §15 `$` in command -------------------------------------------------------------

// A manifest whose one service "a" runs `command` (a JSON array).
std::string command(const std::string& members) {
  return R"({"version": 1, "name": "gw", "services": {"a": {"command": )" + members + "}}}";
}

TEST(ConfigRules, DollarInCommand) {
  run_cases({
      {"names and literal dollars",
       command(R"js(["/bin/a", "${PORT}", "--x=${A_1}${B}", "$$", "cost $$5", "$${PORT}", "no dollar"])js"),
       nullptr},
      {"a dollar before a name", command(R"js(["/bin/a", "$HOME"])js"),
       "/services/a/command/1",
       "\"$HOME\" is not expanded: write \"${HOME}\" for the variable, or \"$$\" for a literal '$'"},
      {"a dollar at the end", command(R"js(["/bin/a", "5$"])js"), "/services/a/command/1",
       "'$' at the end of the argument: write \"$$\" for a literal '$'"},
      {"a dollar before punctuation", command(R"js(["/bin/a", "$(id)"])js"),
       "/services/a/command/1", "'$' before '(' expands nothing"},
      {"a dollar before a digit", command(R"js(["/bin/a", "$1"])js"), "/services/a/command/1",
       "'$' before '1' expands nothing"},
      {"unclosed", command(R"js(["/bin/a", "${PORT"])js"), "/services/a/command/1",
       "\"${PORT\" has no closing '}'"},
      {"empty name", command(R"js(["/bin/a", "${}"])js"), "/services/a/command/1",
       "\"${}\" names no variable"},
      {"shell default", command(R"js(["/bin/a", "${PORT:-80}"])js"), "/services/a/command/1",
       "\"${PORT:-80}\" is not a variable name"},
      {"name starting with a digit", command(R"js(["/bin/a", "${9}"])js"),
       "/services/a/command/1", "not starting with a digit"},
      {"the second problem argument", command(R"js(["/bin/a", "${OK}", "x$"])js"),
       "/services/a/command/2", "at the end"},
      {"dollar in the program", command(R"js(["/opt/${APP}/run"])js"), "/services/a/command/0",
       "\"/opt/${APP}/run\" contains '$', but the program path (command[0]) is never expanded"},
      {"literal dollar in the program", command(R"js(["/opt/a$$b"])js"),
       "/services/a/command/0", "never expanded"},
  });
}
