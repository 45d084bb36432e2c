// The value syntaxes and path rules behind SPEC §4a, §11, §13 and §15 as pure functions: sizes,
// CPU bandwidth, stop signals, capabilities, device and writable paths, and `${NAME}` expansion.
// config_rules_test.cpp checks the same rules through whole manifests.
#include <CppUTest/TestHarness.h>
#include <linux/capability.h>

#include <csignal>
#include <map>
#include <string>

#include "config/capabilities.hpp"
#include "config/expansion.hpp"
#include "config/paths.hpp"
#include "config/quantities.hpp"

using namespace ipcrt::config;

TEST_GROUP(ConfigValues){};

TEST(ConfigValues, SizesArePowersOf1024WithOneUpperCaseLetter) {
  CHECK(*parse_size("0") == 0);
  CHECK(*parse_size("65536") == 65536);
  CHECK(*parse_size("1K") == 1024);
  CHECK(*parse_size("16M") == 16 * kMiB);
  CHECK(*parse_size("3G") == 3ULL << 30U);
  CHECK(*parse_size("2T") == 2ULL << 40U);
  CHECK(*parse_size("8388607T") == 8388607ULL << 40U);
  CHECK(*parse_size("9223372036854775807") == kMaxBytes);
  CHECK(*parse_size("max", true) == kNoLimit);
  CHECK_FALSE(parse_size("max").has_value());
  STRCMP_EQUAL("\"max\" is not a size: write bytes (65536) or a size with K, M, G or T (\"64M\")",
               parse_size("max").error().message.c_str());
  STRCMP_EQUAL(
      "\"x\" is not a size: write bytes (65536) or a size with K, M, G or T (\"64M\"), or "
      "\"max\"",
      parse_size("x", true).error().message.c_str());
  for (const char* text : {"", "M", "-1", "+1", " 1", "1 ", "1KB", "1Ki", "1P", "0x10", "1e6"}) {
    CHECK_TEXT(!parse_size(text), text);
  }
  STRCMP_EQUAL("write \"64M\": one upper-case letter, K, M, G and T being powers of 1024",
               parse_size("64MiB").error().hint.c_str());
  STRCMP_EQUAL("write \"64K\": one upper-case letter, K, M, G and T being powers of 1024",
               parse_size("64k").error().hint.c_str());
  STRCMP_CONTAINS("no fractions", parse_size("0.5G").error().hint.c_str());
  STRCMP_CONTAINS("no space", parse_size("5 M").error().hint.c_str());
  STRCMP_CONTAINS("too large", parse_size("9223372036854775808").error().message.c_str());
  STRCMP_CONTAINS("too large", parse_size("8388608T").error().message.c_str());
  STRCMP_CONTAINS("too large", parse_size("99999999999999999999").error().message.c_str());
}

TEST(ConfigValues, SizesPrintAsTheManifestWritesThem) {
  STRCMP_EQUAL("16M", format_size(16 * kMiB).c_str());
  STRCMP_EQUAL("1K", format_size(1024).c_str());
  STRCMP_EQUAL("1025", format_size(1025).c_str());
  STRCMP_EQUAL("1536M", format_size(1536 * kMiB).c_str());
  STRCMP_EQUAL("0", format_size(0).c_str());
  STRCMP_EQUAL("4T", format_size(4ULL << 40U).c_str());
}

