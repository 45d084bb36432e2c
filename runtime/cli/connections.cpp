// `ipcrt connections [--json] [--manifest NAME]` (SPEC §10), as `snap connections` prints
// them: interface, plug, slot, notes.
#include <cstdio>

#include "runtime/cli/commands.hpp"
#include "runtime/cli/control_output.hpp"

namespace ipcrt::runtime {

int command_connections(const CommandLine& command_line) {
  auto client = connect_runtime(command_line);
  if (!client) return client.error();
  auto reply = call_runtime(*client, command_line, "io.ipcrt.Runtime.GetConnections");
  if (!reply) return reply.error();
  if (command_line.flag("--json")) {
    print_json(*reply);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& connection : (*reply)["connections"]) {
    std::string notes = connection.value("automatic", false) ? "auto" : "manual";
    if (connection["slot"].is_null()) notes = "unconnected";
    if (connection["access"].is_string()) notes = "access=" + cell(connection, "access");
    rows.push_back(
        {cell(connection, "interface"), cell(connection, "plug"), cell(connection, "slot"), notes});
  }
  std::fputs(render_table({"INTERFACE", "PLUG", "SLOT", "NOTES"}, rows).c_str(), stdout);
  return kExitOk;
}

}  // namespace ipcrt::runtime
