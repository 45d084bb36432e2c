// What one service may create through queue patterns (SPEC §6, §13 `resources.queues` and
// `resources.queue-bytes`): a number of queues and the bytes the kernel charges for them
// (platform::queue_charge_bytes), counted while the queues exist. Without it one pattern
// grant could use up `queues_max`, or the RLIMIT_MSGQUEUE of the runtime's user, which the
// kernel charges for every queue the supervisor creates, for every other service.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace ipcrt::runtime {

struct PatternLimits {
  std::size_t queues = 8;
  std::uint64_t bytes = 1024 * 1024;
};

class PatternBudget {
 public:
  enum class Over { Nothing, Queues, Bytes };

  explicit PatternBudget(PatternLimits limits = {}) : limits_(limits) {}

  // Whether one more queue charged `charge` bytes would go beyond a limit.
  [[nodiscard]] Over check(std::uint64_t charge) const;
  // Counts a queue; `inode` identifies it (0: unknown, e.g. found at boot). A queue of the
  // same path replaces the one counted before.
  void add(const std::string& path, std::uint64_t charge, ino_t inode);
  // Gives a queue's share back (it was unlinked); false if it was not counted.
  bool remove(const std::string& path);
  // Gives back the share of every counted queue for which `exists(path, inode)` is false:
  // queues another process unlinked. Only worth its syscalls when a limit is reached.
  void forget_missing(const std::function<bool(const std::string& path, ino_t inode)>& exists);

  [[nodiscard]] std::size_t queues() const { return counted_.size(); }
  [[nodiscard]] std::uint64_t bytes() const { return bytes_; }
  [[nodiscard]] const PatternLimits& limits() const { return limits_; }

 private:
  struct Counted {
    std::uint64_t charge = 0;
    ino_t inode = 0;
  };
  PatternLimits limits_;
  std::map<std::string, Counted> counted_;
  std::uint64_t bytes_ = 0;
};

}  // namespace ipcrt::runtime
