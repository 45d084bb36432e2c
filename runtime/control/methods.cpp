// The method handlers and the replies they build. Reply members follow the IDL's order and
// every member the IDL declares is present, null where a later feature will fill it.
#include "runtime/control/methods.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "common/text.hpp"
#include "runtime/control/interface_texts.hpp"
#include "runtime/control/timestamps.hpp"
#include "runtime/logs/logs.hpp"

#ifndef IPCRT_VERSION
#define IPCRT_VERSION "unknown"
#endif

namespace ipcrt::runtime::control {
namespace {

// Replies of a pattern slot list at most this many of its queues.
constexpr std::size_t kMaxQueuesPerPattern = 256;

std::string signal_name(int signal) {
  const char* abbreviation = ::sigabbrev_np(signal);
  return abbreviation != nullptr ? cat("SIG", abbreviation) : std::to_string(signal);
}

std::string octal_mode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

Json optional_number(const std::optional<std::uint64_t>& value) {
  return value ? Json(*value) : Json(nullptr);
}

// What the service's cgroup says now (SPEC §13); all unset without cgroups.
ServiceUsage usage_of(const RuntimeView& view, const std::string& service) {
  return view.context.cgroups != nullptr ? view.context.cgroups->usage(service) : ServiceUsage{};
}

Json exit_json(const std::optional<int>& wait_status) {
  if (!wait_status) return nullptr;
  Json exit = Json::object();
  if (WIFEXITED(*wait_status)) {
    exit["code"] = WEXITSTATUS(*wait_status);
    exit["signal"] = nullptr;
  } else {
    exit["code"] = nullptr;
    exit["signal"] = signal_name(WTERMSIG(*wait_status));
  }
  return exit;
}

std::vector<std::string> service_names(const RuntimeView& view) {
  std::vector<std::string> names;
  for (const auto& status : view.supervisor.status()) names.push_back(status.name);
  return names;
}

std::optional<std::string> string_parameter(const Exchange& exchange, const char* name) {
  auto it = exchange.call().parameters.find(name);
  if (it == exchange.call().parameters.end() || it->is_null()) return std::nullopt;
  return it->get<std::string>();
}

Json runtime_json(const RuntimeView& view) {
  const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::steady_clock::now() - view.started);
  Json runtime = Json::object();
  runtime["pid"] = ::getpid();
  runtime["version"] = IPCRT_VERSION;
  runtime["manifest"] = view.context.manifest->name;
  runtime["manifestPath"] = view.context.manifest_path;
  runtime["mode"] = ::getpid() == 1 ? "pid1" : "host";
  runtime["mediation"] = view.context.mediation;
  runtime["startedAt"] = format_timestamp(view.started_wall);
  runtime["uptimeSeconds"] = uptime.count();
  runtime["stopping"] = view.supervisor.shutting_down();
  return runtime;
}

// ---- org.varlink.service

void get_info(RuntimeView&, Exchange& exchange) {
  Json info = Json::object();
  info["vendor"] = "ipcrt";
  info["product"] = "ipcrt";
  info["version"] = IPCRT_VERSION;
  info["url"] = "https://ipcrt.invalid/";
  info["interfaces"] = Json::array({kServiceInterface, kRuntimeInterface});
  exchange.reply(std::move(info));
}

void get_interface_description(RuntimeView&, Exchange& exchange) {
  const std::string name = exchange.call().parameters.at("interface").get<std::string>();
  std::string_view text;
  if (name == kRuntimeInterface) text = runtime_interface_text();
  if (name == kServiceInterface) text = service_interface_text();
  if (text.empty()) {
    exchange.error(kInterfaceNotFound, {{"interface", name}});
    return;
  }
  exchange.reply({{"description", text}});
}

// ---- io.ipcrt.Runtime: reading

void get_status(RuntimeView& view, Exchange& exchange) {
  const auto only = string_parameter(exchange, "service");
  Json services = Json::array();
  for (const auto& status : view.supervisor.status()) {
    if (only && status.name != *only) continue;
    services.push_back(service_json(view, status));
  }
  if (only && services.empty()) {
    exchange.error(kNoSuchService, no_such_service(view, *only));
    return;
  }
  Json reply = Json::object();
  reply["runtime"] = runtime_json(view);
  reply["services"] = std::move(services);
  exchange.reply(std::move(reply));
}

Json connection_json(std::string_view interface, std::string plug, Json slot, bool automatic,
                     Json access) {
  Json connection = Json::object();
  connection["interface"] = interface;
  connection["plug"] = std::move(plug);
  connection["slot"] = std::move(slot);
  connection["automatic"] = automatic;
  connection["access"] = std::move(access);
  return connection;
}

void get_connections(RuntimeView& view, Exchange& exchange) {
  const auto& planned = view.context.plan->connections;
  Json connections = Json::array();
  for (const auto& service : view.context.manifest->services) {
    for (const auto& plug : service.plugs) {
      const std::string plug_ref = service.name + ":" + plug.name;
      bool connected = false;
      for (const auto& connection : planned) {
        if (connection.plug_service != service.name || connection.plug != plug.name) continue;
        connected = true;
        connections.push_back(connection_json(config::interface_name(connection.interface),
                                              plug_ref, connection.slot_ref(), connection.automatic,
                                              nullptr));
      }
      if (!connected) {
        connections.push_back(connection_json(config::interface_name(plug.interface), plug_ref,
                                              nullptr, false, nullptr));
      }
    }
    if (const auto& control = service.control_plug) {
      connections.push_back(connection_json(config::kControlInterface,
                                            service.name + ":" + control->name,
                                            std::string(":") + config::kControlInterface, false,
                                            config::control_access_name(control->access)));
    }
  }
  exchange.reply({{"connections", std::move(connections)}});
}

Json grants_json(const RuntimeView& view, const std::string& path) {
  Json grants = Json::array();
  for (const auto& service : view.context.plan->services) {
    for (const auto& grant : service.queues) {
      if (grant.path != path) continue;
      Json entry = Json::object();
      entry["service"] = service.name;
      entry["permissions"] = config::permission_names(
          grant.owner ? static_cast<unsigned>(config::kPermAll) : grant.permissions);
      entry["owner"] = grant.owner;
      grants.push_back(std::move(entry));
    }
  }
  return grants;
}

Json queue_json(const PlannedQueue& planned, const std::string& path, const QueueObservation& seen,
                Json grants) {
  const auto& attributes = seen.attributes;
  Json queue = Json::object();
  queue["path"] = path;
  queue["slot"] = planned.slot;
  queue["owner"] = planned.owner_service;
  queue["ownerUid"] = attributes ? Json(attributes->owner_uid) : Json(nullptr);
  queue["ownerGid"] = attributes ? Json(attributes->owner_gid) : Json(nullptr);
  queue["mode"] = attributes ? Json(octal_mode(attributes->mode)) : Json(nullptr);
  queue["messages"] = attributes ? Json(attributes->current_messages) : Json(nullptr);
  queue["maxMessages"] = attributes ? Json(attributes->max_messages) : Json(nullptr);
  queue["messageSize"] = attributes ? Json(attributes->message_size) : Json(nullptr);
  queue["bytes"] = optional_number(seen.bytes);
  queue["grants"] = std::move(grants);
  queue["openedBy"] = nullptr;
  queue["problem"] = seen.problem.empty() ? Json(nullptr) : Json(seen.problem);
  return queue;
}

bool is_pattern(const std::string& path) {
  return !path.empty() && path.back() == '*';
}

// Every queue of the plan with what the kernel says of it; a pattern slot's queues are those
// that exist now.
template <class Visit>
void for_each_queue(const RuntimeView& view, Visit visit) {
  for (const auto& planned : view.context.plan->queues) {
    if (!is_pattern(planned.path)) {
      visit(planned, planned.path, view.census.observe(planned.path));
      continue;
    }
    const std::string prefix = planned.path.substr(0, planned.path.size() - 1);
    const auto existing = view.census.existing_with_prefix(prefix, kMaxQueuesPerPattern);
    for (const auto& path : existing) visit(planned, path, view.census.observe(path));
    if (existing.empty()) {
      QueueObservation none;
      none.problem = view.census.sees_bytes()
                         ? "a pattern: no queue matches it now"
                         : "a pattern: its queues cannot be listed without an mqueue filesystem";
      visit(planned, planned.path, none);
    }
  }
}

void get_queues(RuntimeView& view, Exchange& exchange) {
  Json queues = Json::array();
  for_each_queue(view, [&](const PlannedQueue& planned, const std::string& path,
                           const QueueObservation& seen) {
    queues.push_back(queue_json(planned, path, seen, grants_json(view, planned.path)));
  });
  exchange.reply({{"queues", std::move(queues)}});
}

void get_logs(RuntimeView& view, Exchange& exchange) {
  const Call& call = exchange.call();
  const Json& parameters = call.parameters;
  const bool follow = parameters.contains("follow") && parameters["follow"].is_boolean() &&
                      parameters["follow"].get<bool>();
  if (follow && !call.more) {
    exchange.error(kExpectedMore, Json::object());
    return;
  }
  std::size_t count = 100;
  if (auto lines = parameters.find("lines"); lines != parameters.end() && !lines->is_null()) {
    if (lines->get<long long>() < 0) {
      exchange.error(kInvalidParameter, {{"parameter", "lines"}});
      return;
    }
    count = static_cast<std::size_t>(
        std::min<unsigned long long>(lines->get<unsigned long long>(), SIZE_MAX));
  }
  const auto only = string_parameter(exchange, "service");
  if (only && !find_status(view, *only)) {
    exchange.error(kNoSuchService, no_such_service(view, *only));
    return;
  }
  std::vector<LogRecord> records;
  if (view.context.logs != nullptr) {
    auto last = view.context.logs->last(count, only);
    if (!last) {
      exchange.error(kNoSuchService, no_such_service(view, only.value_or("")));
      return;
    }
    records = std::move(*last);
  }
  auto page = [&](std::size_t from, std::size_t to) {
    Json entries = Json::array();
    for (std::size_t i = from; i < to; ++i) entries.push_back(log_entry_json(records[i]));
    return Json{{"entries", std::move(entries)}, {"missed", false}};
  };
  if (!call.more) {
    exchange.reply(page(0, records.size()));
    return;
  }
  // Batches, the last one also when there are none: a follower learns that it is following.
  std::size_t from = 0;
  while (records.size() - from > kLogBatch) {
    exchange.stream(page(from, from + kLogBatch));
    from += kLogBatch;
  }
  if (!follow || view.context.logs == nullptr) {
    exchange.reply(page(from, records.size()));
    return;
  }
  exchange.stream(page(from, records.size()));
  // In the same turn of the loop as last(): no line falls between the two.
  exchange.follow_logs(only, view.context.logs->next_seq());
}

void get_metrics(RuntimeView& view, Exchange& exchange) {
  const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::steady_clock::now() - view.started);
  Json runtime = Json::object();
  runtime["manifest"] = view.context.manifest->name;
  runtime["uptimeSeconds"] = uptime.count();
  runtime["controlClients"] = view.counters.clients;
  runtime["controlRefused"] = view.counters.refused;
  runtime["controlEvicted"] = view.counters.evicted;
  const Logs* logs = view.context.logs;
  runtime["logLinesDropped"] =
      logs != nullptr ? Json(logs->stderr_lines_lost() + logs->file_lines_lost()) : Json(nullptr);
  runtime["logFollowers"] = logs != nullptr ? Json(logs->followers()) : Json(nullptr);
  runtime["logFollowersDropped"] =
      logs != nullptr ? Json(view.counters.followers_dropped) : Json(nullptr);
  if (const ReloadCounts* counts = view.context.reload_counts) {
    runtime["reloads"] = counts->reloads;
    runtime["reloadRollbacks"] = counts->rollbacks;
  } else {
    runtime["reloads"] = nullptr;
    runtime["reloadRollbacks"] = nullptr;
  }

