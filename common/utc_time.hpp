// UTC calendar time from a time point and back, by arithmetic alone (std::chrono's civil
// calendar): glibc's gmtime_r and timegm go through its time-zone code, which pulls sscanf and
// long-double parsing into a static binary (about 55 KiB on aarch64) to read TZ rules ipcrt
// never needs.
#pragma once

#include <chrono>
#include <optional>

namespace ipcrt {

struct UtcTime {
  int year = 1970;
  unsigned month = 1;   // 1-12
  unsigned day = 1;     // 1-31
  unsigned hour = 0;
  unsigned minute = 0;
  unsigned second = 0;
  unsigned millisecond = 0;
};

[[nodiscard]] inline UtcTime utc_time(std::chrono::system_clock::time_point when) {
  using namespace std::chrono;
  const auto millis = floor<milliseconds>(when);
  const auto day = floor<days>(millis);
  const year_month_day date{day};
  const hh_mm_ss time{millis - day};
  return UtcTime{static_cast<int>(date.year()),
                 static_cast<unsigned>(date.month()),
                 static_cast<unsigned>(date.day()),
                 static_cast<unsigned>(time.hours().count()),
                 static_cast<unsigned>(time.minutes().count()),
                 static_cast<unsigned>(time.seconds().count()),
                 static_cast<unsigned>(time.subseconds().count())};
}

// nullopt for a date that does not exist (February 30th) or a time out of range.
[[nodiscard]] inline std::optional<std::chrono::system_clock::time_point> from_utc_time(
    const UtcTime& parts) {
  using namespace std::chrono;
  const year_month_day date{year{parts.year}, month{parts.month}, day{parts.day}};
  if (!date.ok() || parts.hour > 23 || parts.minute > 59 || parts.second > 60 ||
      parts.millisecond > 999) {
    return std::nullopt;
  }
  return time_point_cast<system_clock::duration>(
      sys_days{date} + hours{parts.hour} + minutes{parts.minute} + seconds{parts.second} +
      milliseconds{parts.millisecond});
}

}  // namespace ipcrt
