// control-probe: a test service that talks to the runtime's control interface from inside a
// sandbox and prints what it was answered, one line per reply, so the tests assert on what a
// service really gets.
//   control-probe fd CALL...           through the plug's connection, $IPCRT_CONTROL_FD
//   control-probe socket PATH CALL...  by connecting to PATH itself (a confinement-off service)
// Each CALL is a varlink call's JSON text. Prints "SERVICE reply N JSON" per reply (SERVICE is
// $IPCRT_SERVICE), "SERVICE probe no-fd" or "SERVICE probe connect errno=E" when it cannot
// reach the runtime, then "SERVICE probe done" and waits until the runtime closes the
// connection (so it stays running meanwhile), or, without one, for SIGTERM.
//   control-probe wait                 just that: a service that runs until it is stopped
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

const char* service() {
  const char* name = std::getenv("IPCRT_SERVICE");
  return name != nullptr ? name : "?";
}

bool write_all(int fd, const std::string& text) {
  for (std::size_t done = 0; done < text.size();) {
    const ssize_t count = ::write(fd, text.data() + done, text.size() - done);
    if (count <= 0) return false;
    done += static_cast<std::size_t>(count);
  }
  return true;
}

// One reply, up to its NUL; empty when the connection ended.
std::string read_reply(int fd) {
  std::string reply;
  char c = 0;
  while (::read(fd, &c, 1) == 1) {
    if (c == '\0') return reply;
    reply += c;
  }
  return {};
}

int connect_to(const char* path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path, sizeof address.sun_path - 1);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    std::printf("%s probe connect errno=%s\n", service(), ::strerrorname_np(errno));
    return -1;
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (argc < 2) return 2;
  const std::string mode = argv[1];
  int fd = -1;
  int first_call = 2;
  if (mode == "fd") {
    const char* number = std::getenv("IPCRT_CONTROL_FD");
    if (number == nullptr) {
      std::printf("%s probe no-fd\n", service());
    } else {
      fd = std::atoi(number);
    }
  } else if (mode == "wait") {
  } else if (mode == "socket" && argc >= 3) {
    fd = connect_to(argv[2]);
    first_call = 3;
  } else {
    return 2;
  }
  if (fd >= 0) {
    for (int i = first_call; i < argc; ++i) {
      std::string call = argv[i];
      call += '\0';
      if (!write_all(fd, call)) break;
      const std::string reply = read_reply(fd);
      std::printf("%s reply %d %s\n", service(), i - first_call, reply.c_str());
      if (reply.empty()) break;
    }
  }
  std::printf("%s probe done\n", service());
  if (fd >= 0) {
    char c = 0;
    while (::read(fd, &c, 1) == 1) {
    }
    return 0;
  }
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigprocmask(SIG_BLOCK, &stop, nullptr);
  int signal = 0;
  sigwait(&stop, &signal);
  return 0;
}
