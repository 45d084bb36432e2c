// logfmt lines on stderr: `level=info msg=started service=uploader pid=412`. Each line is
// assembled first and written with one write(2), so lines from the supervisor and its
// children never interleave mid-line.
#pragma once

#include <unistd.h>

#include <string>
#include <string_view>

#include "common/text.hpp"

namespace ipcrt {

// Builds one logfmt line; LogLine writes it when it goes out of scope.
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

  // The line without its newline, for tests and for callers that route it elsewhere.
  [[nodiscard]] const std::string& text() const { return text_; }

 private:
  void append_value(const std::string& value) {
    bool needs_quotes = value.empty();
    for (char c : value) {
      if (c == ' ' || c == '=' || c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
        needs_quotes = true;
      }
    }
    if (!needs_quotes) {
      text_ += value;
      return;
    }
    text_ += '"';
    for (char c : value) {
      if (c == '"' || c == '\\') {
        text_ += '\\';
        text_ += c;
      } else if (c == '\n') {
        text_ += "\\n";
      } else if (static_cast<unsigned char>(c) < 0x20) {
        text_ += '?';
      } else {
        text_ += c;
      }
    }
    text_ += '"';
  }

  std::string text_;
};

// Writes a complete line, newline included, with one write(2). Logging never fails the
// caller: a short write to a full pipe is dropped.
inline void write_log_line(std::string_view line) {
  std::string out(line);
  out += '\n';
  [[maybe_unused]] auto written = ::write(STDERR_FILENO, out.data(), out.size());
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
