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
#include <nlohmann/json.hpp>
#include <set>

#include "common/file.hpp"
#include "common/text.hpp"
#include "config/names.hpp"

namespace ipcrt::config {
namespace {

using Json = nlohmann::ordered_json;
using Keys = std::initializer_list<std::string_view>;

// nlohmann reports a byte offset; editors want line and column (1-based).
void report_syntax_error(std::string_view text, const nlohmann::json::parse_error& error,
                         Diagnostics& diagnostics) {
  const std::size_t offset = error.byte == 0 ? 0 : std::min(error.byte - 1, text.size());
  int line = 1;
  int column = 1;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  std::string what = error.what();
  // Keep nlohmann's explanation, drop its "[json.exception.parse_error.101] parse error at
  // line 3, column 14: " prefix, which repeats what the location already says.
  if (auto colon = what.find(": "); colon != std::string::npos) what = what.substr(colon + 2);
  diagnostics.syntax_error(line, column, "invalid JSON: " + what);
}

// Duplicate object keys are silently merged by JSON parsers; in a manifest they are almost
// always a copy-paste mistake, so the parse callback tracks the pointer and reports them.
class DuplicateKeyFinder {
 public:
  explicit DuplicateKeyFinder(Diagnostics& diagnostics) : diagnostics_(diagnostics) {}

  bool operator()(int /*depth*/, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
      case Json::parse_event_t::array_start:
        count_element();
        frames_.push_back({event == Json::parse_event_t::array_start, 0, {}, {}});
        break;
      case Json::parse_event_t::object_end:
      case Json::parse_event_t::array_end:
        if (!frames_.empty()) frames_.pop_back();
        break;
      case Json::parse_event_t::key: {
        Frame& frame = frames_.back();
        frame.key = parsed.get<std::string>();
        if (!frame.keys.insert(frame.key).second) {
          diagnostics_.error(pointer(), cat("duplicate key \"", frame.key,
                                            "\": the later value would silently replace the "
                                            "earlier one; keep one"));
        }
        break;
      }
      case Json::parse_event_t::value:
        count_element();
        break;
    }
    return true;
  }

 private:
  struct Frame {
    bool array;
    std::size_t count;  // elements seen, for arrays
    std::string key;    // current key, for objects
    std::set<std::string> keys;
  };

  void count_element() {
    if (!frames_.empty() && frames_.back().array) ++frames_.back().count;
  }
  std::string pointer() const {
    std::string text;
    for (const auto& frame : frames_) {
      if (frame.array) {
        text += '/';
        text += std::to_string(frame.count - 1);
      } else {
        text += pointer_segment(frame.key);
      }
    }
    return text;
  }

  Diagnostics& diagnostics_;
  std::vector<Frame> frames_;
};

const char* type_name(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "an integer";
    case Json::value_t::number_float:
      return "a number with a fraction";
    default:
      return "a binary value";
  }
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string quoted_list(Keys values) {
  std::vector<std::string> items;
  for (auto value : values) items.push_back(cat('"', value, '"'));
  return join(items, ", ");
}

// Context shared by every rule: the diagnostics and the pointer arithmetic.
class Reader {
 public:
  Reader(Diagnostics& diagnostics, const ParseOptions& options)
      : diagnostics_(diagnostics), options_(options) {}

  void error(const std::string& pointer, std::string message) {
    diagnostics_.error(pointer, std::move(message));
  }
  const ParseOptions& options() const { return options_; }

  // Reports each key of `object` not in `allowed`, with a close match when there is one.
  void check_keys(const Json& object, const std::string& pointer, Keys allowed,
                  std::string_view where) {
    for (const auto& [key, value] : object.items()) {
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
      std::string message = cat("unknown key \"", key, "\" in ", where);
      std::string_view closest;
      std::size_t best = 3;
      for (auto candidate : allowed) {
        const std::size_t distance = edit_distance(key, candidate);
        if (distance < best) {
          best = distance;
          closest = candidate;
        }
      }
      if (!closest.empty()) message += cat(": did you mean \"", closest, "\"?");
      message += cat(" (allowed keys: ", join(allowed, ", "), ")");
      error(pointer + pointer_segment(key), message);
    }
  }

