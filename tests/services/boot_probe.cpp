// boot-probe: a test service for the boot integration tests. Each mode checks one thing
// from inside the sandbox and prints what it saw, so the test asserts on real behaviour.
//   boot-probe shm-view OBJECT...        list /dev/shm, then try to write each OBJECT
//   boot-probe crash-once MARKER PROG... die by SIGSEGV the first time, then exec PROG
//   boot-probe log-term NAME FILE        say "NAME waits for SIGTERM" on stderr, wait for it,
//                                        append NAME to FILE, exit 0
//   boot-probe exit CODE                 exit with CODE
//   boot-probe ignore-term               ignore SIGTERM and wait forever
//   boot-probe term-parent               the same, after sending SIGTERM to its parent
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

int shm_view(int argc, char** argv) {
  std::vector<std::string> entries;
  if (DIR* dir = ::opendir("/dev/shm")) {
    while (dirent* entry = ::readdir(dir)) {
      std::string name = entry->d_name;
      if (name != "." && name != "..") entries.push_back(name);
    }
    ::closedir(dir);
  }
  std::sort(entries.begin(), entries.end());
  for (const auto& name : entries) std::printf("entry %s\n", name.c_str());
  for (int i = 2; i < argc; ++i) {
    std::string path = std::string("/dev/shm/") + argv[i];
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
      std::printf("write %s errno=%s\n", argv[i], ::strerrorname_np(errno));
      continue;
    }
    bool ok = ::write(fd, "x", 1) == 1;
    int saved = errno;
    ::close(fd);
    if (ok) {
      std::printf("write %s ok\n", argv[i]);
    } else {
      std::printf("write %s errno=%s\n", argv[i], ::strerrorname_np(saved));
    }
  }
  return 0;
}

int crash_once(int argc, char** argv) {
  if (argc < 4) return 2;
  int fd = ::open(argv[2], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd >= 0) {
    ::close(fd);
    ::raise(SIGSEGV);
  }
  ::execv(argv[3], argv + 3);
  std::perror("execv");
  return 127;
}

int log_term(int argc, char** argv) {
  if (argc < 4) return 2;
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  // Only from here on does SIGTERM get logged instead of killing us: tests wait for this line.
  std::fprintf(stderr, "%s waits for SIGTERM\n", argv[2]);
  int signal = 0;
  sigwait(&mask, &signal);
  int fd = ::open(argv[3], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  std::string line = std::string(argv[2]) + "\n";
  if (fd < 0 || ::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    return 1;
  ::close(fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "shm-view") return shm_view(argc, argv);
  if (mode == "crash-once") return crash_once(argc, argv);
  if (mode == "log-term") return log_term(argc, argv);
  if (mode == "exit" && argc > 2) return std::atoi(argv[2]);
  if (mode == "ignore-term" || mode == "term-parent") {
    // A service that does not stop on SIGTERM; term-parent also asks its supervisor to stop.
    ::signal(SIGTERM, SIG_IGN);
    if (mode == "term-parent") ::kill(::getppid(), SIGTERM);
    for (;;) ::pause();
  }
  std::fprintf(stderr, "boot-probe: unknown mode '%s'\n", mode.c_str());
  return 2;
}
