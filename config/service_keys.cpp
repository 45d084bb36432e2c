// The lifecycle, resources and sandbox keys of a service (SPEC §4a, §11, §13, §15).
#include "config/service_keys.hpp"

#include <algorithm>
#include <cctype>

#include "common/text.hpp"
#include "config/capabilities.hpp"
#include "config/expansion.hpp"
#include "config/paths.hpp"
#include "config/quantities.hpp"

namespace ipcrt::config {
namespace {

// ---- resources (SPEC §13) -----------------------------------------------------------------

struct SizeRule {
  std::uint64_t minimum;
  bool allow_max;         // "max": no limit (cgroup limits only; the budgets always apply)
  const char* too_small;  // why the minimum, for the message
};

constexpr SizeRule kMemoryRule{kMiB, true, "less than any program needs to run"};
constexpr SizeRule kTmpfsRule{4096, false, "less than one page of the tmpfs"};
constexpr SizeRule kBudgetRule{0, false, ""};

std::string size_forms(const SizeRule& rule) {
  return cat(kSizeForms, rule.allow_max ? ", or \"max\"" : "");
}

std::optional<std::uint64_t> read_size(JsonReader& reader, const Json& value,
                                       const std::string& pointer, const SizeRule& rule) {
  std::uint64_t bytes = 0;
  std::string written = value.dump();
  if (value.is_string()) {
    const auto text = value.get<std::string>();
    if (text == "max" && !rule.allow_max) {
      reader.error(pointer, cat("\"max\" is not allowed here: this budget always applies; write ",
                                size_forms(rule)));
      return std::nullopt;
    }
    auto parsed = parse_size(text, rule.allow_max);
    if (!parsed) {
      reader.error(pointer, parsed.error().message, parsed.error().hint);
      return std::nullopt;
    }
    if (*parsed == kNoLimit) return kNoLimit;
    bytes = *parsed;
  } else if (value.is_number_unsigned()) {
    bytes = value.get<std::uint64_t>();
    if (bytes > kMaxBytes) {
      reader.error(pointer, cat(bytes, " is too large: at most ", kMaxBytes, " bytes"));
      return std::nullopt;
    }
  } else {
    const bool show = value.is_number();
    reader.error(pointer, cat("expected ", size_forms(rule), ", got ",
                              show ? written : std::string(json_type_name(value))));
    return std::nullopt;
  }
  if (bytes < rule.minimum) {
    std::string hint;
    if (value.is_number_unsigned() && bytes > 0 && bytes < (1ULL << 40U)) {
      hint = cat("a number without a unit is bytes: did you mean \"", bytes, "M\"?");
    }
    reader.error(pointer,
                 cat(written, " is below ", format_size(rule.minimum), " (", rule.minimum,
                     " bytes), ", rule.too_small),
                 std::move(hint));
    return std::nullopt;
  }
  return bytes;
}

// The kernel's PID_MAX_LIMIT: pids.max takes nothing above it.
constexpr std::uint64_t kPidMaxLimit = 4194304;

std::optional<std::uint64_t> read_pids_max(JsonReader& reader, const Json& value,
                                           const std::string& pointer) {
  if (value.is_string() && value.get<std::string>() == "max") return kNoLimit;
  const std::string forms = cat("a number of tasks from 2 to ", kPidMaxLimit,
                                " (ipcrt's init in the service's pid namespace counts as one), "
                                "or \"max\"");
  if (!value.is_number_unsigned() || value.get<std::uint64_t>() < 2 ||
      value.get<std::uint64_t>() > kPidMaxLimit) {
    const bool show = value.is_number_integer() || value.is_string();
    reader.error(pointer, cat("expected ", forms, ", got ",
                              show ? value.dump() : std::string(json_type_name(value))));
    return std::nullopt;
  }
  return value.get<std::uint64_t>();
}

std::optional<CpuMax> read_cpu_max(JsonReader& reader, const Json& value,
                                   const std::string& pointer) {
  if (!value.is_string()) {
    reader.error(pointer,
                 cat("expected \"50%\" of one CPU, \"QUOTA PERIOD\" in µs or \"max\", got ",
                     json_type_name(value)),
                 value.is_number() ? "write a percentage as a string, e.g. \"50%\"" : "");
    return std::nullopt;
  }
  auto parsed = parse_cpu_max(value.get<std::string>());
  if (!parsed) {
    reader.error(pointer, parsed.error().message, parsed.error().hint);
    return std::nullopt;
  }
  return *parsed;
}

void read_resources(JsonReader& reader, const Json& value, const std::string& pointer,
                    Resources& resources) {
  if (!reader.expect_object(value, pointer)) return;
  reader.check_keys(value, pointer,
                    {"memory-max", "memory-high", "pids-max", "cpu-weight", "cpu-max", "shm-bytes",
                     "tmp-bytes", "queues", "queue-bytes"},
                    "resources");
  auto member = [&](const char* key) -> const Json* {
    auto it = value.find(key);
    return it == value.end() ? nullptr : &*it;
  };
  auto at = [&](const char* key) { return cat(pointer, '/', key); };
  if (const Json* item = member("memory-max")) {
    resources.memory_max = read_size(reader, *item, at("memory-max"), kMemoryRule);
  }
  if (const Json* item = member("memory-high")) {
    resources.memory_high = read_size(reader, *item, at("memory-high"), kMemoryRule);
  }
  if (resources.memory_max && resources.memory_high && *resources.memory_max != kNoLimit &&
      *resources.memory_high >= *resources.memory_max) {
    reader.warning(at("memory-high"),
                   cat("memory-high (", format_size(*resources.memory_high),
                       ") is not below memory-max (", format_size(*resources.memory_max),
                       "): the service is killed before it is ever throttled"),
                   "lower memory-high, or remove it");
  }
  if (const Json* item = member("pids-max")) {
    resources.pids_max = read_pids_max(reader, *item, at("pids-max"));
  }
  if (const Json* item = member("cpu-weight")) {
    if (auto weight = reader.integer(*item, at("cpu-weight"), 1, 10000,
                                     "cpu.weight takes 1 to 10000 (100 is the default)")) {
      resources.cpu_weight = static_cast<unsigned>(*weight);
    }
  }
  if (const Json* item = member("cpu-max")) {
    resources.cpu_max = read_cpu_max(reader, *item, at("cpu-max"));
  }
  if (const Json* item = member("shm-bytes")) {
    if (auto bytes = read_size(reader, *item, at("shm-bytes"), kTmpfsRule)) {
      resources.shm_bytes = *bytes;
    }
  }
  if (const Json* item = member("tmp-bytes")) {
    if (auto bytes = read_size(reader, *item, at("tmp-bytes"), kTmpfsRule)) {
      resources.tmp_bytes = *bytes;
    }
  }
  if (const Json* item = member("queues")) {
    // fs.mqueue.queues_max bounds it on the device; above this, the number is a typo.
    if (auto count = reader.integer(*item, at("queues"), 0, 65536)) {
      resources.queues = static_cast<unsigned>(*count);
    }
  }
  if (const Json* item = member("queue-bytes")) {
    if (auto bytes = read_size(reader, *item, at("queue-bytes"), kBudgetRule)) {
      resources.queue_bytes = *bytes;
    }
  }
}

// ---- lifecycle (SPEC §11) -------------------------------------------------------------------

constexpr std::uint64_t kHourMs = 3'600'000;
constexpr std::uint64_t kDayMs = 86'400'000;

void read_restart_limit(JsonReader& reader, const Json& value, const std::string& pointer,
                        RestartLimit& limit) {
  if (!reader.expect_object(value, pointer)) return;
  reader.check_keys(value, pointer, {"burst", "interval-ms"}, "restart-limit");
  if (auto it = value.find("burst"); it != value.end()) {
    if (auto burst = reader.integer(*it, pointer + "/burst", 1, 1000)) {
      limit.burst = static_cast<unsigned>(*burst);
    }
  }
  if (auto it = value.find("interval-ms"); it != value.end()) {
    if (auto interval = reader.integer(*it, pointer + "/interval-ms", 1, kDayMs)) {
      limit.interval_ms = static_cast<unsigned>(*interval);
    }
  }
}

std::optional<int> read_stop_signal(JsonReader& reader, const Json& value,
                                    const std::string& pointer) {
  if (value.is_number_integer()) {
    reader.error(pointer,
                 cat("signal numbers differ between architectures (SIGUSR1 is 10 on ARM and x86, "
                     "16 on MIPS): write the name, got ",
                     value.dump()),
                 "e.g. \"SIGTERM\"");
    return std::nullopt;
  }
  auto text = reader.text(value, pointer);
  if (!text) return std::nullopt;
  auto signal = parse_stop_signal(*text);
  if (!signal) {
    reader.error(pointer, signal.error().message, signal.error().hint);
    return std::nullopt;
  }
  return *signal;
}

void read_lifecycle(JsonReader& reader, const Json& object, Service& service) {
  const std::string& at = service.pointer;
  if (auto it = object.find("type"); it != object.end()) {
    if (auto type = reader.choice<ServiceType>(*it, at + "/type",
                                               {{"simple", ServiceType::Simple},
                                                {"notify", ServiceType::Notify},
                                                {"oneshot", ServiceType::Oneshot}})) {
      service.type = *type;
    }
  }
  auto milliseconds = [&](const char* key, std::uint64_t maximum) -> std::optional<unsigned> {
    auto it = object.find(key);
    if (it == object.end()) return std::nullopt;
    auto value = reader.integer(*it, cat(at, '/', key), 1, maximum);
    if (!value) return std::nullopt;
    return static_cast<unsigned>(*value);
  };
  if (auto value = milliseconds("start-timeout-ms", kDayMs)) service.start_timeout_ms = *value;
  if (auto value = milliseconds("stop-timeout-ms", kHourMs)) service.stop_timeout_ms = *value;
  service.watchdog_ms = milliseconds("watchdog-ms", kHourMs);
  if (auto it = object.find("stop-signal"); it != object.end()) {
    if (auto signal = read_stop_signal(reader, *it, at + "/stop-signal")) {
      service.stop_signal = *signal;
    }
  }
  if (auto it = object.find("restart-limit"); it != object.end()) {
    read_restart_limit(reader, *it, at + "/restart-limit", service.restart_limit);
  }
  if (auto it = object.find("critical"); it != object.end()) {
    if (auto value = reader.boolean(*it, at + "/critical")) service.critical = *value;
  }
  if (auto it = object.find("pass-queues"); it != object.end()) {
    if (auto value = reader.boolean(*it, at + "/pass-queues")) service.pass_queues = *value;
  }
}

// ---- sandbox (SPEC §4a) ---------------------------------------------------------------------

void read_devices(JsonReader& reader, const Json& value, const std::string& pointer,
                  std::vector<Device>& devices) {
  if (!reader.expect(value.is_array(), value, pointer, "an array of devices")) return;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const std::string at = cat(pointer, '/', i);
    const Json& item = value[i];
    if (!item.is_object()) {
      reader.error(at, cat("expected a device such as {\"path\": \"/dev/ttyUSB0\", \"access\": "
                           "\"rw\"}, got ",
                           json_type_name(item)));
      continue;
    }
    reader.check_keys(item, at, {"path", "access"}, "a device");
    Device device;
    device.pointer = at;
    bool valid = true;
    if (const Json* path = reader.required(item, at, "path", "e.g. \"path\": \"/dev/ttyUSB0\"")) {
      if (auto text = reader.text(*path, at + "/path")) {
        if (auto problem = check_device_path(*text); !problem.empty()) {
          reader.error(at + "/path", problem);
          valid = false;
        } else {
          device.path = *text;
        }
      } else {
        valid = false;
      }
    } else {
      valid = false;
    }
    if (const Json* access =
            reader.required(item, at, "access", "add \"access\": \"r\", \"w\" or \"rw\"")) {
      const std::string access_at = at + "/access";
      const std::string word = access->is_string() ? access->get<std::string>() : std::string();
      if (word == "r" || word == "w" || word == "rw") {
        device.read = word != "w";
        device.write = word != "r";
      } else {
        valid = false;
        if (!access->is_string()) {
          reader.error(access_at,
                       cat("expected \"r\", \"w\" or \"rw\", got ", json_type_name(*access)));
        } else if (word.find('m') != std::string::npos) {
          reader.error(access_at,
                       cat("unknown access \"", word,
                           "\": 'm' (mknod) needs CAP_MKNOD, which no service has; ipcrt binds "
                           "the node into the service's /dev"),
                       "use \"r\", \"w\" or \"rw\"");
        } else {
          reader.error(access_at, cat("unknown access \"", word, "\": use \"r\", \"w\" or \"rw\""));
        }
      }
    } else {
      valid = false;
    }
    if (!valid) continue;
    auto same = std::find_if(devices.begin(), devices.end(),
                             [&](const Device& other) { return other.path == device.path; });
    if (same != devices.end()) {
      reader.error(at + "/path", cat("device \"", device.path, "\" is listed twice (also at ",
                                     same->pointer, "): keep one"));
      continue;
    }
    devices.push_back(std::move(device));
  }
}

void read_capabilities(JsonReader& reader, const Json& value, const std::string& pointer,
                       std::vector<Capability>& capabilities) {
  if (!reader.expect(value.is_array(), value, pointer, "an array of capability names")) return;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const std::string at = cat(pointer, '/', i);
    auto text = reader.text(value[i], at);
    if (!text) continue;
    const CapabilityInfo* info = find_capability(*text);
    if (info == nullptr) {
      std::vector<std::string_view> names;
      for (const auto& known : capability_table()) names.push_back(known.name);
      std::string lower;
      for (char c : *text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower.starts_with("cap_")) lower.erase(0, 4);
      std::string hint = cat("allowed: ", allowed_capability_names());
      if (auto closest = closest_match(lower, names)) {
        hint = cat("did you mean \"", *closest, "\"? ", hint);
      }
      reader.error(at, cat("unknown capability \"", *text, "\""), std::move(hint));
      continue;
    }
    if (!info->refusal.empty()) {
      reader.error(at, cat("capability ", info->name, " is refused: ", info->refusal),
                   cat("allowed: ", allowed_capability_names()));
      continue;
    }
    if (std::any_of(capabilities.begin(), capabilities.end(),
                    [&](const Capability& other) { return other.number == info->number; })) {
      reader.error(at, cat("capability ", info->name, " is listed twice: keep one"));
      continue;
    }
    capabilities.push_back({std::string(info->name), info->number});
  }
}

