// A service that tries to get out of its sandbox (SPEC §4.3, §9 "Safe"); each mode prints one
// line "SERVICE: MODE ... result=R" with what it saw or the errno it got, so that the test
// checks the attack was refused or contained.
//   sandbox-probe pids                 the pids it can see in /proc
//   sandbox-probe write PATH           open(PATH, O_WRONLY|O_CREAT|O_TRUNC) and write a byte
//   sandbox-probe read PATH            how many bytes read(2) gives of PATH (0 for a mask)
//   sandbox-probe ls DIR               the names in DIR, sorted
//   sandbox-probe fd N                 where descriptor N points (readlink /proc/self/fd/N)
//   sandbox-probe file PATH            "present" or the errno of stat(PATH)
//   sandbox-probe oom                  its /proc/self/oom_score_adj
//   sandbox-probe kill-all             kill(-1, SIGKILL): everything it may signal
//   sandbox-probe chmod-shm            chmod("/dev/shm", 0777) and mkdir in it
//   sandbox-probe wait                 print "SERVICE: waiting" and sleep until killed
//   sandbox-probe reach FILE           wait (10 s) for FILE to list pids (of other services, as
//                                      the host sees them), then try /proc/PID/root,
//                                      /proc/PID/fd/N and /proc/PID/mem of each, of its own init
//                                      (pid 1) and of every other pid its /proc shows:
//                                      "SERVICE: reach pid=P stat=R root=R fd=R mem=R", then
//                                      "SERVICE: reach visible=PIDS reached=N"
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

const char* service() {
  const char* name = std::getenv("IPCRT_SERVICE");
  return name != nullptr ? name : "?";
}

std::string result_of(int status) {
  if (status == 0) return "ok";
  const char* name = ::strerrorname_np(errno);
  return name != nullptr ? name : std::to_string(errno);
}

