#include "runtime/control/client.hpp"

#include <dirent.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/text.hpp"

namespace ipcrt::runtime::control {
namespace {

std::unexpected<Unreachable> unreachable(Unreachable::Kind kind, std::string message) {
  return std::unexpected(Unreachable{kind, std::move(message)});
}

std::string manifest_of(const std::string& path) {
  std::string name = path.substr(path.rfind('/') + 1);
  if (name.ends_with(kControlSocketSuffix)) name.resize(name.size() - kControlSocketSuffix.size());
  return name;
}

}  // namespace

Result<std::vector<std::string>> runtime_names(std::string_view directory) {
  std::vector<std::string> names;
  const std::string path(directory);
  DIR* listing = ::opendir(path.c_str());
  if (listing == nullptr) {
    if (errno == ENOENT) return names;
    return fail_errno(cat("open ", path));
  }
  while (const dirent* entry = ::readdir(listing)) {
    const std::string_view name = entry->d_name;
    if (name.size() > kControlSocketSuffix.size() && name.ends_with(kControlSocketSuffix)) {
      names.emplace_back(name.substr(0, name.size() - kControlSocketSuffix.size()));
    }
  }
  ::closedir(listing);
  std::sort(names.begin(), names.end());
  return names;
}

std::expected<std::string, Unreachable> choose_runtime(const std::optional<std::string>& manifest) {
  // A named runtime needs no listing (a directory that tests or killed runtimes filled with
  // stale files costs more to read than the whole call): only the message when it is missing.
  if (manifest && manifest->find('/') == std::string::npos) {
    const std::string path = control_socket_path(*manifest);
    struct stat info {};
    if (::lstat(path.c_str(), &info) == 0 && S_ISSOCK(info.st_mode)) return path;
  }
  auto names = runtime_names();
  if (!names) return unreachable(Unreachable::Kind::NotRunning, names.error().describe());
  const std::string running = names->empty() ? std::string("none") : join(*names, ", ");
  if (manifest) {
    if (std::find(names->begin(), names->end(), *manifest) != names->end()) {
      return control_socket_path(*manifest);
    }
    return unreachable(Unreachable::Kind::NotRunning,
                       cat("no runtime of manifest \"", *manifest, "\" is running (no ",
                           control_socket_path(*manifest), "; running: ", running, ")"));
  }
  if (names->empty()) {
    return unreachable(Unreachable::Kind::NotRunning,
                       cat("no runtime is running: no control socket in ", kControlDirectory,
                           " (start one with: ipcrt run MANIFEST)"));
  }
  if (names->size() > 1) {
    return unreachable(Unreachable::Kind::Ambiguous, cat("several runtimes are running (", running,
                                                         "): pick one with --manifest NAME"));
  }
  return control_socket_path(names->front());
}

std::expected<ControlClient, Unreachable> ControlClient::connect(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) {
    return unreachable(Unreachable::Kind::NotRunning, cat("socket path too long: ", path));
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  platform::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid())
    return unreachable(Unreachable::Kind::NotRunning, cat("socket: ", std::strerror(errno)));
  int result;
  do {
    result = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
  } while (result != 0 && errno == EINTR);
  if (result == 0) return ControlClient(std::move(fd), path);
  const int saved = errno;
  const std::string manifest = manifest_of(path);
  switch (saved) {
    case EACCES:
    case EPERM:
      return unreachable(Unreachable::Kind::AccessRefused,
                         cat("permission denied on ", path,
                             ": run as root, or as a member of the manifest's control group "
                             "(\"control\": {\"group\": ...}) to read"));
    case ECONNREFUSED:
    case ENOENT:
      return unreachable(
          Unreachable::Kind::NotRunning,
          cat("the runtime of manifest \"", manifest, "\" is not running (", path, ": ",
              std::strerror(saved), "; a runtime that was killed leaves its socket behind)"));
    default:
      return unreachable(Unreachable::Kind::NotRunning,
                         cat("cannot connect to ", path, ": ", std::strerror(saved)));
  }
}

std::expected<Reply, Unreachable> ControlClient::call(std::string_view method,
                                                      const Json& parameters,
                                                      std::chrono::milliseconds timeout) {
  return exchange(method, parameters, false, nullptr, timeout);
}

std::expected<Reply, Unreachable> ControlClient::call_more(
    std::string_view method, const Json& parameters, const ReplyHandler& each,
    std::optional<std::chrono::milliseconds> timeout) {
  return exchange(method, parameters, true, &each, timeout);
}

std::expected<Reply, Unreachable> ControlClient::exchange(
    std::string_view method, const Json& parameters, bool more, const ReplyHandler* each,
    std::optional<std::chrono::milliseconds> timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout.value_or(std::chrono::hours(0));
  const auto remaining_ms = [&] {
    if (!timeout) return -1;  // poll's "no timeout"
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    return static_cast<int>(std::max<long long>(0, left.count()));
  };
  bool streamed = false;  // a reply with continues came: the runtime was serving this call
  const std::string request = encode_call(method, parameters, more);
  for (std::size_t sent = 0; sent < request.size();) {
    const ssize_t count =
        ::send(fd_.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) {
      return unreachable(Unreachable::Kind::Broken, cat("the runtime closed the connection (",
                                                        path_, ": ", std::strerror(errno), ")"));
    }
    sent += static_cast<std::size_t>(count);
  }
  for (;;) {
    while (auto message = input_.next()) {
      auto reply = parse_reply(*message);
      if (!reply) {
        return unreachable(Unreachable::Kind::Broken, cat("the runtime's reply: ", reply.error()));
      }
      if (reply->error) return std::move(*reply);
      if (each != nullptr && !(*each)(*reply)) return std::move(*reply);
      if (!reply->continues) return std::move(*reply);
      streamed = true;
    }
    pollfd ready{fd_.get(), POLLIN, 0};
    const int polled = ::poll(&ready, 1, remaining_ms());
    if (polled < 0 && errno == EINTR) continue;
    if (polled == 0) {
      return unreachable(Unreachable::Kind::Broken,
                         cat("no reply from the runtime within ", timeout->count() / 1000, " s"));
    }
    char buffer[16384];
    const ssize_t count = ::recv(fd_.get(), buffer, sizeof buffer, 0);
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) {
      if (streamed) {
        return unreachable(Unreachable::Kind::Broken,
                           "the runtime closed the connection without a last reply: it was "
                           "killed, or it dropped this reader for not reading its lines");
      }
      // Also what a client sees when the runtime refused it for its connection limits.
      return unreachable(Unreachable::Kind::Broken,
                         cat("the runtime closed the connection before replying: it is shutting "
                             "down, or serves as many clients as it may (16, 4 per user) with "
                             "calls in progress; try again"));
    }
    if (!input_.append(std::string_view(buffer, static_cast<std::size_t>(count)))) {
      return unreachable(Unreachable::Kind::Broken, "the runtime's reply is too large");
    }
  }
}

bool ControlClient::wait_closed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd ready{fd_.get(), POLLIN, 0};
    const int polled = ::poll(&ready, 1, static_cast<int>(left.count()));
    if (polled < 0 && errno == EINTR) continue;
    if (polled <= 0) return false;
    char buffer[4096];
    const ssize_t count = ::recv(fd_.get(), buffer, sizeof buffer, 0);
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) return true;  // anything else it sends is not for us: keep waiting
  }
}

}  // namespace ipcrt::runtime::control
