// The last lines of every service, in memory, for `ipcrt logs` (SPEC §14): one byte budget for
// the runtime (`log.ring-bytes`), split into one share per service and one for the runtime's
// own lines, each at most 64 KiB; a share drops its oldest lines when a new one does not fit.
// Every line gets a sequence number in the order it was logged, so lines of several services
// interleave by time and a reader can resume where it stopped (a cursor).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ipcrt::runtime {

enum class LogSource { Stdout, Stderr, Runtime };

// "stdout", "stderr", "ipcrt".
[[nodiscard]] const char* log_source_name(LogSource source);

struct LogRecord {
  std::uint64_t seq = 0;  // 1, 2, ...: the order lines were logged in, across services
  std::chrono::system_clock::time_point time{};
  std::string service;  // "" for the runtime's own lines
  LogSource source = LogSource::Runtime;
  std::string line;  // the complete logfmt line as written (`ts=...`), without newline
};

// A page of a cursor read: records oldest first, the cursor to read on from, and whether
// lines after the given cursor were dropped before they could be read.
struct LogPage {
  std::vector<LogRecord> records;
  std::uint64_t next = 0;
  bool missed = false;
};

class LogRing {
 public:
  // What one line costs beyond its text and service name: the record and the allocator's
  // header of the line's heap block.
  static constexpr std::size_t kRecordOverhead = sizeof(LogRecord) + 16;

  // `shares`: the services' names; the runtime's own share ("") is added.
  LogRing(std::size_t total_bytes, std::size_t share_max, const std::vector<std::string>& shares);

  // Adds one line to `share`'s ring (an unknown share goes to the runtime's) and returns it.
  const LogRecord& add(const std::string& share, LogSource source,
                       std::chrono::system_clock::time_point time, std::string line);

  [[nodiscard]] bool has(const std::string& share) const { return shares_.count(share) > 0; }
  [[nodiscard]] std::vector<std::string> names() const;  // the services, without ""

  // The last `count` lines of `share` (nullopt: of every share, interleaved), oldest first.
  [[nodiscard]] std::vector<LogRecord> last(std::size_t count,
                                            const std::optional<std::string>& share) const;
  // At most `max` lines with seq >= `cursor`, oldest first. Cursor 0 is the oldest kept line;
  // next_seq() is "from now on".
  [[nodiscard]] LogPage read(std::uint64_t cursor, std::size_t max,
                             const std::optional<std::string>& share) const;
  [[nodiscard]] std::uint64_t next_seq() const { return next_seq_; }

  [[nodiscard]] std::size_t share_limit() const { return share_limit_; }
  [[nodiscard]] std::size_t share_bytes(const std::string& share) const;
  [[nodiscard]] std::size_t total_bytes() const;

 private:
  struct Share {
    std::deque<LogRecord> records;
    std::size_t bytes = 0;
    std::uint64_t last_dropped = 0;  // seq of the newest line dropped, 0 if none
  };
  [[nodiscard]] std::vector<const Share*> selected(const std::optional<std::string>& share) const;

  std::map<std::string, Share> shares_;
  std::size_t share_limit_;
  std::uint64_t next_seq_ = 1;
};

}  // namespace ipcrt::runtime
