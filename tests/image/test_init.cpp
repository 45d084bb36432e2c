// /init of the ARM test image (scripts/image BOARD --test): mounts what the suites need, runs
// every suite listed in $IPCRT_BUILD_DIR/ipcrt-suites.txt with the environment ctest would
// give them, prints each suite's output, then one closing line
// "image <arch>: N passed, N failed" that the host parses, and powers off.
// Static and small: no iostreams, only syscalls and std::string.
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "common/file.hpp"
#include "common/text.hpp"

namespace {

#if defined(__aarch64__)
constexpr const char* kArch = "arm64";
#elif defined(__arm__)
constexpr const char* kArch = "armhf";
#elif defined(__x86_64__)
constexpr const char* kArch = "amd64";
#else
constexpr const char* kArch = "unknown";
#endif

// scripts/image puts the source files tests read and the build tree at the same absolute paths
// as on the build host (paths compiled into tests then hold) and names them in this file, as
// IPCRT_SOURCE_DIR=... and IPCRT_BUILD_DIR=... lines.
constexpr const char* kTestEnvFile = "/etc/ipcrt/test-env";
constexpr int kSuiteTimeoutSeconds = 240;

void say(const std::string& line) {
  std::string text = line + "\n";
  [[maybe_unused]] auto written = ::write(STDOUT_FILENO, text.data(), text.size());
}

void mount_fs(const char* source, const char* target, const char* type, unsigned long flags,
              const char* options = nullptr) {
  ::mkdir(target, 0755);
  if (::mount(source, target, type, flags, options) != 0 && errno != EBUSY) {
    say(ipcrt::cat("test-init: mount ", type, " on ", target, " failed: ", std::strerror(errno)));
  }
}

void mount_everything() {
  mount_fs("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  mount_fs("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  // cgroup v2 with every controller the kernel has (no v1 hierarchy binds any here), as
  // ipcrt's PID-1 mode mounts it: the resource-control suite proves the limits on it.
  mount_fs("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, "nsdelegate");
  mount_fs("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
  mount_fs("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  mount_fs("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  mount_fs("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
  // The initramfs root is already a writable RAM filesystem: /tmp needs no mount of its own,
  // and mounting one would hide a source tree that lives under /tmp (the image keeps the tree
  // at its host path).
  ::mkdir("/tmp", 01777);
  ::chmod("/tmp", 01777);
}

struct Suite {
  std::string name;
  std::string path;  // absolute, inside the image
  bool native_kernel = false;
};

// Sets every NAME=VALUE line of the test-env file in our environment.
bool load_test_env() {
  auto text = ipcrt::read_text_file(kTestEnvFile);
  if (!text) {
    say("test-init: " + text.error().describe());
    return false;
  }
  std::string_view rest = *text;
  while (!rest.empty()) {
    auto end = rest.find('\n');
    std::string line(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    auto equals = line.find('=');
    if (equals == std::string::npos) continue;
    ::setenv(line.substr(0, equals).c_str(), line.substr(equals + 1).c_str(), 1);
  }
  return std::getenv("IPCRT_BUILD_DIR") != nullptr && std::getenv("IPCRT_SOURCE_DIR") != nullptr;
}

std::vector<Suite> read_suites(const std::string& build_dir) {
  std::vector<Suite> suites;
  auto text = ipcrt::read_text_file(build_dir + "/ipcrt-suites.txt");
  if (!text) {
    say("test-init: " + text.error().describe());
    return suites;
  }
  std::string_view rest = *text;
  while (!rest.empty()) {
    auto end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    auto tab1 = line.find('\t');
    auto tab2 = line.find('\t', tab1 == std::string_view::npos ? tab1 : tab1 + 1);
    if (tab2 == std::string_view::npos) continue;
    suites.push_back({std::string(line.substr(0, tab1)),
                      ipcrt::cat(build_dir, "/", line.substr(tab1 + 1, tab2 - tab1 - 1)),
                      line.substr(tab2 + 1) == "native-kernel"});
  }
  return suites;
}

// Waits for `pid`, reaping any other child (we are PID 1); kills it after the timeout.
int wait_for(pid_t pid, const std::string& name) {
  timespec start{};
  ::clock_gettime(CLOCK_MONOTONIC, &start);
  bool killed = false;
  for (;;) {
    int status = 0;
    pid_t done = ::waitpid(-1, &status, WNOHANG);
    if (done == pid) {
      if (killed) return 124;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (done > 0) continue;  // an orphan
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    if (!killed && now.tv_sec - start.tv_sec > kSuiteTimeoutSeconds) {
      say(ipcrt::cat("test-init: ", name, " timed out after ", kSuiteTimeoutSeconds, " s"));
      ::kill(pid, SIGKILL);
      killed = true;
    }
    timespec nap{0, 20 * 1000 * 1000};
    ::nanosleep(&nap, nullptr);
  }
}

int run_suite(const Suite& suite) {
  std::string directory = suite.path.substr(0, suite.path.rfind('/'));
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::chdir(directory.c_str()) != 0) ::_exit(127);
    const char* argv[] = {suite.path.c_str(), "-v", nullptr};
    ::execv(argv[0], const_cast<char* const*>(argv));
    ::_exit(127);
  }
  if (pid < 0) return 127;
  return wait_for(pid, suite.name);
}

}  // namespace

int main() {
  if (::getpid() != 1) {
    // It remounts /proc and powers the machine off: never on a host by mistake.
    say("test-init: only runs as PID 1 of the test image (scripts/image BOARD --test)");
    return 2;
  }
  mount_everything();
  ::setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
  ::setenv("TMPDIR", "/tmp", 1);
  ::unsetenv("IPCRT_EMULATOR");
  std::vector<Suite> suites;
  if (load_test_env()) {
    std::string build_dir = std::getenv("IPCRT_BUILD_DIR");
    ::setenv("IPCRT_BINARY", (build_dir + "/runtime/ipcrt").c_str(), 1);
    suites = read_suites(build_dir);
  }

  int passed = 0;
  int failed = suites.empty() ? 1 : 0;
  for (const auto& suite : suites) {
    say(ipcrt::cat("test-init: running ", suite.name,
                   suite.native_kernel ? " (native-kernel)" : ""));
    int code = run_suite(suite);
    say(ipcrt::cat("test-init: suite=", suite.name, " result=", code == 0 ? "passed" : "failed",
                   " exit=", code));
    (code == 0 ? passed : failed)++;
  }
  say(ipcrt::cat("image ", kArch, ": ", passed, " passed, ", failed, " failed"));
  ::sync();
  ::reboot(RB_POWER_OFF);
  return 0;
}
