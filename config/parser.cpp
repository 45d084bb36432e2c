// Manifest parser: the edge where nlohmann-json exceptions become diagnostics, and the rules of
// SPEC §2 applied in document order. Every rule reports at the JSON pointer of the offending
// value and parsing goes on, so one run shows every problem.
#include "config/parser.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <limits>
#include <map>
#include <set>

#include "common/file.hpp"
#include "common/mqueue_limits.hpp"
#include "common/text.hpp"
#include "config/json_reader.hpp"
#include "config/names.hpp"
#include "config/service_keys.hpp"

namespace ipcrt::config {
namespace {

// The manifest's reader: the generic JSON reads plus what only manifests need.
class Reader : public JsonReader {
 public:
  Reader(Diagnostics& diagnostics, const ParseOptions& options)
      : JsonReader(diagnostics), options_(options) {}

  const ParseOptions& options() const { return options_; }

  void check_name_value(const std::string& name, const std::string& pointer,
                        std::string_view what) {
    if (auto problem = check_name(name, what); !problem.empty()) error(pointer, problem);
  }

 private:
  const ParseOptions& options_;
};

// ---- services ---------------------------------------------------------------------------

struct RlimitName {
  std::string_view name;
  int resource;
};

constexpr RlimitName kRlimits[] = {
    {"as", RLIMIT_AS},           {"core", RLIMIT_CORE},         {"cpu", RLIMIT_CPU},
    {"data", RLIMIT_DATA},       {"fsize", RLIMIT_FSIZE},       {"locks", RLIMIT_LOCKS},
    {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
    {"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},       {"rss", RLIMIT_RSS},
    {"rtprio", RLIMIT_RTPRIO},   {"rttime", RLIMIT_RTTIME},     {"sigpending", RLIMIT_SIGPENDING},
    {"stack", RLIMIT_STACK},
};

std::optional<std::uint64_t> rlimit_value(Reader& reader, const Json& value,
                                          const std::string& pointer) {
  if (value.is_string() && value.get<std::string>() == "infinity") return RLIM_INFINITY;
  if (value.is_number_unsigned()) return value.get<std::uint64_t>();
  const bool show_value = value.is_string() || value.is_number_integer();
  reader.error(pointer, cat("expected a non-negative integer or \"infinity\", got ",
                            show_value ? value.dump() : std::string(json_type_name(value))));
  return std::nullopt;
}

void read_rlimits(Reader& reader, const Json& value, const std::string& pointer, Service& service) {
  if (!reader.expect_object(value, pointer)) return;
  for (const auto& [key, limit] : value.items()) {
    const std::string at = pointer + pointer_segment(key);
    auto known = std::find_if(std::begin(kRlimits), std::end(kRlimits),
                              [&](const RlimitName& item) { return item.name == key; });
    if (known == std::end(kRlimits)) {
      std::vector<std::string_view> names;
      for (const auto& item : kRlimits) names.push_back(item.name);
      reader.error(at, cat("unknown resource limit \"", key, "\": use one of ", join(names, ", ")));
      continue;
    }
    Rlimit rlimit{key, known->resource, 0, 0};
    if (limit.is_object()) {
      reader.check_keys(limit, at, {"soft", "hard"}, "a resource limit");
      auto soft = limit.find("soft");
      auto hard = limit.find("hard");
      if (soft == limit.end() || hard == limit.end()) {
        reader.error(at, "a limit object needs both \"soft\" and \"hard\"");
        continue;
      }
      auto soft_value = rlimit_value(reader, *soft, at + "/soft");
      auto hard_value = rlimit_value(reader, *hard, at + "/hard");
      if (!soft_value || !hard_value) continue;
      if (*soft_value > *hard_value) {
        reader.error(at + "/soft",
                     "the soft limit is above the hard limit: lower \"soft\" or "
                     "raise \"hard\"");
        continue;
      }
      rlimit.soft = *soft_value;
      rlimit.hard = *hard_value;
    } else {
      auto both = rlimit_value(reader, limit, at);
      if (!both) continue;
      rlimit.soft = rlimit.hard = *both;
    }
    service.rlimits.push_back(std::move(rlimit));
  }
}

void read_seccomp(Reader& reader, const Json& value, const std::string& pointer,
                  SeccompSettings& seccomp) {
  if (!reader.expect_object(value, pointer)) return;
  reader.check_keys(value, pointer, {"allow", "deny", "architectures"}, "seccomp");
  auto syscall_list = [&](const char* key, SeccompList list, std::vector<std::string>& out) {
    auto it = value.find(key);
    if (it == value.end()) return;
    const std::string at = cat(pointer, '/', key);
    if (!reader.expect(it->is_array(), *it, at, "an array of strings")) return;
    for (std::size_t i = 0; i < it->size(); ++i) {
      auto text = reader.text((*it)[i], cat(at, '/', i));
      if (!text) continue;
      const std::string& item = *text;
      const std::string_view body =
          item.starts_with('@') ? std::string_view(item).substr(1) : std::string_view(item);
      const bool ok = !body.empty() && std::all_of(body.begin(), body.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
      });
      if (!ok) {
        reader.error(cat(at, '/', i), cat("\"", item,
                                          "\" is not a syscall name or @group "
                                          "(e.g. \"sendmsg\", \"@network-io\")"));
        continue;
      }
      if (const auto check = reader.options().seccomp_entry_problem) {
        if (auto problem = check(item, list)) {
          reader.error(cat(at, '/', i), problem->message, problem->hint);
          continue;
        }
      }
      out.push_back(item);
    }
  };
  syscall_list("allow", SeccompList::Allow, seccomp.allow);
  syscall_list("deny", SeccompList::Deny, seccomp.deny);
  if (auto it = value.find("architectures"); it != value.end()) {
    const std::string at = pointer + "/architectures";
    auto items = reader.string_list(*it, at);
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (std::find(std::begin(kSeccompArchitectures), std::end(kSeccompArchitectures), items[i]) ==
          std::end(kSeccompArchitectures)) {
        reader.error(cat(at, '/', i), cat("unknown architecture \"", items[i], "\": use one of ",
                                          join(kSeccompArchitectures, ", ")));
        continue;
      }
      seccomp.architectures.push_back(items[i]);
    }
  }
}

void read_environment(Reader& reader, const Json& value, const std::string& pointer,
                      Service& service) {
  if (!reader.expect_object(value, pointer)) return;
  for (const auto& [key, item] : value.items()) {
    const std::string at = pointer + pointer_segment(key);
    if (key.empty() || key.find('=') != std::string::npos || key.find('\0') != std::string::npos) {
      reader.error(at, "environment variable names must be non-empty, without '=' or NUL");
      continue;
    }
    if (key.starts_with("IPCRT_")) {
      reader.error(at, cat("\"", key,
                           "\" is set by the runtime (IPCRT_* names are reserved): "
                           "choose another name"));
      continue;
    }
    auto text = reader.text(item, at);
    if (text) service.environment.emplace_back(key, std::move(*text));
  }
}

void read_account(Reader& reader, const Json& value, const std::string& pointer,
                  std::string_view what, std::optional<std::string>& out) {
  std::string text;
  if (value.is_number_unsigned()) {
    text = std::to_string(value.get<std::uint64_t>());
  } else if (value.is_string()) {
    text = value.get<std::string>();
  } else {
    reader.error(pointer, cat("expected a ", what, " name or number, got ", json_type_name(value)));
    return;
  }
  if (auto problem = check_account(text, what); !problem.empty()) {
    reader.error(pointer, problem);
    return;
  }
  out = std::move(text);
}

// ---- slots and plugs --------------------------------------------------------------------

std::optional<Interface> read_interface(Reader& reader, const Json& object,
                                        const std::string& pointer) {
  const Json* value = reader.required(object, pointer, "interface",
                                      "add \"interface\": \"posix-mq\" or \"shared-memory\"");
  if (value == nullptr) return std::nullopt;
  return reader.choice<Interface>(
      *value, pointer + "/interface",
      {{"posix-mq", Interface::PosixMq}, {"shared-memory", Interface::SharedMemory}});
}

// The `posix-mq` / `shared-memory` attribute; defaults to the slot or plug name, also when it
// is empty, as snapd does.
std::string read_identifier(Reader& reader, const Json& object, const std::string& pointer,
                            Interface interface, const std::string& fallback) {
  const char* key = interface_name(interface);
  auto it = object.find(key);
  if (it == object.end()) return fallback;
  const std::string at = cat(pointer, '/', key);
  auto text = reader.text(*it, at);
  if (!text || text->empty()) return fallback;
  return *text;
}

// The bits of a `permissions` array, or nothing after reporting its bad entries.
std::optional<unsigned> read_permissions(Reader& reader, const Json& value,
                                         const std::string& pointer) {
  if (!reader.expect(value.is_array(), value, pointer, "an array of strings")) {
    return std::nullopt;
  }
  std::vector<std::string> allowed;
  for (const auto& [bit, word] : kPermissionWords) allowed.push_back(cat('"', word, '"'));
  allowed.push_back(cat('"', kPermissionOpen, '"'));
  bool valid = true;
  unsigned bits = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const std::string at = cat(pointer, '/', i);
    auto word = reader.text(value[i], at);
    if (!word) {
      valid = false;
      continue;
    }
    auto known = std::find_if(std::begin(kPermissionWords), std::end(kPermissionWords),
                              [&](const PermissionWord& item) { return item.word == *word; });
    if (known != std::end(kPermissionWords)) {
      bits |= known->bit;
    } else if (*word != kPermissionOpen) {
      reader.error(at, cat("unknown permission \"", *word, "\": use ", join(allowed, ", ")));
      valid = false;
    }
  }
  if (!valid) return std::nullopt;
  return bits;
}

void read_mq_slot(Reader& reader, const Json& object, const std::string& pointer, MqSlot& mq) {
  reader.check_keys(object, pointer,
                    {"interface", "posix-mq", "path", "permissions", "max-messages", "message-size",
                     "mode", "create", "remove-on-stop"},
                    "a posix-mq slot");
  if (const Json* path = reader.required(object, pointer, "path",
                                         "list the queues of this slot, e.g. "
                                         "\"path\": [\"/telemetry\"]")) {
    reader.for_each_string(
        *path, pointer + "/path", "list at least one queue, e.g. [\"/telemetry\"]",
        [&](const std::string& raw, const std::string& value_pointer) {
          auto checked = normalise_queue_path(raw, reader.options().allow_queue_patterns);
          if (!checked.error.empty()) {
            reader.error(value_pointer, checked.error);
          } else if (std::find(mq.paths.begin(), mq.paths.end(), checked.path) != mq.paths.end()) {
            reader.error(value_pointer,
                         cat("queue \"", checked.path, "\" is listed twice: keep one"));
          } else {
            mq.paths.push_back(checked.path);
          }
        });
  }
  if (auto it = object.find("permissions"); it != object.end()) {
    const std::string at = pointer + "/permissions";
    auto permissions = read_permissions(reader, *it, at);
    if (permissions && *permissions == 0) {
      // snapd accepts these too: its `open` grants mq_open and mq_getattr only.
      reader.warning(at,
                     "grants connected plugs neither read, write, create nor delete: they can "
                     "at most open the queue and read its attributes (snapd's \"open\")",
                     "add \"read\" or \"write\" if they should use the queue");
    }
    if (permissions) mq.permissions = *permissions;
  }
  // The hard ceilings bind on every device, so `validate` checks them; the sysctls below them
  // are the device's, checked by `plan`.
  if (auto it = object.find("max-messages"); it != object.end()) {
    if (auto value = reader.integer(*it, pointer + "/max-messages", 1, kHardMsgMax,
                                    cat(kHardMsgMax,
                                        " messages is the kernel's hard ceiling, which binds "
                                        "even root"))) {
      mq.max_messages = static_cast<long>(*value);
    }
  }
  if (auto it = object.find("message-size"); it != object.end()) {
    if (auto value = reader.integer(*it, pointer + "/message-size", 1, kHardMsgSizeMax,
                                    cat(kHardMsgSizeMax,
                                        " bytes (16 MiB) is the kernel's hard ceiling, which "
                                        "binds even root"))) {
      mq.message_size = static_cast<long>(*value);
    }
  }
  if (auto it = object.find("mode"); it != object.end()) {
    const std::string at = pointer + "/mode";
    const std::string digits = it->is_string() ? it->get<std::string>() : std::string();
    const bool octal =
        (digits.size() == 3 || digits.size() == 4) &&
        std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '7'; });
    if (!it->is_string()) {
      reader.error(at, cat("expected an octal string such as \"0660\", got ", json_type_name(*it),
                           " (a JSON number would be read as decimal)"));
    } else if (!octal) {
      reader.error(at, cat("\"", digits,
                           "\" is not an octal mode: write 3 or 4 octal digits, "
                           "such as \"0660\""));
    } else {
      const auto mode = static_cast<mode_t>(std::stoul(digits, nullptr, 8));
      if ((mode & ~mode_t{0777}) != 0) {
        reader.error(at,
                     "only permission bits are allowed (no setuid, setgid or sticky bit): "
                     "use a mode such as \"0660\"");
      } else if ((mode & 0002) != 0) {
        reader.error(at,
                     "a world-writable queue lets any local process inject messages: drop "
                     "the 'other' write bit and grant access through a plug instead");
      } else {
        mq.mode = mode;
      }
    }
  }
  if (auto it = object.find("create"); it != object.end()) {
    if (auto create = reader.boolean(*it, pointer + "/create")) mq.create = *create;
  }
  if (auto it = object.find("remove-on-stop"); it != object.end()) {
    if (auto remove = reader.boolean(*it, pointer + "/remove-on-stop")) {
      mq.remove_on_stop = *remove;
    }
  }
}

