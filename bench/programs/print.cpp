// bench-print: the services of the log benchmark (SPEC §14).
//   bench-print lines N WIDTH     N lines of WIDTH bytes on stdout, as fast as the pipe takes them
//   bench-print flood SECONDS     100-byte lines on stdout for SECONDS, then exit
//   bench-print idle SECONDS      nothing for SECONDS, then exit (the quiet configuration's
//                                 stand-in for the flood)
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

double now_s() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

bool write_all(const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(STDOUT_FILENO, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "lines") == 0) {
    const long count = std::atol(argv[2]);
    const std::size_t width = static_cast<std::size_t>(std::max(2L, std::atol(argv[3])));
    // Written in blocks of whole lines, so the program's own cost stays small.
    std::string block;
    for (int i = 0; i < 64; ++i) block += std::string(width - 1, 'x') + "\n";
    long left = count;
    while (left > 0) {
      const long now = std::min(left, 64L);
      if (!write_all(block.data(), static_cast<std::size_t>(now) * width)) return 1;
      left -= now;
    }
    return 0;
  }
  if (argc == 3 && std::strcmp(argv[1], "flood") == 0) {
    const double end = now_s() + std::atof(argv[2]);
    const std::string line = std::string(99, 'f') + "\n";
    while (now_s() < end) {
      if (!write_all(line.data(), line.size())) return 1;
    }
    return 0;
  }
  if (argc == 3 && std::strcmp(argv[1], "idle") == 0) {
    const double seconds = std::atof(argv[2]);
    timespec pause{static_cast<time_t>(seconds),
                   static_cast<long>((seconds - static_cast<long>(seconds)) * 1e9)};
    ::nanosleep(&pause, nullptr);
    return 0;
  }
  return 2;
}
