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