std::vector<std::string> entries(const char* path) {
  std::vector<std::string> names;
  if (DIR* dir = ::opendir(path)) {
    while (const dirent* entry = ::readdir(dir)) {
      std::string name = entry->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(dir);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "" : ",") + name;
  return text;
}

bool is_pid(const std::string& name) {
  return !name.empty() &&
         std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// What a same-uid neighbour could take through /proc/PID: its whole view (root), its open
// descriptors (fd), its memory (mem). Each "ok" is a way in; returns how many there were.
int reach(const std::string& pid) {
  const std::string base = "/proc/" + pid;
  struct stat info {};
  const std::string stat_result = result_of(::stat(base.c_str(), &info) == 0 ? 0 : -1);
  const int root = ::open((base + "/root/").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  const std::string root_result = result_of(root < 0 ? -1 : 0);
  if (root >= 0) ::close(root);
  // Any descriptor it may have open: the first that opens counts.
  std::string fd_result;
  for (int n = 0; n < 64 && fd_result != "ok"; ++n) {
    const int fd = ::open((base + "/fd/" + std::to_string(n)).c_str(), O_RDONLY | O_CLOEXEC |
                                                                          O_NONBLOCK);
    const std::string result = result_of(fd < 0 ? -1 : 0);
    if (fd >= 0) ::close(fd);
    if (fd_result.empty() || result == "ok") fd_result = result;
  }
  const int mem = ::open((base + "/mem").c_str(), O_RDWR | O_CLOEXEC);
  const std::string mem_result = result_of(mem < 0 ? -1 : 0);
  if (mem >= 0) ::close(mem);
  std::printf("%s: reach pid=%s stat=%s root=%s fd=%s mem=%s\n", service(), pid.c_str(),
              stat_result.c_str(), root_result.c_str(), fd_result.c_str(), mem_result.c_str());
  return (root_result == "ok") + (fd_result == "ok") + (mem_result == "ok");
}

int reach_others(const std::string& file) {
  std::string listed;
  for (int i = 0; i < 1000 && listed.find('\n') == std::string::npos; ++i) {
    if (FILE* in = std::fopen(file.c_str(), "r")) {
      char line[256] = {};
      if (std::fgets(line, sizeof line, in) != nullptr) listed = line;
      std::fclose(in);
    }
    if (listed.find('\n') == std::string::npos) ::usleep(10'000);
  }
  std::vector<std::string> targets = {"1"};
  std::string word;
  for (char c : listed) {
    if (c >= '0' && c <= '9') {
      word += c;
    } else if (!word.empty()) {
      targets.push_back(word);
      word.clear();
    }
  }
  const std::string self = std::to_string(::getpid());
  std::vector<std::string> visible;
  for (const auto& name : entries("/proc")) {
    if (!is_pid(name)) continue;
    visible.push_back(name);
    if (name != self && name != "1") targets.push_back(name);
  }
  int reached = 0;
  for (const auto& pid : targets) reached += reach(pid);
  std::printf("%s: reach visible=%s reached=%d\n", service(), joined(visible).c_str(), reached);
  return 0;
}

int run(const std::string& mode, int argc, char** argv) {
  const std::string arg = argc > 2 ? argv[2] : "";
  if (mode == "pids") {
    std::vector<std::string> pids;
    for (const auto& name : entries("/proc")) {
      if (std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        pids.push_back(name);
      }
    }
    std::printf("%s: pids %s\n", service(), joined(pids).c_str());
  } else if (mode == "write") {
    const int fd = ::open(arg.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int status = fd < 0 ? -1 : (::write(fd, "x", 1) == 1 ? 0 : -1);
    std::printf("%s: write %s result=%s\n", service(), arg.c_str(), result_of(status).c_str());
    if (fd >= 0) ::close(fd);
  } else if (mode == "read") {
    const int fd = ::open(arg.c_str(), O_RDONLY | O_CLOEXEC);
    char buffer[256];
    const ssize_t n = fd < 0 ? -1 : ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      std::printf("%s: read %s result=%s\n", service(), arg.c_str(), result_of(-1).c_str());
    } else {
      std::printf("%s: read %s bytes=%zd\n", service(), arg.c_str(), n);
    }
  } else if (mode == "ls") {
    std::printf("%s: ls %s %s\n", service(), arg.c_str(), joined(entries(arg.c_str())).c_str());
  } else if (mode == "fd") {
    char target[256] = {};
    const std::string link = "/proc/self/fd/" + arg;
    const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
    std::printf("%s: fd %s %s\n", service(), arg.c_str(), n < 0 ? "closed" : target);
  } else if (mode == "mounts") {
    // The mount points at or under `arg` in its view, in mountinfo's order.
    std::vector<std::string> points;
    if (FILE* in = std::fopen("/proc/self/mountinfo", "r")) {
      char line[4096];
      while (std::fgets(line, sizeof line, in) != nullptr) {
        char point[1024] = {};
        if (std::sscanf(line, "%*s %*s %*s %*s %1023s", point) != 1) continue;
        const std::string text = point;
        if (text == arg || text.starts_with(arg + "/")) points.push_back(text);
      }
      std::fclose(in);
    }
    std::printf("%s: mounts %s %s\n", service(), arg.c_str(), joined(points).c_str());
  } else if (mode == "file") {
    struct stat info {};
    const int status = ::stat(arg.c_str(), &info);
    std::printf("%s: file %s %s\n", service(), arg.c_str(),
                status == 0 ? "present" : result_of(-1).c_str());
  } else if (mode == "oom") {
    char value[32] = {};
    const int fd = ::open("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && ::read(fd, value, sizeof value - 1) > 0) {
      if (char* end = std::strchr(value, '\n')) *end = '\0';
    }
    std::printf("%s: oom %s\n", service(), value);
  } else if (mode == "kill-all") {
    const int status = ::kill(-1, SIGKILL) == 0 ? 0 : -1;
    std::printf("%s: kill-all result=%s\n", service(), result_of(status).c_str());
  } else if (mode == "chmod-shm") {
    const int chmoded = ::chmod("/dev/shm", 0777) == 0 ? 0 : -1;
    std::printf("%s: chmod-shm result=%s\n", service(), result_of(chmoded).c_str());
  } else if (mode == "reach") {
    return reach_others(arg);
  } else if (mode == "wait") {
    std::printf("%s: waiting\n", service());
    std::fflush(stdout);
    for (;;) ::pause();
  } else {
    std::fprintf(stderr, "sandbox-probe: unknown mode '%s'\n", mode.c_str());
    return 2;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  return argc < 2 ? 2 : run(argv[1], argc, argv);
}
