// mq-consumer: the sending side of the demo. Opens the existing queues of its plug
// (IPCRT_<PLUG>_PATHS, no O_CREAT; the passed descriptors under "pass-queues"), writes one line
// into its shared-memory object, sends the messages given on the command line (or --count generated
// ones) and exits.
//   mq-consumer [--plug telemetry] [--shm-plug frames] [--count N] [MESSAGE...]
#include <fcntl.h>
#include <mqueue.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "examples/example_env.hpp"
#include "ipcrt/service.h"

int main(int argc, char** argv) {
  std::string plug = "telemetry";
  std::string shm_plug = "frames";
  long count = 0;
  std::vector<std::string> messages;
  for (int i = 1; i < argc; ++i) {
    std::string argument = argv[i];
    if (argument == "--plug" && i + 1 < argc)
      plug = argv[++i];
    else if (argument == "--shm-plug" && i + 1 < argc)
      shm_plug = argv[++i];
    else if (argument == "--count" && i + 1 < argc)
      count = std::strtol(argv[++i], nullptr, 10);
    else
      messages.push_back(argument);
  }
  const char* self = examples::service_name();
  for (long i = 1; i <= count; ++i) {
    messages.push_back(std::string("reading ") + std::to_string(i) + " from " + self);
  }

  for (const auto& name : examples::slot_paths(shm_plug)) {
    int fd = ::ipcrt_shm_open(name.c_str(), O_RDWR | O_TRUNC, 0);
    if (fd < 0) {
      std::fprintf(stderr, "%s: shm_open %s: %s\n", self, name.c_str(), std::strerror(errno));
      return 1;
    }
    std::string line =
        std::string("hello from ") + self + " (pid " + std::to_string(::getpid()) + ")\n";
    bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    ::close(fd);
    if (!ok) {
      std::fprintf(stderr, "%s: write %s: %s\n", self, name.c_str(), std::strerror(errno));
      return 1;
    }
  }

  auto paths = examples::slot_paths(plug);
  if (paths.empty()) {
    std::fprintf(stderr, "%s: no queues: %s is not set\n", self,
                 ipcrt::paths_variable(plug).c_str());
    return 2;
  }
  for (const auto& path : paths) {
    mqd_t queue = ::ipcrt_queue_open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (queue == static_cast<mqd_t>(-1)) {
      std::fprintf(stderr, "%s: mq_open %s: %s\n", self, path.c_str(), std::strerror(errno));
      return 1;
    }
    for (const auto& message : messages) {
      if (::mq_send(queue, message.data(), message.size(), 0) != 0) {
        std::fprintf(stderr, "%s: mq_send %s: %s\n", self, path.c_str(), std::strerror(errno));
        return 1;
      }
    }
    std::printf("%s: sent %zu messages to %s\n", self, messages.size(), path.c_str());
    ::mq_close(queue);
  }
  return 0;
}
