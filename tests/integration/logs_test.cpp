// Logs end to end (SPEC §14): real `ipcrt run` of real services (tests/services/log_probe)
// whose stdout and stderr the supervisor reads, and what comes out of ipcrt's stderr, its
// ring (through the Daemon's API, in this process) and its log files. Services share nothing
// with the tests through files: only through what they print.
#include <CppUTest/TestHarness.h>
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "runtime/daemon.hpp"
#include "runtime/logs/runtime_log.hpp"
#include "runtime/mediation/notification.hpp"
#include "tests/support/process.hpp"

extern char** environ;

using ipcrt::test::TempDir;
using ipcrt::test::unique_name;

namespace {

std::string probe() {
  return IPCRT_LOG_PROBE;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::size_t count(const std::string& text, const std::string& part) {
  std::size_t found = 0;
  for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) {
    ++found;
  }
  return found;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> lines_with(const std::string& text, const std::string& part) {
  std::vector<std::string> found;
  for (auto& line : split_lines(text)) {
    if (contains(line, part)) found.push_back(line);
  }
  return found;
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

std::string quoted(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "\"" : ", \"") + item + "\"";
  return "[" + text + "]";
}

// A manifest of independent services: name -> command.
std::string manifest(const std::string& name,
                     const std::vector<std::pair<std::string, std::vector<std::string>>>& services,
                     const std::string& top_extra = "") {
  std::string text =
      "{\"version\": 1, \"name\": \"" + name + "\"" + top_extra + ", \"services\": {";
  bool first = true;
  for (const auto& [service, command] : services) {
    text += (first ? "\n  \"" : ",\n  \"") + service + "\": {\"command\": " + quoted(command) + "}";
    first = false;
  }
  return text + "}}\n";
}

ipcrt::test::ProcessResult run_ipcrt(const TempDir& dir, const std::string& text) {
  return ipcrt::test::run_ipcrt({"run", dir.write_file("manifest.json", text)});
}

// `ts=2026-12-01T14:06:09.123Z ` at the start of the line, within a minute of now.
bool has_timestamp(const std::string& line) {
  if (line.size() < 28 || line.compare(0, 3, "ts=") != 0 || line[27] != ' ') return false;
  const std::string stamp = line.substr(3, 24);
  const char* shape = "dddd-dd-ddTdd:dd:dd.dddZ";
  for (std::size_t i = 0; i < stamp.size(); ++i) {
    if (shape[i] == 'd' ? !std::isdigit(static_cast<unsigned char>(stamp[i]))
                        : stamp[i] != shape[i]) {
      return false;
    }
  }
  tm parts{};
  parts.tm_year = std::stoi(stamp.substr(0, 4)) - 1900;
  parts.tm_mon = std::stoi(stamp.substr(5, 2)) - 1;
  parts.tm_mday = std::stoi(stamp.substr(8, 2));
  parts.tm_hour = std::stoi(stamp.substr(11, 2));
  parts.tm_min = std::stoi(stamp.substr(14, 2));
  parts.tm_sec = std::stoi(stamp.substr(17, 2));
  const time_t when = ::timegm(&parts);
  return std::llabs(static_cast<long long>(when - ::time(nullptr))) < 60;
}

// ipcrt run in the background with stderr on `stderr_fd` (and stdout on /dev/null).
class Spawned {
 public:
  Spawned(const std::string& manifest_path, int stderr_fd) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, stderr_fd, 2);
    std::string binary = ipcrt::test::ipcrt_binary();
    const char* argv[] = {binary.c_str(), "run", manifest_path.c_str(), nullptr};
    ::posix_spawn(&pid_, binary.c_str(), &actions, nullptr, const_cast<char**>(argv), environ);
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Spawned() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  // The exit status, or -1 if it has not ended within `limit` (then it is killed).
  int wait_for(std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
};

}  // namespace

TEST_GROUP(LogLines){};

TEST(LogLines, EveryLineHasATimestampAndServiceLinesTheirServiceAndStream) {
  TempDir dir;
  const std::string name = unique_name("lg");
  auto result = run_ipcrt(dir, manifest(name, {{"talker", {probe(), "streams"}}}));
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  auto out = lines_with(result.err, "service=talker stream=stdout");
  auto err = lines_with(result.err, "service=talker stream=stderr");
  LONGS_EQUAL_TEXT(1, out.size(), result.err.c_str());
  LONGS_EQUAL_TEXT(1, err.size(), result.err.c_str());
  // ts= first, then level, service, stream and the always quoted msg.
  STRCMP_EQUAL(" level=info service=talker stream=stdout msg=\"to stdout\"",
               out[0].substr(27).c_str());
  STRCMP_EQUAL(" level=info service=talker stream=stderr msg=\"to stderr\"",
               err[0].substr(27).c_str());
  // ipcrt's own lines too.
  auto lines = split_lines(result.err);
  CHECK(lines.size() >= 5);
  for (const auto& line : lines) CHECK_TEXT(has_timestamp(line), line.c_str());
  CHECK(contains(result.err, "msg=started service=talker"));
}

// What a service wrote just before it ended comes before the runtime's line saying it ended,
// in every run (each service's pipes are read once more when its exit is seen).
TEST(LogLines, AServicesLastLinesComeBeforeItsExitedLine) {
  TempDir dir;
  const std::string name = unique_name("lg");
  for (int round = 0; round < 5; ++round) {
    // 200 lines written at once, then the exit: the pipe and the exit are seen together.
    auto result = run_ipcrt(
        dir,
        manifest(name, {{"talker",
                         {"/bin/sh", "-c",
                          "i=0; while [ $$i -lt 200 ]; do echo line $$i; i=$$((i+1)); done"}}}));
    LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
    const auto last = result.err.find("service=talker stream=stdout msg=\"line 199\"");
    const auto exited = result.err.find("msg=exited service=talker");
    CHECK_TEXT(last != std::string::npos && exited != std::string::npos, result.err.c_str());
    CHECK_TEXT(last < exited, result.err.c_str());
  }
}

TEST(LogLines, LongLinesAreCutAt4KiBWithTruncatedAndNotInsideACharacter) {
  TempDir dir;
  const std::string name = unique_name("lg");
  auto result = run_ipcrt(dir, manifest(name, {{"longer", {probe(), "long", "10000"}},
                                               {"accent", {probe(), "utf8-cut"}}}));
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  auto cut = lines_with(result.err, "service=longer stream=stdout");
  LONGS_EQUAL_TEXT(3, cut.size(), result.err.c_str());
  const std::string a4096 = "msg=\"" + std::string(4096, 'a') + "\" truncated=true";
  CHECK_TRUE(cut[0].ends_with(a4096));
  CHECK_TRUE(cut[1].ends_with(a4096));
  CHECK_TRUE(cut[2].ends_with("msg=\"" + std::string(10000 - 2 * 4096, 'a') + "\""));
  // 4095 'a' and the first byte of "é" would be 4096 bytes: the cut goes before the "é".
  auto accent = lines_with(result.err, "service=accent stream=stdout");
  LONGS_EQUAL_TEXT(2, accent.size(), result.err.c_str());
  CHECK_TRUE(accent[0].ends_with("msg=\"" + std::string(4095, 'a') + "\" truncated=true"));
  CHECK_TRUE(accent[1].ends_with("msg=\"\xc3\xa9tail\""));
}

TEST(LogLines, ControlBytesInvalidUtf8AndQuotesAreEscapedSoNoLineCanBeForged) {
  TempDir dir;
  const std::string name = unique_name("lg");
  auto result = run_ipcrt(dir, manifest(name, {{"sly", {probe(), "escapes"}}}));
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  auto lines = lines_with(result.err, "service=sly stream=stdout");
  LONGS_EQUAL_TEXT(2, lines.size(), result.err.c_str());
  STRCMP_EQUAL(
      " level=info service=sly stream=stdout msg=\"esc \\x1b[31mred\\x1b[0m cr\\x0d tab\\t "
      "quote\\\" back\\\\ bad \\xff\\xfe c1 \\xc2\\x9b ok \xc3\xa9\"",
      lines[0].substr(27).c_str());
  STRCMP_EQUAL(
      " level=info service=sly stream=stdout msg=\"x\\\" level=error service=other "
      "msg=\\\"forged\"",
      lines[1].substr(27).c_str());
  CHECK_FALSE(contains(result.err, "\x1b"));
  CHECK_FALSE(contains(result.err, "\r"));
}

TEST(LogLines, APartialLineIsWrittenAfter100msAndAtExit) {
  TempDir dir;
  const std::string name = unique_name("lg");
  // "first" waits 3 s for its newline, which never comes; "tail" ends with the service.
  auto result = run_ipcrt(dir, manifest(name, {{"slow", {probe(), "partial", "first", "3"}}}));
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  auto lines = split_lines(result.err);
  int first = -1;
  int tail = -1;
  int exited = -1;
  for (int i = 0; i < static_cast<int>(lines.size()); ++i) {
    if (contains(lines[i], "service=slow stream=stdout msg=\"first\"")) first = i;
    if (contains(lines[i], "service=slow stream=stdout msg=\"tail\"")) tail = i;
    if (contains(lines[i], "msg=exited service=slow")) exited = i;
  }
  CHECK_TEXT(first >= 0 && tail > first && exited > first, result.err.c_str());
  // Written long before the service ended: the timestamps are about 3 s apart, not 100 ms
  // from the end (only the seconds are compared, generously).
  auto seconds = [&](int index) {
    const std::string& line = lines[static_cast<std::size_t>(index)];
    return std::stoi(line.substr(14, 2)) * 3600 + std::stoi(line.substr(17, 2)) * 60 +
           std::stoi(line.substr(20, 2));
  };
  const int gap = (seconds(tail) - seconds(first) + 86400) % 86400;
  CHECK_TEXT(gap >= 2 && gap <= 5, result.err.c_str());
}

TEST_GROUP(LogBudget){};

// The flood's 512 KiB: its burst (256 KiB) at once, the rest at 64 KiB/s, so at least about
// 3 s; meanwhile a pair of services does queue round trips, which must stay fast. What is
// checked is read from the log file: stderr may drop lines for a reader (this test) that does
// not keep up with the burst, the file and the ring do not.
TEST(LogBudget, AFloodIsPausedOnceAndCountedWhileOtherServicesRoundTripsGoOn) {
  TempDir dir;
  const std::string name = unique_name("lf");
  const std::string logs_dir = dir.path() + "/logs";
  const std::string requests = "/" + unique_name("lfq");
  const std::string replies = "/" + unique_name("lfr");
  auto slot = [](const std::string& path) {
    return "{\"interface\": \"posix-mq\", \"path\": \"" + path +
           "\", \"max-messages\": 4, \"message-size\": 64, \"remove-on-stop\": true}";
  };
  const std::string text =
      "{\"version\": 1, \"name\": \"" + name + "\", \"log\": {\"dir\": \"" + logs_dir +
      "\", \"max-bytes\": 16777216, \"files\": 1}, \"services\": {\n"
      "  \"flood\": {\"command\": " +
      quoted({probe(), "flood", "524288"}) +
      "},\n"
      "  \"echo\": {\"command\": " +
      quoted({probe(), "echo"}) + ", \"slots\": {\"requests\": " + slot(requests) +
      ", \"replies\": " + slot(replies) +
      "}},\n"
      "  \"ping\": {\"command\": " +
      quoted({probe(), "ping", "200", "10"}) +
      ", \"after\": [\"echo\"], \"plugs\": {\"requests\": {\"interface\": \"posix-mq\"}, "
      "\"replies\": {\"interface\": \"posix-mq\"}}}}}\n";
  auto ran = run_ipcrt(dir, text);
  ::mq_unlink(requests.c_str());
  ::mq_unlink(replies.c_str());
  LONGS_EQUAL_TEXT(0, ran.exit_code, ran.err.c_str());
  ipcrt::test::ProcessResult result;
  result.err = read_file(logs_dir + "/" + name + ".log");

  // Not read past its budget: the flood waited on its pipe.
  auto done = lines_with(result.err, "service=flood stream=stderr msg=\"flood done");
  LONGS_EQUAL_TEXT(1, done.size(), result.err.c_str());
  const auto ms_at = done[0].find("ms=");
  const double flood_ms = std::stod(done[0].substr(ms_at + 3));
  CHECK_TEXT(flood_ms >= 2000, done[0].c_str());
  // Logged once when the pause began and once at its end, with how much was held back.
  LONGS_EQUAL_TEXT(1, count(result.err, "msg=\"output paused\" service=flood suppressed=true"),
                   result.err.c_str());
  auto resumed = lines_with(result.err, "msg=\"output resumed\" service=flood held-back-bytes=");
  LONGS_EQUAL_TEXT(1, resumed.size(), result.err.c_str());
  const auto held = std::stol(resumed[0].substr(resumed[0].find("held-back-bytes=") + 16));
  // How much depends on how fast the flood refills its pipe during the pause (under
  // qemu-system a few KiB, on a fast machine the whole pipe): only that some was.
  CHECK_TEXT(held > 0, resumed[0].c_str());
  // Nothing was dropped: every line came through, in order.
  auto flood_lines = lines_with(result.err, "service=flood stream=stdout");
  LONGS_EQUAL(524288 / 100 + 1, flood_lines.size());
  CHECK_TRUE(contains(flood_lines.back(), "flood 000005243 "));
  // The pair did all its round trips meanwhile; how fast they stayed (p99 against a quiet run,
  // side by side) is the log benchmark's figure, not a timed assertion.
  auto ping = lines_with(result.err, "service=ping stream=stdout msg=\"ping n=200");
  LONGS_EQUAL_TEXT(1, ping.size(), result.err.c_str());
}

TEST_GROUP(LogFiles){};

TEST(LogFiles, RotationKeepsAtMostFilesFilesOfAtMostMaxBytesWithWholeLines) {
  TempDir dir;
  const std::string name = unique_name("lr");
  const std::string logs = dir.path() + "/var/log/ipcrt";  // created by the runtime
  const std::string top =
      ", \"log\": {\"dir\": \"" + logs + "\", \"max-bytes\": 65536, \"files\": 3}";
  // 3000 lines of about 200 bytes once logged: well over 3 files of 64 KiB.
  auto result =
      run_ipcrt(dir, manifest(name, {{"writer", {probe(), "lines", "3000", "line", "100"}}}, top));
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  const std::string base = logs + "/" + name + ".log";
  CHECK_TRUE(exists(base));
  CHECK_TRUE(exists(base + ".1"));
  CHECK_TRUE(exists(base + ".2"));
  CHECK_FALSE(exists(base + ".3"));
  long expected = 0;
  std::size_t total = 0;
  for (const auto& path : {base + ".2", base + ".1", base}) {
    const std::string text = read_file(path);
    total += text.size();
    CHECK_TEXT(text.size() <= 65536, path.c_str());
    CHECK_TEXT(!text.empty() && text.back() == '\n', path.c_str());
    for (const auto& line : split_lines(text)) {
      CHECK_TEXT(has_timestamp(line), line.c_str());
      const auto at = line.find("service=writer stream=stdout msg=\"line ");
      if (at == std::string::npos) continue;
      const long number = std::stol(line.substr(at + 39));
      // The lines kept are the newest, without a gap.
      if (expected != 0) LONGS_EQUAL_TEXT(expected, number, line.c_str());
      expected = number + 1;
    }
  }
  LONGS_EQUAL(3001, expected);
  CHECK(total > 2 * 65536);
  const std::string newest = read_file(base);
  CHECK_TEXT(contains(newest, "msg=\"all services ended\""), newest.c_str());

  // The next boot appends: what was logged survives it.
  auto again = run_ipcrt(dir, manifest(name, {{"writer", {probe(), "lines", "1", "again"}}}, top));
  LONGS_EQUAL_TEXT(0, again.exit_code, again.err.c_str());
  const std::string appended = read_file(base);
  CHECK_TRUE(appended.starts_with(newest));
  CHECK_TRUE(contains(appended.substr(newest.size()), "msg=\"again 1\""));
}

TEST_GROUP(RuntimeStderr){};

TEST(RuntimeStderr, APipeNobodyReadsNeitherStallsTheRuntimeNorChangesItsFlags) {
  TempDir dir;
  const std::string name = unique_name("lp");
  const std::string logs = dir.path() + "/logs";
  const std::string path = dir.write_file(
      "manifest.json", manifest(name, {{"chatty", {probe(), "lines", "2000", "chatty", "100"}}},
                                ", \"log\": {\"dir\": \"" + logs + "\"}"));
  int pipe_fds[2];
  CHECK_EQUAL(0, ::pipe2(pipe_fds, O_CLOEXEC));
  const int flags_before = ::fcntl(pipe_fds[1], F_GETFL);
  int status;
  {
    Spawned ipcrt(path, pipe_fds[1]);
    // Nobody reads pipe_fds[0]: 64 KiB in, the pipe is full. 2000 lines of 200 bytes need
    // about 400 KiB.
    status = ipcrt.wait_for(std::chrono::seconds(30));
  }
  const int flags_after = ::fcntl(pipe_fds[1], F_GETFL);
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  LONGS_EQUAL(0, status);
  LONGS_EQUAL(flags_before, flags_after);  // no O_NONBLOCK on the description it was given
  const std::string logged = read_file(logs + "/" + name + ".log");
  CHECK_TEXT(contains(logged, "msg=\"chatty 2000."), logged.c_str());
  CHECK_TEXT(contains(logged, "msg=\"log lines not written to stderr\" count="), logged.c_str());
  CHECK_TEXT(contains(logged, "msg=\"all services ended\""), logged.c_str());
}

TEST(RuntimeStderr, AStoppedTerminalNeitherStallsTheRuntimeNorChangesItsFlags) {
  TempDir dir;
  const std::string name = unique_name("lt");
  const std::string logs = dir.path() + "/logs";
  const std::string path = dir.write_file(
      "manifest.json", manifest(name, {{"chatty", {probe(), "lines", "2000", "chatty", "100"}}},
                                ", \"log\": {\"dir\": \"" + logs + "\"}"));
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 && (errno == ENOENT || errno == ENODEV)) {
    UT_PRINT("skipped: no pseudo-terminals here (the ARM test images have no /dev/ptmx)");
    return;
  }
  CHECK_TRUE(master >= 0);
  CHECK_EQUAL(0, ::grantpt(master));
  CHECK_EQUAL(0, ::unlockpt(master));
  const int terminal = ::open(::ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  CHECK_TRUE(terminal >= 0);
  // ^S: output to the terminal stops; a blocking write to it waits until ^Q.
  CHECK_EQUAL(0, ::tcflow(terminal, TCOOFF));
  const int flags_before = ::fcntl(terminal, F_GETFL);
  int status;
  {
    Spawned ipcrt(path, terminal);
    status = ipcrt.wait_for(std::chrono::seconds(30));
  }
  const int flags_after = ::fcntl(terminal, F_GETFL);
  ::tcflow(terminal, TCOON);
  ::close(terminal);
  ::close(master);
  LONGS_EQUAL(0, status);
  LONGS_EQUAL(flags_before, flags_after);
  const std::string logged = read_file(logs + "/" + name + ".log");
  CHECK_TEXT(contains(logged, "msg=\"chatty 2000."), logged.c_str());
  CHECK_TEXT(contains(logged, "msg=\"log lines not written to stderr\" count="), logged.c_str());
}

TEST_GROUP(LogRing){};

// The ring through the API the control server calls (`ipcrt logs -n`), in this process: a
// real Daemon booting real services.
TEST(LogRing, LastNIsExactPerServiceAndInterleavedAcrossThemAndFollowSeesEveryLine) {
  TempDir dir;
  const std::string name = unique_name("lq");
  const std::string path = dir.write_file(
      "manifest.json", manifest(name, {{"alpha", {probe(), "lines", "1500", "alpha"}},
                                       {"beta", {probe(), "lines", "1500", "beta"}}}));
  // The runtime's 3000 lines go to /dev/null here, not into the suite's output.
  struct QuietLog {
    int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    QuietLog() { ipcrt::runtime::RuntimeLog::instance().open(null); }
    ~QuietLog() {
      ipcrt::runtime::RuntimeLog::instance().open(STDERR_FILENO);
      ::close(null);
    }
  } quiet;
  ipcrt::config::Diagnostics diagnostics;
  ipcrt::runtime::DaemonOptions options;
  options.manifest_path = path;
  auto daemon = ipcrt::runtime::Daemon::prepare(std::move(options), diagnostics);
  CHECK_TEXT(daemon.has_value(), diagnostics.format(path).c_str());
  auto booted = (*daemon)->boot();
  CHECK_TRUE(booted.has_value());
  ipcrt::runtime::Logs& logs = *(*daemon)->logs();
  std::vector<std::string> followed;
  auto follow = logs.follow(
      "alpha", [&](const ipcrt::runtime::LogRecord& record) { followed.push_back(record.line); });
  CHECK_TRUE(follow.has_value());
  LONGS_EQUAL(0, (*daemon)->supervise());

  // Exactly the last N, oldest first: its output and the runtime's lines about it (started,
  // exited), in the order they were logged.
  auto output_only = [](std::vector<ipcrt::runtime::LogRecord> records) {
    std::erase_if(records, [](const auto& record) {
      return record.source == ipcrt::runtime::LogSource::Runtime;
    });
    return records;
  };
  auto last = logs.last(10, "alpha");
  CHECK_TRUE(last.has_value());
  LONGS_EQUAL(10, last->size());
  for (std::size_t i = 1; i < last->size(); ++i) CHECK((*last)[i - 1].seq < (*last)[i].seq);
  const auto printed = output_only(*last);
  CHECK_TEXT(printed.size() == 9 || printed.size() == 10, last->back().line.c_str());
  for (std::size_t i = 0; i < printed.size(); ++i) {
    CHECK_TEXT(printed[i].line.ends_with("service=alpha stream=stdout msg=\"alpha " +
                                         std::to_string(1501 - printed.size() + i) + "\""),
               printed[i].line.c_str());
  }
  bool exited = false;
  for (const auto& record : *last) {
    if (record.source != ipcrt::runtime::LogSource::Runtime) continue;
    CHECK_TEXT(record.line.find("msg=exited service=alpha ") != std::string::npos,
               record.line.c_str());
    exited = true;
  }
  CHECK_TRUE(exited || printed.size() == 10);
  LONGS_EQUAL(0, logs.last(0, "alpha")->size());
  // The share is bounded (64 KiB): not all 1500 lines are kept, the newest are, contiguous.
  auto kept_all = logs.last(100000, "alpha");
  auto kept = std::make_optional(output_only(*kept_all));
  CHECK(kept->size() > 100 && kept->size() < 1500);
  CHECK(logs.ring().share_bytes("alpha") <= logs.ring().share_limit());
  const std::string& oldest = kept->front().line;
  const long first = std::stol(oldest.substr(oldest.rfind(' ') + 1));
  for (std::size_t i = 0; i < kept->size(); ++i) {
    CHECK_TRUE((*kept)[i].line.ends_with("\"alpha " + std::to_string(first + static_cast<long>(i)) +
                                         "\""));
  }
  // All services and the runtime, interleaved in the order they were logged.
  auto all = logs.last(50, std::nullopt);
  LONGS_EQUAL(50, all->size());
  for (std::size_t i = 1; i < all->size(); ++i) CHECK((*all)[i - 1].seq < (*all)[i].seq);
  CHECK_TRUE(all->back().line.ends_with("msg=\"all services ended\" status=0"));
  // A cursor read resumes where the last page stopped.
  auto page = logs.read(0, 5, "beta");
  LONGS_EQUAL(5, page->records.size());
  CHECK_TRUE(page->missed);  // the oldest beta lines were dropped
  auto next = logs.read(page->next, 5, "beta");
  LONGS_EQUAL(page->records.back().seq + 1 <= next->records.front().seq, true);
  CHECK_FALSE(next->missed);
  // follow saw every alpha line, in order, and nothing else but the runtime's about alpha.
  std::erase_if(followed, [](const std::string& line) {
    return line.find("msg=started service=alpha ") != std::string::npos ||
           line.find("msg=exited service=alpha ") != std::string::npos;
  });
  LONGS_EQUAL(1500, followed.size());
  for (std::size_t i = 0; i < followed.size(); ++i) {
    CHECK_TRUE(followed[i].ends_with("\"alpha " + std::to_string(i + 1) + "\""));
  }
  // An unknown service is an error naming those there are.
  auto unknown = logs.last(1, "gamma");
  CHECK_FALSE(unknown.has_value());
  STRCMP_CONTAINS("alpha, beta", unknown.error().describe().c_str());
}

// Denial lines (mediation's DenialLog) are the service's too: in its share of the ring and in
// the files, not only on stderr.
TEST(LogRing, DenialLinesGoToTheServicesRingAndFiles) {
  if (!ipcrt::runtime::mediation_support()) TEST_EXIT;  // no mediation, no denial lines
  TempDir dir;
  const std::string name = unique_name("ld");
  const std::string granted = "/" + unique_name("ldq");
  const std::string secret = "/" + unique_name("lds");
  const std::string logs_dir = dir.path() + "/logs";
  const std::string path = dir.write_file(
      "manifest.json",
      "{\"version\": 1, \"name\": \"" + name + "\", \"log\": {\"dir\": \"" + logs_dir +
          "\"}, \"services\": {\n"
          "  \"owner\": {\"command\": " +
          quoted({probe(), "lines", "1", "owner"}) +
          ", \"slots\": {\"q\": {\"interface\": \"posix-mq\", \"path\": \"" + granted +
          "\", \"max-messages\": 2, \"message-size\": 16, \"remove-on-stop\": true}}},\n"
          "  \"sneaky\": {\"command\": " +
          quoted({probe(), "mq-open", secret}) +
          ", \"plugs\": {\"q\": {\"interface\": \"posix-mq\"}}}}}\n");
  struct QuietLog {
    int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    QuietLog() { ipcrt::runtime::RuntimeLog::instance().open(null); }
    ~QuietLog() {
      ipcrt::runtime::RuntimeLog::instance().open(STDERR_FILENO);
      ::close(null);
    }
  } quiet;
  ipcrt::config::Diagnostics diagnostics;
  ipcrt::runtime::DaemonOptions options;
  options.manifest_path = path;
  auto daemon = ipcrt::runtime::Daemon::prepare(std::move(options), diagnostics);
  CHECK_TEXT(daemon.has_value(), diagnostics.format(path).c_str());
  CHECK_TRUE((*daemon)->boot().has_value());
  const auto status = (*daemon)->supervise();
  ::mq_unlink(granted.c_str());
  LONGS_EQUAL(0, status);
  auto lines = (*daemon)->logs()->last(100, "sneaky");
  std::string ring;
  for (const auto& record : *lines) ring += record.line + "\n";
  CHECK_TEXT(contains(ring, "msg=\"mq_open EACCES\""), ring.c_str());
  CHECK_TEXT(contains(ring, "level=warn msg=denied service=sneaky pid="), ring.c_str());
  CHECK_TEXT(contains(ring, "syscall=mq_open arg=" + secret), ring.c_str());
  const std::string file = read_file(logs_dir + "/" + name + ".log");
  CHECK_TEXT(contains(file, "level=warn msg=denied service=sneaky pid="), file.c_str());
}
