// cgroup-probe: a test service for the resource-control tests (SPEC §13).
//   cgroup-probe hog                 touch memory 1 MiB at a time until the kernel kills it
//   cgroup-probe fork-bomb           fork children that wait forever until fork fails, print
//                                    "forked N errno=E", then wait forever itself
//   cgroup-probe escape FILE exit    fork a grandchild that leaves the session (setsid) and
//   cgroup-probe escape FILE stay    waits forever, write its pid to FILE, then exit 0 or
//                                    wait forever
//   cgroup-probe sleep               wait forever
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

[[noreturn]] void wait_forever() {
  for (;;) ::pause();
}

[[noreturn]] void hog() {
  constexpr std::size_t kChunk = 1 << 20;
  for (std::size_t total = 0;; total += kChunk) {
    char* chunk = static_cast<char*>(std::malloc(kChunk));
    if (chunk == nullptr) {
      std::printf("malloc failed after %zu MiB\n", total >> 20);
      std::fflush(stdout);
      wait_forever();
    }
    std::memset(chunk, 0x5a, kChunk);  // resident, charged to the cgroup
  }
}

[[noreturn]] void fork_bomb() {
  long forked = 0;
  for (;;) {
    const pid_t child = ::fork();
    if (child == 0) wait_forever();
    if (child < 0) break;
    ++forked;
  }
  std::printf("forked %ld errno=%s\n", forked, ::strerrorname_np(errno));
  std::fflush(stdout);
  wait_forever();
}

[[noreturn]] void escape(const char* file, bool stay) {
  int left[2];
  if (::pipe(left) != 0) ::_exit(2);
  const pid_t child = ::fork();
  if (child == 0) {
    if (::setsid() < 0) ::_exit(4);
    [[maybe_unused]] auto written = ::write(left[1], "s", 1);
    wait_forever();
  }
  if (child < 0) ::_exit(2);
  // Only once it has left the session: a sweep of the session must not find it.
  char byte = 0;
  if (::read(left[0], &byte, 1) != 1) ::_exit(5);
  std::string text = std::to_string(child) + "\n";
  FILE* out = std::fopen(file, "w");
  if (out == nullptr) ::_exit(3);
  std::fputs(text.c_str(), out);
  std::fclose(out);
  if (!stay) ::_exit(0);
  wait_forever();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "hog") hog();
  if (mode == "fork-bomb") fork_bomb();
  if (mode == "escape" && argc == 4) escape(argv[2], std::string(argv[3]) == "stay");
  if (mode == "sleep") wait_forever();
  std::fprintf(stderr, "usage: cgroup-probe hog|fork-bomb|escape FILE exit|stay|sleep\n");
  return 2;
}