  Json services = Json::array();
  for (const auto& status : view.supervisor.status()) {
    Json service = Json::object();
    service["name"] = status.name;
    service["state"] = service_state_name(status.state);
    service["up"] = status.pid > 0;
    service["restarts"] = status.restarts;
    const auto stats = logs != nullptr ? logs->stats(status.name) : Result<ServiceLogStats>();
    const bool counted = logs != nullptr && stats.has_value();
    auto counter = [&](std::uint64_t value) { return counted ? Json(value) : Json(nullptr); };
    // Denials as mediation reports them (SPEC §6): a filter's plain EPERM is not seen.
    const bool denials = counted && view.context.mediation;
    service["denials"] = denials ? Json(stats->denials) : Json(nullptr);
    service["deniedSuppressed"] = denials ? Json(stats->denials_suppressed) : Json(nullptr);
    const ServiceUsage usage = usage_of(view, status.name);
    service["memoryBytes"] = optional_number(usage.memory_bytes);
    service["memoryMaxBytes"] = optional_number(usage.memory_max);
    service["tasks"] = optional_number(usage.tasks);
    service["oomKills"] = optional_number(usage.oom_kills);
    service["forksRefused"] = optional_number(usage.forks_refused);
    service["cpuSeconds"] = nullptr;
    service["logBytes"] = counter(counted ? stats->bytes : 0);
    service["logLines"] = counter(counted ? stats->lines : 0);
    service["logLinesTruncated"] = counter(counted ? stats->truncated : 0);
    service["logPauses"] = counter(counted ? stats->pauses : 0);
    service["logHeldBackBytes"] = counter(counted ? stats->held_back_bytes : 0);
    service["logPausedSeconds"] =
        counted ? Json(static_cast<double>(stats->paused_ms) / 1000.0) : Json(nullptr);
    service["logRingBytes"] = counter(counted ? stats->ring_bytes : 0);
    services.push_back(std::move(service));
  }

