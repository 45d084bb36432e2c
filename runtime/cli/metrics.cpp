// `ipcrt metrics [--manifest NAME]` (SPEC §10): GetMetrics in the Prometheus text exposition
// format, for a node exporter's textfile collector. A member that is null (a feature not there
// yet) has no sample; a family without samples is left out.
#include <cstdio>

#include "common/text.hpp"
#include "runtime/cli/commands.hpp"
#include "runtime/cli/control_output.hpp"

namespace ipcrt::runtime {
namespace {

using control::Json;

// Label values escape backslash, double quote and newline.
std::string label_value(std::string_view value) {
  std::string escaped;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      escaped += '\\';
      escaped += c;
    } else if (c == '\n') {
      escaped += "\\n";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

std::string sample_value(const Json& value) {
  if (value.is_boolean()) return value.get<bool>() ? "1" : "0";
  return control::dump_json(value);
}

class Exposition {
 public:
  explicit Exposition(std::string manifest) : manifest_(std::move(manifest)) {}

  // One family: `samples` are (extra labels, value) pairs; null values are skipped.
  void family(std::string_view name, std::string_view type, std::string_view help,
              const std::vector<std::pair<std::string, const Json*>>& samples) {
    std::string lines;
    for (const auto& [labels, value] : samples) {
      if (value == nullptr || value->is_null()) continue;
      lines += cat(name, "{manifest=\"", label_value(manifest_), "\"", labels, "} ",
                   sample_value(*value), "\n");
    }
    if (lines.empty()) return;
    text_ += cat("# HELP ", name, ' ', help, "\n# TYPE ", name, ' ', type, '\n', lines);
  }
  [[nodiscard]] const std::string& text() const { return text_; }

 private:
  std::string manifest_;
  std::string text_;
};

// (labels, member) of every element of `items`.
std::vector<std::pair<std::string, const Json*>> each(const Json& items, const char* label,
                                                      const char* label_member,
                                                      const char* member) {
  std::vector<std::pair<std::string, const Json*>> samples;
  for (const auto& item : items) {
    const std::string labels =
        cat(",", label, "=\"", label_value(item.value(label_member, std::string())), "\"");
    auto found = item.find(member);
    samples.emplace_back(labels, found == item.end() ? nullptr : &*found);
  }
  return samples;
}

constexpr const char* kStates[] = {"waiting",    "starting", "ready",  "stopping",
                                   "restarting", "stopped",  "exited", "failed"};

// Each family: its name, type, help, and the member of GetMetrics' reply it reads.
struct Family {
  const char* name;
  const char* type;
  const char* help;
  const char* member;
};

constexpr Family kRuntimeFamilies[] = {
    {"ipcrt_uptime_seconds", "gauge", "Seconds since the runtime started.", "uptimeSeconds"},
    {"ipcrt_control_clients", "gauge", "Control connections open now.", "controlClients"},
    {"ipcrt_control_refused_total", "counter",
     "Control connections refused for the connection limits.", "controlRefused"},
    {"ipcrt_control_evicted_total", "counter", "Idle control connections closed to make room.",
     "controlEvicted"},
    {"ipcrt_log_lines_dropped_total", "counter",
     "Log lines the runtime could not write to its stderr or its log files.", "logLinesDropped"},
    {"ipcrt_log_followers", "gauge", "`ipcrt logs -f` readers now.", "logFollowers"},
    {"ipcrt_log_followers_dropped_total", "counter",
     "`ipcrt logs -f` readers disconnected for not reading.", "logFollowersDropped"},
    {"ipcrt_reloads_total", "counter", "Reloads applied.", "reloads"},
    {"ipcrt_reload_rollbacks_total", "counter", "Reloads rolled back.", "reloadRollbacks"},
};

// After ipcrt_service_up and ipcrt_service_state, which are written by hand.
constexpr Family kServiceFamilies[] = {
    {"ipcrt_service_restarts_total", "counter", "Automatic restarts of the service.", "restarts"},
    {"ipcrt_service_denials_total", "counter", "Denied syscalls reported.", "denials"},
    {"ipcrt_service_denials_suppressed_total", "counter",
     "Denied syscalls not reported by the rate limit.", "deniedSuppressed"},
    {"ipcrt_service_memory_bytes", "gauge", "The service's cgroup memory.current.", "memoryBytes"},
    {"ipcrt_service_memory_max_bytes", "gauge", "The service's cgroup memory.max.",
     "memoryMaxBytes"},
    {"ipcrt_service_tasks", "gauge", "The service's cgroup pids.current.", "tasks"},
    {"ipcrt_service_oom_kills_total", "counter", "Out-of-memory kills in the service.", "oomKills"},
    {"ipcrt_service_forks_refused_total", "counter",
     "Forks in the service refused by its pids-max.", "forksRefused"},
    {"ipcrt_service_cpu_seconds_total", "counter", "CPU time of the service.", "cpuSeconds"},
    {"ipcrt_service_log_bytes_total", "counter", "Bytes the service logged.", "logBytes"},
    {"ipcrt_service_log_lines_total", "counter", "Lines the service logged.", "logLines"},
    {"ipcrt_service_log_lines_truncated_total", "counter", "Lines of the service cut at 4 KiB.",
     "logLinesTruncated"},
    {"ipcrt_service_log_pauses_total", "counter",
     "Times the service's output went over its budget and was left unread.", "logPauses"},
    {"ipcrt_service_log_held_back_bytes_total", "counter",
     "Bytes of the service's output read late, during those pauses.", "logHeldBackBytes"},
    {"ipcrt_service_log_paused_seconds_total", "counter",
     "How long the service's output was left unread in all.", "logPausedSeconds"},
    {"ipcrt_service_log_ring_bytes", "gauge", "The service's share of the log ring in use.",
     "logRingBytes"},
};

constexpr Family kQueueFamilies[] = {
    {"ipcrt_queue_messages", "gauge", "Messages in the queue now.", "messages"},
    {"ipcrt_queue_max_messages", "gauge", "The queue's capacity in messages.", "maxMessages"},
    {"ipcrt_queue_bytes", "gauge", "Bytes of the messages in the queue now.", "bytes"},
};

}  // namespace

int command_metrics(const CommandLine& command_line) {
  auto client = connect_runtime(command_line);
  if (!client) return client.error();
  auto reply = call_runtime(*client, command_line, "io.ipcrt.Runtime.GetMetrics");
  if (!reply) return reply.error();
  const Json& runtime = (*reply)["runtime"];
  const Json& services = (*reply)["services"];
  const Json& queues = (*reply)["queues"];
  Exposition out(runtime.value("manifest", std::string()));

  for (const auto& family : kRuntimeFamilies) {
    out.family(family.name, family.type, family.help,
               std::vector<std::pair<std::string, const Json*>>{{"", &runtime[family.member]}});
  }

  out.family("ipcrt_service_up", "gauge", "1 while the service's main process runs.",
             each(services, "service", "name", "up"));
  // One sample per state, 1 for the current one, as node exporter's systemd collector does.
  std::vector<Json> flags;
  flags.reserve(services.size() * std::size(kStates));
  std::vector<std::pair<std::string, const Json*>> states;
  for (const auto& service : services) {
    for (const char* state : kStates) {
      flags.emplace_back(service.value("state", std::string()) == state ? 1 : 0);
    }
  }
  std::size_t flag = 0;
  for (const auto& service : services) {
    for (const char* state : kStates) {
      states.emplace_back(cat(",service=\"", label_value(service.value("name", std::string())),
                              "\",state=\"", state, "\""),
                          &flags[flag++]);
    }
  }
  out.family("ipcrt_service_state", "gauge", "The service's state (1 for the current one).",
             states);
  for (const auto& family : kServiceFamilies) {
    out.family(family.name, family.type, family.help,
               each(services, "service", "name", family.member));
  }

  for (const auto& family : kQueueFamilies) {
    out.family(family.name, family.type, family.help, each(queues, "queue", "path", family.member));
  }
  std::fputs(out.text().c_str(), stdout);
  return kExitOk;
}

}  // namespace ipcrt::runtime
