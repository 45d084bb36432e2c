#include "runtime/logs/runtime_log.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "common/log.hpp"
#include "common/text.hpp"

namespace ipcrt::runtime {
namespace {

// Without a description of our own, a write is only attempted once poll(2) says there is
// room, and in pieces small enough for that room to take whole: a pipe takes PIPE_BUF at once
// when it says POLLOUT; a terminal says POLLOUT with fewer than 256 characters queued.
constexpr std::size_t kPolledChunk = 256;

void runtime_log_writer(std::chrono::system_clock::time_point, std::string_view line) {
  std::string out;
  out.reserve(line.size() + 1);
  out += line;
  out += '\n';
  RuntimeLog::instance().write(out, 1);
}

}  // namespace

RuntimeLog& RuntimeLog::instance() {
  static RuntimeLog log;
  return log;
}

const char* RuntimeLog::mode_name(Mode mode) {
  switch (mode) {
    case Mode::Unopened:
      return "unopened";
    case Mode::Closed:
      return "closed";
    case Mode::File:
      return "file";
    case Mode::Socket:
      return "socket";
    case Mode::Reopened:
      return "reopened";
    case Mode::Polled:
      return "polled";
  }
  return "unknown";
}

void RuntimeLog::open(int fd) {
  // A pipe whose reader has gone must give EPIPE, not end the runtime.
  sigset_t pipe_signal;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);

  owned_.reset();
  inherited_fd_ = fd;
  fd_ = fd;
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    mode_ = Mode::Closed;  // nothing to write to: every line is counted as lost
    fd_ = -1;
    return;
  }
  if (S_ISREG(info.st_mode)) {
    mode_ = Mode::File;
    return;
  }
  if (S_ISSOCK(info.st_mode)) {
    mode_ = Mode::Socket;
    return;
  }
  // O_NOCTTY: a terminal reopened here must not become the runtime's controlling terminal.
  const std::string path = cat("/proc/self/fd/", fd);
  const int reopened = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (reopened >= 0) {
    owned_.reset(reopened);
    fd_ = reopened;
    mode_ = Mode::Reopened;
    return;
  }
  // No /proc yet, or a FIFO without a reader (ENXIO): poll before each write until open()
  // is called again.
  mode_ = Mode::Polled;
}

void RuntimeLog::open_if_needed() {
  if (mode_ == Mode::Unopened || mode_ == Mode::Polled) open(inherited_fd_);
}

ssize_t RuntimeLog::put(const char* data, std::size_t size) {
  ssize_t written;
  switch (mode_) {
    case Mode::Socket:
      do {
        written = ::send(fd_, data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
      } while (written < 0 && errno == EINTR);
      return written;
    case Mode::Polled: {
      std::size_t done = 0;
      while (done < size) {
        pollfd room{fd_, POLLOUT, 0};
        if (::poll(&room, 1, 0) != 1 || (room.revents & POLLOUT) == 0) break;
        const std::size_t piece = std::min(kPolledChunk, size - done);
        written = ::write(fd_, data + done, piece);
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) {
          if (done == 0) return -1;
          break;
        }
        done += static_cast<std::size_t>(written);
      }
      if (done == 0) {
        errno = EAGAIN;
        return -1;
      }
      return static_cast<ssize_t>(done);
    }
    default:
      do {
        written = ::write(fd_, data, size);
      } while (written < 0 && errno == EINTR);
      return written;
  }
}

void RuntimeLog::keep(std::string_view lines) {
  while (!lines.empty()) {
    const std::size_t end = lines.find('\n');
    const std::size_t length = end == std::string_view::npos ? lines.size() : end + 1;
    if (pending_.size() + length <= kPendingMax) {
      pending_.append(lines.substr(0, length));
    } else {
      ++lost_;
    }
    lines.remove_prefix(length);
  }
}

bool RuntimeLog::flush() {
  if (pending_.empty()) return true;
  if (mode_ == Mode::Closed) {
    lost_ += static_cast<std::uint64_t>(std::count(pending_.begin(), pending_.end(), '\n'));
    pending_.clear();
    return true;
  }
  const ssize_t written = put(pending_.data(), pending_.size());
  if (written > 0) {
    pending_.erase(0, static_cast<std::size_t>(written));
  } else if (written < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
    // The reader is gone for good (EPIPE) or the descriptor broke: what waits is lost.
    lost_ += static_cast<std::uint64_t>(std::count(pending_.begin(), pending_.end(), '\n'));
    pending_.clear();
  }
  return pending_.empty();
}

bool RuntimeLog::flush_until(std::chrono::steady_clock::time_point deadline) {
  while (!flush()) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || fd_ < 0) return false;
    pollfd room{fd_, POLLOUT, 0};
    if (::poll(&room, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) return false;
    if ((room.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) return flush();
  }
  return true;
}

void RuntimeLog::write(std::string_view lines, std::size_t count) {
  if (lines.empty()) return;
  if (mode_ == Mode::Unopened) open(inherited_fd_);
  if (mode_ == Mode::Closed) {
    lost_ += count;
    return;
  }
  // Lines that wait go first, so the destination sees every line in order.
  if (!flush()) {
    keep(lines);
    return;
  }
  const ssize_t written = put(lines.data(), lines.size());
  if (written == static_cast<ssize_t>(lines.size())) return;
  if (written < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      keep(lines);
    } else {
      lost_ += count;
    }
    return;
  }
  // A short write cut a line: its rest must follow before anything else, or the reader would
  // get one line ending inside another. It is at most one line, so it is always kept.
  std::string_view rest = lines.substr(static_cast<std::size_t>(written));
  const std::size_t end = rest.find('\n');
  const std::size_t cut = end == std::string_view::npos ? rest.size() : end + 1;
  pending_.append(rest.substr(0, cut));
  keep(rest.substr(cut));
}

void install_runtime_log() {
  RuntimeLog::instance().open_if_needed();
  set_log_writer(&runtime_log_writer);
}

}  // namespace ipcrt::runtime