  Json queues = Json::array();
  for_each_queue(view,
                 [&](const PlannedQueue&, const std::string& path, const QueueObservation& seen) {
                   if (!seen.attributes)
                     return;  // a pattern with no queue, or a queue that is gone
                   Json queue = Json::object();
                   queue["path"] = path;
                   queue["messages"] = seen.attributes->current_messages;
                   queue["maxMessages"] = seen.attributes->max_messages;
                   queue["bytes"] = optional_number(seen.bytes);
                   queues.push_back(std::move(queue));
                 });

  Json reply = Json::object();
  reply["runtime"] = std::move(runtime);
  reply["services"] = std::move(services);
  reply["queues"] = std::move(queues);
  exchange.reply(std::move(reply));
}

// ---- io.ipcrt.Runtime: acting

void operate(RuntimeView& view, Exchange& exchange, ServiceOperation operation) {
  const std::string name = exchange.call().parameters.at("service").get<std::string>();
  const auto before = find_status(view, name);
  if (!before) {
    exchange.error(kNoSuchService, no_such_service(view, name));
    return;
  }
  Status done;
  switch (operation) {
    case ServiceOperation::Start:
      done = view.supervisor.start_service(name);
      break;
    case ServiceOperation::Stop:
      done = view.supervisor.stop_service(name);
      break;
    case ServiceOperation::Restart:
      done = view.supervisor.restart_service(name);
      break;
  }
  if (!done) {
    exchange.error(kOperationFailed,
                   {{"service", name}, {"reason", done.error().describe()}, {"status", nullptr}});
    return;
  }
  // The process that has to be replaced before the operation counts as done: a restart's, or a
  // start's of a service that was still stopping (it ends, then starts again).
  const bool replaces =
      operation == ServiceOperation::Restart ||
      (operation == ServiceOperation::Start && before->state == ServiceState::Stopping);
  exchange.await(operation, name, replaces ? before->pid : 0);
}

