// `ipcrt start|stop|restart SERVICE... [--manifest NAME]` and `ipcrt shutdown` (SPEC §10).
// Every name is checked before anything is done, so a typo changes nothing; each operation
// then answers once its service has settled.
#include <algorithm>
#include <cstdio>

#include "common/text.hpp"
#include "runtime/cli/commands.hpp"
#include "runtime/cli/control_output.hpp"

namespace ipcrt::runtime {
namespace {

using control::Json;

struct Operation {
  const char* method;
  const char* done;  // "started"
};

int operate(const CommandLine& command_line, const Operation& operation) {
  auto client = connect_runtime(command_line);
  if (!client) return client.error();
  auto status = call_runtime(*client, command_line, "io.ipcrt.Runtime.GetStatus");
  if (!status) return status.error();
  std::vector<std::string> known;
  for (const auto& service : (*status)["services"]) known.push_back(cell(service, "name"));
  for (const auto& name : command_line.positionals) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::fprintf(stderr, "ipcrt: %s: no service \"%s\" (services: %s); nothing was done\n",
                   command_line.command.c_str(), name.c_str(), join(known, ", ").c_str());
      return kExitBootFailed;
    }
  }
  int result = kExitOk;
  for (const auto& name : command_line.positionals) {
    auto reply = call_runtime(*client, command_line, operation.method, {{"service", name}});
    if (!reply) {
      if (reply.error() == kExitUnreachable) return reply.error();
      result = reply.error();
      continue;
    }
    const Json& service = (*reply)["service"];
    std::string line = cat(operation.done, ' ', name, " (", cell(service, "state"));
    if (service["mainPid"].is_number()) line += cat(", pid ", cell(service, "mainPid"));
    std::printf("%s)\n", line.c_str());
  }
  return result;
}

}  // namespace

int command_start(const CommandLine& command_line) {
  return operate(command_line, {"io.ipcrt.Runtime.StartService", "started"});
}

int command_stop(const CommandLine& command_line) {
  return operate(command_line, {"io.ipcrt.Runtime.StopService", "stopped"});
}

int command_restart(const CommandLine& command_line) {
  return operate(command_line, {"io.ipcrt.Runtime.RestartService", "restarted"});
}

int command_shutdown(const CommandLine& command_line) {
  auto client = connect_runtime(command_line);
  if (!client) return client.error();
  auto status = call_runtime(*client, command_line, "io.ipcrt.Runtime.GetStatus");
  if (!status) return status.error();
  const std::string manifest = cell((*status)["runtime"], "manifest");
  const std::string pid = cell((*status)["runtime"], "pid");
  auto reply = call_runtime(*client, command_line, "io.ipcrt.Runtime.Shutdown");
  if (!reply) return reply.error();
  // The runtime closes every connection as it exits, once its services have stopped.
  if (client->wait_closed(std::chrono::seconds(150))) {
    std::printf("%s stopped (pid %s)\n", manifest.c_str(), pid.c_str());
  } else {
    std::printf("%s is still stopping its services (pid %s): see ipcrt status\n", manifest.c_str(),
                pid.c_str());
  }
  return kExitOk;
}

}  // namespace ipcrt::runtime
