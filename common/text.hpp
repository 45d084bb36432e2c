// String building without <format> (GCC 12's libstdc++ lacks it): cat() streams any
// printable values into one string, join() glues a range with a separator.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace ipcrt {

template <class... Parts>
[[nodiscard]] std::string cat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

template <class Range>
[[nodiscard]] std::string join(const Range& items, std::string_view separator) {
  std::string text;
  bool first = true;
  for (const auto& item : items) {
    if (!first) text += separator;
    first = false;
    text += cat(item);
  }
  return text;
}

}  // namespace ipcrt
