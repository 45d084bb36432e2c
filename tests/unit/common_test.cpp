// The shared conventions: error descriptions, string building, whole-file reads, service
// environment names, logfmt quoting.
#include <CppUTest/TestHarness.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/file.hpp"
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

TEST(CommonError, WrapPutsTheContextFirstAndKeepsErrnoAndHint) {
  auto inner = ipcrt::fail_errno("write /proc/sys/fs/mqueue/msg_max", EACCES, "run as root").error();
  auto wrapped = inner.wrap("board rpi4");
  STRCMP_EQUAL("board rpi4: write /proc/sys/fs/mqueue/msg_max", wrapped.message.c_str());
  LONGS_EQUAL(EACCES, wrapped.errnum);
  STRCMP_EQUAL("run as root", wrapped.hint.c_str());
  STRCMP_EQUAL("write /proc/sys/fs/mqueue/msg_max", inner.message.c_str());  // a copy
  STRCMP_EQUAL("a: b: c", ipcrt::fail("c").error().wrap("b").wrap("a").message.c_str());
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

TEST_GROUP(CommonFile){};

TEST(CommonFile, ReadToEndReadsAPipeUntilItsWriterCloses) {
  int fds[2];
  CHECK_EQUAL(0, ::pipe(fds));
  const std::string sent(20000, 'x');  // several read(2) calls of 8 KiB
  pid_t writer = ::fork();
  if (writer == 0) {
    ::close(fds[0]);
    bool ok = ::write(fds[1], sent.data(), sent.size()) == static_cast<ssize_t>(sent.size());
    ::_exit(ok ? 0 : 1);
  }
  ::close(fds[1]);
  auto received = ipcrt::read_to_end(fds[0], "the test pipe");
  ::close(fds[0]);
  int status = 0;
  ::waitpid(writer, &status, 0);
  CHECK_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK_TRUE(received.has_value());
  CHECK_TRUE(sent == *received);
}

TEST(CommonFile, ReadErrorsNameTheDescriptor) {
  auto received = ipcrt::read_to_end(-1, "the listing");
  CHECK_FALSE(received.has_value());
  STRCMP_EQUAL("read the listing: Bad file descriptor", received.error().describe().c_str());
  auto missing = ipcrt::read_text_file("/proc/self/no-such-file");
  CHECK_FALSE(missing.has_value());
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