TEST(ConfigValues, CpuMaxIsQuotaAndPeriodInMicroseconds) {
  auto half = parse_cpu_max("50%");
  CHECK(half->quota_us == 50000 && half->period_us == 100000);
  auto two = parse_cpu_max("200%");
  CHECK(two->quota_us == 200000 && two->period_us == 100000);
  CHECK(parse_cpu_max("12.5%")->quota_us == 12500);
  CHECK(parse_cpu_max("1.001%")->quota_us == 1001);
  CHECK(parse_cpu_max("1%")->quota_us == kMinCpuQuotaUs);
  auto pair = parse_cpu_max("25000 50000");
  CHECK(pair->quota_us == 25000 && pair->period_us == 50000);
  auto unlimited = parse_cpu_max("max");
  CHECK(unlimited->quota_us == kNoLimit && unlimited->period_us == kCpuPeriodUs);
  auto unlimited_period = parse_cpu_max("max 20000");
  CHECK(unlimited_period->quota_us == kNoLimit && unlimited_period->period_us == 20000);
  CHECK(parse_cpu_max("1000 1000").has_value());
  CHECK(parse_cpu_max("1000 1000000").has_value());
  for (const char* text : {"",
                           "%",
                           "50",
                           "50 %",
                           "0%",
                           "0.999%",
                           "1.2345%",
                           "1.%",
                           "-5%",
                           "max ",
                           "max x",
                           "50000 ",
                           " 50000 100000",
                           "50000  100000",
                           "999 100000",
                           "1000 999",
                           "1000 1000001",
                           "5e4 100000",
                           "50000 100000 1",
                           "maxi"}) {
    CHECK_TEXT(!parse_cpu_max(text), text);
  }
  CHECK_FALSE(parse_cpu_max("17592186044416 100000"));  // 2^44 µs: above max_cfs_runtime
  CHECK(parse_cpu_max("17592186044415 100000").has_value());
  CHECK_FALSE(parse_cpu_max("17592186045%"));
  STRCMP_EQUAL("50000 100000", format_cpu_max(*parse_cpu_max("50%")).c_str());
  STRCMP_EQUAL("max 100000", format_cpu_max(*parse_cpu_max("max")).c_str());
}

TEST(ConfigValues, StopSignalsAreNamesThatEndAProgram) {
  LONGS_EQUAL(SIGTERM, *parse_stop_signal("SIGTERM"));
  LONGS_EQUAL(SIGTERM, *parse_stop_signal("TERM"));
  LONGS_EQUAL(SIGQUIT, *parse_stop_signal("SIGQUIT"));
  LONGS_EQUAL(SIGWINCH, *parse_stop_signal("WINCH"));
  LONGS_EQUAL(SIGPWR, *parse_stop_signal("SIGPWR"));
  for (const char* text :
       {"SIGKILL", "KILL", "SIGSTOP", "SIGTSTP", "SIGCONT", "SIGCHLD", "SIGSEGV", "SIGSYS",
        "SIGPIPE", "", "SIG", "SIGterm", "sigterm", "15", "SIGRTMIN", "SIG TERM"}) {
    CHECK_TEXT(!parse_stop_signal(text), text);
  }
  STRCMP_CONTAINS("cannot be caught", parse_stop_signal("KILL").error().message.c_str());
  STRCMP_CONTAINS("use one of SIGTERM, SIGINT", parse_stop_signal("STOP").error().hint.c_str());
  STRCMP_EQUAL("signal names are upper-case: \"SIGTERM\"",
               parse_stop_signal("sigterm").error().hint.c_str());
  STRCMP_EQUAL("SIGTERM", signal_name(SIGTERM).c_str());
  STRCMP_EQUAL("SIGKILL", signal_name(SIGKILL).c_str());
  STRCMP_EQUAL("SIGUSR1", signal_name(SIGUSR1).c_str());
  STRCMP_EQUAL("signal 99", signal_name(99).c_str());
}

TEST(ConfigValues, EveryCapabilityIsKnownAndAllButTheAllowlistIsRefusedWithAReason) {
  const auto table = capability_table();
  LONGS_EQUAL(41, table.size());  // CAP_CHOWN (0) .. CAP_CHECKPOINT_RESTORE (40)
  std::size_t allowed = 0;
  for (std::size_t i = 0; i < table.size(); ++i) {
    LONGS_EQUAL(static_cast<long>(i), table[i].number);
    CHECK(!table[i].name.empty());
    if (table[i].refusal.empty()) ++allowed;
  }
  LONGS_EQUAL(7, allowed);
  STRCMP_EQUAL(
      "net_bind_service, net_admin, net_raw, ipc_lock, sys_time, wake_alarm, block_suspend",
      allowed_capability_names().c_str());
  for (const char* name :
       {"sys_admin", "sys_ptrace", "sys_module", "sys_rawio", "dac_override", "dac_read_search",
        "fowner",    "fsetid",     "setuid",     "setgid",    "setpcap",      "setfcap",
        "sys_boot",  "mknod",      "bpf",        "perfmon",   "sys_resource", "sys_nice",
        "kill",      "chown",      "sys_chroot", "syslog"}) {
    const CapabilityInfo* info = find_capability(name);
    CHECK_TEXT(info != nullptr && !info->refusal.empty(), name);
  }
  LONGS_EQUAL(CAP_NET_RAW, find_capability("CAP_NET_RAW")->number);
  LONGS_EQUAL(CAP_NET_RAW, find_capability("cap_net_raw")->number);
  LONGS_EQUAL(CAP_NET_RAW, find_capability("Net_Raw")->number);
  LONGS_EQUAL(CAP_SYS_TIME, find_capability("sys_time")->number);
  POINTERS_EQUAL(nullptr, find_capability("net"));
  POINTERS_EQUAL(nullptr, find_capability("cap_"));
  POINTERS_EQUAL(nullptr, find_capability("CAP_CAP_NET_RAW"));
  POINTERS_EQUAL(nullptr, find_capability(""));
}