// Names a program might mean as a semaphore but that glibc's sem_open would never open.
bool looks_like_a_semaphore(std::string_view name) {
  std::string lower;
  for (char c : name.substr(0, 9)) {
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return !name.starts_with(kSemaphorePrefix) &&
         (lower.starts_with("sem_") || lower.starts_with("sem-") || lower.starts_with("semaphore"));
}

// One entry of `read` or `write`: "frames", {"name": "frames", "size": 65536} or
// {"name": "sem.ready", "value": 0} (SPEC §2.3).
std::optional<ShmObject> read_shm_object(Reader& reader, const Json& value,
                                         const std::string& pointer) {
  ShmObject object;
  object.pointer = pointer;
  const Json* name = &value;
  std::string name_at = pointer;
  if (value.is_object()) {
    reader.check_keys(value, pointer, {"name", "size", "value"}, "a shared-memory object");
    name = reader.required(value, pointer, "name", "write the object's name, e.g. \"frames\"");
    name_at = pointer + "/name";
  } else if (!value.is_string()) {
    reader.error(pointer, cat("expected an object name or an object such as {\"name\": "
                              "\"frames\", \"size\": 65536}, got ",
                              json_type_name(value)));
    return std::nullopt;
  }
  if (name == nullptr) return std::nullopt;
  auto text = reader.text(*name, name_at);
  if (!text) return std::nullopt;
  if (auto problem = check_shm_name(*text); !problem.empty()) {
    reader.error(name_at, problem);
    return std::nullopt;
  }
  object.name = *text;
  bool valid = true;
  if (auto size = value.is_object() ? value.find("size") : value.end(); size != value.end()) {
    // A semaphore's size is the ABI's sem_t; anything else is an object's length (off_t).
    if (object.is_semaphore()) {
      reader.error(pointer + "/size",
                   cat("\"", object.name, "\" is a semaphore, whose size is glibc's sem_t"),
                   "remove \"size\"");
      valid = false;
    } else if (auto bytes = reader.integer(*size, pointer + "/size", 1,
                                           std::numeric_limits<std::int64_t>::max())) {
      object.size = *bytes;
    } else {
      valid = false;
    }
  }
  if (auto initial = value.is_object() ? value.find("value") : value.end();
      initial != value.end()) {
    if (!object.is_semaphore()) {
      reader.error(pointer + "/value",
                   cat("\"value\" is a semaphore's initial value, and \"", object.name,
                       "\" is not a semaphore"),
                   cat("semaphores are named \"sem.NAME\" (what sem_open(\"/NAME\") opens): "
                       "rename it, or remove \"value\""));
      valid = false;
    } else if (auto count = reader.integer(*initial, pointer + "/value", 0, SEM_VALUE_MAX,
                                           "SEM_VALUE_MAX is the largest value")) {
      object.semaphore_value = static_cast<unsigned>(*count);
    } else {
      valid = false;
    }
  }
  if (looks_like_a_semaphore(object.name)) {
    reader.warning(name_at,
                   cat("\"", object.name,
                       "\" looks like a semaphore, but sem_open(\"/NAME\") opens the object "
                       "\"sem.NAME\", never this one"),
                   cat("if a program opens it with sem_open(\"/", object.name, "\"), write \"sem.",
                       object.name, "\""));
  }
  if (!valid) return std::nullopt;
  return object;
}

void read_shm_slot(Reader& reader, const Json& object, const std::string& pointer, ShmSlot& shm) {
  reader.check_keys(object, pointer, {"interface", "shared-memory", "read", "write"},
                    "a shared-memory slot");
  auto listed = [](const std::vector<ShmObject>& list, const std::string& name) {
    return std::any_of(list.begin(), list.end(),
                       [&](const ShmObject& item) { return item.name == name; });
  };
  auto read_list = [&](const char* key, std::vector<ShmObject>& out) {
    auto it = object.find(key);
    if (it == object.end()) return;
    const bool writable = &out == &shm.write;
    const std::string at = cat(pointer, '/', key);
    if (!reader.expect(it->is_array(), *it, at, "an array of shared-memory objects")) return;
    for (std::size_t i = 0; i < it->size(); ++i) {
      const std::string item_at = cat(at, '/', i);
      auto entry = read_shm_object(reader, (*it)[i], item_at);
      if (!entry) continue;
      const std::string& name = entry->name;
      if (listed(out, name)) {
        reader.error(item_at, cat("\"", name, "\" is listed twice: keep one"));
      } else if (writable && listed(shm.read, name)) {
        reader.error(item_at, cat("\"", name,
                                  "\" is in both \"read\" and \"write\": an object "
                                  "is either read-only or read-write for plugs; "
                                  "keep it in one list"));
      } else if (!writable && entry->is_semaphore()) {
        reader.error(item_at,
                     cat("semaphore \"", name,
                         "\" is in \"read\": waiting on a semaphore (sem_wait) changes it, so "
                         "a read-only grant could never be used"),
                     "move it to \"write\"");
      } else {
        out.push_back(std::move(*entry));
      }
    }
  };
  read_list("read", shm.read);
  read_list("write", shm.write);
  const bool has_read =
      object.contains("read") && object["read"].is_array() && !object["read"].empty();
  const bool has_write =
      object.contains("write") && object["write"].is_array() && !object["write"].empty();
  if (!has_read && !has_write) {
    reader.error(pointer,
                 "a shared-memory slot needs at least one object in \"read\" or "
                 "\"write\", e.g. \"write\": [\"frames\"]");
  }
}

bool is_control_interface(const Json& object) {
  auto it = object.find("interface");
  return it != object.end() && *it == kControlInterface;
}

void read_slots(Reader& reader, const Json& value, const std::string& pointer, Service& service) {
  if (!reader.expect_object(value, pointer)) return;
  for (const auto& [name, object] : value.items()) {
    const std::string at = pointer + pointer_segment(name);
    reader.check_name_value(name, at, "slot name");
    if (!reader.expect_object(object, at)) continue;
    if (is_control_interface(object)) {
      reader.error(at + "/interface",
                   "ipcrt-control is a plug only: the runtime itself is its slot; declare it "
                   "under \"plugs\" with \"access\": \"observe\" or \"manage\"");
      continue;
    }
    auto interface = read_interface(reader, object, at);
    if (!interface) {
      reader.check_keys(
          object, at,
          {"interface", "posix-mq", "shared-memory", "path", "permissions", "max-messages",
           "message-size", "mode", "create", "remove-on-stop", "read", "write"},
          "a slot");
      continue;
    }
    Slot slot;
    slot.name = name;
    slot.interface = *interface;
    slot.pointer = at;
    slot.identifier = read_identifier(reader, object, at, *interface, name);
    if (*interface == Interface::PosixMq) {
      slot.attributes = MqSlot{};
      read_mq_slot(reader, object, at, std::get<MqSlot>(slot.attributes));
    } else {
      slot.attributes = ShmSlot{};
      read_shm_slot(reader, object, at, std::get<ShmSlot>(slot.attributes));
    }
    service.slots.push_back(std::move(slot));
  }
}

// SPEC §10: plug only; the runtime is the slot, so there is nothing to match or connect.
void read_control_plug(Reader& reader, const Json& object, const std::string& pointer,
                       const std::string& name, Service& service) {
  reader.check_keys(object, pointer, {"interface", "access"}, "an ipcrt-control plug");
  if (service.control_plug) {
    reader.error(pointer,
                 cat("service \"", service.name, "\" already has the ipcrt-control plug \"",
                     service.control_plug->name,
                     "\": one connection to the runtime is all a service gets; "
                     "remove one"));
    return;
  }
  auto access = object.find("access");
  if (access == object.end()) {
    reader.error(pointer,
                 "missing \"access\": add \"access\": \"observe\" (status, connections, "
                 "queues, logs, metrics) or \"manage\" (also start, stop and restart services)");
    return;
  }
  auto level = reader.choice<ControlAccess>(
      *access, pointer + "/access",
      {{"observe", ControlAccess::Observe}, {"manage", ControlAccess::Manage}});
  if (level) service.control_plug = ControlPlug{name, *level, pointer};
}

void read_plugs(Reader& reader, const Json& value, const std::string& pointer, Service& service) {
  if (!reader.expect_object(value, pointer)) return;
  for (const auto& [name, object] : value.items()) {
    const std::string at = pointer + pointer_segment(name);
    reader.check_name_value(name, at, "plug name");
    if (service.find_slot(name) != nullptr) {
      reader.error(at, cat("service \"", service.name, "\" has a slot and a plug both named \"",
                           name, "\" (both would set IPCRT_<NAME>_PATHS): rename one"));
    }
    if (!reader.expect_object(object, at)) continue;
    if (is_control_interface(object)) {
      read_control_plug(reader, object, at, name, service);
      continue;
    }
    auto interface = read_interface(reader, object, at);
    if (!interface) {
      reader.check_keys(object, at, {"interface", "posix-mq", "shared-memory", "private"},
                        "a plug");
      continue;
    }
    Plug plug;
    plug.name = name;
    plug.interface = *interface;
    plug.pointer = at;
    plug.identifier = read_identifier(reader, object, at, *interface, name);
    if (*interface == Interface::PosixMq) {
      reader.check_keys(object, at, {"interface", "posix-mq"},
                        "a posix-mq plug (its attributes come from the slot)");
    } else {
      reader.check_keys(object, at, {"interface", "shared-memory", "private"},
                        "a shared-memory plug");
      if (auto it = object.find("private"); it != object.end()) {
        if (auto is_private = reader.boolean(*it, at + "/private")) {
          plug.private_shm = *is_private;
        }
        if (plug.private_shm && object.contains("shared-memory")) {
          reader.error(at + "/private",
                       "a private plug gets its own /dev/shm and connects to "
                       "no slot: remove \"shared-memory\" or \"private\"");
        }
      }
    }
    service.plugs.push_back(std::move(plug));
  }
}

// SPEC §2.4: a private /dev/shm replaces the host's, so nothing else shared may go with it.
void check_private_shm(Reader& reader, const Service& service) {
  const Plug* private_plug = nullptr;
  for (const auto& plug : service.plugs) {
    if (plug.private_shm) private_plug = &plug;
  }
  if (private_plug == nullptr) return;
  for (const auto& plug : service.plugs) {
    if (&plug != private_plug && plug.interface == Interface::SharedMemory) {
      reader.error(private_plug->pointer + "/private",
                   cat("plug \"", private_plug->name,
                       "\" makes /dev/shm private, which cannot "
                       "be combined with the shared-memory plug \"",
                       plug.name, "\" in the same service: remove one"));
    }
  }
  for (const auto& slot : service.slots) {
    if (slot.interface == Interface::SharedMemory) {
      reader.error(private_plug->pointer + "/private",
                   cat("plug \"", private_plug->name,
                       "\" makes /dev/shm private, which cannot "
                       "be combined with the shared-memory slot \"",
                       slot.name, "\" in the same service: remove one"));
    }
  }
}

// SPEC §2's keys, then those of §11 (lifecycle), §13 and §4a that service_keys.cpp reads.
constexpr std::string_view kServiceKeys[] = {"command",
                                             "user",
                                             "group",
                                             "environment",
                                             "working-directory",
                                             "publisher",
                                             "restart",
                                             "restart-delay-ms",
                                             "after",
                                             "rlimits",
                                             "confinement",
                                             "seccomp",
                                             "slots",
                                             "plugs",
                                             "type",
                                             "start-timeout-ms",
                                             "stop-signal",
                                             "stop-timeout-ms",
                                             "watchdog-ms",
                                             "restart-limit",
                                             "critical",
                                             "pass-queues",
                                             "resources",
                                             "devices",
                                             "capabilities",
                                             "state-directory",
                                             "writable-paths"};

void read_service(Reader& reader, const Json& object, Service& service,
                  const std::set<std::string>& service_names) {
  const std::string& at = service.pointer;
  reader.check_keys(object, at, kServiceKeys, "a service");
  if (const Json* it = reader.required(object, at, "command",
                                       "add the program to run, e.g. "
                                       "\"command\": [\"/usr/bin/sensor-hub\"]");
      it == nullptr) {
  } else if (!it->is_array() || it->empty()) {
    reader.error(at + "/command", cat("expected a non-empty array of strings (program path "
                                      "first), got ",
                                      it->is_array() ? "an empty array" : json_type_name(*it)));
  } else {
    service.command = reader.string_list(*it, at + "/command");
    if (service.command.size() == it->size() && !service.command.front().starts_with('/')) {
      reader.error(at + "/command/0", cat("\"", service.command.front(),
                                          "\" is not an absolute "
                                          "path: services are started without a PATH search; "
                                          "write the program's full path, starting with '/'"));
    }
    if (service.command.size() == it->size()) check_command_syntax(reader, service);
  }
  if (auto it = object.find("user"); it != object.end()) {
    read_account(reader, *it, at + "/user", "user", service.user);
    // Written out on purpose (the default is a dynamic user), but worth a second look.
    if (service.user == "root" || service.user == "0") {
      reader.warning(at + "/user",
                     "runs as root: without capabilities, yet owner of the host's root files; "
                     "remove \"user\" for a dynamic user of its own, or name an unprivileged one");
    }
  }
  if (auto it = object.find("group"); it != object.end()) {
    read_account(reader, *it, at + "/group", "group", service.group);
  }
  if (auto it = object.find("environment"); it != object.end()) {
    read_environment(reader, *it, at + "/environment", service);
  }
  if (auto it = object.find("working-directory"); it != object.end()) {
    if (auto dir = reader.text(*it, at + "/working-directory")) {
      if (dir->starts_with('/')) {
        service.working_directory = *dir;
      } else {
        reader.error(at + "/working-directory", "expected an absolute path (starting with '/')");
      }
    }
  }
  if (auto it = object.find("publisher"); it != object.end()) {
    if (auto text = reader.text(*it, at + "/publisher")) service.publisher = *text;
  }
  if (auto it = object.find("restart"); it != object.end()) {
    if (auto policy = reader.choice<RestartPolicy>(*it, at + "/restart",
                                                   {{"no", RestartPolicy::No},
                                                    {"on-failure", RestartPolicy::OnFailure},
                                                    {"always", RestartPolicy::Always}})) {
      service.restart = *policy;
    }
  }
  if (auto it = object.find("restart-delay-ms"); it != object.end()) {
    // An hour is far beyond any useful backoff start; larger values are typos.
    if (auto delay = reader.integer(*it, at + "/restart-delay-ms", 1, 3'600'000)) {
      service.restart_delay_ms = static_cast<unsigned>(*delay);
    }
  }
  if (auto it = object.find("after"); it != object.end()) {
    auto names = reader.string_list(*it, at + "/after");
    if (it->is_array() && names.size() == it->size()) {
      for (std::size_t i = 0; i < names.size(); ++i) {
        const std::string item_at = cat(at, "/after/", i);
        if (names[i] == service.name) {
          reader.error(item_at, "a service cannot start after itself: remove it from \"after\"");
        } else if (!service_names.contains(names[i])) {
          reader.error(item_at, cat("no service named \"", names[i],
                                    "\": use one of the "
                                    "manifest's services"));
        } else if (std::find(service.after.begin(), service.after.end(), names[i]) ==
                   service.after.end()) {
          service.after.push_back(names[i]);
        }
      }
    }
  }
  if (auto it = object.find("rlimits"); it != object.end()) {
    read_rlimits(reader, *it, at + "/rlimits", service);
  }
  if (auto it = object.find("confinement"); it != object.end()) {
    if (auto confinement = reader.choice<Confinement>(
            *it, at + "/confinement",
            {{confinement_name(Confinement::Strict), Confinement::Strict},
             {confinement_name(Confinement::Complain), Confinement::Complain},
             {confinement_name(Confinement::Off), Confinement::Off}})) {
      service.confinement = *confinement;
    }
  }
  if (auto it = object.find("seccomp"); it != object.end()) {
    read_seccomp(reader, *it, at + "/seccomp", service.seccomp);
    // SPEC §5: io_uring's operations bypass seccomp, so a filter that allows them filters
    // nothing of what they do; only a service with no filter may name them.
    const auto allow = it->is_object() ? it->find("allow") : it->end();
    if (service.confinement != Confinement::Off && allow != it->end() && allow->is_array()) {
      for (std::size_t i = 0; i < allow->size(); ++i) {
        const Json& item = (*allow)[i];
        if (!item.is_string()) continue;
        const std::string name = item.get<std::string>();
        if (name != "io_uring_setup" && name != "io_uring_enter" && name != "io_uring_register") {
          continue;
        }
        reader.error(cat(at, "/seccomp/allow/", i),
                     cat("\"", name, "\" cannot be allowed: io_uring's operations bypass seccomp"),
                     "use read/write or epoll; only \"confinement\": \"off\" (for debugging) may "
                     "name it");
        std::erase(service.seccomp.allow, name);
      }
    }
  }
  if (auto it = object.find("slots"); it != object.end()) {
    read_slots(reader, *it, at + "/slots", service);
  }
  if (auto it = object.find("plugs"); it != object.end()) {
    read_plugs(reader, *it, at + "/plugs", service);
  }
  check_private_shm(reader, service);
  read_service_keys(reader, object, service);
}

// ---- whole-manifest rules ---------------------------------------------------------------

// A queue or shared-memory object has exactly one owning slot (SPEC §2.1, §2.3).
void check_owners(Reader& reader, const Manifest& manifest) {
  struct Owner {
    std::string name;
    std::string slot_ref;
  };
  // Paths in a map and the (rare) patterns in a list keep this O(n log n) for large manifests.
  std::map<std::string, std::string> path_owners;
  std::vector<Owner> pattern_owners;
  auto other_owner = [&](const std::string& path, const std::string& slot_ref) {
    std::optional<Owner> found;
    if (is_queue_pattern(path)) {
      const std::string prefix = path.substr(0, path.size() - 1);
      for (auto it = path_owners.lower_bound(prefix);
           !found && it != path_owners.end() && it->first.starts_with(prefix); ++it) {
        if (it->second != slot_ref) found = Owner{it->first, it->second};
      }
    } else if (auto it = path_owners.find(path);
               it != path_owners.end() && it->second != slot_ref) {
      found = Owner{it->first, it->second};
    }
    for (const auto& owner : pattern_owners) {
      if (found) break;
      if (owner.slot_ref != slot_ref && queue_paths_overlap(owner.name, path)) found = owner;
    }
    return found;
  };
  std::map<std::string, std::string> objects;
  for (const auto& service : manifest.services) {
    for (const auto& slot : service.slots) {
      const std::string slot_ref = service.name + ":" + slot.name;
      if (const MqSlot* mq = slot.mq()) {
        for (std::size_t i = 0; i < mq->paths.size(); ++i) {
          const std::string& path = mq->paths[i];
          if (auto owner = other_owner(path, slot_ref)) {
            const bool same = owner->name == path;
            reader.error(
                cat(slot.pointer, "/path/", i),
                cat("queue \"", path, "\" ",
                    same ? "is already declared" : cat("overlaps \"", owner->name, "\", declared"),
                    " by slot ", owner->slot_ref, " (now also by ", slot_ref,
                    "): a queue has one owner; rename it, or plug into ", owner->slot_ref,
                    " instead"));
          }
          if (is_queue_pattern(path)) {
            pattern_owners.push_back({path, slot_ref});
          } else {
            path_owners.emplace(path, slot_ref);
          }
        }
      }
      if (const ShmSlot* shm = slot.shm()) {
        auto check = [&](const std::vector<ShmObject>& entries) {
          for (const auto& entry : entries) {
            auto [it, inserted] = objects.emplace(entry.name, slot_ref);
            if (inserted) continue;
            reader.error(entry.pointer, cat("shared-memory object \"", entry.name,
                                            "\" is already declared by "
                                            "slot ",
                                            it->second, " (now also by ", slot_ref,
                                            "): an object has one owner; rename it, or plug into ",
                                            it->second, " instead"));
          }
        };
        check(shm->write);
        check(shm->read);
      }
    }
  }
}

// Depth-first over `after` edges: an edge back to a service still on the path closes a cycle.
class AfterCycleFinder {
 public:
  AfterCycleFinder(const Manifest& manifest, Diagnostics& diagnostics)
      : manifest_(manifest), diagnostics_(diagnostics), state_(manifest.services.size()) {
    for (std::size_t i = 0; i < manifest.services.size(); ++i) {
      index_.emplace(manifest.services[i].name, i);
    }
  }

  void run() {
    for (std::size_t i = 0; i < manifest_.services.size(); ++i) {
      if (state_[i] == State::Unseen) visit(i);
    }
  }

 private:
  enum class State { Unseen, OnPath, Done };

  void visit(std::size_t at) {
    state_[at] = State::OnPath;
    path_.push_back(at);
    for (const auto& name : manifest_.services[at].after) {
      auto found = index_.find(name);
      if (found == index_.end()) continue;
      const std::size_t next = found->second;
      if (state_[next] == State::OnPath) {
        report(next);
      } else if (state_[next] == State::Unseen) {
        visit(next);
      }
    }
    path_.pop_back();
    state_[at] = State::Done;
  }

  void report(std::size_t first) {
    std::vector<std::string> names;
    auto start = std::find(path_.begin(), path_.end(), first);
    for (auto it = start; it != path_.end(); ++it) names.push_back(manifest_.services[*it].name);
    names.push_back(manifest_.services[first].name);
    diagnostics_.error(manifest_.services[first].pointer + "/after",
                       cat("start order has a cycle: ", join(names, " -> "),
                           " (each waits for the next through `after`)"),
                       "remove one `after` entry");
  }

  const Manifest& manifest_;
  Diagnostics& diagnostics_;
  std::map<std::string, std::size_t> index_;
  std::vector<State> state_;
  std::vector<std::size_t> path_;  // the services being visited, outermost first
};

void read_connections(Reader& reader, const Json& value, Manifest& manifest) {
  if (!reader.expect(value.is_array(), value, "/connections", "an array of connections")) return;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const std::string at = cat("/connections/", i);
    const Json& item = value[i];
    if (!reader.expect_object(item, at)) continue;
    reader.check_keys(item, at, {"plug", "slot"}, "a connection");
    ConnectionSpec spec;
    spec.pointer = at;
    bool ok = true;
    auto end = [&](const char* key, std::string& service, std::string& name) {
      const char* form = key == std::string_view("plug") ? "SERVICE:PLUG" : "SERVICE:SLOT";
      const Json* it = reader.required(item, at, key, cat("write \"", key, "\": \"", form, "\""));
      if (it == nullptr) {
        ok = false;
        return;
      }
      const std::string end_at = cat(at, '/', key);
      auto text = reader.text(*it, end_at);
      if (!text) {
        ok = false;
        return;
      }
      const auto colon = text->find(':');
      // ":shared-memory" is the implicit system slot, as `snap connect` writes it.
      const bool system_slot = colon == 0 && key == std::string_view("slot");
      if (colon == std::string::npos || (colon == 0 && !system_slot) || colon + 1 == text->size() ||
          text->find(':', colon + 1) != std::string::npos) {
        reader.error(end_at, cat("\"", *text, "\" is not of the form \"", form, "\""));
        ok = false;
        return;
      }
      service = text->substr(0, colon);
      name = text->substr(colon + 1);
    };
    end("plug", spec.plug_service, spec.plug);
    end("slot", spec.slot_service, spec.slot);
    if (ok) manifest.connections.push_back(std::move(spec));
  }
}

