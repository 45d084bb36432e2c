// `ipcrt logs [-f] [-n N] [--json] [--manifest NAME] [SERVICE]` (SPEC §14): the last lines the
// runtime keeps in memory, of every service and the runtime interleaved in the order they were
// logged, or of one service; with -f, new lines as they are logged until the runtime ends.
// Lines are printed as the runtime wrote them (logfmt, `msg` escaped: safe on a terminal).
#include <cstdio>
#include <string>

#include "common/text.hpp"
#include "runtime/cli/commands.hpp"
#include "runtime/cli/control_output.hpp"

namespace ipcrt::runtime {
namespace {

using control::Json;

std::optional<unsigned long long> count_of(const std::string& text) {
  if (text.empty() || text.size() > 12) return std::nullopt;
  unsigned long long value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned long long>(c - '0');
  }
  return value;
}

// One reply's entries; false once stdout is gone (`ipcrt logs -f | head`).
bool print_entries(const Json& reply, bool json) {
  std::string text;
  if (auto entries = reply.find("entries"); entries != reply.end() && entries->is_array()) {
    for (const auto& entry : *entries) {
      text += json ? control::dump_json(entry) : cell(entry, "line");
      text += '\n';
    }
  }
  if (reply.value("missed", false)) {
    std::fputs(
        "ipcrt: logs: some lines were dropped from the runtime's memory before they could be "
        "sent (this reader was slower than the services wrote)\n",
        stderr);
  }
  if (text.empty()) return true;
  return std::fwrite(text.data(), 1, text.size(), stdout) == text.size() &&
         std::fflush(stdout) == 0;
}

}  // namespace

int command_logs(const CommandLine& command_line) {
  Json parameters = Json::object();
  if (auto lines = command_line.option("--lines")) {
    auto count = count_of(*lines);
    if (!count) {
      std::fprintf(stderr, "ipcrt: logs: -n needs a number of lines (0 or more), not \"%s\"\n",
                   lines->c_str());
      return kExitUsage;
    }
    parameters["lines"] = *count;
  }
  if (!command_line.positionals.empty()) parameters["service"] = command_line.positionals[0];
  const bool json = command_line.flag("--json");
  auto client = connect_runtime(command_line);
  if (!client) return client.error();
  if (!command_line.flag("--follow")) {
    auto reply = call_runtime(*client, command_line, "io.ipcrt.Runtime.GetLogs", parameters);
    if (!reply) return reply.error();
    if (json) {
      print_json(*reply);
    } else {
      print_entries(*reply, false);
    }
    return kExitOk;
  }
  parameters["follow"] = true;
  bool output_gone = false;
  auto ended = stream_runtime(
      *client, command_line, "io.ipcrt.Runtime.GetLogs", parameters,
      [&](const Json& reply) {
        output_gone = !print_entries(reply, json);
        return !output_gone;
      },
      std::nullopt);
  if (!ended) return ended.error();
  if (!output_gone) std::fputs("ipcrt: logs: the runtime has stopped\n", stderr);
  return kExitOk;
}

}  // namespace ipcrt::runtime