void read_writable_paths(JsonReader& reader, const Json& value, const std::string& pointer,
                         std::vector<WritablePath>& paths) {
  if (!reader.expect(value.is_array(), value, pointer, "an array of absolute paths")) return;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const std::string at = cat(pointer, '/', i);
    auto text = reader.text(value[i], at);
    if (!text) continue;
    if (auto problem = check_clean_path(*text, "writable path"); !problem.empty()) {
      reader.error(at, problem);
      continue;
    }
    if (std::any_of(paths.begin(), paths.end(),
                    [&](const WritablePath& other) { return other.path == *text; })) {
      reader.error(at, cat("writable path \"", *text, "\" is listed twice: keep one"));
      continue;
    }
    paths.push_back({*text, at});
  }
}

// The syscalls that set the clock, none of them in any group (SPEC §5).
constexpr std::string_view kClockSettingCalls[] = {
    "clock_settime", "clock_settime64", "settimeofday", "adjtimex",
    "clock_adjtime", "clock_adjtime64", "stime"};

}  // namespace

void read_service_keys(JsonReader& reader, const Json& object, Service& service) {
  const std::string& at = service.pointer;
  read_lifecycle(reader, object, service);
  if (auto it = object.find("resources"); it != object.end()) {
    read_resources(reader, *it, at + "/resources", service.resources);
  }
  if (auto it = object.find("devices"); it != object.end()) {
    read_devices(reader, *it, at + "/devices", service.devices);
  }
  if (auto it = object.find("capabilities"); it != object.end()) {
    read_capabilities(reader, *it, at + "/capabilities", service.capabilities);
  }
  if (auto it = object.find("state-directory"); it != object.end()) {
    if (auto value = reader.boolean(*it, at + "/state-directory")) service.state_directory = *value;
  }
  if (auto it = object.find("writable-paths"); it != object.end()) {
    read_writable_paths(reader, *it, at + "/writable-paths", service.writable_paths);
  }
}

