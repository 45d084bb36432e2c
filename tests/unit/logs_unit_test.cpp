// The pieces of the log subsystem (SPEC §14) on their own: escaping and timestamps, the ring's
// shares and cursors, the files' rotation, and the runtime's stderr on real pipes, sockets
// and files that do not keep up.
#include <CppUTest/TestHarness.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/log.hpp"
#include "runtime/logs/log_files.hpp"
#include "runtime/logs/log_ring.hpp"
#include "runtime/logs/runtime_log.hpp"
#include "tests/support/process.hpp"

using ipcrt::runtime::LogFileOptions;
using ipcrt::runtime::LogFiles;
using ipcrt::runtime::LogRing;
using ipcrt::runtime::LogSource;
using ipcrt::runtime::RuntimeLog;

namespace {

std::string escaped(std::string_view value) {
  std::string out;
  ipcrt::append_escaped(out, value);
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool exists(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0;
}

std::string read_available(int fd) {
  std::string text;
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  return text;
}

}  // namespace

TEST_GROUP(LogEscaping){};

TEST(LogEscaping, QuotesBackslashesNewlinesAndTabsHaveTheirOwnEscapes) {
  STRCMP_EQUAL("a \\\"b\\\" \\\\ c\\nd\\te", escaped("a \"b\" \\ c\nd\te").c_str());
}

TEST(LogEscaping, OtherControlBytesAndDelAreHex) {
  STRCMP_EQUAL("\\x1b[2J\\x0d\\x00\\x7f", escaped(std::string("\x1b[2J\r\0\x7f", 7)).c_str());
}

TEST(LogEscaping, WellFormedUtf8StaysAndEveryOtherByteIsHex) {
  STRCMP_EQUAL("\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
               escaped("\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80").c_str());
  STRCMP_EQUAL("\\xff\\xfe", escaped("\xff\xfe").c_str());
  STRCMP_EQUAL("\\xc0\\xaf", escaped("\xc0\xaf").c_str());                    // overlong '/'
  STRCMP_EQUAL("\\xed\\xa0\\x80", escaped("\xed\xa0\x80").c_str());           // a UTF-16 surrogate
  STRCMP_EQUAL("\\xf4\\x90\\x80\\x80", escaped("\xf4\x90\x80\x80").c_str());  // past U+10FFFF
  STRCMP_EQUAL("x\\xe2\\x82", escaped("x\xe2\x82").c_str());                  // cut short
}

TEST(LogEscaping, C1ControlsAreHexBecauseTerminalsMayObeyThem) {
  STRCMP_EQUAL("\\xc2\\x9b31m \xc2\xa0", escaped("\xc2\x9b"
                                                 "31m \xc2\xa0")
                                             .c_str());
}

TEST(LogEscaping, LogfmtValuesWithControlOrNonAsciiBytesAreQuotedAndEscaped) {
  ipcrt::Logfmt line("warn", "denied");
  line.field("arg", std::string("/q\x01", 3)).field("name", "caf\xc3\xa9").field("plain", "ok");
  STRCMP_EQUAL("level=warn msg=denied arg=\"/q\\x01\" name=\"caf\xc3\xa9\" plain=ok",
               line.text().c_str());
}

TEST(LogEscaping, TimestampsAreRfc3339UtcWithMilliseconds) {
  tm parts{};
  parts.tm_year = 2026 - 1900;
  parts.tm_mon = 11;
  parts.tm_mday = 1;
  parts.tm_hour = 14;
  parts.tm_min = 6;
  parts.tm_sec = 9;
  const auto when =
      std::chrono::system_clock::from_time_t(::timegm(&parts)) + std::chrono::milliseconds(123);
  std::string out;
  ipcrt::append_log_time(out, when);
  STRCMP_EQUAL("2026-12-01T14:06:09.123Z", out.c_str());
  out.clear();
  ipcrt::append_log_time(out, when + std::chrono::milliseconds(877 + 3600 * 1000));
  STRCMP_EQUAL("2026-12-01T15:06:10.000Z", out.c_str());
}

TEST_GROUP(LogRingShares){};

TEST(LogRingShares, EachShareIsTheBudgetSplitAndAtMostItsMaximum) {
  LogRing small(1024 * 1024, 64 * 1024, {"a", "b", "c"});
  LONGS_EQUAL(64 * 1024, small.share_limit());
  std::vector<std::string> many;
  for (int i = 0; i < 63; ++i) many.push_back("s" + std::to_string(i));
  LogRing crowded(1024 * 1024, 64 * 1024, many);
  LONGS_EQUAL(1024 * 1024 / 64, crowded.share_limit());
}

TEST(LogRingShares, AFullShareDropsItsOldestLinesAndLeavesOthersAlone) {
  LogRing ring(3 * 4096, 4096, {"a", "b"});  // shares of 3072 bytes
  const auto now = std::chrono::system_clock::now();
  ring.add("b", LogSource::Stdout, now, "b keeps this");
  for (int i = 1; i <= 100; ++i) {
    ring.add("a", LogSource::Stdout, now, "line " + std::to_string(i) + std::string(50, '.'));
  }
  CHECK(ring.share_bytes("a") <= ring.share_limit());
  auto a = ring.last(1000, std::string("a"));
  CHECK(a.size() > 5 && a.size() < 100);
  CHECK_TRUE(a.back().line.starts_with("line 100."));
  CHECK_TRUE(a.front().line.starts_with("line " + std::to_string(101 - a.size()) + "."));
  auto b = ring.last(10, std::string("b"));
  LONGS_EQUAL(1, b.size());
  STRCMP_EQUAL("b keeps this", b[0].line.c_str());
}

TEST(LogRingShares, LastOfEveryShareInterleavesByTheOrderOfLogging) {
  LogRing ring(1024 * 1024, 64 * 1024, {"a", "b"});
  const auto now = std::chrono::system_clock::now();
  for (int i = 0; i < 10; ++i) {
    ring.add(i % 3 == 0 ? "a" : i % 3 == 1 ? "b" : "", LogSource::Stdout, now, std::to_string(i));
  }
  auto all = ring.last(4, std::nullopt);
  LONGS_EQUAL(4, all.size());
  for (int i = 0; i < 4; ++i)
    STRCMP_EQUAL(std::to_string(6 + i).c_str(), all[static_cast<std::size_t>(i)].line.c_str());
  STRCMP_EQUAL("a", all[3].service.c_str());
  STRCMP_EQUAL("", all[2].service.c_str());  // the runtime's own
  // An unknown share's lines go to the runtime's.
  ring.add("nobody", LogSource::Runtime, now, "stray");
  STRCMP_EQUAL("stray", ring.last(1, std::string("")).at(0).line.c_str());
}

TEST(LogRingShares, ACursorReadsOnWhereItStoppedAndSaysWhenLinesWereMissed) {
  LogRing ring(3 * 4096, 4096, {"a", "b"});
  const auto now = std::chrono::system_clock::now();
  for (int i = 1; i <= 6; ++i)
    ring.add(i % 2 ? "a" : "b", LogSource::Stdout, now, std::to_string(i));
  auto first = ring.read(0, 4, std::nullopt);
  LONGS_EQUAL(4, first.records.size());
  CHECK_FALSE(first.missed);
  STRCMP_EQUAL("4", first.records.back().line.c_str());
  auto rest = ring.read(first.next, 100, std::nullopt);
  LONGS_EQUAL(2, rest.records.size());
  STRCMP_EQUAL("5", rest.records[0].line.c_str());
  // Nothing new: the cursor stays valid for lines to come.
  auto empty = ring.read(rest.next, 100, std::nullopt);
  LONGS_EQUAL(0, empty.records.size());
  ring.add("b", LogSource::Stdout, now, "7");
  STRCMP_EQUAL("7", ring.read(empty.next, 100, std::nullopt).records.at(0).line.c_str());
  // A reader that fell behind a full share is told.
  const auto behind = ring.next_seq();
  for (int i = 0; i < 200; ++i) ring.add("a", LogSource::Stdout, now, std::string(40, 'x'));
  CHECK_TRUE(ring.read(behind, 10, std::string("a")).missed);
  CHECK_FALSE(ring.read(behind, 10, std::string("b")).missed);
}

TEST_GROUP(LogFileRotation){};

TEST(LogFileRotation, FilesStayUnderMaxBytesAtLineBoundariesAndTheOldestGoes) {
  ipcrt::test::TempDir dir;
  LogFiles files(LogFileOptions{dir.path() + "/a/b", 65536, 3}, "gw.log");
  CHECK_TRUE(files.open().has_value());
  // 2000 lines of 100 bytes: about 3 files' worth, in batches as the timer would write them.
  for (int i = 1; i <= 2000; ++i) {
    std::string line = "line " + std::to_string(i) + " ";
    line.append(99 - line.size(), '.');
    if (files.add(line) || i % 37 == 0) files.flush();
  }
  files.close();
  CHECK_FALSE(exists(files.path(3)));
  int expected = 0;
  for (unsigned index : {2U, 1U, 0U}) {
    const std::string text = read_file(files.path(index));
    CHECK(text.size() <= 65536);
    CHECK(text.size() > 65536 - 100 || index == 0);  // full but for less than a line
    CHECK_TRUE(text.ends_with("\n"));
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      LONGS_EQUAL(99, line.size());
      const int number = std::stoi(line.substr(5));
      if (expected != 0) LONGS_EQUAL(expected, number);
      expected = number + 1;
    }
  }
  LONGS_EQUAL(2001, expected);
  LONGS_EQUAL(0, files.lines_lost());
}

