// String building without iostreams: GCC 12's libstdc++ has no <format>, and <sstream> adds
// about 500 KB to a static binary (the aarch64 runtime aims at about 1 MB). cat() appends
// strings, characters, booleans and numbers; join() glues a range with a separator;
// octal_mode() writes a permission mode.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <charconv>
#include <concepts>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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

// Levenshtein distance: insertions, deletions and substitutions to turn `a` into `b`.
[[nodiscard]] inline std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The candidate closest to `word`, for "did you mean": at most two edits away (one typo or a
// swapped pair); further away a suggestion is only a guess. The first of equals wins.
[[nodiscard]] inline std::optional<std::string_view> closest_match(
    std::string_view word, std::span<const std::string_view> candidates) {
  std::optional<std::string_view> closest;
  std::size_t best = 3;
  for (auto candidate : candidates) {
    const std::size_t distance = edit_distance(word, candidate);
    if (distance < best) {
      best = distance;
      closest = candidate;
    }
  }
  return closest;
}

// RFC 6901: `~` becomes `~0` and `/` becomes `~1`. Returns "/" + the escaped key.
[[nodiscard]] inline std::string pointer_segment(std::string_view key) {
  std::string segment = "/";
  for (char c : key) {
    if (c == '~') {
      segment += "~0";
    } else if (c == '/') {
      segment += "~1";
    } else {
      segment += c;
    }
  }
  return segment;
}

// The value of `key=value` among the words of a kernel command line (/proc/cmdline), the last
// one winning as in the kernel; nullopt when absent or empty.
[[nodiscard]] inline std::optional<std::string> kernel_parameter(std::string_view cmdline,
                                                                 std::string_view key) {
  std::optional<std::string> found;
  std::size_t position = 0;
  while (position < cmdline.size()) {
    std::size_t end = cmdline.find_first_of(" \t\n", position);
    if (end == std::string_view::npos) end = cmdline.size();
    std::string_view word = cmdline.substr(position, end - position);
    if (word.size() > key.size() + 1 && word.starts_with(key) && word[key.size()] == '=') {
      found = std::string(word.substr(key.size() + 1));
    }
    position = end + 1;
  }
  return found;
}

}  // namespace ipcrt
