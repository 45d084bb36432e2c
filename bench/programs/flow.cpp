// bench-flow: the provider/consumer pair of the message-flow benchmark.
//   bench-flow echo REQUESTS REPLIES
//   bench-flow client REQUESTS REPLIES ROUND_TRIPS MESSAGES SIZE...
// The client times ROUND_TRIPS request/reply pairs and a one-way stream of MESSAGES messages
// per SIZE, and prints one line per size: "size=S round_trip_ns=R messages_per_s=M p99_ns=P"
// (P: the 99th percentile of the round trips). With BENCH_FLOW_DELAY_MS in its environment it
// waits that long first (the log benchmark lets another service start flooding).
// The first byte of each message tells the echo what to do with it.
#include <fcntl.h>
#include <mqueue.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "ipcrt/service.h"

namespace {

constexpr char kPing = 'p';    // echo it back
constexpr char kStream = 's';  // consume it
constexpr char kFlush = 'f';   // reply once everything sent before it was consumed
constexpr char kQuit = 'q';

double now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

[[noreturn]] void fail(const char* what, const char* path) {
  std::fprintf(stderr, "bench-flow: %s %s: %s\n", what, path, std::strerror(errno));
  std::exit(1);
}

// The passed descriptor under pass-queues (SPEC §11), else mq_open of the path.
mqd_t open_queue(const char* path, int flags) {
  mqd_t queue = ::ipcrt_queue_open(path, flags | O_CLOEXEC);
  if (queue == static_cast<mqd_t>(-1)) fail("mq_open", path);
  return queue;
}

std::vector<char> receive_buffer(mqd_t queue) {
  mq_attr attributes{};
  ::mq_getattr(queue, &attributes);
  return std::vector<char>(static_cast<std::size_t>(attributes.mq_msgsize));
}

int echo(const char* requests_path, const char* replies_path) {
  mqd_t requests = open_queue(requests_path, O_RDONLY);
  mqd_t replies = open_queue(replies_path, O_WRONLY);
  std::vector<char> buffer = receive_buffer(requests);
  for (;;) {
    ssize_t size = ::mq_receive(requests, buffer.data(), buffer.size(), nullptr);
    if (size < 1) fail("mq_receive", requests_path);
    if (buffer[0] == kQuit) return 0;
    if (buffer[0] == kPing || buffer[0] == kFlush) {
      if (::mq_send(replies, buffer.data(), static_cast<std::size_t>(size), 0) != 0) {
        fail("mq_send", replies_path);
      }
    }
  }
}

int client(const char* requests_path, const char* replies_path, long round_trips, long messages,
           const std::vector<long>& sizes) {
  if (const char* delay = std::getenv("BENCH_FLOW_DELAY_MS"); delay != nullptr) {
    const long ms = std::atol(delay);
    timespec pause{ms / 1000, (ms % 1000) * 1000000};
    ::nanosleep(&pause, nullptr);
  }
  mqd_t requests = open_queue(requests_path, O_WRONLY);
  mqd_t replies = open_queue(replies_path, O_RDONLY);
  std::vector<char> reply = receive_buffer(replies);
  for (long size : sizes) {
    std::vector<char> message(static_cast<std::size_t>(size), 'x');
    auto exchange = [&](char kind) {
      message[0] = kind;
      if (::mq_send(requests, message.data(), message.size(), 0) != 0) {
        fail("mq_send", requests_path);
      }
      if (kind == kStream) return;
      if (::mq_receive(replies, reply.data(), reply.size(), nullptr) < 1) {
        fail("mq_receive", replies_path);
      }
    };
    for (long i = 0; i < round_trips / 10; ++i) exchange(kPing);  // warm up
    std::vector<double> trips(static_cast<std::size_t>(round_trips));
    double start = now_ns();
    double previous = start;
    for (long i = 0; i < round_trips; ++i) {
      exchange(kPing);
      const double now = now_ns();
      trips[static_cast<std::size_t>(i)] = now - previous;
      previous = now;
    }
    double round_trip_ns = (now_ns() - start) / static_cast<double>(round_trips);
    std::sort(trips.begin(), trips.end());
    const double p99_ns = trips.empty() ? 0 : trips[trips.size() * 99 / 100];
    start = now_ns();
    for (long i = 0; i < messages; ++i) exchange(kStream);
    exchange(kFlush);
    double messages_per_s = static_cast<double>(messages) * 1e9 / (now_ns() - start);
    std::printf("size=%ld round_trip_ns=%.1f messages_per_s=%.1f p99_ns=%.1f\n", size,
                round_trip_ns, messages_per_s, p99_ns);
  }
  char quit = kQuit;
  ::mq_send(requests, &quit, 1, 0);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "echo") == 0) return echo(argv[2], argv[3]);
  if (argc >= 7 && std::strcmp(argv[1], "client") == 0) {
    std::vector<long> sizes;
    for (int i = 6; i < argc; ++i) sizes.push_back(std::atol(argv[i]));
    return client(argv[2], argv[3], std::atol(argv[4]), std::atol(argv[5]), sizes);
  }
  std::fprintf(stderr,
               "usage: bench-flow echo REQUESTS REPLIES\n"
               "       bench-flow client REQUESTS REPLIES ROUND_TRIPS MESSAGES SIZE...\n");
  return 2;
}
