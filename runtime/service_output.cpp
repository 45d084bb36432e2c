#include "runtime/service_output.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>

#include "common/log.hpp"

namespace ipcrt::runtime {
namespace {

// Read per readiness event, so that one chatty service cannot hold the loop.
constexpr std::size_t kReadBudget = 64 * 1024;

}  // namespace

OutputHandler ServiceOutput::handler() {
  return [this](Supervisor& supervisor, const std::string& service, platform::UniqueFd output,
                platform::UniqueFd errors) {
    if (output.valid()) attach(supervisor, service, "stdout", std::move(output));
    if (errors.valid()) attach(supervisor, service, "stderr", std::move(errors));
  };
}

void ServiceOutput::attach(Supervisor& supervisor, const std::string& service, const char* name,
                           platform::UniqueFd fd) {
  auto stream = std::make_unique<Stream>(Stream{service, name, std::move(fd), {}});
  Stream* raw = stream.get();
  auto watched = supervisor.watch(
      raw->fd.get(), EPOLLIN, [this, &supervisor, raw](std::uint32_t events, Supervisor::WatchId self) {
        drain(supervisor, *raw, self, (events & (EPOLLHUP | EPOLLERR)) != 0);
      });
  if (!watched) {
    log_error("service output not read").field("service", service).field("error", watched.error().describe());
    return;  // closing the pipe: the service gets EPIPE rather than blocking
  }
  streams_.emplace(*watched, std::move(stream));
}

void ServiceOutput::drain(Supervisor& supervisor, Stream& stream, Supervisor::WatchId self,
                          bool hung_up) {
  char buffer[4096];
  std::size_t total = 0;
  bool ended = false;
  while (total < kReadBudget) {
    const ssize_t n = ::read(stream.fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ended = errno != EAGAIN;
      break;
    }
    if (n == 0) {
      ended = true;
      break;
    }
    total += static_cast<std::size_t>(n);
    std::string_view chunk(buffer, static_cast<std::size_t>(n));
    while (!chunk.empty()) {
      const auto newline = chunk.find('\n');
      const std::size_t take = newline == std::string_view::npos ? chunk.size() : newline;
      const std::size_t room = kMaxOutputLine - stream.partial.size();
      if (take > room) {  // the line is cut at kMaxOutputLine; the rest starts a new one
        stream.partial.append(chunk.substr(0, room));
        emit(stream, stream.partial, true);
        stream.partial.clear();
        chunk.remove_prefix(room);
        continue;
      }
      stream.partial.append(chunk.substr(0, take));
      if (newline == std::string_view::npos) break;
      emit(stream, stream.partial, false);
      stream.partial.clear();
      chunk.remove_prefix(take + 1);
    }
  }
  if (ended || (hung_up && total == 0)) {
    if (!stream.partial.empty()) emit(stream, stream.partial, false);
    supervisor.unwatch(self);
    streams_.erase(self);  // closes the pipe; `stream` is gone
  }
}

void ServiceOutput::drain_all(Supervisor& supervisor) {
  while (!streams_.empty()) {
    auto first = streams_.begin();
    drain(supervisor, *first->second, first->first, true);
    // drain() keeps a stream that still has a writer (an orphan of the service): drop it.
    if (!streams_.empty() && streams_.begin() == first) {
      supervisor.unwatch(first->first);
      streams_.erase(first);
    }
  }
}

void ServiceOutput::emit(const Stream& stream, std::string_view line, bool cut) {
  LogLine out("info", line);
  out.field("service", stream.service).field("stream", stream.name);
  if (cut) out.field("truncated", "true");
}

}  // namespace ipcrt::runtime
