// `ipcrt reload [MANIFEST] [--confirm-ms N] [--manifest NAME]` (SPEC §12): a thin client of
// the runtime's Reload. The runtime reads the file itself, so the path goes absolute; the
// reply comes once the reload is confirmed or rolled back, which takes the confirm window.
#include <limits.h>
#include <stdlib.h>

#include <charconv>
#include <cstdio>

#include "common/text.hpp"
#include "runtime/cli/commands.hpp"
#include "runtime/cli/control_output.hpp"
#include "runtime/control/methods.hpp"

namespace ipcrt::runtime {
namespace {

using control::Json;

std::vector<std::string> strings_of(const Json& object, const char* key) {
  std::vector<std::string> found;
  if (auto list = object.find(key); list != object.end() && list->is_array()) {
    for (const auto& item : *list) {
      if (item.is_string()) found.push_back(item.get<std::string>());
    }
  }
  return found;
}

std::string text_of(const Json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

int command_reload(const CommandLine& command_line) {
  Json parameters = Json::object();
  long long confirm_ms = 30000;
  if (auto given = command_line.option("--confirm-ms")) {
    const auto* end = given->data() + given->size();
    auto parsed = std::from_chars(given->data(), end, confirm_ms);
    if (parsed.ec != std::errc() || parsed.ptr != end || confirm_ms < 0 ||
        confirm_ms > 3600 * 1000) {
      std::fprintf(stderr, "ipcrt: reload: --confirm-ms wants milliseconds (0 to 3600000), not %s\n",
                   given->c_str());
      return kExitUsage;
    }
  }
  parameters["confirmMs"] = confirm_ms;
  if (!command_line.positionals.empty()) {
    char resolved[PATH_MAX];
    const std::string& path = command_line.positionals.front();
    if (::realpath(path.c_str(), resolved) == nullptr) {
      std::fprintf(stderr, "ipcrt: reload: %s: no such file; nothing was changed\n", path.c_str());
      return kExitInvalidManifest;
    }
    parameters["manifest"] = std::string(resolved);
  }
  auto client = connect_runtime(command_line);
  if (!client) return client.error();
  // Stopping, starting and the confirm window: never shorter than what the runtime needs.
  const auto timeout = std::chrono::milliseconds(confirm_ms) + std::chrono::minutes(5);
  auto reply = client->call("io.ipcrt.Runtime.Reload", parameters, timeout);
  if (!reply) {
    std::fprintf(stderr, "ipcrt: reload: %s\n", reply.error().message.c_str());
    return kExitUnreachable;
  }
  const Json& answer = reply->parameters;
  if (!reply->error) {
    const auto started = strings_of(answer, "started");
    const auto stopped = strings_of(answer, "stopped");
    const auto restarted = strings_of(answer, "restarted");
    const auto unchanged = strings_of(answer, "unchanged");
    auto list = [](const std::vector<std::string>& names) {
      return names.empty() ? std::string("-") : join(names, ", ");
    };
    std::printf("reloaded: started %s; stopped %s; restarted %s; unchanged %s\n",
                list(started).c_str(), list(stopped).c_str(), list(restarted).c_str(),
                list(unchanged).c_str());
    return kExitOk;
  }
  const std::string& name = *reply->error;
  if (name == control::kInvalidManifest) {
    for (const auto& line : strings_of(answer, "diagnostics")) {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
    std::fprintf(stderr, "ipcrt: reload: %s is invalid; nothing was changed\n",
                 text_of(answer, "manifest").c_str());
    return kExitInvalidManifest;
  }
  if (name == control::kReloadRefused) {
    for (const auto& line : strings_of(answer, "diagnostics")) {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
    std::fprintf(stderr, "ipcrt: reload: refused: %s; nothing was changed\n",
                 text_of(answer, "reason").c_str());
    return kExitBootFailed;
  }
  if (name == control::kReloadRolledBack) {
    const bool restored = answer.value("restored", false);
    std::fprintf(stderr, "ipcrt: reload: rolled back: %s; %s\n", text_of(answer, "reason").c_str(),
                 restored ? "the previous manifest runs again"
                          : "putting the previous manifest back failed too: see ipcrt status");
    return restored ? kExitBootFailed : kExitServiceFailed;
  }
  if (name == control::kPermissionDenied) {
    std::fprintf(stderr, "ipcrt: reload: permission denied: %s\n", text_of(answer, "reason").c_str());
    return kExitUnreachable;
  }
  std::fprintf(stderr, "ipcrt: reload: the runtime answered %s %s\n", name.c_str(),
               control::dump_json(answer).c_str());
  return kExitBootFailed;
}

}  // namespace ipcrt::runtime
