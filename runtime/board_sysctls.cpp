#include "runtime/board_sysctls.hpp"

#include <unistd.h>

#include "common/log.hpp"
#include "common/text.hpp"
#include "platform/sysctl.hpp"

namespace ipcrt::runtime {

platform::MqueueLimits limits_after_board(platform::MqueueLimits limits,
                                          const config::Board& board) {
  if (::geteuid() != 0) return limits;
  const auto& values = board.mqueue;
  if (values.msg_max) limits.msg_max = *values.msg_max;
  if (values.msgsize_max) limits.msgsize_max = *values.msgsize_max;
  if (values.msg_default) limits.msg_default = *values.msg_default;
  if (values.msgsize_default) limits.msgsize_default = *values.msgsize_default;
  if (values.queues_max) limits.queues_max = *values.queues_max;
  return limits;
}

void AppliedSysctls::restore() {
  for (auto it = previous_.rbegin(); it != previous_.rend(); ++it) {
    if (auto written = platform::write_sysctl(it->path, it->value); !written) {
      log_warn("sysctl not restored").field("error", written.error().describe());
    }
  }
  previous_.clear();
}

Result<AppliedSysctls> apply_board_sysctls(const config::Board& board,
                                           const std::string& sysctl_dir) {
  if (::geteuid() != 0) {
    log_warn("board sysctls not applied: not root").field("board", board.name);
    return AppliedSysctls{};
  }
  std::vector<AppliedSysctls::Previous> written;
  auto undo = [&written] { AppliedSysctls(std::move(written)).restore(); };
  for (const auto& setting : config::mqueue_sysctl_settings(board.mqueue)) {
    std::string path = cat(sysctl_dir, "/", setting.name);
    auto previous = platform::read_sysctl(path);
    if (!previous) {
      undo();
      return std::unexpected(previous.error());
    }
    if (*previous == setting.value) continue;
    if (auto status = platform::write_sysctl(path, setting.value); !status) {
      undo();
      return std::unexpected(status.error().wrap(cat("board ", board.name)));
    }
    written.push_back({path, *previous});
    log_info("sysctl set")
        .field("board", board.name)
        .field("name", cat("fs.mqueue.", setting.name))
        .field("value", setting.value)
        .field("was", *previous);
  }
  return AppliedSysctls(std::move(written));
}

}  // namespace ipcrt::runtime
