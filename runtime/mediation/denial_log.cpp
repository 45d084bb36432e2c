#include "runtime/mediation/denial_log.hpp"

#include <algorithm>

#include "common/log.hpp"

namespace ipcrt::runtime {

DenialLog::DenialLog(std::string service, unsigned burst, Clock::duration interval)
    : service_(std::move(service)),
      burst_(burst),
      interval_(interval),
      tokens_(burst),
      last_refill_(Clock::now()) {}

void DenialLog::refill(Clock::time_point now) {
  if (now <= last_refill_) return;
  const double earned =
      std::chrono::duration<double>(now - last_refill_) / std::chrono::duration<double>(interval_);
  tokens_ = std::min<double>(burst_, tokens_ + earned);
  last_refill_ = now;
}

bool DenialLog::report(const std::string& line, Clock::time_point now) {
  refill(now);
  if (tokens_ < 1.0) {
    ++suppressed_;
    return false;
  }
  tokens_ -= 1.0;
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
