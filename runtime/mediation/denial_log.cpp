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
  emit(line);
  return true;
}

void DenialLog::flush() {
  if (suppressed_ == 0) return;
  Logfmt line("warn", "denials-suppressed");
  line.field("service", service_).field("count", suppressed_);
  suppressed_ = 0;
  emit(line.text());
}

void DenialLog::emit(const std::string& line) {
  if (route_) {
    route_(service_, line);
  } else {
    write_log_line(line);
  }
}

}  // namespace ipcrt::runtime
