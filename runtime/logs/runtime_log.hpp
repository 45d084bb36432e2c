// The runtime's own log output (SPEC §14): stderr, through a file description of its own, never
// blocking. Whoever holds the other end (an operator's terminal stopped with ^S, a pipe nobody
// reads, journald's socket under load) can only make lines wait in a bounded buffer and then
// be dropped, whole and counted; it cannot stall the supervisor or change how it writes.
//
// How stderr is written depends on what it is:
//   - a pipe, FIFO, terminal or other device: reopened through /proc/self/fd/2 with O_NONBLOCK,
//     so the description it inherited (shared with the shell or the parent) keeps its flags;
//   - a socket: send(2) with MSG_DONTWAIT (a socket cannot be reopened);
//   - a regular file: the inherited descriptor as it is: a file never waits for a reader, and
//     a description of our own would lose its offset (`ipcrt run >log 2>&1` would overwrite);
//   - without /proc (PID 1 before it mounts it): poll(2) for room, then small writes, until
//     open() is called again.
// SIGPIPE is blocked (not ignored, so services, whose signal mask the launch clears, still get
// its default): a pipe without a reader gives EPIPE.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "platform/fd.hpp"

namespace ipcrt::runtime {

class RuntimeLog {
 public:
  enum class Mode { Unopened, Closed, File, Socket, Reopened, Polled };
  // What waits for a slow reader at most; past it new lines are dropped.
  static constexpr std::size_t kPendingMax = 64 * 1024;

  // The process's log (stderr), opened on first use.
  static RuntimeLog& instance();

  RuntimeLog() = default;
  RuntimeLog(const RuntimeLog&) = delete;
  RuntimeLog& operator=(const RuntimeLog&) = delete;

  // Takes `fd` as the destination, as described above. Lines still waiting are kept.
  void open(int fd = STDERR_FILENO);
  // Opens on first use, and tries again to reopen where that failed before (PID 1 mounts /proc).
  void open_if_needed();
  // Writes `lines`: `count` complete lines, each ending in '\n'. Never blocks.
  void write(std::string_view lines, std::size_t count);
  // Retries what waits; true once nothing does.
  bool flush();
  // Once the loop is over (nothing left to stall): waits for room until `deadline` while
  // lines wait, so a slow but live reader still gets the last ones. true once nothing waits.
  bool flush_until(std::chrono::steady_clock::time_point deadline);

  [[nodiscard]] bool pending() const { return !pending_.empty(); }
  [[nodiscard]] std::size_t pending_bytes() const { return pending_.size(); }
  // Lines never written (dropped for a reader that did not keep up, or an error).
  [[nodiscard]] std::uint64_t lines_lost() const { return lost_; }
  [[nodiscard]] Mode mode() const { return mode_; }
  [[nodiscard]] static const char* mode_name(Mode mode);

 private:
  // One attempt at `size` bytes: bytes written, or -1 with errno.
  ssize_t put(const char* data, std::size_t size);
  // Keeps whole lines of `lines` while they fit in pending_; counts the others as lost.
  void keep(std::string_view lines);

  Mode mode_ = Mode::Unopened;
  int fd_ = -1;  // where lines go: owned_ or the inherited descriptor
  int inherited_fd_ = STDERR_FILENO;
  platform::UniqueFd owned_;  // the reopened description
  std::string pending_;       // starts with the rest of a line cut by a short write
  std::uint64_t lost_ = 0;
};

// Sends every line of common/log.hpp through RuntimeLog::instance() (open_if_needed() first).
void install_runtime_log();

}  // namespace ipcrt::runtime
