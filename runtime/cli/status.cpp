// `ipcrt status [SERVICE] [--json] [--manifest NAME]` (SPEC §10): every service with its state,
// main pid, uid, restarts, since when and last exit, and the runtime's own pid, uptime,
// manifest and mode; one service in detail when named.
#include <cstdio>

#include "common/text.hpp"
#include "runtime/cli/commands.hpp"
#include "runtime/cli/control_output.hpp"
#include "runtime/control/timestamps.hpp"

namespace ipcrt::runtime {
namespace {

using control::Json;

// "2026-12-01 14:06:09" of "2026-12-01T14:06:09.123Z", and how long ago.
std::string since_text(const Json& service, bool with_age) {
  const std::string stamp = cell(service, "since");
  if (stamp.size() < 19) return stamp;
  std::string text = stamp.substr(0, 10) + " " + stamp.substr(11, 8);
  if (!with_age) return text;
  if (auto when = control::parse_timestamp(stamp)) {
    const auto age =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - *when);
    text += cat(" UTC (", control::format_duration(age), " ago)");
  }
  return text;
}

std::string last_exit_text(const Json& service) {
  const Json& exit = service["lastExit"];
  if (!exit.is_object()) return "-";
  if (exit["code"].is_number()) return cat("status=", exit["code"].get<long long>());
  return cat("signal=", cell(exit, "signal"));
}

std::string runtime_line(const Json& runtime) {
  const auto uptime = std::chrono::seconds(runtime.value("uptimeSeconds", 0LL));
  return cat("runtime: pid ", cell(runtime, "pid"), ", up ", control::format_duration(uptime),
             ", mode ", cell(runtime, "mode"),
             runtime.value("mediation", false) ? ", mediation on" : ", filters only",
             runtime.value("stopping", false) ? ", shutting down" : "", "\n",
             "manifest: ", cell(runtime, "manifest"), " (", cell(runtime, "manifestPath"), ")\n");
}

void print_all(const Json& reply) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& service : reply["services"]) {
    rows.push_back({cell(service, "name"), cell(service, "state"), cell(service, "mainPid"),
                    cell(service, "uid"), cell(service, "restarts"), since_text(service, false),
                    last_exit_text(service)});
  }
  std::string text = runtime_line(reply["runtime"]) + "\n";
  text += render_table({"SERVICE", "STATE", "PID", "UID", "RESTARTS", "SINCE (UTC)", "LAST EXIT"},
                       rows);
  std::fputs(text.c_str(), stdout);
}

void print_one(const Json& reply) {
  const Json& service = reply["services"][0];
  std::string text = cat(cell(service, "name"), ": ", cell(service, "state"), " since ",
                         since_text(service, true), "\n");
  const std::vector<std::pair<const char*, std::string>> lines = {
      {"main pid", cell(service, "mainPid")},
      {"uid, gid", cat(cell(service, "uid"), ", ", cell(service, "gid"))},
      {"restarts", cell(service, "restarts")},
      {"last exit", last_exit_text(service)},
      {"last failure", cell(service, "lastFailure")},
      {"confinement", cell(service, "confinement")},
      {"control plug", cell(service, "controlAccess")},
      {"readiness", cell(service, "readiness")},
      {"status", cell(service, "statusText")},
      {"denials", cell(service, "denials")},
      {"memory", cell(service, "memoryBytes")},
      {"tasks", cell(service, "tasks")},
      {"oom kills", cell(service, "oomKills")},
      {"forks refused", cell(service, "forksRefused")},
  };
  for (const auto& [label, value] : lines) {
    text +=
        cat("  ", label, ":", std::string(14 - std::string_view(label).size(), ' '), value, "\n");
  }
  text += runtime_line(reply["runtime"]);
  std::fputs(text.c_str(), stdout);
}

}  // namespace

int command_status(const CommandLine& command_line) {
  auto client = connect_runtime(command_line);
  if (!client) return client.error();
  Json parameters = Json::object();
  if (!command_line.positionals.empty()) parameters["service"] = command_line.positionals[0];
  auto reply = call_runtime(*client, command_line, "io.ipcrt.Runtime.GetStatus", parameters);
  if (!reply) return reply.error();
  if (command_line.flag("--json")) {
    print_json(*reply);
  } else if (command_line.positionals.empty()) {
    print_all(*reply);
  } else {
    print_one(*reply);
  }
  return kExitOk;
}

}  // namespace ipcrt::runtime
