// `ipcrt policy` as a user runs it: the reasoned listing, PFC and BPF exports, errors.
#include <CppUTest/TestHarness.h>

#include <cstdlib>
#include <string>

#include "runtime/mediation/notification.hpp"
#include "tests/support/process.hpp"

using ipcrt::test::run_ipcrt;

namespace {

const char* kManifest = R"({
  "version": 1, "name": "policy-cli",
  "services": {
    "hub": {"command": ["/bin/true"],
            "slots": {"telemetry": {"interface": "posix-mq", "path": "/QUEUE",
                                    "permissions": ["read"], "create": false}}},
    "uploader": {"command": ["/bin/true"],
                 "plugs": {"telemetry": {"interface": "posix-mq"}},
                 "seccomp": {"allow": ["@network-io", "mount"], "deny": ["getppid"]}},
    "debug": {"command": ["/bin/true"], "confinement": "off"}
  }
})";

struct Manifest {
  ipcrt::test::TempDir dir;
  std::string path;
  Manifest() {
    std::string text = kManifest;
    text.replace(text.find("QUEUE"), 5, ipcrt::test::unique_name("ipcrt-policy-cli"));
    path = dir.write_file("gateway.json", text);
  }
};

}  // namespace

TEST_GROUP(PolicyCli){};

TEST(PolicyCli, TextListsEachSyscallWithItsReasons) {
  Manifest manifest;
  // Filters alone (SPEC §5): mq_open is limited by its flags.
  ::setenv("IPCRT_MEDIATION", "off", 1);
  auto result = run_ipcrt({"policy", manifest.path, "uploader"});
  ::unsetenv("IPCRT_MEDIATION");
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_CONTAINS("# uploader: confinement strict", result.out.c_str());
  STRCMP_CONTAINS("\nsocket ", result.out.c_str());
  STRCMP_CONTAINS("@network-io\n", result.out.c_str());
  STRCMP_CONTAINS("seccomp.allow\n", result.out.c_str());
  STRCMP_CONTAINS("posix-mq read on hub:telemetry", result.out.c_str());
  STRCMP_CONTAINS("[flags: access mode O_RDONLY, no O_CREAT]", result.out.c_str());
  STRCMP_CONTAINS("\nprlimit64 ", result.out.c_str());
  STRCMP_CONTAINS(" @default (reads only: new limit NULL)\n", result.out.c_str());
  CHECK(result.out.find("\ngetppid ") == std::string::npos);
  CHECK(result.out.find("\nmq_timedsend ") == std::string::npos);
  CHECK(result.out.find("\nptrace ") == std::string::npos);
}

TEST(PolicyCli, MediatedPolicySendsQueueCallsToTheSupervisor) {
  if (!ipcrt::runtime::mediation_support()) return;  // kernel < 5.14: nothing to show
  Manifest manifest;
  auto result = run_ipcrt({"policy", manifest.path, "uploader"});
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_CONTAINS("posix-mq read on hub:telemetry, mediated by name", result.out.c_str());
  STRCMP_CONTAINS("mq_unlink", result.out.c_str());
  STRCMP_CONTAINS("mediated by name (no grant)", result.out.c_str());
  CHECK(result.out.find("[flags: access mode O_RDONLY") == std::string::npos);
}

TEST(PolicyCli, PfcAndBpfExports) {
  Manifest manifest;
  auto pfc = run_ipcrt({"policy", manifest.path, "hub", "--format=pfc"});
  LONGS_EQUAL_TEXT(0, pfc.exit_code, pfc.err.c_str());
  STRCMP_CONTAINS("pseudo filter code start", pfc.out.c_str());
  auto bpf = run_ipcrt({"policy", manifest.path, "hub", "--format=bpf"});
  LONGS_EQUAL_TEXT(0, bpf.exit_code, bpf.err.c_str());
  CHECK(bpf.out.size() > 64);
  LONGS_EQUAL(0, bpf.out.size() % 8);  // whole sock_filter instructions
  auto off = run_ipcrt({"policy", manifest.path, "debug"});
  LONGS_EQUAL(0, off.exit_code);
  STRCMP_CONTAINS("confinement off", off.out.c_str());
}

TEST(PolicyCli, UnknownServiceOrFormatIsAnError) {
  Manifest manifest;
  auto unknown = run_ipcrt({"policy", manifest.path, "uplaoder"});
  LONGS_EQUAL(1, unknown.exit_code);
  STRCMP_CONTAINS("/services: error: no service \"uplaoder\"", unknown.err.c_str());
  STRCMP_CONTAINS("hub, uploader, debug", unknown.err.c_str());
  LONGS_EQUAL(2, run_ipcrt({"policy", manifest.path, "hub", "--format=xml"}).exit_code);
}
