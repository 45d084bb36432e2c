// Rate-limited denial lines (SPEC §6).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "runtime/mediation/token_bucket.hpp"

namespace ipcrt::runtime {

// Denial lines are rate-limited per service so that a hostile service cannot flood the log
// of a device whose storage is flash: a burst of `burst` lines, then one line per `interval`;
// what is dropped is counted and reported in a `msg=denials-suppressed` line once the next
// line is allowed, or when flush() is called (by the service's mediation thread once the
// interval has passed, and at exit). Each line goes out whole: one write(2), or one call of
// the route. Not thread-safe: the service's mediation state guards it.
class DenialLog {
 public:
  using Clock = std::chrono::steady_clock;
  explicit DenialLog(std::string service, unsigned burst = 10,
                     Clock::duration interval = std::chrono::seconds(1));

  // Logs `line` (a complete logfmt line without the trailing newline) if the rate allows;
  // returns whether it was written.
  bool report(const std::string& line, Clock::time_point now = Clock::now());
  // Writes the suppressed-count line if anything was suppressed.
  void flush();
  [[nodiscard]] std::uint64_t suppressed() const { return suppressed_; }
  [[nodiscard]] Clock::duration interval() const { return interval_; }
  // Where lines go instead of the runtime's log: the log subsystem, which also keeps them in
  // the service's ring and files (SPEC §14). Called with the service and the line.
  using Route = std::function<void(const std::string& service, std::string_view line)>;
  void route_to(Route route) { route_ = std::move(route); }

 private:
  void emit(const std::string& line);

  std::string service_;
  Clock::duration interval_;
  TokenBucket rate_;
  std::uint64_t suppressed_ = 0;
  Route route_;
};

}  // namespace ipcrt::runtime
