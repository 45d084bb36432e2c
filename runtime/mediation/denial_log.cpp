#include "runtime/mediation/denial_log.hpp"

#include "common/log.hpp"

namespace ipcrt::runtime {

DenialLog::DenialLog(std::string service, unsigned burst, Clock::duration interval)
    : service_(std::move(service)),
      interval_(interval),
      rate_(burst, 1.0 / std::chrono::duration<double>(interval).count()) {}

bool DenialLog::report(const std::string& line, std::string_view syscall, std::string_view need,
                       Clock::time_point now) {
  Kind kind{std::string(syscall), std::string(need)};
  auto found = kinds_.find(kind);
  if (found == kinds_.end() && !kind.first.empty() && kinds_.size() < kMaxKinds) {
    // A new kind: written whatever the rate, and it spends a token if there is one.
    kinds_.emplace(std::move(kind), 0);
    (void)rate_.take(now);
    flush();
    emit(line);
    return true;
  }
  if (found == kinds_.end()) found = kinds_.try_emplace(Kind{}, 0).first;
  if (!rate_.take(now)) {
    ++found->second;
    ++suppressed_;
    return false;
  }
  flush();
  emit(line);
  return true;
}

void DenialLog::flush() {
  if (suppressed_ == 0) return;
  for (auto& [kind, count] : kinds_) {
    if (count == 0) continue;
    Logfmt line("warn", "denials-suppressed");
    line.field("service", service_).field("count", count);
    if (!kind.first.empty()) line.field("syscall", kind.first).field("need", kind.second);
    count = 0;
    emit(line.text());
  }
  suppressed_ = 0;
}

void DenialLog::emit(const std::string& line) {
  if (route_) {
    route_(service_, line);
  } else {
    write_log_line(line);
  }
}

}  // namespace ipcrt::runtime