void check_service_keys(JsonReader& reader, const Service& service,
                        const std::string& manifest_name) {
  const std::string& at = service.pointer;
  if (service.type == ServiceType::Oneshot && service.restart != RestartPolicy::No) {
    reader.error(
        at + "/restart",
        cat("\"restart\": \"", service.restart == RestartPolicy::Always ? "always" : "on-failure",
            "\" on a oneshot service: a oneshot is done once it exits 0 and is never "
            "restarted"),
        "remove \"restart\", or use \"type\": \"simple\" for a service that keeps "
        "running");
  }
  if (service.watchdog_ms && service.type != ServiceType::Notify) {
    reader.error(at + "/watchdog-ms",
                 "\"watchdog-ms\" needs \"type\": \"notify\": only a notify service gets the "
                 "socket that WATCHDOG=1 is sent to",
                 "add \"type\": \"notify\", or remove \"watchdog-ms\"");
  }
  if (service.pass_queues &&
      std::none_of(service.slots.begin(), service.slots.end(),
                   [](const Slot& slot) { return slot.interface == Interface::PosixMq; }) &&
      std::none_of(service.plugs.begin(), service.plugs.end(),
                   [](const Plug& plug) { return plug.interface == Interface::PosixMq; })) {
    reader.warning(at + "/pass-queues",
                   "\"pass-queues\" passes the service's granted queues, and it has no posix-mq "
                   "slot or plug: nothing is passed",
                   "remove \"pass-queues\", or add a posix-mq plug");
  }
  if (service.pass_queues) {
    // sd_listen_fds(3)'s variables belong to the runtime once it passes descriptors.
    for (const auto& [key, value] : service.environment) {
      if (key == "LISTEN_FDS" || key == "LISTEN_PID" || key == "LISTEN_FDNAMES") {
        reader.error(at + "/environment" + pointer_segment(key),
                     cat("\"", key,
                         "\" is set by the runtime for \"pass-queues\" (it says "
                         "which descriptors are the passed queues)"),
                     "remove it from \"environment\"");
      }
    }
  }
  for (std::size_t i = 0; i < service.capabilities.size(); ++i) {
    if (service.capabilities[i].name != "sys_time" || service.confinement == Confinement::Off) {
      continue;
    }
    const bool allowed = std::any_of(
        service.seccomp.allow.begin(), service.seccomp.allow.end(), [](const std::string& entry) {
          return std::find(std::begin(kClockSettingCalls), std::end(kClockSettingCalls), entry) !=
                 std::end(kClockSettingCalls);
        });
    if (!allowed) {
      reader.warning(at + "/capabilities",
                     "sys_time lets the service set the clock, but its filter allows no call "
                     "that does (they are in no group)",
                     "add \"clock_settime\" (or \"settimeofday\", \"adjtimex\", "
                     "\"clock_adjtime\") to \"seccomp\": {\"allow\": [...]}");
    }
  }
  WritablePathRules rules;
  rules.protected_paths = runtime_directories();
  if (service.state_directory) {
    rules.own_state_directory = state_directory_path(kStateRoot, manifest_name, service.name);
  }
  check_writable_paths(service, rules, reader.diagnostics());
}

