// The ipcrt binary as a user runs it: help, version, usage errors and their exit codes.
#include <CppUTest/TestHarness.h>

#include "tests/support/process.hpp"

using ipcrt::test::run_ipcrt;

TEST_GROUP(CliBinary){};

TEST(CliBinary, VersionPrintsTheProjectVersion) {
  auto result = run_ipcrt({"--version"});
  LONGS_EQUAL(0, result.exit_code);
  STRCMP_EQUAL("ipcrt 0.1.0\n", result.out.c_str());
}

TEST(CliBinary, HelpListsEveryCommand) {
  auto result = run_ipcrt({"--help"});
  LONGS_EQUAL(0, result.exit_code);
  for (const char* command : {"validate", "plan", "run", "policy", "limits"}) {
    STRCMP_CONTAINS((std::string("ipcrt ") + command).c_str(), result.out.c_str());
  }
}

TEST(CliBinary, UnknownCommandExitsTwoWithAUsageLine) {
  auto result = run_ipcrt({"frobnicate"});
  LONGS_EQUAL(2, result.exit_code);
  STRCMP_CONTAINS("unknown command 'frobnicate'", result.err.c_str());
  STRCMP_CONTAINS("usage: ipcrt", result.err.c_str());
}

TEST(CliBinary, UnknownOptionExitsTwo) {
  auto result = run_ipcrt({"limits", "--verbose"});
  LONGS_EQUAL(2, result.exit_code);
  STRCMP_CONTAINS("unknown option '--verbose'", result.err.c_str());
}

// The parser reports a syntax error by throwing inside nlohmann's parser: the static binary's
// unwinder must find every frame (a link-time-optimised link once placed libm's unwind
// entries after the end marker of .eh_frame, and this crashed; docs/decisions.md, "Binary
// size"), so the error is reported and validate exits 1.
TEST(CliBinary, MalformedJsonIsReportedNotACrash) {
  ipcrt::test::TempDir dir;
  const std::string manifest = dir.write_file("broken.json", "{\"services\": {");
  auto result = run_ipcrt({"validate", manifest});
  LONGS_EQUAL(1, result.exit_code);
  STRCMP_CONTAINS("invalid JSON", result.err.c_str());
}
