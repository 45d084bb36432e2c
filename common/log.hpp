// logfmt lines on stderr: `level=info msg=started service=uploader pid=412`. Each line is
// assembled first and written with one write(2), so lines from the supervisor and its
// children never interleave mid-line.
#pragma once

#include <unistd.h>

#include <string>
#include <string_view>

#include "common/text.hpp"

namespace ipcrt {

class LogLine {
 public:
  LogLine(std::string_view level, std::string_view message) {
    text_ = "level=";
    text_ += level;
    field("msg", message);
  }
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  ~LogLine() {
    text_ += '\n';
    // Logging must never fail the caller; a short write to a full pipe is dropped.
    [[maybe_unused]] auto written = ::write(STDERR_FILENO, text_.data(), text_.size());
  }

  template <class Value>
  LogLine& field(std::string_view key, const Value& value) {
    text_ += ' ';
    text_ += key;
    text_ += '=';
    append_value(cat(value));
    return *this;
  }

  // The line as it would be written, for tests and for callers that route it elsewhere.
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

inline LogLine log_info(std::string_view message) { return LogLine("info", message); }
inline LogLine log_warn(std::string_view message) { return LogLine("warn", message); }
inline LogLine log_error(std::string_view message) { return LogLine("error", message); }

}  // namespace ipcrt
