// Manifest parser: the edge where nlohmann-json exceptions become diagnostics, and the rules of
// SPEC §2 applied in document order. Every rule reports at the JSON pointer of the offending
// value and parsing goes on, so one run shows every problem.
#include "config/parser.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <map>
#include <set>

#include "common/file.hpp"
#include "common/text.hpp"
#include "config/json_reader.hpp"
#include "config/names.hpp"

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

// libseccomp 2.5's architecture names (seccomp_arch_resolve_name).
constexpr std::string_view kArchitectures[] = {
    "x86",       "x86_64", "x32",      "arm",         "aarch64", "mips",  "mips64",
    "mips64n32", "mipsel", "mipsel64", "mipsel64n32", "ppc",     "ppc64", "ppc64le",
    "s390",      "s390x",  "parisc",   "parisc64",    "riscv64",
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
  auto syscall_list = [&](const char* key, std::vector<std::string>& out) {
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
      out.push_back(item);
    }
  };
  syscall_list("allow", seccomp.allow);
  syscall_list("deny", seccomp.deny);
  if (auto it = value.find("architectures"); it != value.end()) {
    const std::string at = pointer + "/architectures";
    auto items = reader.string_list(*it, at);
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (std::find(std::begin(kArchitectures), std::end(kArchitectures), items[i]) ==
          std::end(kArchitectures)) {
        reader.error(cat(at, '/', i), cat("unknown architecture \"", items[i], "\": use one of ",
                                          join(kArchitectures, ", ")));
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

// The `posix-mq` / `shared-memory` attribute; defaults to the slot or plug name.
std::string read_identifier(Reader& reader, const Json& object, const std::string& pointer,
                            Interface interface, const std::string& fallback) {
  const char* key = interface_name(interface);
  auto it = object.find(key);
  if (it == object.end()) return fallback;
  const std::string at = cat(pointer, '/', key);
  auto text = reader.text(*it, at);
  if (!text) return fallback;
  if (text->empty()) {
    reader.error(at, "empty identifier: omit it to use the name, or write one");
    return fallback;
  }
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
      reader.error(at,
                   "grants nothing to connected plugs: list at least one of \"read\", "
                   "\"write\", \"create\", \"delete\"");
    } else if (permissions) {
      mq.permissions = *permissions;
    }
  }
  constexpr auto kLongMax = static_cast<std::uint64_t>(std::numeric_limits<long>::max());
  if (auto it = object.find("max-messages"); it != object.end()) {
    if (auto value = reader.integer(*it, pointer + "/max-messages", 1, kLongMax)) {
      mq.max_messages = static_cast<long>(*value);
    }
  }
  if (auto it = object.find("message-size"); it != object.end()) {
    if (auto value = reader.integer(*it, pointer + "/message-size", 1, kLongMax)) {
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

void read_shm_slot(Reader& reader, const Json& object, const std::string& pointer, ShmSlot& shm) {
  reader.check_keys(object, pointer, {"interface", "shared-memory", "read", "write"},
                    "a shared-memory slot");
  auto read_list = [&](const char* key, std::vector<std::string>& out) {
    auto it = object.find(key);
    if (it == object.end()) return;
    const std::string at = cat(pointer, '/', key);
    if (!reader.expect(it->is_array(), *it, at, "an array of object names")) return;
    for (std::size_t i = 0; i < it->size(); ++i) {
      const std::string item_at = cat(at, '/', i);
      auto text = reader.text((*it)[i], item_at);
      if (!text) continue;
      const std::string& name = *text;
      if (auto problem = check_shm_name(name); !problem.empty()) {
        reader.error(item_at, problem);
      } else if (std::find(out.begin(), out.end(), name) != out.end()) {
        reader.error(item_at, cat("\"", name, "\" is listed twice: keep one"));
      } else if (out.data() == shm.write.data() &&
                 std::find(shm.read.begin(), shm.read.end(), name) != shm.read.end()) {
        reader.error(item_at, cat("\"", name,
                                  "\" is in both \"read\" and \"write\": an object "
                                  "is either read-only or read-write for plugs; "
                                  "keep it in one list"));
      } else {
        out.push_back(name);
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

void read_slots(Reader& reader, const Json& value, const std::string& pointer, Service& service) {
  if (!reader.expect_object(value, pointer)) return;
  for (const auto& [name, object] : value.items()) {
    const std::string at = pointer + pointer_segment(name);
    reader.check_name_value(name, at, "slot name");
    if (!reader.expect_object(object, at)) continue;
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

void read_service(Reader& reader, const Json& object, Service& service,
                  const std::set<std::string>& service_names) {
  const std::string& at = service.pointer;
  reader.check_keys(
      object, at,
      {"command", "user", "group", "environment", "working-directory", "publisher", "restart",
       "restart-delay-ms", "after", "rlimits", "confinement", "seccomp", "slots", "plugs"},
      "a service");
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
  }
  if (auto it = object.find("user"); it != object.end()) {
    read_account(reader, *it, at + "/user", "user", service.user);
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
    if (auto confinement = reader.choice<Confinement>(*it, at + "/confinement",
                                                      {{"strict", Confinement::Strict},
                                                       {"complain", Confinement::Complain},
                                                       {"off", Confinement::Off}})) {
      service.confinement = *confinement;
    }
  }
  if (auto it = object.find("seccomp"); it != object.end()) {
    read_seccomp(reader, *it, at + "/seccomp", service.seccomp);
  }
  if (auto it = object.find("slots"); it != object.end()) {
    read_slots(reader, *it, at + "/slots", service);
  }
  if (auto it = object.find("plugs"); it != object.end()) {
    read_plugs(reader, *it, at + "/plugs", service);
  }
  check_private_shm(reader, service);
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
        auto check = [&](const std::vector<std::string>& names, const char* list) {
          for (std::size_t i = 0; i < names.size(); ++i) {
            auto [it, inserted] = objects.emplace(names[i], slot_ref);
            if (inserted) continue;
            reader.error(cat(slot.pointer, '/', list, '/', i),
                         cat("shared-memory object \"", names[i],
                             "\" is already declared by "
                             "slot ",
                             it->second, " (now also by ", slot_ref,
                             "): an object has one owner; rename it, or plug into ", it->second,
                             " instead"));
          }
        };
        check(shm->write, "write");
        check(shm->read, "read");
      }
    }
  }
}

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
      if (colon == std::string::npos || colon == 0 || colon + 1 == text->size() ||
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

void read_manifest(Reader& reader, const Json& document, Manifest& manifest) {
  if (!document.is_object()) {
    reader.error("", cat("the manifest must be a JSON object, got ", json_type_name(document)));
    return;
  }
  reader.check_keys(document, "", {"version", "name", "publisher", "services", "connections"},
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
      manifest.services.push_back(std::move(service));
    }
  }
  check_owners(reader, manifest);
  if (auto connections = document.find("connections"); connections != document.end()) {
    read_connections(reader, *connections, manifest);
  }
}

}  // namespace

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
