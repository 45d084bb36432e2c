// log-probe: a test service for the log tests (SPEC §14). Each mode writes something to its
// stdout or stderr, which the supervisor reads from its pipes; the tests look at ipcrt's log.
//   log-probe streams                  "to stdout" on stdout, "to stderr" on stderr
//   log-probe lines N PREFIX [WIDTH]   "PREFIX I" for I = 1..N on stdout, padded with '.' to
//                                      WIDTH bytes when given
//   log-probe long N                   one line of N 'a'
//   log-probe utf8-cut                 4095 'a', "é" (2 bytes, across the 4 KiB cut), "tail"
//   log-probe escapes                  a line with ESC, CR, tab, quotes, a backslash, invalid
//                                      UTF-8 and a C1 control, then one that tries to forge
//                                      fields of its own
//   log-probe partial WORD SECONDS     WORD without a newline, then after SECONDS "tail" without
//                                      a newline, then exit (the end of file ends that line)
//   log-probe flood BYTES              100-byte lines on stdout as fast as the pipe takes them,
//                                      then "flood done ms=T" on stderr
//   log-probe echo                     answers every message of $IPCRT_REQUESTS_PATHS on
//                                      $IPCRT_REPLIES_PATHS until a "q"
//   log-probe ping COUNT INTERVAL_MS   COUNT timed round trips through the echo, then
//                                      "ping n=COUNT p50_us=A p99_us=B max_us=C" and a "q"
//   log-probe mq-open PATH             mq_open(PATH, O_RDONLY); "mq_open errno=E" (or "ok")
#include <fcntl.h>
#include <mqueue.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

double now_us() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

bool write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

int lines(int argc, char** argv) {
  if (argc < 4) return 2;
  const long count = std::atol(argv[2]);
  const std::size_t width = argc > 4 ? static_cast<std::size_t>(std::atol(argv[4])) : 0;
  for (long i = 1; i <= count; ++i) {
    std::string line = std::string(argv[3]) + " " + std::to_string(i);
    if (line.size() < width) line.append(width - line.size(), '.');
    if (!write_all(STDOUT_FILENO, line + "\n")) return 1;
  }
  return 0;
}

int flood(long bytes) {
  const double start = now_us();
  long written = 0;
  long number = 0;
  while (written < bytes) {
    char line[101];
    std::snprintf(line, sizeof line, "flood %09ld ", ++number);
    std::string text(line);
    text.append(99 - text.size(), 'x');
    text += '\n';
    if (!write_all(STDOUT_FILENO, text)) return 1;
    written += static_cast<long>(text.size());
  }
  std::fprintf(stderr, "flood done lines=%ld ms=%.0f\n", number, (now_us() - start) / 1000);
  return 0;
}

mqd_t open_queue(const char* variable, int flags) {
  const char* paths = std::getenv(variable);
  if (paths == nullptr) {
    std::fprintf(stderr, "log-probe: %s is not set\n", variable);
    std::exit(3);
  }
  std::string path(paths);
  path = path.substr(0, path.find(':'));
  mqd_t queue = ::mq_open(path.c_str(), flags | O_CLOEXEC);
  if (queue == static_cast<mqd_t>(-1)) {
    std::fprintf(stderr, "log-probe: mq_open %s: %s\n", path.c_str(), std::strerror(errno));
    std::exit(3);
  }
  return queue;
}

int echo() {
  mqd_t requests = open_queue("IPCRT_REQUESTS_PATHS", O_RDONLY);
  mqd_t replies = open_queue("IPCRT_REPLIES_PATHS", O_WRONLY);
  char message[8192];
  for (;;) {
    ssize_t size = ::mq_receive(requests, message, sizeof message, nullptr);
    if (size < 0 && errno == EINTR) continue;
    if (size < 1) return 1;
    if (message[0] == 'q') return 0;
    if (::mq_send(replies, message, static_cast<std::size_t>(size), 0) != 0) return 1;
  }
}

int ping(long count, long interval_ms) {
  mqd_t requests = open_queue("IPCRT_REQUESTS_PATHS", O_WRONLY);
  mqd_t replies = open_queue("IPCRT_REPLIES_PATHS", O_RDONLY);
  std::vector<double> trips;
  char reply[8192];
  for (long i = 0; i < count; ++i) {
    const double start = now_us();
    if (::mq_send(requests, "p", 1, 0) != 0) return 1;
    ssize_t size;
    do {
      size = ::mq_receive(replies, reply, sizeof reply, nullptr);
    } while (size < 0 && errno == EINTR);
    if (size < 1) return 1;
    trips.push_back(now_us() - start);
    timespec pause{interval_ms / 1000, (interval_ms % 1000) * 1000000};
    ::nanosleep(&pause, nullptr);
  }
  ::mq_send(requests, "q", 1, 0);
  std::sort(trips.begin(), trips.end());
  auto at = [&](double fraction) {
    return trips[std::min(trips.size() - 1, static_cast<std::size_t>(fraction * trips.size()))];
  };
  std::printf("ping n=%ld p50_us=%.0f p99_us=%.0f max_us=%.0f\n", count, at(0.5), at(0.99),
              trips.back());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "streams") {
    std::printf("to stdout\n");
    std::fprintf(stderr, "to stderr\n");
    return 0;
  }
  if (mode == "lines") return lines(argc, argv);
  if (mode == "long" && argc > 2) {
    return write_all(STDOUT_FILENO,
                     std::string(static_cast<std::size_t>(std::atol(argv[2])), 'a') + "\n")
               ? 0
               : 1;
  }
  if (mode == "utf8-cut") {
    return write_all(STDOUT_FILENO, std::string(4095, 'a') + "\xc3\xa9tail\n") ? 0 : 1;
  }
  if (mode == "escapes") {
    const bool ok = write_all(STDOUT_FILENO,
                              "esc \x1b[31mred\x1b[0m cr\r tab\t quote\" back\\ bad \xff\xfe c1 "
                              "\xc2\x9b ok \xc3\xa9\n") &&
                    write_all(STDOUT_FILENO, "x\" level=error service=other msg=\"forged\n");
    return ok ? 0 : 1;
  }
  if (mode == "partial" && argc > 3) {
    if (!write_all(STDOUT_FILENO, argv[2])) return 1;
    ::sleep(static_cast<unsigned>(std::atoi(argv[3])));
    return write_all(STDOUT_FILENO, "tail") ? 0 : 1;
  }
  if (mode == "flood" && argc > 2) return flood(std::atol(argv[2]));
  if (mode == "echo") return echo();
  if (mode == "ping" && argc > 3) return ping(std::atol(argv[2]), std::atol(argv[3]));
  if (mode == "mq-open" && argc > 2) {
    mqd_t queue = ::mq_open(argv[2], O_RDONLY | O_CLOEXEC);
    std::printf("mq_open %s\n", queue == static_cast<mqd_t>(-1) ? ::strerrorname_np(errno) : "ok");
    return 0;
  }
  std::fprintf(stderr, "log-probe: unknown mode '%s'\n", mode.c_str());
  return 2;
}