TEST(ConfigValues, CleanPaths) {
  STRCMP_EQUAL("", check_clean_path("/", "path").c_str());
  STRCMP_EQUAL("", check_clean_path("/a/b.c/..d/.e", "path").c_str());
  for (const char* path : {"", "a", "./a", "//", "/a/", "/a//b", "/a/./b", "/a/../b", "/.", "/..",
                           "/a/.", "/a/..", "/a\tb"}) {
    CHECK_TEXT(!check_clean_path(path, "path").empty(), path);
  }
  STRCMP_CONTAINS("use at most 4095 bytes",
                  check_clean_path("/" + std::string(4095, 'a'), "path").c_str());
  STRCMP_EQUAL("", check_clean_path("/" + std::string(4094, 'a'), "path").c_str());
}

TEST(ConfigValues, PathRelationsAreByComponent) {
  CHECK(path_relation("/var/lib/ipcrt", "/var/lib/ipcrt") == PathRelation::Equal);
  CHECK(path_relation("/var/lib/ipcrt/a", "/var/lib/ipcrt") == PathRelation::Inside);
  CHECK(path_relation("/var/lib", "/var/lib/ipcrt") == PathRelation::Contains);
  CHECK(path_relation("/", "/var/lib/ipcrt") == PathRelation::Contains);
  CHECK(path_relation("/var/lib/ipcrt", "/") == PathRelation::Inside);
  CHECK(path_relation("/var/lib/ipcrt-tests", "/var/lib/ipcrt") == PathRelation::Unrelated);
  CHECK(path_relation("/var/lib/ipc", "/var/lib/ipcrt") == PathRelation::Unrelated);
  CHECK(path_relation("/etc/ipcrtx/a", "/etc/ipcrt") == PathRelation::Unrelated);
}

TEST(ConfigValues, DevicePatternsMatchOneComponent) {
  CHECK(device_matches("/dev/ttyUSB0", "/dev/ttyUSB0"));
  CHECK_FALSE(device_matches("/dev/ttyUSB0", "/dev/ttyUSB1"));
  CHECK(device_matches("/dev/ttyUSB*", "/dev/ttyUSB"));
  CHECK(device_matches("/dev/ttyUSB*", "/dev/ttyUSB12"));
  CHECK_FALSE(device_matches("/dev/ttyUSB*", "/dev/ttyUSB1/x"));
  CHECK(device_matches("/dev/tty*0", "/dev/ttyS0"));
  CHECK_FALSE(device_matches("/dev/tty*0", "/dev/tty"));
  CHECK(device_matches("/dev/input/*", "/dev/input/event0"));
  CHECK_FALSE(device_matches("/dev/input/*", "/dev/input"));
  STRCMP_EQUAL("", check_device_path("/dev/ttyUSB*").c_str());
  STRCMP_EQUAL("", check_device_path("/dev/tty*").c_str());  // /dev/tty is skipped, not refused
  STRCMP_EQUAL("", check_device_path("/dev/serial/by-id/usb-FTDI_1-if00").c_str());
  STRCMP_CONTAINS("also matches /dev/kmem", check_device_path("/dev/k*").c_str());
  STRCMP_CONTAINS("also matches /dev/port", check_device_path("/dev/p*t").c_str());
  STRCMP_CONTAINS("also matches /dev/mqueue", check_device_path("/dev/mq*").c_str());
  STRCMP_EQUAL("", check_device_node("/dev/ttyUSB0").c_str());
  STRCMP_EQUAL("", check_device_node("/dev/null").c_str());
  STRCMP_CONTAINS("physical memory", check_device_node("/dev/mem").c_str());
  STRCMP_CONTAINS("shared-memory plug", check_device_node("/dev/shm/x").c_str());
  STRCMP_EQUAL("", check_device_node("/dev/shmx").c_str());
}