  bool expect(bool ok, const Json& value, const std::string& pointer, std::string_view what) {
    if (!ok) error(pointer, cat("expected ", what, ", got ", type_name(value)));
    return ok;
  }
  bool expect_object(const Json& value, const std::string& pointer) {
    return expect(value.is_object(), value, pointer, "an object");
  }
  bool expect_string(const Json& value, const std::string& pointer) {
    return expect(value.is_string(), value, pointer, "a string");
  }
  bool expect_bool(const Json& value, const std::string& pointer) {
    return expect(value.is_boolean(), value, pointer, "true or false");
  }

  // A string without NUL bytes, which could never reach the kernel intact.
  std::optional<std::string> text(const Json& value, const std::string& pointer) {
    if (!expect_string(value, pointer)) return std::nullopt;
    auto result = value.get<std::string>();
    if (result.find('\0') != std::string::npos) {
      error(pointer, "contains a NUL character, which cannot be passed to the kernel: remove it");
      return std::nullopt;
    }
    return result;
  }

  // An array of strings; bad elements are reported and skipped.
  std::vector<std::string> string_list(const Json& value, const std::string& pointer) {
    std::vector<std::string> result;
    if (!expect(value.is_array(), value, pointer, "an array of strings")) return result;
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (auto item = text(value[i], cat(pointer, '/', i))) result.push_back(std::move(*item));
    }
    return result;
  }

  // An integer in [minimum, maximum]; `what` says what the value means.
  std::optional<std::uint64_t> integer(const Json& value, const std::string& pointer,
                                       std::uint64_t minimum, std::uint64_t maximum) {
    const std::string range =
        minimum == 1 ? "a positive integer" : cat("an integer from ", minimum);
    const std::string bound = maximum == std::numeric_limits<std::uint64_t>::max()
                                  ? std::string()
                                  : cat(" up to ", maximum);
    if (!value.is_number_integer()) {
      error(pointer, cat("expected ", range, bound, ", got ", type_name(value)));
      return std::nullopt;
    }
    if (!value.is_number_unsigned() || value.get<std::uint64_t>() < minimum ||
        value.get<std::uint64_t>() > maximum) {
      error(pointer, cat("expected ", range, bound, ", got ", value.dump()));
      return std::nullopt;
    }
    return value.get<std::uint64_t>();
  }

  template <class Enum>
  std::optional<Enum> choice(const Json& value, const std::string& pointer,
                             std::initializer_list<std::pair<std::string_view, Enum>> values) {
    std::vector<std::string> names;
    for (const auto& [name, item] : values) names.push_back(cat('"', name, '"'));
    if (value.is_string()) {
      for (const auto& [name, item] : values) {
        if (value.get<std::string>() == name) return item;
      }
      error(pointer, cat("unknown value ", value.dump(), ": use one of ", join(names, ", ")));
      return std::nullopt;
    }
    error(pointer, cat("expected one of ", join(names, ", "), ", got ", type_name(value)));
    return std::nullopt;
  }

  void check_name_value(const std::string& name, const std::string& pointer,
                        std::string_view what) {
    if (auto problem = check_name(name, what); !problem.empty()) error(pointer, problem);
  }

