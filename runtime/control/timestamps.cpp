#include "runtime/control/timestamps.hpp"


#include <charconv>
#include <cstdio>

#include "common/utc_time.hpp"

namespace ipcrt::runtime::control {
namespace {

bool read_number(std::string_view text, std::size_t offset, std::size_t digits, int& value) {
  if (offset + digits > text.size()) return false;
  const char* begin = text.data() + offset;
  auto [end, error] = std::from_chars(begin, begin + digits, value);
  return error == std::errc{} && end == begin + digits;
}

}  // namespace

std::string format_timestamp(std::chrono::system_clock::time_point when) {
  const UtcTime parts = utc_time(when);
  char text[80];  // room for any int, which the compiler cannot rule out
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02u:%02u:%02u.%03uZ", parts.year,
                parts.month, parts.day, parts.hour, parts.minute, parts.second,
                parts.millisecond);
  return text;
}

std::optional<std::chrono::system_clock::time_point> parse_timestamp(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS.mmmZ
  if (text.size() != 24 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text[19] != '.' || text[23] != 'Z') {
    return std::nullopt;
  }
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, millisecond = 0;
  if (!read_number(text, 0, 4, year) || !read_number(text, 5, 2, month) ||
      !read_number(text, 8, 2, day) || !read_number(text, 11, 2, hour) ||
      !read_number(text, 14, 2, minute) || !read_number(text, 17, 2, second) ||
      !read_number(text, 20, 3, millisecond)) {
    return std::nullopt;
  }
  return from_utc_time(UtcTime{year, static_cast<unsigned>(month), static_cast<unsigned>(day),
                               static_cast<unsigned>(hour), static_cast<unsigned>(minute),
                               static_cast<unsigned>(second),
                               static_cast<unsigned>(millisecond)});
}

std::string format_duration(std::chrono::seconds duration) {
  long long seconds = duration.count() < 0 ? 0 : duration.count();
  const long long days = seconds / 86400;
  const long long hours = seconds / 3600 % 24;
  const long long minutes = seconds / 60 % 60;
  seconds %= 60;
  char text[48];
  if (days > 0) {
    std::snprintf(text, sizeof text, "%lldd%02lldh", days, hours);
  } else if (hours > 0) {
    std::snprintf(text, sizeof text, "%lldh%02lldm", hours, minutes);
  } else if (minutes > 0) {
    std::snprintf(text, sizeof text, "%lldm%02llds", minutes, seconds);
  } else {
    std::snprintf(text, sizeof text, "%llds", seconds);
  }
  return text;
}

}  // namespace ipcrt::runtime::control
