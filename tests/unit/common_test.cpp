// The shared conventions: error descriptions, string building, logfmt quoting.
#include <CppUTest/TestHarness.h>
#include <sys/stat.h>

#include <cerrno>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/log.hpp"
#include "common/service_env.hpp"
#include "common/text.hpp"

TEST_GROUP(CommonError){};

TEST(CommonError, DescribeJoinsMessageErrnoAndHint) {
  auto error = ipcrt::fail_errno("mq_open /telemetry", EACCES, "check the queue's mode").error();
  STRCMP_EQUAL("mq_open /telemetry: Permission denied (hint: check the queue's mode)",
               error.describe().c_str());
  STRCMP_EQUAL("bad value", ipcrt::fail("bad value").error().describe().c_str());
}

TEST_GROUP(CommonText){};

TEST(CommonText, CatAndJoin) {
  STRCMP_EQUAL("queue /a holds 10 of 64", ipcrt::cat("queue ", "/a", " holds ", 10, " of ", 64L).c_str());
  std::vector<std::string> parts = {"/a", "/b", "/c"};
  STRCMP_EQUAL("/a:/b:/c", ipcrt::join(parts, ":").c_str());
  STRCMP_EQUAL("", ipcrt::join(std::vector<std::string>{}, ":").c_str());
}

TEST(CommonText, OctalModeHasFourDigitsLikeTheManifest) {
  STRCMP_EQUAL("0660", ipcrt::octal_mode(0660).c_str());
  STRCMP_EQUAL("0000", ipcrt::octal_mode(0).c_str());
  STRCMP_EQUAL("1777", ipcrt::octal_mode(01777).c_str());
  // The file-type bits of st_mode are not part of a permission mode.
  STRCMP_EQUAL("0640", ipcrt::octal_mode(S_IFREG | 0640).c_str());
}

TEST_GROUP(CommonServiceEnv){};

// The contract of SPEC §4.3, spelled out: services look these names up.
TEST(CommonServiceEnv, PathsVariableIsUpperCaseWithUnderscores) {
  STRCMP_EQUAL("IPCRT_TELEMETRY_PATHS", ipcrt::paths_variable("telemetry").c_str());
  STRCMP_EQUAL("IPCRT_SENSOR_DATA_2_PATHS", ipcrt::paths_variable("sensor-data-2").c_str());
  STRCMP_EQUAL("IPCRT_SERVICE", ipcrt::kServiceNameVariable);
  STRCMP_EQUAL(":", std::string(ipcrt::kPathListSeparator).c_str());
}

TEST_GROUP(CommonLog){};

TEST(CommonLog, PlainValuesStayBareAndOthersAreQuoted) {
  ipcrt::LogLine line("warn", "denied");
  line.field("service", "uploader").field("pid", 412).field("arg", "/a b").field("need", "say \"hi\"");
  STRCMP_EQUAL(
      "level=warn msg=denied service=uploader pid=412 arg=\"/a b\" need=\"say \\\"hi\\\"\"",
      line.text().c_str());
}

TEST(CommonLog, EmptyValuesAndControlCharactersAreQuoted) {
  ipcrt::LogLine line("info", "x");
  line.field("empty", "").field("multi", "a\nb");
  STRCMP_EQUAL("level=info msg=x empty=\"\" multi=\"a\\nb\"", line.text().c_str());
}
