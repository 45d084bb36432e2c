// /init of the reload images (scripts/image BOARD --reload update|fallback, SPEC §12): forks
// an update agent, then becomes ipcrt in PID-1 mode (/sbin/ipcrt, exec'd as pid 1). The agent
// is what RAUC or Mender would be on a device: once the services of the first manifest run, it
// replaces /etc/ipcrt/manifest.json with /etc/ipcrt/next.json and sends SIGHUP to pid 1 (on a
// PID-1 device no process may call Reload), waits for the reload to be confirmed (the last
// known good manifest is then the new one), checks that the unchanged service kept its pid,
// the changed one has a new one and the added one runs, says so in one line, and ends the run
// with SIGTERM. Services are `reload-probe idle NAME`, found by their command line in /proc.
// In the fallback image the manifest at boot is invalid and last-good.json is the first one.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace {

constexpr const char* kManifest = "/etc/ipcrt/manifest.json";
constexpr const char* kNext = "/etc/ipcrt/next.json";
constexpr const char* kLastGood = "/var/lib/ipcrt/reload/last-good.json";

void say(const std::string& line) {
  std::string text = "reload-init: " + line + "\n";
  [[maybe_unused]] auto written = ::write(STDOUT_FILENO, text.data(), text.size());
}

std::string read_file(const std::string& path) {
  std::string text;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return text;
  char buffer[4096];
  for (ssize_t count; (count = ::read(fd, buffer, sizeof buffer)) > 0;) text.append(buffer, count);
  ::close(fd);
  return text;
}

// The pid of `reload-probe idle NAME` (its main process, not its sandbox's init), 0 if none.
pid_t service_pid(const std::string& name) {
  const std::string wanted = std::string("idle") + '\0' + name + '\0';
  pid_t found = 0;
  if (DIR* proc = ::opendir("/proc")) {
    while (const dirent* entry = ::readdir(proc)) {
      if (entry->d_name[0] < '1' || entry->d_name[0] > '9') continue;
      const std::string cmdline = read_file(std::string("/proc/") + entry->d_name + "/cmdline");
      const std::size_t program = cmdline.find('\0');
      if (program == std::string::npos || !cmdline.substr(0, program).ends_with("reload-probe") ||
          cmdline.substr(program + 1) != wanted) {
        continue;
      }
      found = static_cast<pid_t>(std::stol(entry->d_name));
    }
    ::closedir(proc);
  }
  return found;
}

// Polls `done` every 100 ms for up to `seconds`.
template <class Done>
bool within(int seconds, Done done) {
  for (int i = 0; i < seconds * 10; ++i) {
    if (done()) return true;
    ::usleep(100000);
  }
  return done();
}

int agent() {
  if (!within(60, [] { return service_pid("keeper") > 0 && service_pid("worker") > 0; })) {
    say("FAIL: keeper and worker did not start");
    return 1;
  }
  const pid_t keeper = service_pid("keeper");
  const pid_t worker = service_pid("worker");
  say("running: keeper pid " + std::to_string(keeper) + ", worker pid " + std::to_string(worker));
  const std::string next = read_file(kNext);
  // As an update agent installs a file: whole, under its final name at once.
  const std::string staged = std::string(kManifest) + ".new";
  const int fd = ::open(staged.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (next.empty() || fd < 0 || ::write(fd, next.data(), next.size()) != (ssize_t)next.size() ||
      ::close(fd) != 0 || ::rename(staged.c_str(), kManifest) != 0) {
    say(std::string("FAIL: cannot install the next manifest: ") + std::strerror(errno));
    return 1;
  }
  say("manifest replaced, SIGHUP to pid 1");
  ::kill(1, SIGHUP);
  // Confirmed (SIGHUP's window is the default 30 s) when last-good.json is the new manifest.
  if (!within(90, [&] { return read_file(kLastGood) == next; })) {
    say("FAIL: the reload was not confirmed: " + std::string(kLastGood) +
        " is not the new manifest");
    return 1;
  }
  const pid_t kept = service_pid("keeper");
  const pid_t restarted = service_pid("worker");
  const pid_t added = service_pid("added");
  say("confirmed: keeper pid " + std::to_string(kept) + ", worker pid " +
      std::to_string(restarted) + ", added pid " + std::to_string(added));
  if (kept != keeper) return say("FAIL: the unchanged keeper did not keep its pid"), 1;
  if (restarted == 0 || restarted == worker)
    return say("FAIL: the changed worker was not restarted"), 1;
  if (added == 0) return say("FAIL: the added service does not run"), 1;
  say("PASS: reload confirmed, unchanged pid kept, changed restarted, added started");
  return 0;
}

}  // namespace

int main() {
  // The console for our lines before ipcrt mounts /dev (devtmpfs) itself.
  ::mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
  if (::fcntl(STDOUT_FILENO, F_GETFD) < 0) {  // an initramfs without /dev/console
    const int console = ::open("/dev/console", O_RDWR);
    for (int fd = 0; console >= 0 && fd < 3; ++fd) ::dup2(console, fd);
    if (console > 2) ::close(console);
  }
  const pid_t child = ::fork();
  if (child == 0) {
    const int status = agent();
    ::kill(1, SIGTERM);  // the run ends either way: the host reads the verdict line
    ::_exit(status);
  }
  char arg0[] = "/init";
  char* argv[] = {arg0, nullptr};
  ::execv("/sbin/ipcrt", argv);
  say(std::string("cannot exec /sbin/ipcrt: ") + std::strerror(errno));
  for (;;) ::pause();
}
