// reload-probe: a test service for the reload tests (SPEC §12).
//   reload-probe send QUEUE        send "1", "2", ... to QUEUE every 2 ms, forever
//   reload-probe receive QUEUE FILE  append each message received from QUEUE to FILE as a line;
//                                  on SIGTERM, stop between two messages (none is lost)
//   reload-probe idle              wait for SIGTERM
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

volatile sig_atomic_t g_stop = 0;

void on_term(int) {
  g_stop = 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  struct sigaction action {};
  action.sa_handler = on_term;  // no SA_RESTART: a blocked mq_receive returns EINTR
  ::sigaction(SIGTERM, &action, nullptr);
  if (mode == "idle") {
    while (!g_stop) ::pause();
    return 0;
  }
  if (mode == "send" && argc > 2) {
    mqd_t queue = ::mq_open(argv[2], O_WRONLY);
    if (queue == (mqd_t)-1) {
      std::fprintf(stderr, "mq_open %s: %s\n", argv[2], std::strerror(errno));
      return 1;
    }
    for (unsigned long n = 1; !g_stop; ++n) {
      const std::string text = std::to_string(n);
      while (::mq_send(queue, text.data(), text.size(), 0) != 0) {
        if (g_stop) return 0;
        if (errno != EINTR) return 1;
      }
      ::usleep(2000);
    }
    return 0;
  }
  if (mode == "receive" && argc > 3) {
    mqd_t queue = ::mq_open(argv[2], O_RDONLY);
    if (queue == (mqd_t)-1) {
      std::fprintf(stderr, "mq_open %s: %s\n", argv[2], std::strerror(errno));
      return 1;
    }
    int out = ::open(argv[3], O_WRONLY | O_APPEND | O_CLOEXEC);
    if (out < 0) return 1;
    char buffer[8192];
    while (!g_stop) {
      const ssize_t n = ::mq_receive(queue, buffer, sizeof buffer, nullptr);
      if (n < 0) {
        if (errno == EINTR) continue;
        return 1;
      }
      std::string line(buffer, static_cast<std::size_t>(n));
      line += '\n';
      if (::write(out, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return 1;
    }
    return 0;
  }
  std::fprintf(stderr, "usage: reload-probe send QUEUE | receive QUEUE FILE | idle\n");
  return 2;
}