TEST(LogFileRotation, OneFileIsStartedAgainAndAnUnfinishedLastLineIsEnded) {
  ipcrt::test::TempDir dir;
  const std::string path = dir.write_file("gw.log", "ts=x cut off by a power c");
  LogFiles files(LogFileOptions{dir.path(), 65536, 1}, "gw.log");
  CHECK_TRUE(files.open().has_value());
  files.add("next boot");
  files.flush();
  STRCMP_EQUAL("ts=x cut off by a power c\nnext boot\n", read_file(path).c_str());
  for (int i = 0; i < 1000; ++i) files.add(std::string(99, 'y'));
  files.close();
  CHECK(read_file(path).size() <= 65536);
  CHECK_FALSE(exists(path + ".1"));
}

TEST_GROUP(RuntimeStderr){};

TEST(RuntimeStderr, AFullPipeDropsWholeLinesCountsThemAndKeepsItsFlags) {
  int fds[2];
  CHECK_EQUAL(0, ::pipe2(fds, O_CLOEXEC));
  const int flags = ::fcntl(fds[1], F_GETFL);
  RuntimeLog log;
  log.open(fds[1]);
  LONGS_EQUAL(static_cast<long>(RuntimeLog::Mode::Reopened), static_cast<long>(log.mode()));
  const std::string line = std::string(199, 'z') + "\n";
  for (int i = 0; i < 2000; ++i) log.write(line, 1);  // 400 KB into a 64 KiB pipe: no wait
  CHECK(log.lines_lost() > 0);
  CHECK_TRUE(log.pending());
  LONGS_EQUAL(flags, ::fcntl(fds[1], F_GETFL));
  // What the reader gets is whole lines, then the waiting ones once it reads.
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  std::string got = read_available(fds[0]);
  while (!log.flush()) got += read_available(fds[0]);
  got += read_available(fds[0]);
  LONGS_EQUAL(0, got.size() % line.size());
  LONGS_EQUAL(2000, got.size() / line.size() + log.lines_lost());
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(RuntimeStderr, APipeWithoutReaderIsEpipeNotSigpipe) {
  int fds[2];
  CHECK_EQUAL(0, ::pipe2(fds, O_CLOEXEC));
  RuntimeLog log;
  log.open(fds[1]);
  ::close(fds[0]);
  log.write("gone\n", 1);  // SIGPIPE would end this test binary
  LONGS_EQUAL(1, log.lines_lost());
  ::close(fds[1]);
}

TEST(RuntimeStderr, ASocketIsWrittenWithoutWaiting) {
  int fds[2];
  CHECK_EQUAL(0, ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds));
  const int flags = ::fcntl(fds[0], F_GETFL);
  RuntimeLog log;
  log.open(fds[0]);
  LONGS_EQUAL(static_cast<long>(RuntimeLog::Mode::Socket), static_cast<long>(log.mode()));
  const std::string line = std::string(999, 's') + "\n";
  for (int i = 0; i < 2000; ++i) log.write(line, 1);  // 2 MB: more than the socket buffers
  CHECK(log.lines_lost() > 0);
  LONGS_EQUAL(flags, ::fcntl(fds[0], F_GETFL));
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(RuntimeStderr, ARegularFileIsWrittenThroughItsOwnOffset) {
  ipcrt::test::TempDir dir;
  const std::string path = dir.write_file("err", "");
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  RuntimeLog log;
  log.open(fd);
  LONGS_EQUAL(static_cast<long>(RuntimeLog::Mode::File), static_cast<long>(log.mode()));
  log.write("one\ntwo\n", 2);
  // The shell's other writers on the same description go on after our lines, not over them.
  CHECK_EQUAL(4, ::write(fd, "cli\n", 4));
  ::close(fd);
  STRCMP_EQUAL("one\ntwo\ncli\n", read_file(path).c_str());
}

TEST(RuntimeStderr, AClosedDescriptorCountsEveryLine) {
  RuntimeLog log;
  log.open(1000);  // not open
  log.write("a\nb\n", 2);
  LONGS_EQUAL(2, log.lines_lost());
}