void start_service(RuntimeView& view, Exchange& exchange) {
  operate(view, exchange, ServiceOperation::Start);
}
void stop_service(RuntimeView& view, Exchange& exchange) {
  operate(view, exchange, ServiceOperation::Stop);
}
void restart_service(RuntimeView& view, Exchange& exchange) {
  operate(view, exchange, ServiceOperation::Restart);
}

void shutdown(RuntimeView& view, Exchange& exchange) {
  exchange.reply(Json::object());  // queued before the stops begin
  view.supervisor.shutdown();
}

void reload(RuntimeView& view, Exchange& exchange) {
  if (!view.context.reload) {
    exchange.error(kReloadRefused, {{"reason", "this runtime cannot reload"}});
    return;
  }
  const Json& parameters = exchange.call().parameters;
  std::string path;
  if (auto found = parameters.find("manifest"); found != parameters.end() && found->is_string()) {
    path = found->get<std::string>();
  }
  std::chrono::milliseconds confirm{30000};
  if (auto found = parameters.find("confirmMs");
      found != parameters.end() && found->is_number_integer()) {
    const auto value = found->get<long long>();
    if (value < 0 || value > 3600 * 1000) {
      exchange.error(kReloadRefused,
                     {{"reason", "confirmMs must be between 0 and 3600000"}, {"diagnostics", nullptr}});
      return;
    }
    confirm = std::chrono::milliseconds(value);
  }
  view.context.reload(std::move(path), confirm, exchange.defer());
}