// SPEC §10: who besides root may read the control socket.
void read_control(Reader& reader, const Json& value, ControlSettings& control) {
  if (!reader.expect_object(value, "/control")) return;
  reader.check_keys(value, "/control", {"group"}, "control");
  if (auto it = value.find("group"); it != value.end()) {
    read_account(reader, *it, "/control/group", "group", control.group);
  }
}

// ---- log (SPEC §14) ----------------------------------------------------------------------

// Bounds that keep a gateway's RAM and flash use predictable: a file holds at least a few
// cut lines (about 17 KiB each when escaped), the ring at least a line per service.
constexpr std::uint64_t kLogMinBytes = 64 * 1024;
constexpr std::uint64_t kLogMaxFileBytes = 1024ULL * 1024 * 1024;
constexpr std::uint64_t kLogMaxRingBytes = 64ULL * 1024 * 1024;
constexpr std::uint64_t kLogMaxFiles = 100;

void read_log(Reader& reader, const Json& value, Manifest& manifest) {
  if (!reader.expect_object(value, "/log")) return;
  reader.check_keys(value, "/log", {"dir", "max-bytes", "files", "ring-bytes"}, "\"log\"");
  LogSettings settings;
  if (auto it = value.find("dir"); it != value.end()) {
    if (auto dir = reader.text(*it, "/log/dir")) {
      const bool absolute = dir->size() > 1 && dir->front() == '/';
      const bool clean = dir->find("//") == std::string::npos && dir->back() != '/' &&
                         (*dir + "/").find("/./") == std::string::npos &&
                         (*dir + "/").find("/../") == std::string::npos;
      if (!absolute || !clean) {
        reader.error("/log/dir",
                     cat("\"", *dir,
                         "\" is not a clean absolute directory: write it like "
                         "\"/var/log/ipcrt\" (no \".\", \"..\", \"//\" or trailing '/')"));
      } else {
        settings.dir = *dir;
      }
    }
  }
  if (auto it = value.find("max-bytes"); it != value.end()) {
    if (auto bytes = reader.integer(*it, "/log/max-bytes", kLogMinBytes, kLogMaxFileBytes)) {
      settings.max_bytes = *bytes;
    }
  }
  if (auto it = value.find("files"); it != value.end()) {
    if (auto files = reader.integer(*it, "/log/files", 1, kLogMaxFiles)) {
      settings.files = static_cast<unsigned>(*files);
    }
  }
  if (auto it = value.find("ring-bytes"); it != value.end()) {
    if (auto bytes = reader.integer(*it, "/log/ring-bytes", kLogMinBytes, kLogMaxRingBytes)) {
      settings.ring_bytes = *bytes;
    }
  }
  manifest.log = std::move(settings);
}

