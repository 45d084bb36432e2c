#include "runtime/control/timestamps.hpp"

#include <time.h>

#include <charconv>
#include <cstdio>

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
  using namespace std::chrono;
  const auto milliseconds = duration_cast<std::chrono::milliseconds>(when.time_since_epoch());
  const time_t seconds = static_cast<time_t>(floor<std::chrono::seconds>(milliseconds).count());
  const long fraction = static_cast<long>(milliseconds.count() - seconds * 1000LL);
  tm parts{};
  ::gmtime_r(&seconds, &parts);
  char text[80];  // room for any int, which the compiler cannot rule out
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", parts.tm_year + 1900,
                parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                fraction);
  return text;
}

std::optional<std::chrono::system_clock::time_point> parse_timestamp(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS.mmmZ
  if (text.size() != 24 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text[19] != '.' || text[23] != 'Z') {
    return std::nullopt;
  }
  tm parts{};
  int year = 0, month = 0, milliseconds = 0;
  if (!read_number(text, 0, 4, year) || !read_number(text, 5, 2, month) ||
      !read_number(text, 8, 2, parts.tm_mday) || !read_number(text, 11, 2, parts.tm_hour) ||
      !read_number(text, 14, 2, parts.tm_min) || !read_number(text, 17, 2, parts.tm_sec) ||
      !read_number(text, 20, 3, milliseconds)) {
    return std::nullopt;
  }
  parts.tm_year = year - 1900;
  parts.tm_mon = month - 1;
  const time_t seconds = ::timegm(&parts);
  return std::chrono::system_clock::from_time_t(seconds) + std::chrono::milliseconds(milliseconds);
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
