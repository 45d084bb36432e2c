// mq-provider: the receiving side of the demo. Opens the queues the runtime created for its
// slot (IPCRT_<SLOT>_PATHS; the passed descriptors under "pass-queues"), says it is ready
// (a no-op unless it runs as a notify service), waits for them with epoll (an mqueue
// descriptor is pollable) and prints every message; prints its shared-memory object at the
// end; exits on SIGTERM or after --count messages.
//   mq-provider [--slot telemetry] [--shm-slot frames] [--count N]
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "examples/example_env.hpp"
#include "ipcrt/service.h"

namespace {

void print_shared_memory(const std::string& name) {
  int fd = ::ipcrt_shm_open(name.c_str(), O_RDONLY, 0);
  if (fd < 0) {
    std::printf("%s: shm %s: %s\n", examples::service_name(), name.c_str(), std::strerror(errno));
    return;
  }
  char buffer[512];
  ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
  ::close(fd);
  buffer[n > 0 ? n : 0] = '\0';
  std::string text = buffer;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  std::printf("%s: shm %s: \"%s\"\n", examples::service_name(), name.c_str(), text.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  std::string slot = "telemetry";
  std::string shm_slot = "frames";
  long count = 0;  // 0: until SIGTERM
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string option = argv[i];
    if (option == "--slot")
      slot = argv[i + 1];
    else if (option == "--shm-slot")
      shm_slot = argv[i + 1];
    else if (option == "--count")
      count = std::strtol(argv[i + 1], nullptr, 10);
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const char* self = examples::service_name();

  auto paths = examples::slot_paths(slot);
  if (paths.empty()) {
    std::fprintf(stderr, "%s: no queues: %s is not set\n", self,
                 ipcrt::paths_variable(slot).c_str());
    return 2;
  }
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  int signal_fd = ::signalfd(-1, &mask, SFD_CLOEXEC);
  int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = signal_fd;
  ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, signal_fd, &event);

  std::vector<mqd_t> queues;
  for (const auto& path : paths) {
    // No O_CREAT: the runtime created the queue with the manifest's attributes (and with
    // pass-queues, opened it: then this only sets O_NONBLOCK on the passed descriptor).
    mqd_t queue = ::ipcrt_queue_open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (queue == static_cast<mqd_t>(-1)) {
      std::fprintf(stderr, "%s: mq_open %s: %s\n", self, path.c_str(), std::strerror(errno));
      return 1;
    }
    event.data.fd = queue;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, queue, &event);
    queues.push_back(queue);
    std::printf("%s: listening on %s\n", self, path.c_str());
  }
  ::ipcrt_ready();

  long received = 0;
  bool running = true;
  while (running && (count == 0 || received < count)) {
    epoll_event ready[4];
    int n = ::epoll_wait(epoll_fd, ready, 4, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return 1;
    for (int i = 0; i < n; ++i) {
      if (ready[i].data.fd == signal_fd) {
        running = false;
        continue;
      }
      mqd_t queue = ready[i].data.fd;
      mq_attr attributes{};
      ::mq_getattr(queue, &attributes);
      std::vector<char> message(static_cast<std::size_t>(attributes.mq_msgsize) + 1);
      ssize_t size;
      while ((size = ::mq_receive(queue, message.data(), message.size() - 1, nullptr)) >= 0) {
        message[static_cast<std::size_t>(size)] = '\0';
        ++received;
        std::printf("%s: received #%ld: %s\n", self, received, message.data());
      }
      if (errno != EAGAIN) {
        std::fprintf(stderr, "%s: mq_receive: %s\n", self, std::strerror(errno));
        return 1;
      }
    }
  }
  for (const auto& name : examples::slot_paths(shm_slot)) print_shared_memory(name);
  std::printf("%s: %s after %ld messages\n", self, running ? "done" : "stopping", received);
  for (mqd_t queue : queues) ::mq_close(queue);
  return 0;
}
