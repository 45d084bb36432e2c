// String building without iostreams: GCC 12's libstdc++ has no <format>, and <sstream> adds
// about 500 KB to a static binary (the aarch64 runtime aims at about 1 MB). cat() appends
// strings, characters, booleans and numbers; join() glues a range with a separator;
// octal_mode() writes a permission mode.
#pragma once

#include <sys/types.h>

#include <charconv>
#include <concepts>
#include <string>
#include <string_view>

namespace ipcrt {
namespace text_detail {

inline void append(std::string& out, std::string_view part) {
  out += part;
}
inline void append(std::string& out, const char* part) {
  out += part;
}
inline void append(std::string& out, char part) {
  out += part;
}
inline void append(std::string& out, bool part) {
  out += part ? "true" : "false";
}

template <class Number>
requires std::integral<Number> || std::floating_point<Number>
void append(std::string& out, Number part) {
  char buffer[64];
  auto result = std::to_chars(buffer, buffer + sizeof buffer, part);
  out.append(buffer, static_cast<std::size_t>(result.ptr - buffer));
}

}  // namespace text_detail

template <class... Parts>
[[nodiscard]] std::string cat(const Parts&... parts) {
  std::string out;
  (text_detail::append(out, parts), ...);
  return out;
}

template <class Range>
[[nodiscard]] std::string join(const Range& items, std::string_view separator) {
  std::string out;
  bool first = true;
  for (const auto& item : items) {
    if (!first) out += separator;
    first = false;
    text_detail::append(out, item);
  }
  return out;
}

// A permission mode as the manifest writes it (SPEC §2.1 "mode": "0660"): always four octal
// digits, so a mode in a message or a plan can be pasted back into a manifest as it is.
[[nodiscard]] inline std::string octal_mode(mode_t mode) {
  std::string digits;
  for (int shift = 9; shift >= 0; shift -= 3) {
    digits += static_cast<char>('0' + ((mode >> shift) & 7));
  }
  return digits;
}

}  // namespace ipcrt