constexpr MethodSpec kMethods[] = {
    {kServiceInterface, "GetInfo", AccessLevel::None, get_info},
    {kServiceInterface, "GetInterfaceDescription", AccessLevel::None, get_interface_description},
    {kRuntimeInterface, "GetStatus", AccessLevel::Observe, get_status},
    {kRuntimeInterface, "GetConnections", AccessLevel::Observe, get_connections},
    {kRuntimeInterface, "GetQueues", AccessLevel::Observe, get_queues},
    {kRuntimeInterface, "StartService", AccessLevel::Manage, start_service},
    {kRuntimeInterface, "StopService", AccessLevel::Manage, stop_service},
    {kRuntimeInterface, "RestartService", AccessLevel::Manage, restart_service},
    {kRuntimeInterface, "Shutdown", AccessLevel::Root, shutdown},
    {kRuntimeInterface, "Reload", AccessLevel::Root, reload},
    {kRuntimeInterface, "GetLogs", AccessLevel::Observe, get_logs},
    {kRuntimeInterface, "GetMetrics", AccessLevel::Observe, get_metrics},
};

const Result<idl::Interface>& parsed(std::string_view text) {
  // One parse per text for the life of the process; both texts are constants.
  static const Result<idl::Interface> runtime = idl::parse_interface(runtime_interface_text());
  static const Result<idl::Interface> service = idl::parse_interface(service_interface_text());
  return text == runtime_interface_text() ? runtime : service;
}

}  // namespace

std::span<const MethodSpec> method_table() {
  return kMethods;
}

const MethodSpec* find_method(std::string_view interface, std::string_view name) {
  for (const auto& method : kMethods) {
    if (method.interface == interface && method.name == name) return &method;
  }
  return nullptr;
}

const idl::Interface* served_interface(std::string_view name) {
  for (auto text : {runtime_interface_text(), service_interface_text()}) {
    const auto& interface = parsed(text);
    if (interface && interface->name == name) return &*interface;
  }
  return nullptr;
}

Status check_method_table() {
  for (auto text : {runtime_interface_text(), service_interface_text()}) {
    const auto& interface = parsed(text);
    if (!interface) return std::unexpected(interface.error());
    for (const auto& method : interface->methods) {
      if (find_method(interface->name, method.name) == nullptr) {
        return fail(cat(interface->name, ".", method.name, " is in the IDL but not served"));
      }
    }
  }
  for (const auto& method : kMethods) {
    const idl::Interface* interface = served_interface(method.interface);
    if (interface == nullptr || interface->find_method(method.name) == nullptr) {
      return fail(cat(method.interface, ".", method.name, " is served but not in the IDL"));
    }
  }
  return {};
}

