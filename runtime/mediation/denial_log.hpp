// Rate-limited denial lines (SPEC §6, §15).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "runtime/mediation/token_bucket.hpp"

namespace ipcrt::runtime {

// Denial lines are rate-limited per service so that a hostile service cannot flood the log
// of a device whose storage is flash: a burst of `burst` lines, then one line per `interval`.
// The limit is per kind of denial, (syscall, need): the first denial of each kind is always
// written, so that a program's harmless noise cannot hide the one denial that matters; only
// repeats spend the budget. At most kMaxKinds kinds are remembered per service (a hostile one
// can make unbounded `need`s of queue names); later kinds are repeats of one "other" kind.
// What is dropped is counted per kind and reported, one `msg=denials-suppressed` line per
// kind naming its syscall and need, once the next line is allowed or when flush() is called
// (by the service's mediation thread once the interval has passed, and at exit). Each line
// goes out whole: one write(2), or one call of the route. Not thread-safe: the service's
// mediation state guards it.
class DenialLog {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kMaxKinds = 64;

  explicit DenialLog(std::string service, unsigned burst = 10,
                     Clock::duration interval = std::chrono::seconds(1));

  // Logs `line` (a complete logfmt line without the trailing newline) of the kind (`syscall`,
  // `need`) if it is a new kind or the rate allows; returns whether it was written.
  bool report(const std::string& line, std::string_view syscall, std::string_view need,
              Clock::time_point now = Clock::now());
  // A line of no particular kind (a mediation error): rate-limited only.
  bool report(const std::string& line, Clock::time_point now = Clock::now()) {
    return report(line, {}, {}, now);
  }
  // Writes the suppressed-count lines if anything was suppressed.
  void flush();
  [[nodiscard]] std::uint64_t suppressed() const { return suppressed_; }
  [[nodiscard]] Clock::duration interval() const { return interval_; }
  // Where lines go instead of the runtime's log: the log subsystem, which also keeps them in
  // the service's ring and files (SPEC §14). Called with the service and the line.
  using Route = std::function<void(const std::string& service, std::string_view line)>;
  void route_to(Route route) { route_ = std::move(route); }

 private:
  using Kind = std::pair<std::string, std::string>;  // syscall, need; both empty: "other"
  void emit(const std::string& line);

  std::string service_;
  Clock::duration interval_;
  TokenBucket rate_;
  std::map<Kind, std::uint64_t> kinds_;  // every kind seen, with its suppressed count
  std::uint64_t suppressed_ = 0;         // the sum of the counts
  Route route_;
};

}  // namespace ipcrt::runtime