namespace {

Service writer(std::vector<std::string> paths) {
  Service service;
  service.name = "a";
  service.pointer = "/services/a";
  for (std::size_t i = 0; i < paths.size(); ++i) {
    service.writable_paths.push_back({paths[i], "/services/a/writable-paths/" + std::to_string(i)});
  }
  return service;
}

// A device with these paths, and these symlinks (path -> target).
WritablePathRules on_device(std::vector<std::string> existing,
                            std::map<std::string, std::string> links = {}) {
  WritablePathRules rules;
  rules.protected_paths = runtime_directories();
  rules.protected_paths.push_back({"/usr/sbin/ipcrt", "the ipcrt binary"});
  rules.protected_paths.push_back({"/srv/gw/gateway.json", "the manifest"});
  rules.own_state_directory = state_directory_path(kStateRoot, "gw", "a");
  rules.resolve = [existing, links](const std::string& path) -> std::optional<std::string> {
    std::string real = path;
    for (int hops = 0; hops < 8; ++hops) {  // links may point at links
      for (const auto& [link, target] : links) {
        if (path_relation(real, link) == PathRelation::Equal) real = target;
        if (path_relation(real, link) == PathRelation::Inside) {
          real = target + real.substr(link.size());
        }
      }
    }
    for (const auto& item : existing) {
      if (item == real) return real;
    }
    return std::nullopt;
  };
  return rules;
}

std::string check(const std::vector<std::string>& paths, const WritablePathRules& rules) {
  Diagnostics diagnostics;
  check_writable_paths(writer(paths), rules, diagnostics);
  return diagnostics.format("m.json");
}

}  // namespace

TEST(ConfigValues, WritablePathsOnTheDeviceExistAndReachNoneOfTheRuntimesFiles) {
  const auto rules =
      on_device({"/srv/data", "/var/lib/ipcrt/gw/a/cache", "/var/lib/ipcrt/gw/a", "/etc/ipcrt",
                 "/usr/sbin", "/srv/gw", "/data/state", "/etc", "/var/lib/ipcrt-tests/x"},
                {{"/srv/link", "/etc/ipcrt"},
                 {"/srv/mine", "/var/lib/ipcrt/gw/a/cache"},
                 {"/etc/ipcrt", "/data/state"}});
  STRCMP_EQUAL(
      "", check({"/srv/data", "/var/lib/ipcrt/gw/a/cache", "/srv/mine", "/var/lib/ipcrt-tests/x"},
                rules)
              .c_str());
  STRCMP_EQUAL(
      "m.json: /services/a/writable-paths/0: error: writable path \"/srv/none\" does not exist on "
      "this device (hint: create it before the service starts (it is bound into the service's "
      "view as it is), or remove it)\n",
      check({"/srv/none"}, rules).c_str());
  STRCMP_EQUAL(
      "m.json: /services/a/writable-paths/0: error: writable path \"/usr/sbin\" contains the ipcrt "
      "binary (/usr/sbin/ipcrt) (hint: a service may not write the runtime's own files: name a "
      "directory of the service's own)\n"
      "m.json: /services/a/writable-paths/1: error: writable path \"/srv/gw\" contains the "
      "manifest (/srv/gw/gateway.json) (hint: a service may not write the runtime's own files: "
      "name a directory of the service's own)\n",
      check({"/usr/sbin", "/srv/gw"}, rules).c_str());
  // A symlink into the runtime's directories is found as written and as resolved; /etc/ipcrt
  // itself is a symlink here, so its target is the runtime's configuration too.
  STRCMP_CONTAINS(
      "writable path \"/srv/link\" (resolved: \"/data/state\") is the runtime's "
      "configuration (/data/state)",
      check({"/srv/link"}, rules).c_str());
  STRCMP_CONTAINS("writable path \"/data/state\" is the runtime's configuration (/data/state)",
                  check({"/data/state"}, rules).c_str());
  // Without a state directory, its own path is the runtime's state like any other.
  auto without = rules;
  without.own_state_directory.clear();
  STRCMP_CONTAINS("lies inside the runtime's state",
                  check({"/var/lib/ipcrt/gw/a/cache"}, without).c_str());
}

