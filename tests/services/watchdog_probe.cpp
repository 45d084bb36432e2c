// watchdog-probe: the service of the watchdog images (scripts/image BOARD --watchdog MODE).
//   watchdog-probe sleep SECONDS   runs past several watchdog timeouts, then exits 0: ipcrt
//                                  must keep the board alive, then power off cleanly
//   watchdog-probe freeze-runtime  freezes ipcrt (PID 1) in a cgroup of its own (cgroup v2
//                                  freezer), as a runtime that hangs would stop: the watchdog
//                                  must reset the board. Needs "user": "root" and
//                                  "confinement": "off" (the host's mounts and capabilities).
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

bool write_file(const std::string& path, const char* text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const auto length = static_cast<ssize_t>(std::strlen(text));
  const bool ok = ::write(fd, text, static_cast<std::size_t>(length)) == length;
  ::close(fd);
  return ok;
}

int freeze_runtime() {
  const std::string root = "/sys/fs/cgroup";
  if (::access((root + "/cgroup.procs").c_str(), F_OK) != 0 &&
      ::mount("cgroup2", root.c_str(), "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    std::printf("watchdog-probe: mount cgroup2: %s\n", std::strerror(errno));
    return 1;
  }
  const std::string frozen = root + "/ipcrt-frozen";
  if (::mkdir(frozen.c_str(), 0755) != 0 && errno != EEXIST) {
    std::printf("watchdog-probe: mkdir %s: %s\n", frozen.c_str(), std::strerror(errno));
    return 1;
  }
  if (!write_file(frozen + "/cgroup.procs", "1")) {
    std::printf("watchdog-probe: moving pid 1: %s\n", std::strerror(errno));
    return 1;
  }
  // From here on ipcrt's loop no longer turns: nothing pets the watchdog, and nothing logs
  // what we print either, so the line goes to the console itself (confinement off: the
  // host's /dev).
  std::printf("watchdog-probe: freezing the runtime\n");
  std::fflush(stdout);
  const int console = ::open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
  if (console >= 0) {
    const char line[] = "watchdog-probe: freezing the runtime\n";
    [[maybe_unused]] auto written = ::write(console, line, sizeof line - 1);
    ::close(console);
  }
  if (!write_file(frozen + "/cgroup.freeze", "1")) {
    std::printf("watchdog-probe: cgroup.freeze: %s\n", std::strerror(errno));
    return 1;
  }
  for (;;) ::pause();
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (argc == 3 && std::strcmp(argv[1], "sleep") == 0) {
    const unsigned seconds = static_cast<unsigned>(std::strtoul(argv[2], nullptr, 10));
    std::printf("watchdog-probe: running %u s\n", seconds);
    ::sleep(seconds);
    std::printf("watchdog-probe: done\n");
    return 0;
  }
  if (argc == 2 && std::strcmp(argv[1], "freeze-runtime") == 0) return freeze_runtime();
  std::fprintf(stderr, "usage: watchdog-probe sleep SECONDS | freeze-runtime\n");
  return 2;
}
