// boot-probe: a test service for the boot integration tests. Each mode checks one thing
// from inside the sandbox and prints what it saw, so the test asserts on real behaviour.
//   boot-probe shm-view OBJECT...        list /dev/shm, then try to write each OBJECT
//   boot-probe crash-once MARKER PROG... die by SIGSEGV the first time, then exec PROG
//   boot-probe log-term NAME FILE        say "NAME waits for SIGTERM" on stderr, wait for it,
//                                        append NAME to FILE, exit 0
//   boot-probe exit CODE                 exit with CODE
//   boot-probe ignore-term               ignore SIGTERM and wait forever
//   boot-probe term-parent               the same, after sending SIGTERM to its parent
//   boot-probe stragglers MODE ARGS...   leave a child in a new process group and a grandchild,
//                                        both ignoring SIGTERM; print "straggler PID" for each
//                                        and "session SID", then run MODE ARGS
//   boot-probe setsid                    "SERVICE: setsid ok" or "SERVICE: setsid errno=E" for
//                                        a forked child (the main process leads its session, so
//                                        setsid always fails there); SERVICE is $IPCRT_SERVICE
//   boot-probe fork-until                fork sleeping children until fork fails, print
//                                        "forked N errno=E", then kill them
//   boot-probe fd-open FD                exit 0 if descriptor FD is open (it was inherited
//                                        across execve), 1 if not
//   boot-probe ids [QUEUE]               "SERVICE: uid=U gid=G groups=A,B home=H user=U
//                                        logname=L shell=S", then, given a QUEUE, try mq_open
//                                        O_RDONLY on it: "SERVICE: mq_open QUEUE ok|errno=E"
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <mqueue.h>
#include <signal.h>
#include <sys/wait.h>
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

// SIGTERM blocked, to be taken with sigwait: the set that holds it.
sigset_t block_sigterm() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  return mask;
}

int log_term(int argc, char** argv) {
  if (argc < 4) return 2;
  const sigset_t mask = block_sigterm();
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

// One mediated call, then nothing until SIGTERM: a service that asked its supervisor once.
int open_then_wait(int argc, char** argv) {
  if (argc < 3) return 2;
  const sigset_t mask = block_sigterm();
  mqd_t queue = ::mq_open(argv[2], O_RDONLY);
  std::printf("opened %s: %s\n", argv[2], queue == static_cast<mqd_t>(-1) ? "no" : "yes");
  int signal = 0;
  sigwait(&mask, &signal);
  return 0;
}

[[noreturn]] void ignore_term_forever() {
  ::signal(SIGTERM, SIG_IGN);
  for (;;) ::pause();
}

// Processes that outlive their service unless the runtime contains the session. The child
// moves to its own process group first: killing the main process's group would miss it.
void leave_stragglers() {
  int ready[2];
  if (::pipe(ready) != 0) std::exit(3);
  pid_t child = ::fork();
  if (child == 0) {
    ::setpgid(0, 0);
    ::signal(SIGTERM, SIG_IGN);
    std::printf("straggler %d\n", static_cast<int>(::getpid()));
    pid_t grandchild = ::fork();
    if (grandchild == 0) {
      std::printf("straggler %d\n", static_cast<int>(::getpid()));
      ::close(ready[1]);  // the main process goes on once both lines are out
      ignore_term_forever();
    }
    ::close(ready[1]);
    ignore_term_forever();
  }
  ::close(ready[1]);
  char byte;
  while (::read(ready[0], &byte, 1) > 0) {
  }
  ::close(ready[0]);
  std::printf("session %d\n", static_cast<int>(::getsid(0)));
}

int try_setsid() {
  int result[2];
  if (::pipe(result) != 0) return 3;
  pid_t child = ::fork();
  if (child == 0) {
    int error = ::setsid() < 0 ? errno : 0;
    ssize_t written = ::write(result[1], &error, sizeof error);
    ::_exit(written == sizeof error ? 0 : 1);
  }
  ::close(result[1]);
  int error = -1;
  ssize_t got = ::read(result[0], &error, sizeof error);
  ::waitpid(child, nullptr, 0);
  if (got != sizeof error) return 3;
  const char* service = std::getenv("IPCRT_SERVICE");
  if (error == 0) {
    std::printf("%s: setsid ok\n", service != nullptr ? service : "?");
  } else {
    std::printf("%s: setsid errno=%s\n", service != nullptr ? service : "?",
                ::strerrorname_np(error));
  }
  return 0;
}

int fork_until() {
  std::vector<pid_t> children;
  int error = 0;
  for (int i = 0; i < 64; ++i) {  // a bound, so a missing limit is a result, not a fork bomb
    pid_t child = ::fork();
    if (child < 0) {
      error = errno;
      break;
    }
    if (child == 0) {
      for (;;) ::pause();
    }
    children.push_back(child);
  }
  std::printf("forked %zu errno=%s\n", children.size(),
              error == 0 ? "none" : ::strerrorname_np(error));
  for (pid_t child : children) {
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
  }
  return 0;
}

const char* env_or_dash(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "-";
}

int print_ids(int argc, char** argv) {
  const char* service = env_or_dash("IPCRT_SERVICE");
  gid_t groups[256];
  int count = ::getgroups(256, groups);
  std::string list;
  for (int i = 0; i < count; ++i) list += (i ? "," : "") + std::to_string(groups[i]);
  std::printf("%s: uid=%u gid=%u groups=%s home=%s user=%s logname=%s shell=%s\n", service,
              static_cast<unsigned>(::getuid()), static_cast<unsigned>(::getgid()), list.c_str(),
              env_or_dash("HOME"), env_or_dash("USER"), env_or_dash("LOGNAME"),
              env_or_dash("SHELL"));
  if (argc > 2) {
    mqd_t queue = ::mq_open(argv[2], O_RDONLY);
    if (queue == static_cast<mqd_t>(-1)) {
      std::printf("%s: mq_open %s errno=%s\n", service, argv[2], ::strerrorname_np(errno));
    } else {
      std::printf("%s: mq_open %s ok\n", service, argv[2]);
      ::mq_close(queue);
    }
  }
  return 0;
}

int run_mode(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "stragglers") {
    leave_stragglers();
    return run_mode(argc - 1, argv + 1);
  }
  if (mode == "setsid") return try_setsid();
  if (mode == "fork-until") return fork_until();
  if (mode == "ids") return print_ids(argc, argv);
  if (mode == "shm-view") return shm_view(argc, argv);
  if (mode == "crash-once") return crash_once(argc, argv);
  if (mode == "log-term") return log_term(argc, argv);
  if (mode == "open-then-wait") return open_then_wait(argc, argv);
  if (mode == "exit" && argc > 2) return std::atoi(argv[2]);
  if (mode == "fd-open" && argc > 2) return ::fcntl(std::atoi(argv[2]), F_GETFD) >= 0 ? 0 : 1;
  if (mode == "ignore-term" || mode == "term-parent") {
    // A service that does not stop on SIGTERM; term-parent also asks its supervisor to stop.
    ::signal(SIGTERM, SIG_IGN);
    if (mode == "term-parent") ::kill(::getppid(), SIGTERM);
    for (;;) ::pause();
  }
  std::fprintf(stderr, "boot-probe: unknown mode '%s'\n", mode.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  return run_mode(argc, argv);
}
