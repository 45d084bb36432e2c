// The one rate limit of mediation (SPEC §6): a token bucket, used for denial lines per service
// and for the rate at which a service's notifications are answered.
#pragma once

#include <algorithm>
#include <chrono>

namespace ipcrt::runtime {

// Up to `burst` events at once, then `per_second` events a second on average. A rate of 0
// means unlimited. Not thread-safe: each bucket belongs to one thread or one lock.
class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  TokenBucket(double burst, double per_second, Clock::time_point now = Clock::now())
      : burst_(burst), per_second_(per_second), tokens_(burst), last_(now) {}

  // Takes one token if there is one.
  bool take(Clock::time_point now = Clock::now()) {
    if (per_second_ <= 0) return true;
    refill(now);
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }

  // Gives back part of a token taken for an event that cost less than a whole one.
  void refund(double tokens) { tokens_ = std::min(burst_, tokens_ + tokens); }

  // How long until take() succeeds; zero when it would now.
  [[nodiscard]] Clock::duration wait(Clock::time_point now = Clock::now()) {
    if (per_second_ <= 0) return Clock::duration::zero();
    refill(now);
    if (tokens_ >= 1.0) return Clock::duration::zero();
    return std::chrono::duration_cast<Clock::duration>(
               std::chrono::duration<double>((1.0 - tokens_) / per_second_)) +
           Clock::duration(1);  // never 0 while empty: rounding down must not make a busy loop
  }

 private:
  void refill(Clock::time_point now) {
    if (now <= last_) return;
    tokens_ = std::min(burst_,
                       tokens_ + std::chrono::duration<double>(now - last_).count() * per_second_);
    last_ = now;
  }

  double burst_;
  double per_second_;
  double tokens_;
  Clock::time_point last_;
};

}  // namespace ipcrt::runtime
