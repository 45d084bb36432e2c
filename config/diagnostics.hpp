// Compiler-style diagnostics for manifests and board profiles (SPEC §2.6): every problem is
// collected, not just the first, and printed as `FILE: /json/pointer: error: message`, or with
// line and column for JSON syntax errors. A hint, when there is one, follows the message as
// ` (hint: ...)`, the shape Error::describe() gives every other error of the runtime.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/text.hpp"

namespace ipcrt::config {

enum class Severity { Error, Warning };

struct Diagnostic {
  Severity severity = Severity::Error;
  std::string pointer;  // JSON pointer; empty for the whole document
  std::string message;  // says what is wrong
  std::string hint;     // how to fix it, when the message does not already say so
  int line = 0;         // set for syntax errors only (1-based)
  int column = 0;

  // The message with its hint: "unknown key \"servces\" (hint: did you mean \"services\"?)".
  [[nodiscard]] std::string text() const {
    if (hint.empty()) return message;
    return message + " (hint: " + hint + ')';
  }
};

class Diagnostics {
 public:
  void error(std::string pointer, std::string message, std::string hint = {}) {
    add(Severity::Error, std::move(pointer), std::move(message), std::move(hint));
  }
  void warning(std::string pointer, std::string message, std::string hint = {}) {
    add(Severity::Warning, std::move(pointer), std::move(message), std::move(hint));
  }
  void syntax_error(int line, int column, std::string message) {
    items_.push_back({Severity::Error, {}, std::move(message), {}, line, column});
  }
  void append(const Diagnostics& other) {
    items_.insert(items_.end(), other.items_.begin(), other.items_.end());
  }

  [[nodiscard]] bool has_errors() const {
    for (const auto& item : items_) {
      if (item.severity == Severity::Error) return true;
    }
    return false;
  }
  [[nodiscard]] const std::vector<Diagnostic>& items() const { return items_; }

  // One line per diagnostic, each ending in '\n':
  //   gateway.json: /services/a/plugs/b: error: no slot with posix-mq identifier "b"
  //   gateway.json:3:14: error: syntax error: unexpected '}'
  [[nodiscard]] std::string format(const std::string& file) const {
    std::string text;
    for (const auto& item : items_) {
      text += file;
      if (item.line > 0) {
        text += ':' + std::to_string(item.line) + ':' + std::to_string(item.column);
      } else {
        text += ": ";
        text += item.pointer.empty() ? "/" : item.pointer;
      }
      text += item.severity == Severity::Error ? ": error: " : ": warning: ";
      text += item.text();
      text += '\n';
    }
    return text;
  }

 private:
  void add(Severity severity, std::string pointer, std::string message, std::string hint) {
    items_.push_back({severity, std::move(pointer), std::move(message), std::move(hint), 0, 0});
  }

  std::vector<Diagnostic> items_;
};

using ipcrt::pointer_segment;  // common/text.hpp

}  // namespace ipcrt::config
