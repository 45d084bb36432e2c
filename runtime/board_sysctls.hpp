// Writing a board's fs.mqueue sysctls at `run --board` (SPEC §3, §4.1), after the manifest
// was validated and planned against them, and putting them back if the boot fails.
#pragma once

#include <string>
#include <vector>

#include "common/error.hpp"
#include "config/board.hpp"
#include "platform/mqueue.hpp"

namespace ipcrt::runtime {

inline constexpr const char* kMqueueSysctlDir = "/proc/sys/fs/mqueue";

// The limits the kernel will have once apply_board_sysctls() has written the board's values,
// for planning before anything is written. Unchanged when not root (nothing will be written).
[[nodiscard]] platform::MqueueLimits limits_after_board(platform::MqueueLimits limits,
                                                        const config::Board& board);

// What apply_board_sysctls() changed, so that a failed boot can put it back.
class AppliedSysctls {
 public:
  struct Previous {
    std::string path;
    long value;
  };
  AppliedSysctls() = default;
  explicit AppliedSysctls(std::vector<Previous> previous) : previous_(std::move(previous)) {}
  // Writes the previous values back, newest first; failures are logged.
  void restore();

 private:
  std::vector<Previous> previous_;
};

// Writes the board's mqueue sysctls under `sysctl_dir` when running as root (as a non-root
// user it logs one warning and changes nothing: `plan` then reports any limit still too low).
// Maxima are written before defaults; if one write fails, those already written are restored.
[[nodiscard]] Result<AppliedSysctls> apply_board_sysctls(
    const config::Board& board, const std::string& sysctl_dir = kMqueueSysctlDir);

}  // namespace ipcrt::runtime