 private:
  Diagnostics& diagnostics_;
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
                            show_value ? value.dump() : std::string(type_name(value))));
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
    reader.error(pointer, cat("expected a ", what, " name or number, got ", type_name(value)));
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
  auto it = object.find("interface");
  if (it == object.end()) {
    reader.error(pointer,
                 "missing \"interface\": add \"interface\": \"posix-mq\" or "
                 "\"shared-memory\"");
    return std::nullopt;
  }
  return reader.choice<Interface>(
      *it, pointer + "/interface",
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

void read_mq_slot(Reader& reader, const Json& object, const std::string& pointer, MqSlot& mq) {
  reader.check_keys(object, pointer,
                    {"interface", "posix-mq", "path", "permissions", "max-messages", "message-size",
                     "mode", "create", "remove-on-stop"},
                    "a posix-mq slot");
  auto path = object.find("path");
  if (path == object.end()) {
    reader.error(pointer,
                 "missing \"path\": list the queues of this slot, e.g. "
                 "\"path\": [\"/telemetry\"]");
  } else {
    const std::string at = pointer + "/path";
    std::vector<std::pair<const Json*, std::string>> raw;
    if (path->is_string()) {
      raw.emplace_back(&*path, at);
    } else if (path->is_array() && !path->empty()) {
      for (std::size_t i = 0; i < path->size(); ++i) raw.emplace_back(&(*path)[i], cat(at, '/', i));
    } else if (path->is_array()) {
      reader.error(at, "empty path list: list at least one queue, e.g. [\"/telemetry\"]");
    } else {
      reader.error(at, cat("expected a string or an array of strings, got ", type_name(*path)));
    }
    for (const auto& [value, value_pointer] : raw) {
      if (!reader.expect_string(*value, value_pointer)) continue;
      auto checked =
          normalise_queue_path(value->get<std::string>(), reader.options().allow_queue_patterns);
      if (!checked.error.empty()) {
        reader.error(value_pointer, checked.error);
      } else if (std::find(mq.paths.begin(), mq.paths.end(), checked.path) != mq.paths.end()) {
        reader.error(value_pointer, cat("queue \"", checked.path, "\" is listed twice: keep one"));
      } else {
        mq.paths.push_back(checked.path);
      }
    }
  }
  if (auto it = object.find("permissions"); it != object.end()) {
    const std::string at = pointer + "/permissions";
    unsigned permissions = 0;
    bool valid = true;
    auto names = reader.string_list(*it, at);
    valid = it->is_array() && names.size() == it->size();
    for (std::size_t i = 0; i < names.size(); ++i) {
      static const std::map<std::string, unsigned> kBits = {{"read", kPermRead},
                                                            {"write", kPermWrite},
                                                            {"create", kPermCreate},
                                                            {"delete", kPermDelete},
                                                            {"open", 0U}};
      auto bit = kBits.find(names[i]);
      if (bit == kBits.end()) {
        reader.error(cat(at, '/', i),
                     cat("unknown permission \"", names[i], "\": use ",
                         quoted_list({"read", "write", "create", "delete", "open"})));
        valid = false;
        continue;
      }
      permissions |= bit->second;
    }
    if (valid && permissions == 0) {
      reader.error(at,
                   "grants nothing to connected plugs: list at least one of \"read\", "
                   "\"write\", \"create\", \"delete\"");
    } else if (valid) {
      mq.permissions = permissions;
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
      reader.error(at, cat("expected an octal string such as \"0660\", got ", type_name(*it),
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
    if (reader.expect_bool(*it, pointer + "/create")) mq.create = it->get<bool>();
  }
  if (auto it = object.find("remove-on-stop"); it != object.end()) {
    if (reader.expect_bool(*it, pointer + "/remove-on-stop")) {
      mq.remove_on_stop = it->get<bool>();
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
      if (!reader.expect_string((*it)[i], item_at)) continue;
      const auto name = (*it)[i].get<std::string>();
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
        if (reader.expect_bool(*it, at + "/private")) plug.private_shm = it->get<bool>();
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
  if (auto it = object.find("command"); it == object.end()) {
    reader.error(at,
                 "missing \"command\": add the program to run, e.g. "
                 "\"command\": [\"/usr/bin/sensor-hub\"]");
  } else if (!it->is_array() || it->empty()) {
    reader.error(at + "/command", cat("expected a non-empty array of strings (program path "
                                      "first), got ",
                                      it->is_array() ? "an empty array" : type_name(*it)));
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
      auto it = item.find(key);
      if (it == item.end()) {
        reader.error(at, cat("missing \"", key, "\": write \"", key,
                             "\": \"SERVICE:", key == std::string("plug") ? "PLUG" : "SLOT", "\""));
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
        reader.error(end_at, cat("\"", *text, "\" is not of the form \"SERVICE:",
                                 key == std::string("plug") ? "PLUG" : "SLOT", "\""));
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
                     cat("\"", *dir, "\" is not a clean absolute directory: write it like "
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
    reader.error("", cat("the manifest must be a JSON object, got ", type_name(document)));
    return;
  }
  reader.check_keys(document, "",
                    {"version", "name", "publisher", "services", "connections", "log"},
                    "the manifest");
  auto version = document.find("version");
  if (version == document.end()) {
    reader.error("/version", "missing \"version\": add \"version\": 1");
  } else if (!version->is_number_integer() || version->get<long long>() != 1) {
    reader.error("/version", "unsupported version " + version->dump() + ": use 1");
  }
  if (auto name = document.find("name"); name == document.end()) {
    reader.error("",
                 "missing \"name\": add \"name\": \"gateway\" (lower-case letters, digits "
                 "and '-')");
  } else if (reader.expect_string(*name, "/name")) {
    manifest.name = name->get<std::string>();
    reader.check_name_value(manifest.name, "/name", "manifest name");
  }
  if (auto publisher = document.find("publisher"); publisher != document.end()) {
    if (auto text = reader.text(*publisher, "/publisher")) manifest.publisher = *text;
  }
  auto services = document.find("services");
  if (services == document.end()) {
    reader.error("", "missing \"services\": add at least one service");
  } else if (reader.expect_object(*services, "/services")) {
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
  if (auto log = document.find("log"); log != document.end()) read_log(reader, *log, manifest);
}

}  // namespace

std::string pointer_segment(std::string_view key) {
  std::string segment = "/";
  for (char c : key) {
    if (c == '~') {
      segment += "~0";
    } else if (c == '/') {
      segment += "~1";
    } else {
      segment += c;
    }
  }
  return segment;
}

ParseResult parse_manifest(std::string_view text, const std::string& file,
                           const ParseOptions& options) {
  ParseResult result;
  Json document;
  Diagnostics duplicates;
  try {
    document = Json::parse(text.begin(), text.end(), DuplicateKeyFinder(duplicates));
  } catch (const nlohmann::json::parse_error& error) {
    report_syntax_error(text, error, result.diagnostics);
    return result;
  } catch (const nlohmann::json::exception& error) {
    // Other nlohmann errors (e.g. invalid UTF-8 met while building a key) have no position.
    result.diagnostics.error("", cat("invalid JSON: ", error.what()));
    return result;
  }
  result.diagnostics.append(duplicates);
  Manifest manifest;
  manifest.file = file;
  try {
    Reader reader(result.diagnostics, options);
    read_manifest(reader, document, manifest);
  } catch (const nlohmann::json::exception& error) {
    // A rule above forgot a type check; report it rather than crash the runtime.
    result.diagnostics.error("", cat("internal error while reading the manifest: ", error.what()));
  }
  if (!result.diagnostics.has_errors()) result.manifest = std::move(manifest);
  return result;
}

ParseResult load_manifest(const std::string& path, const ParseOptions& options) {
  auto contents = read_text_file(path);
  if (!contents) {
    ParseResult result;
    result.diagnostics.error(
        "", cat("cannot read the manifest file: ", std::strerror(contents.error().errnum),
                ": check the path and permissions"));
    return result;
  }
  return parse_manifest(*contents, path, options);
}

}  // namespace ipcrt::config