void check_command_syntax(JsonReader& reader, const Service& service) {
  const std::string at = service.pointer + "/command";
  for (std::size_t i = 0; i < service.command.size(); ++i) {
    const std::string problem = i == 0 ? check_program_syntax(service.command[0])
                                       : check_argument_syntax(service.command[i]);
    if (!problem.empty()) reader.error(cat(at, '/', i), problem);
  }
}

void read_failure_action(JsonReader& reader, const Json& document, Manifest& manifest) {
  auto it = document.find("failure-action");
  if (it == document.end()) return;
  if (auto action = reader.choice<FailureAction>(*it, "/failure-action",
                                                 {{"none", FailureAction::None},
                                                  {"reboot", FailureAction::Reboot},
                                                  {"poweroff", FailureAction::Poweroff}})) {
    manifest.failure_action = *action;
  }
}

void check_failure_action(JsonReader& reader, const Manifest& manifest) {
  if (manifest.failure_action == FailureAction::None) return;
  if (std::any_of(manifest.services.begin(), manifest.services.end(),
                  [](const Service& service) { return service.critical; })) {
    return;
  }
  reader.warning("/failure-action",
                 cat("\"failure-action\": \"",
                     manifest.failure_action == FailureAction::Reboot ? "reboot" : "poweroff",
                     "\" has no effect: no service is \"critical\""),
                 "add \"critical\": true to the services the device cannot do without");
}

}  // namespace ipcrt::config
