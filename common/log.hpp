// logfmt lines: `ts=2026-12-01T14:06:09.123Z level=info msg=started service=uploader pid=412`.
// Each line is assembled first and handed to the log writer whole, so lines never interleave
// mid-line. The writer is plain write(2) on stderr until the runtime installs its own
// (runtime/logs: non-blocking, never stalled by whoever reads stderr, SPEC §14), which also
// copies the line into the ring `ipcrt logs` reads and into the persistent files.
#pragma once

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/text.hpp"
#include "common/utc_time.hpp"

namespace ipcrt {
namespace log_detail {

// The length of the well-formed, printable UTF-8 sequence starting at `at` (a byte >= 0x80),
// or 0. Overlong forms, surrogates and code points past U+10FFFF are not well-formed; C1
// controls (U+0080..U+009F) are well-formed but some terminals obey U+009B as CSI, so they
// count as control bytes too.
inline std::size_t utf8_sequence(std::string_view text, std::size_t at) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(at);
  std::size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    if (lead == 0xC2) low = 0xA0;  // U+0080..U+009F are the C1 controls
  } else if (lead == 0xE0) {
    length = 3;
    low = 0xA0;
  } else if ((lead >= 0xE1 && lead <= 0xEC) || lead == 0xEE || lead == 0xEF) {
    length = 3;
  } else if (lead == 0xED) {
    length = 3;
    high = 0x9F;  // no UTF-16 surrogates
  } else if (lead == 0xF0) {
    length = 4;
    low = 0x90;
  } else if (lead >= 0xF1 && lead <= 0xF3) {
    length = 4;
  } else if (lead == 0xF4) {
    length = 4;
    high = 0x8F;
  } else {
    return 0;
  }
  if (at + length > text.size()) return 0;
  if (byte(at + 1) < low || byte(at + 1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if ((byte(at + i) & 0xC0) != 0x80) return 0;
  }
  return length;
}

}  // namespace log_detail

// Appends `value` escaped for the inside of a quoted logfmt value (SPEC §14): `\"`, `\\`,
// `\n`, `\t`, and `\xHH` for every other control byte and every byte that is not part of
// well-formed UTF-8. What a service writes can then neither end the value (and forge
// fields or a line) nor reach a terminal as an escape sequence.
inline void append_escaped(std::string& out, std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::size_t plain_from = 0;
  std::size_t i = 0;
  while (i < value.size()) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      if (const std::size_t length = log_detail::utf8_sequence(value, i); length > 0) {
        i += length;
        continue;
      }
    }
    out.append(value.data() + plain_from, i - plain_from);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\x";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
        break;
    }
    plain_from = ++i;
  }
  out.append(value.data() + plain_from, i - plain_from);
}

inline void append_quoted(std::string& out, std::string_view value) {
  out += '"';
  append_escaped(out, value);
  out += '"';
}

// Appends `when` as RFC 3339 in UTC with milliseconds: 2026-12-01T14:06:09.123Z.
inline void append_log_time(std::string& out, std::chrono::system_clock::time_point when) {
  const auto since_epoch =
      std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count();
  const long long seconds = since_epoch / 1000;
  const int millis = static_cast<int>(since_epoch % 1000);
  // Formatting the date is costly next to a short line; one service's lines mostly share their
  // second.
  thread_local long long cached_second = -1;
  thread_local char cached[20];
  if (seconds != cached_second) {
    const UtcTime parts = utc_time(when);
    const auto two = [](char* at, unsigned value) {
      at[0] = static_cast<char>('0' + value / 10 % 10);
      at[1] = static_cast<char>('0' + value % 10);
    };
    const auto year = static_cast<unsigned>(parts.year);
    two(cached, year / 100);
    two(cached + 2, year % 100);
    cached[4] = '-';
    two(cached + 5, parts.month);
    cached[7] = '-';
    two(cached + 8, parts.day);
    cached[10] = 'T';
    two(cached + 11, parts.hour);
    cached[13] = ':';
    two(cached + 14, parts.minute);
    cached[16] = ':';
    two(cached + 17, parts.second);
    cached[19] = '.';
    cached_second = seconds;
  }
  out.append(cached, 20);
  out += static_cast<char>('0' + millis / 100);
  out += static_cast<char>('0' + millis / 10 % 10);
  out += static_cast<char>('0' + millis % 10);
  out += 'Z';
}

// Builds one logfmt line without its `ts=` (added when it is written); LogLine writes it when
// it goes out of scope.
class Logfmt {
 public:
  Logfmt(std::string_view level, std::string_view message) {
    text_ = "level=";
    text_ += level;
    field("msg", message);
  }

  template <class Value>
  Logfmt& field(std::string_view key, const Value& value) {
    text_ += ' ';
    text_ += key;
    text_ += '=';
    append_value(cat(value));
    return *this;
  }

  // The line without `ts=` and newline, for tests and for callers that route it elsewhere.
  [[nodiscard]] const std::string& text() const { return text_; }

 private:
  void append_value(const std::string& value) {
    bool needs_quotes = value.empty();
    for (char c : value) {
      const auto byte = static_cast<unsigned char>(c);
      if (byte <= ' ' || c == '=' || c == '"' || c == '\\' || byte >= 0x7F) needs_quotes = true;
    }
    if (needs_quotes) {
      append_quoted(text_, value);
    } else {
      text_ += value;
    }
  }

  std::string text_;
};

// Where complete lines go: `line` starts with `ts=` and has no newline; `when` is its time.
using LogWriter = void (*)(std::chrono::system_clock::time_point when, std::string_view line);

// The writer of tools and tests: one write(2) on stderr, newline included. Logging never
// fails the caller: a short write is dropped.
inline void write_to_stderr(std::chrono::system_clock::time_point, std::string_view line) {
  std::string out(line);
  out += '\n';
  [[maybe_unused]] auto written = ::write(STDERR_FILENO, out.data(), out.size());
}

namespace log_detail {
inline std::atomic<LogWriter> writer{&write_to_stderr};
}  // namespace log_detail

// Replaces the writer; returns the previous one.
inline LogWriter set_log_writer(LogWriter writer) {
  return log_detail::writer.exchange(writer != nullptr ? writer : &write_to_stderr);
}

// `body` (a logfmt line without `ts=`) with `now` in front as its `ts=` field.
[[nodiscard]] inline std::string timestamped_line(std::string_view body,
                                                  std::chrono::system_clock::time_point now) {
  std::string line;
  line.reserve(body.size() + 29);
  line += "ts=";
  append_log_time(line, now);
  line += ' ';
  line += body;
  return line;
}

// Writes `body` (a logfmt line without `ts=`) with the current time in front.
inline void write_log_line(std::string_view body) {
  const auto now = std::chrono::system_clock::now();
  log_detail::writer.load()(now, timestamped_line(body, now));
}

class LogLine : public Logfmt {
 public:
  using Logfmt::Logfmt;
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  ~LogLine() { write_log_line(text()); }

  template <class Value>
  LogLine& field(std::string_view key, const Value& value) {
    Logfmt::field(key, value);
    return *this;
  }
};

inline LogLine log_info(std::string_view message) {
  return LogLine("info", message);
}
inline LogLine log_warn(std::string_view message) {
  return LogLine("warn", message);
}
inline LogLine log_error(std::string_view message) {
  return LogLine("error", message);
}

}  // namespace ipcrt
