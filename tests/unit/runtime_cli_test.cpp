// The CLI front end: usage errors are found before any command runs.
#include <CppUTest/TestHarness.h>

#include <string>
#include <vector>

#include "runtime/cli/cli.hpp"

namespace {
int run_ipcrt_cli(std::vector<std::string> words) {
  words.insert(words.begin(), "ipcrt");
  std::vector<char*> argv;
  for (auto& word : words) argv.push_back(word.data());
  return ipcrt::runtime::run_cli(argv);
}
}  // namespace

TEST_GROUP(RuntimeCli){};

TEST(RuntimeCli, HelpAndVersionSucceed) {
  LONGS_EQUAL(0, run_ipcrt_cli({"--help"}));
  LONGS_EQUAL(0, run_ipcrt_cli({"--version"}));
}

TEST(RuntimeCli, UsageErrorsExitTwo) {
  LONGS_EQUAL(2, run_ipcrt_cli({}));
  LONGS_EQUAL(2, run_ipcrt_cli({"frobnicate"}));
  LONGS_EQUAL(2, run_ipcrt_cli({"validate"}));
  LONGS_EQUAL(2, run_ipcrt_cli({"validate", "a.json", "b.json"}));
  LONGS_EQUAL(2, run_ipcrt_cli({"validate", "a.json", "--json"}));
  LONGS_EQUAL(2, run_ipcrt_cli({"plan", "a.json", "--json=yes"}));
  LONGS_EQUAL(2, run_ipcrt_cli({"policy", "a.json", "svc", "--format"}));
}
