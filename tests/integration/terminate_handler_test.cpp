// runtime/terminate_handler.cpp, which replaces libstdc++'s verbose handler in the ipcrt binary
// (binary size): an uncaught exception still names its type and what(), then aborts.
#include <CppUTest/TestHarness.h>

#include <csignal>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

using ipcrt::test::ProcessResult;

namespace {

// Through qemu-user in cross builds, like run_ipcrt.
ProcessResult run_probe(const char* kind) {
  std::vector<std::string> argv;
  if (const char* emulator = std::getenv("IPCRT_EMULATOR"); emulator && *emulator) {
    argv.emplace_back(emulator);
  }
  argv.insert(argv.end(), {IPCRT_TERMINATE_PROBE, kind});
  return ipcrt::test::run_process(argv);
}

// The report is what stderr starts with (qemu-user adds a line of its own after it).
std::string report_of(const ProcessResult& result, const std::string& expected) {
  return result.err.substr(0, expected.size());
}

}  // namespace

TEST_GROUP(TerminateHandler){};

TEST(TerminateHandler, UncaughtExceptionReportsTypeAndWhatThenAborts) {
  auto result = run_probe("exception");
  LONGS_EQUAL(128 + SIGABRT, result.exit_code);
  const std::string expected =
      "terminate called after throwing an instance of 'St13runtime_error'\n"
      "  what():  probe failure\n";
  STRCMP_EQUAL(expected.c_str(), report_of(result, expected).c_str());
}

TEST(TerminateHandler, NonStandardExceptionReportsItsType) {
  auto result = run_probe("int");
  LONGS_EQUAL(128 + SIGABRT, result.exit_code);
  const std::string expected = "terminate called after throwing an instance of 'i'\n";
  STRCMP_EQUAL(expected.c_str(), report_of(result, expected).c_str());
}

TEST(TerminateHandler, TerminateWithoutExceptionSaysSo) {
  auto result = run_probe("none");
  LONGS_EQUAL(128 + SIGABRT, result.exit_code);
  const std::string expected = "terminate called without an active exception\n";
  STRCMP_EQUAL(expected.c_str(), report_of(result, expected).c_str());
}
