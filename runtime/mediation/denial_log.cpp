#include "runtime/mediation/denial_log.hpp"

#include "common/log.hpp"

namespace ipcrt::runtime {

DenialLog::DenialLog(std::string service, unsigned burst, Clock::duration interval)
    : service_(std::move(service)),
      interval_(interval),
      rate_(burst, 1.0 / std::chrono::duration<double>(interval).count()) {}

bool DenialLog::report(const std::string& line, Clock::time_point now) {
  if (!rate_.take(now)) {
    ++suppressed_;
    return false;
  }
  flush();
  write_log_line(line);
  return true;
}

void DenialLog::flush() {
  if (suppressed_ == 0) return;
  LogLine("warn", "denials-suppressed").field("service", service_).field("count", suppressed_);
  suppressed_ = 0;
}

}  // namespace ipcrt::runtime
