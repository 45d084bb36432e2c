// notify-probe: a test service for the lifecycle tests (SPEC §11) that speaks the sd_notify
// protocol raw, as a program written for systemd's Type=notify does without libsystemd: one
// AF_UNIX datagram socket, connect to $NOTIFY_SOCKET, send. Prints what it does on stdout.
//   notify-probe ready MS [STATUS]  wait MS, send STATUS= (if given) and READY=1, then wait to
//                                   be stopped
//   notify-probe never              print NOTIFY_SOCKET, never send anything, wait
//   notify-probe watchdog MARKER    print WATCHDOG_USEC, WATCHDOG_PID and its pid, send
//                                   READY=1, then WATCHDOG=1 every WATCHDOG_USEC / 4; if the
//                                   file MARKER is empty (its first run) write to it and stop
//                                   sending after three, hanging
//   notify-probe sockets            try socket() of other families and types, print each
//                                   errno, then send READY=1 and wait
//   notify-probe trap SIGNAL        (any type) wait for SIGNAL (USR1, INT, ...), print "got
//                                   SIGNAL", exit 0; SIGTERM is ignored
//   notify-probe env                print NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID (or
//                                   "unset") and exit 0
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

void say(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

std::string variable(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "unset";
}

void sleep_ms(long ms) {
  timespec delay{ms / 1000, (ms % 1000) * 1000000};
  while (::nanosleep(&delay, &delay) != 0 && errno == EINTR) {
  }
}

// sd_notify(0, text), raw.
bool notify(const std::string& text) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr) {
    say("notify: NOTIFY_SOCKET unset");
    return false;
  }
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    say(std::string("notify: socket errno=") + ::strerrorname_np(errno));
    return false;
  }
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path, sizeof address.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    say(std::string("notify: connect errno=") + ::strerrorname_np(errno));
    ::close(fd);
    return false;
  }
  const bool sent =
      ::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
  if (!sent) say(std::string("notify: send errno=") + ::strerrorname_np(errno));
  ::close(fd);
  return sent;
}

[[noreturn]] void wait_forever() {
  for (;;) ::pause();
}

int watchdog(const char* marker) {
  say("WATCHDOG_USEC=" + variable("WATCHDOG_USEC") + " WATCHDOG_PID=" + variable("WATCHDOG_PID") +
      " pid=" + std::to_string(::getpid()));
  bool first_run = false;
  int fd = ::open(marker, O_RDWR | O_CLOEXEC);
  if (fd >= 0) {
    char byte = 0;
    first_run = ::read(fd, &byte, 1) == 0;
    if (first_run) (void)!::write(fd, "1", 1);
    ::close(fd);
  }
  say(first_run ? "first run: will hang" : "later run: pets");
  notify("READY=1");
  const long usec = std::atol(variable("WATCHDOG_USEC").c_str());
  const long interval_ms = usec > 0 ? usec / 4000 : 100;
  for (int i = 0; !first_run || i < 3; ++i) {
    notify("WATCHDOG=1");
    sleep_ms(interval_ms);
  }
  say("hanging");
  wait_forever();
}

int sockets() {
  struct Try {
    const char* name;
    int family;
    int type;
  };
  for (const Try& attempt :
       {Try{"inet-stream", AF_INET, SOCK_STREAM}, Try{"inet-dgram", AF_INET, SOCK_DGRAM},
        Try{"unix-stream", AF_UNIX, SOCK_STREAM}, Try{"unix-seqpacket", AF_UNIX, SOCK_SEQPACKET},
        Try{"unix-dgram", AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK}}) {
    int fd = ::socket(attempt.family, attempt.type, 0);
    if (fd >= 0) {
      say(std::string("socket ") + attempt.name + " ok");
      ::close(fd);
    } else {
      say(std::string("socket ") + attempt.name + " errno=" + ::strerrorname_np(errno));
    }
  }
  int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strcpy(address.sun_path, "/tmp/notify-probe.sock");
  const int bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  say(std::string("bind ") +
      (bound == 0 ? "ok" : std::string("errno=") + ::strerrorname_np(errno)));
  notify("READY=1");
  wait_forever();
}

int trap(const char* name) {
  const int number = std::strcmp(name, "USR1") == 0    ? SIGUSR1
                     : std::strcmp(name, "USR2") == 0  ? SIGUSR2
                     : std::strcmp(name, "INT") == 0   ? SIGINT
                     : std::strcmp(name, "WINCH") == 0 ? SIGWINCH
                     : std::strcmp(name, "PWR") == 0   ? SIGPWR
                                                       : SIGHUP;
  ::signal(SIGTERM, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, number);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  say(std::string("trapping ") + name);
  int got = 0;
  ::sigwait(&set, &got);
  say(std::string("got ") + name);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const std::string mode = argv[1];
  if (mode == "ready" && argc >= 3) {
    say("NOTIFY_SOCKET=" + variable("NOTIFY_SOCKET"));
    sleep_ms(std::atol(argv[2]));
    std::string text = "READY=1";
    if (argc >= 4) text = std::string("STATUS=") + argv[3] + "\n" + text;
    if (notify(text)) say("sent READY=1");
    wait_forever();
  }
  if (mode == "never") {
    say("NOTIFY_SOCKET=" + variable("NOTIFY_SOCKET"));
    wait_forever();
  }
  if (mode == "watchdog" && argc >= 3) return watchdog(argv[2]);
  if (mode == "sockets") return sockets();
  if (mode == "trap" && argc >= 3) return trap(argv[2]);
  if (mode == "env") {
    say("NOTIFY_SOCKET=" + variable("NOTIFY_SOCKET") + " WATCHDOG_USEC=" +
        variable("WATCHDOG_USEC") + " WATCHDOG_PID=" + variable("WATCHDOG_PID"));
    return 0;
  }
  return 2;
}
