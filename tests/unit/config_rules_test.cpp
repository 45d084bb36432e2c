// The manifest rules of SPEC §2.1–2.4 as tables: for every rule at least one manifest that must
// pass and one that must fail at an exact JSON pointer with a message naming the problem.
#include <CppUTest/TestHarness.h>
#include <sys/resource.h>

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
       "/zzzzzz", "(hint: allowed keys: version, name, publisher, services, connections)"},
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