TEST(ConfigValues, WritablePathsOffTheDeviceAreCheckedAsWritten) {
  WritablePathRules rules;
  rules.protected_paths = runtime_directories();
  rules.own_state_directory = "/var/lib/ipcrt/gw/a";
  STRCMP_EQUAL("", check({"/srv/none", "/var/lib/ipcrt/gw/a"}, rules).c_str());
  STRCMP_EQUAL(
      "m.json: /services/a/writable-paths/0: error: writable path \"/var\" contains the runtime's "
      "state (/var/lib/ipcrt) (hint: its own state directory, /var/lib/ipcrt/gw/a, is writable "
      "already (\"state-directory\"))\n",
      check({"/var"}, rules).c_str());
}

TEST(ConfigValues, ArgumentSyntax) {
  for (const char* ok : {"", "plain", "${A}", "${_a9}", "$$", "$${A}", "a${B}c${C}", "$$$$"}) {
    STRCMP_EQUAL_TEXT("", check_argument_syntax(ok).c_str(), ok);
  }
  for (const char* bad :
       {"$", "$$$", "$A", "${", "${A", "${}", "${9}", "${A-B}", "${A B}", "$-", "a$"}) {
    CHECK_TEXT(!check_argument_syntax(bad).empty(), bad);
  }
  STRCMP_EQUAL("", check_program_syntax("/usr/bin/a").c_str());
  CHECK(!check_program_syntax("/usr/bin/a$$").empty());
}

TEST(ConfigValues, ExpansionFromTheFinalEnvironment) {
  const Environment environment = {{"PORT", "8080"},
                                   {"HOME", "/var/lib/ipcrt/gw/a"},
                                   {"EMPTY", ""},
                                   {"PORT", "shadowed"},
                                   {"SPACE", "a b"}};
  STRCMP_EQUAL("8080", expand_argument("${PORT}", environment)->c_str());
  STRCMP_EQUAL("--db=/var/lib/ipcrt/gw/a/db:8080",
               expand_argument("--db=${HOME}/db:${PORT}", environment)->c_str());
  STRCMP_EQUAL("x", expand_argument("x${EMPTY}", environment)->c_str());
  STRCMP_EQUAL("$5 and ${PORT}", expand_argument("$$5 and $${PORT}", environment)->c_str());
  STRCMP_EQUAL("a b", expand_argument("${SPACE}", environment)->c_str());  // no word splitting
  STRCMP_EQUAL("${PORT}", expand_argument("$${PORT}", environment)->c_str());
  auto undefined = expand_argument("${NOPE}", environment);
  CHECK_FALSE(undefined.has_value());
  STRCMP_EQUAL("\"${NOPE}\" names no variable of the service's environment",
               undefined.error().message.c_str());
  STRCMP_EQUAL("set NOPE in \"environment\", or write \"$${NOPE}\" for the text itself",
               undefined.error().hint.c_str());
  CHECK_FALSE(expand_argument("$x", environment).has_value());

  // command[0] is copied as it is; every bad argument is reported with its index.
  auto command = expand_arguments({"/bin/a", "${PORT}", "$$"}, environment);
  CHECK(command.has_value());
  LONGS_EQUAL(3, command->size());
  STRCMP_EQUAL("/bin/a", (*command)[0].c_str());
  STRCMP_EQUAL("8080", (*command)[1].c_str());
  STRCMP_EQUAL("$", (*command)[2].c_str());
  auto program = expand_arguments({"/opt/${PORT}"}, environment);
  STRCMP_EQUAL("/opt/${PORT}", (*program)[0].c_str());
  auto failed = expand_arguments({"/bin/a", "${A}", "ok", "${B}"}, environment);
  CHECK_FALSE(failed.has_value());
  LONGS_EQUAL(2, failed.error().size());
  LONGS_EQUAL(1, failed.error()[0].argument);
  LONGS_EQUAL(3, failed.error()[1].argument);
  STRCMP_CONTAINS("${B}", failed.error()[1].error.message.c_str());
}
