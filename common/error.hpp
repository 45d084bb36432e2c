// The error value carried across module boundaries in std::expected: what failed, the errno
// when a syscall failed, and a hint that tells the user what to do about it.
#pragma once

#include <cerrno>
#include <cstring>
#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace ipcrt {

struct Error {
  std::string message;  // what failed, naming the object: "mq_open /telemetry"
  int errnum = 0;       // errno of the failing syscall, 0 when not a syscall failure
  std::string hint;     // how to fix it: "raise fs.mqueue.msg_max in the board profile"

  // "mq_open /telemetry: Permission denied (hint: ...)"
  [[nodiscard]] std::string describe() const {
    std::string text = message;
    if (errnum != 0) {
      text += ": ";
      text += std::strerror(errnum);
    }
    if (!hint.empty()) {
      text += " (hint: ";
      text += hint;
      text += ')';
    }
    return text;
  }

  // The same error seen from a caller that knows more: "board rpi4: write msg_max: ...". The
  // errno and the hint stay, so the innermost cause and its fix still reach the user.
  [[nodiscard]] Error wrap(std::string_view context) const {
    Error wrapped = *this;
    wrapped.message.insert(0, ": ").insert(0, context);
    return wrapped;
  }
};

template <class T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

[[nodiscard]] inline std::unexpected<Error> fail(std::string message, std::string hint = {}) {
  return std::unexpected(Error{std::move(message), 0, std::move(hint)});
}

// Call right after the failing syscall, before anything else can overwrite errno.
[[nodiscard]] inline std::unexpected<Error> fail_errno(std::string message, int errnum = errno,
                                                       std::string hint = {}) {
  return std::unexpected(Error{std::move(message), errnum, std::move(hint)});
}

}  // namespace ipcrt