Settlement settle(ServiceOperation operation, const ServiceStatus& status, pid_t previous_pid) {
  const bool replaced = status.state == ServiceState::Running && status.pid != previous_pid;
  switch (operation) {
    case ServiceOperation::Stop:
      if (status.state == ServiceState::Stopped || status.state == ServiceState::Exited ||
          status.state == ServiceState::Failed) {
        return {true, true, {}};
      }
      return {};
    case ServiceOperation::Start:
    case ServiceOperation::Restart:
      if (replaced || status.state == ServiceState::Exited) return {true, true, {}};
      break;
  }
  switch (status.state) {
    case ServiceState::Failed: {
      std::string why = !status.last_failure.empty() ? status.last_failure
                        : status.last_wait_status    ? describe_exit(*status.last_wait_status)
                                                     : std::string("it never started");
      return {true, false, cat("it failed: ", why)};
    }
    case ServiceState::Restarting:
      return {true, false,
              cat("it ended (",
                  !status.last_failure.empty() ? status.last_failure
                  : status.last_wait_status    ? describe_exit(*status.last_wait_status)
                                               : std::string("unknown"),
                  ") and waits out its restart delay")};
    case ServiceState::Stopped:
      return {true, false, "it was stopped before it ran"};
    default:
      return {};
  }
}

Json log_entry_json(const LogRecord& record) {
  Json entry = Json::object();
  entry["seq"] = record.seq;
  entry["timestamp"] = format_timestamp(record.time);
  entry["service"] = record.service.empty() ? Json(nullptr) : Json(record.service);
  entry["stream"] = record.source == LogSource::Stdout   ? "stdout"
                    : record.source == LogSource::Stderr ? "stderr"
                                                         : "runtime";
  // Escaped as logfmt (valid UTF-8, no control bytes): safe as JSON and on a terminal.
  entry["line"] = record.line;
  entry["truncated"] =
      record.source != LogSource::Runtime && record.line.ends_with(" truncated=true");
  return entry;
}

std::string describe_exit(int wait_status) {
  if (WIFEXITED(wait_status)) return cat("status ", WEXITSTATUS(wait_status));
  return cat("signal ", signal_name(WTERMSIG(wait_status)));
}

std::optional<ServiceStatus> find_status(const RuntimeView& view, const std::string& name) {
  for (auto& status : view.supervisor.status()) {
    if (status.name == name) return status;
  }
  return std::nullopt;
}

Json no_such_service(const RuntimeView& view, const std::string& name) {
  return {{"service", name}, {"services", service_names(view)}};
}

Json service_json(const RuntimeView& view, const ServiceStatus& status) {
  const config::Service* declared = view.context.manifest->find_service(status.name);
  const Account* account = view.context.plan->identities.find_account(status.name);
  Json service = Json::object();
  service["name"] = status.name;
  service["state"] = service_state_name(status.state);
  service["mainPid"] = status.pid > 0 ? Json(status.pid) : Json(nullptr);
  service["uid"] = account != nullptr ? account->identity.uid : 0;
  service["gid"] = account != nullptr ? account->identity.gid : 0;
  service["restarts"] = status.restarts;
  service["since"] = format_timestamp(status.since);
  service["lastExit"] = exit_json(status.last_wait_status);
  service["lastFailure"] = status.last_failure.empty() ? Json(nullptr) : Json(status.last_failure);
  service["confinement"] =
      config::confinement_name(declared ? declared->confinement : config::Confinement::Strict);
  service["controlAccess"] = declared && declared->control_plug
                                 ? Json(config::control_access_name(declared->control_plug->access))
                                 : Json(nullptr);
  service["readiness"] = status.readiness.empty() ? Json(nullptr) : Json(status.readiness);
  service["statusText"] = status.status_text.empty() ? Json(nullptr) : Json(status.status_text);
  // Reported by mediation (SPEC §6), those its rate limit held back included.
  const Logs* logs = view.context.logs;
  const auto stats = logs != nullptr && view.context.mediation ? logs->stats(status.name)
                                                               : Result<ServiceLogStats>();
  service["denials"] = logs != nullptr && view.context.mediation && stats.has_value()
                           ? Json(stats->denials + stats->denials_suppressed)
                           : Json(nullptr);
  const ServiceUsage usage = usage_of(view, status.name);
  service["memoryBytes"] = optional_number(usage.memory_bytes);
  service["tasks"] = optional_number(usage.tasks);
  service["oomKills"] = optional_number(usage.oom_kills);
  service["forksRefused"] = optional_number(usage.forks_refused);
  return service;
}

}  // namespace ipcrt::runtime::control
