// The shared conventions: error descriptions, string building, logfmt quoting.
#include <CppUTest/TestHarness.h>

#include <cerrno>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/log.hpp"
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
