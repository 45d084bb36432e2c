// The varlink wire protocol (https://varlink.org/Method-Call): JSON objects, each terminated by
// a NUL byte, over a stream socket. Pure functions and a framer, no I/O: the server, the client
// and the fuzzer (tests/fuzz/varlink_fuzz.cpp) share them.
#pragma once

#include <cstddef>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/control/json.hpp"

namespace ipcrt::runtime::control {

// At most this much input is held for one connection: a request, its NUL included, or several
// pipelined ones (SPEC §10). Reload carries a path, never a manifest, so this is plenty.
inline constexpr std::size_t kMaxRequestBytes = 64 * 1024;
// Deeper JSON is refused before it is built: no call of this interface nests beyond a few levels.
inline constexpr int kMaxJsonDepth = 32;

// Cuts a byte stream into NUL-terminated messages, holding at most `limit` bytes that are not
// yet taken out with next().
class MessageFramer {
 public:
  explicit MessageFramer(std::size_t limit = kMaxRequestBytes) : limit_(limit) {}

  // Adds received bytes; false when that would hold more than the limit. The stream cannot be
  // resynchronised after that: the connection has to end.
  [[nodiscard]] bool append(std::string_view bytes);
  // The next complete message, without its NUL; nullopt until one is complete.
  [[nodiscard]] std::optional<std::string> next();
  // Bytes held: complete messages not taken yet and the start of an incomplete one.
  [[nodiscard]] std::size_t held() const { return buffer_.size() - start_; }
  [[nodiscard]] std::size_t limit() const { return limit_; }

 private:
  std::string buffer_;
  std::size_t start_ = 0;  // bytes before this were taken by next()
  std::size_t limit_;
};

// A method call as the client sent it.
struct Call {
  std::string method;     // "io.ipcrt.Runtime.GetStatus"
  std::string interface;  // "io.ipcrt.Runtime"
  std::string member;     // "GetStatus"
  Json parameters = Json::object();
  bool oneway = false;  // no reply is wanted
  bool more = false;    // several replies may come (continues)
  bool upgrade = false;
};

// Parses one message as a call. The error says what is wrong with it (InvalidRequest); it never
// echoes the client's bytes, so a hostile message cannot reach a log or a terminal.
[[nodiscard]] std::expected<Call, std::string> parse_call(std::string_view message);

struct Reply {
  Json parameters = Json::object();
  bool continues = false;
  std::optional<std::string> error;  // "io.ipcrt.Runtime.NoSuchService"
};

// Parses one message as a reply (the client's side).
[[nodiscard]] std::expected<Reply, std::string> parse_reply(std::string_view message);

// One message each, NUL included.
[[nodiscard]] std::string encode_call(std::string_view method, const Json& parameters,
                                      bool more = false, bool oneway = false);
[[nodiscard]] std::string encode_reply(const Json& parameters, bool continues = false);
[[nodiscard]] std::string encode_error(std::string_view error, const Json& parameters);

// Varlink's own errors (org.varlink.service) and its naming rules.
inline constexpr const char* kServiceInterface = "org.varlink.service";
inline constexpr const char* kInterfaceNotFound = "org.varlink.service.InterfaceNotFound";
inline constexpr const char* kMethodNotFound = "org.varlink.service.MethodNotFound";
inline constexpr const char* kMethodNotImplemented = "org.varlink.service.MethodNotImplemented";
inline constexpr const char* kInvalidParameter = "org.varlink.service.InvalidParameter";
inline constexpr const char* kExpectedMore = "org.varlink.service.ExpectedMore";

// "io.ipcrt.Runtime": at least two dot-separated words of letters and digits (inner '-' allowed),
// the first starting with a letter.
[[nodiscard]] bool valid_interface_name(std::string_view name);
// "GetStatus": an upper-case letter, then letters and digits.
[[nodiscard]] bool valid_member_name(std::string_view name);

}  // namespace ipcrt::runtime::control
