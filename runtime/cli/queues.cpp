// `ipcrt queues [--json] [--manifest NAME]` (SPEC §10): each queue with messages / max, bytes
// queued, owner, mode, and the services granted it, as the kernel sees them now.
#include <cstdio>

#include "common/text.hpp"
#include "runtime/cli/commands.hpp"
#include "runtime/cli/control_output.hpp"

namespace ipcrt::runtime {

int command_queues(const CommandLine& command_line) {
  auto client = connect_runtime(command_line);
  if (!client) return client.error();
  auto reply = call_runtime(*client, command_line, "io.ipcrt.Runtime.GetQueues");
  if (!reply) return reply.error();
  if (command_line.flag("--json")) {
    print_json(*reply);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> problems;
  for (const auto& queue : (*reply)["queues"]) {
    std::vector<std::string> granted;
    for (const auto& grant : queue["grants"]) {
      if (grant.value("owner", false)) continue;
      std::vector<std::string> permissions;
      for (const auto& permission : grant["permissions"]) {
        permissions.push_back(permission.get<std::string>());
      }
      granted.push_back(cat(cell(grant, "service"), "(", join(permissions, ","), ")"));
    }
    const std::string owner = queue["ownerUid"].is_null()
                                  ? cell(queue, "owner")
                                  : cat(cell(queue, "owner"), " (", cell(queue, "ownerUid"), ":",
                                        cell(queue, "ownerGid"), ")");
    rows.push_back({cell(queue, "path"),
                    cat(cell(queue, "messages"), "/", cell(queue, "maxMessages")),
                    cell(queue, "bytes"), owner, cell(queue, "mode"),
                    granted.empty() ? std::string("-") : join(granted, " ")});
    if (queue["problem"].is_string()) {
      problems.push_back(cat(cell(queue, "path"), ": ", cell(queue, "problem")));
    }
  }
  std::string text =
      render_table({"QUEUE", "MESSAGES", "BYTES", "OWNER", "MODE", "GRANTED TO"}, rows);
  for (const auto& problem : problems) text += problem + "\n";
  std::fputs(text.c_str(), stdout);
  return kExitOk;
}

}  // namespace ipcrt::runtime