void read_manifest(Reader& reader, const Json& document, Manifest& manifest) {
  if (!document.is_object()) {
    reader.error("", cat("the manifest must be a JSON object, got ", json_type_name(document)));
    return;
  }
  reader.check_keys(document, "",
                    {"version", "name", "publisher", "services", "connections", "control",
                     "failure-action", "log"},
                    "the manifest");
  if (const Json* version = reader.required(document, "", "version", "add \"version\": 1")) {
    if (!version->is_number_integer() || version->get<long long>() != 1) {
      reader.error("/version", "unsupported version " + version->dump() + ": use 1");
    }
  }
  if (const Json* name = reader.required(
          document, "", "name", "add \"name\": \"gateway\" (lower-case letters, digits and '-')")) {
    if (auto text = reader.text(*name, "/name")) {
      manifest.name = *text;
      reader.check_name_value(manifest.name, "/name", "manifest name");
    }
  }
  if (auto publisher = document.find("publisher"); publisher != document.end()) {
    if (auto text = reader.text(*publisher, "/publisher")) manifest.publisher = *text;
  }
  read_failure_action(reader, document, manifest);
  const Json* services = reader.required(document, "", "services", "add at least one service");
  if (services != nullptr && reader.expect_object(*services, "/services")) {
    if (services->empty()) reader.error("/services", "no services: add at least one");
    std::set<std::string> names;
    for (const auto& [name, object] : services->items()) names.insert(name);
    for (const auto& [name, object] : services->items()) {
      Service service;
      service.name = name;
      service.pointer = "/services" + pointer_segment(name);
      service.publisher = manifest.publisher;
      reader.check_name_value(name, service.pointer, "service name");
      if (!reader.expect_object(object, service.pointer)) continue;
      read_service(reader, object, service, names);
      if (service.publisher.empty()) service.publisher = manifest.publisher;
      check_service_keys(reader, service, manifest.name);
      manifest.services.push_back(std::move(service));
    }
  }
  if (auto control = document.find("control"); control != document.end()) {
    read_control(reader, *control, manifest.control);
  }
  check_failure_action(reader, manifest);
  check_owners(reader, manifest);
  check_after_cycles(manifest, reader.diagnostics());
  if (auto connections = document.find("connections"); connections != document.end()) {
    read_connections(reader, *connections, manifest);
  }
  if (auto log = document.find("log"); log != document.end()) read_log(reader, *log, manifest);
}

}  // namespace

void check_after_cycles(const Manifest& manifest, Diagnostics& diagnostics) {
  AfterCycleFinder(manifest, diagnostics).run();
}

ParseResult parse_manifest(std::string_view text, const std::string& file,
                           const ParseOptions& options) {
  ParseResult result;
  auto document = parse_json(text, result.diagnostics);
  if (!document) return result;
  Manifest manifest;
  manifest.file = file;
  read_document(result.diagnostics, [&] {
    Reader reader(result.diagnostics, options);
    read_manifest(reader, *document, manifest);
  });
  if (!result.diagnostics.has_errors()) result.manifest = std::move(manifest);
  return result;
}

ParseResult load_manifest(const std::string& path, const ParseOptions& options) {
  auto contents = read_text_file(path);
  if (!contents) {
    ParseResult result;
    result.diagnostics.error(
        "", cat("cannot read the manifest file: ", std::strerror(contents.error().errnum)),
        "check the path and permissions");
    return result;
  }
  return parse_manifest(*contents, path, options);
}

}  // namespace ipcrt::config
