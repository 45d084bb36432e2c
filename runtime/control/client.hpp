// The client side of the control socket, for the CLI's control commands: finding the runtime,
// connecting, calling. Blocking, with a deadline: a command waits for one runtime, never the
// reverse (the server never waits for a client).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "platform/fd.hpp"
#include "runtime/control/json.hpp"
#include "runtime/control/socket_path.hpp"
#include "runtime/control/varlink_protocol.hpp"

namespace ipcrt::runtime::control {

// The manifests whose runtimes have a control socket in /run/ipcrt (a runtime that was killed
// may have left one behind), sorted.
[[nodiscard]] Result<std::vector<std::string>> runtime_names(
    std::string_view directory = kControlDirectory);

// What went wrong reaching a runtime: SPEC §7's exit 5, except Ambiguous, a usage error (2).
struct Unreachable {
  // NotRunning: no socket or nobody serves it; AccessRefused: the socket's mode refused us;
  // Ambiguous: several runtimes and none named; Broken: the runtime hung up or replied nonsense.
  enum class Kind { NotRunning, AccessRefused, Ambiguous, Broken };
  Kind kind = Kind::NotRunning;
  std::string message;  // what happened, and what to do
};

// The socket of `manifest`, or of the only runtime when none is named.
[[nodiscard]] std::expected<std::string, Unreachable> choose_runtime(
    const std::optional<std::string>& manifest);

class ControlClient {
 public:
  [[nodiscard]] static std::expected<ControlClient, Unreachable> connect(const std::string& path);

  // One call, its one reply (the last one of a streamed call). `timeout` bounds the wait for
  // the whole reply.
  [[nodiscard]] std::expected<Reply, Unreachable> call(
      std::string_view method, const Json& parameters = Json::object(),
      std::chrono::milliseconds timeout = std::chrono::seconds(150));

  // A call with more (`ipcrt logs`): `each` gets every reply as it comes, the last one (without
  // continues) included, and returns false to stop reading. Returns the last reply, an error
  // reply, or why the stream broke off. Without `timeout` it waits as long as the runtime
  // streams (a follow).
  using ReplyHandler = std::function<bool(const Reply&)>;
  [[nodiscard]] std::expected<Reply, Unreachable> call_more(
      std::string_view method, const Json& parameters, const ReplyHandler& each,
      std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  // Waits until the runtime closes the connection (it does when it exits); false on timeout.
  [[nodiscard]] bool wait_closed(std::chrono::milliseconds timeout);

 private:
  // A hostile or broken server cannot make a client hold more than this.
  static constexpr std::size_t kMaxReplyBytes = 64 * 1024 * 1024;

  [[nodiscard]] std::expected<Reply, Unreachable> exchange(
      std::string_view method, const Json& parameters, bool more, const ReplyHandler* each,
      std::optional<std::chrono::milliseconds> timeout);

  ControlClient(platform::UniqueFd fd, std::string path)
      : fd_(std::move(fd)), path_(std::move(path)) {}
  platform::UniqueFd fd_;
  std::string path_;
  MessageFramer input_{kMaxReplyBytes};
};

}  // namespace ipcrt::runtime::control
