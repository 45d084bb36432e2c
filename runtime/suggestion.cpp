#include "runtime/suggestion.hpp"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "common/log.hpp"
#include "common/text.hpp"

namespace ipcrt::runtime {

void DenialCollector::add(const DenialEvent& event) {
  std::lock_guard lock(mutex_);
  auto key = std::make_tuple(std::string(event.service), std::string(event.syscall),
                             std::string(event.need));
  if (auto found = index_.find(key); found != index_.end()) {
    ++seen_[found->second].count;
    return;
  }
  if (seen_.size() >= kMaxKinds) {
    ++dropped_;
    return;
  }
  index_.emplace(std::move(key), seen_.size());
  seen_.push_back({std::string(event.service), std::string(event.syscall),
                   std::string(event.argument), std::string(event.need), event.recoverable,
                   std::string(event.still_refused), 1});
}

std::vector<SeenDenial> DenialCollector::denials() const {
  std::lock_guard lock(mutex_);
  return seen_;
}

std::uint64_t DenialCollector::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view kAllowNeed = "seccomp.allow: ";
constexpr std::string_view kDenyNeed = "removing it from seccomp.deny";
constexpr std::string_view kArchitectureNeed = "seccomp.architectures: ";
constexpr std::string_view kQueuesNeed = "resources.queues: ";
constexpr std::string_view kQueueBytesNeed = "resources.queue-bytes: ";
constexpr std::string_view kAnyMqGrantNeed = "a posix-mq plug or slot granting it";

// What caused one entry of the patch: its first denial, and how many calls it covers.
struct Cause {
  const SeenDenial* first = nullptr;
  std::uint64_t calls = 0;

  void add(const SeenDenial& denial) {
    if (first == nullptr) first = &denial;
    calls += denial.count;
  }
};

struct Budget {
  std::uint64_t value = 0;
  Cause cause;
};

struct ServicePatch {
  std::map<std::string, Cause> allow;          // syscall names to add
  std::map<std::string, Cause> undeny;         // syscall names to take out of seccomp.deny
  std::map<std::string, Cause> architectures;  // ABIs to add
  std::optional<Budget> queues;
  std::optional<Budget> queue_bytes;
};

struct SlotKey {
  std::string service;
  std::string slot;
  auto operator<=>(const SlotKey&) const = default;
};

// What a service wrote reaches a terminal: control bytes and broken UTF-8 as \xHH (quotes
// stay, the needs quote manifest keys).
std::string printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    if (c >= 0x80) {
      if (const std::size_t length = log_detail::utf8_sequence(text, i); length > 0) {
        out.append(text.substr(i, length));
        i += length;
        continue;
      }
    }
    out += "\\x";
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
    ++i;
  }
  return out;
}

// `denied mq_open arg="/telemetry" in service py (3 calls)`.
std::string describe(const Cause& cause, std::string_view patched_service) {
  const SeenDenial& denial = *cause.first;
  std::string out = cat("denied ", printable(denial.syscall));
  if (!denial.argument.empty()) {
    out += " arg=";
    append_quoted(out, denial.argument);
  }
  if (denial.service != patched_service) out += cat(" in service ", denial.service);
  if (cause.calls > 1) out += cat(" (", cause.calls, " calls)");
  return out;
}

bool is_name(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::optional<std::uint64_t> number_after(std::string_view need, std::string_view prefix) {
  if (!need.starts_with(prefix)) return std::nullopt;
  const std::string_view digits = need.substr(prefix.size());
  std::uint64_t value = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (error != std::errc() || end != digits.data() + digits.size() || digits.empty()) {
    return std::nullopt;
  }
  return value;
}

// "write+create on sensor-hub:telemetry": the permission bits and the slot.
std::optional<std::pair<unsigned, SlotKey>> slot_permission(std::string_view need) {
  const auto on = need.find(" on ");
  if (on == std::string_view::npos) return std::nullopt;
  std::string_view words = need.substr(0, on);
  const std::string_view slot = need.substr(on + 4);
  unsigned bits = 0;
  while (!words.empty()) {
    const auto plus = words.find('+');
    const std::string_view word = words.substr(0, plus);
    bool known = false;
    for (const auto& [bit, spelled] : config::kPermissionWords) {
      if (spelled == word) {
        bits |= bit;
        known = true;
      }
    }
    if (!known) return std::nullopt;
    words = plus == std::string_view::npos ? std::string_view{} : words.substr(plus + 1);
  }
  const auto colon = slot.find(':');
  if (bits == 0 || colon == std::string_view::npos || colon == 0) return std::nullopt;
  return std::make_pair(
      bits, SlotKey{std::string(slot.substr(0, colon)), std::string(slot.substr(colon + 1))});
}

const config::MqSlot* find_mq_slot(const config::Manifest& manifest, const SlotKey& key) {
  const config::Service* service = manifest.find_service(key.service);
  if (service == nullptr) return nullptr;
  for (const auto& slot : service->slots) {
    if (slot.name == key.slot) return slot.mq();
  }
  return nullptr;
}

std::string quoted_json(std::string_view text) {
  return Json(std::string(text)).dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

Suggestion suggest_patch(const config::Manifest& manifest, const std::vector<SeenDenial>& denials) {
  std::map<std::string, ServicePatch> services;
  std::map<SlotKey, std::map<unsigned, Cause>> permissions;  // bit → cause
  std::set<std::string> consumers_widened;   // services whose queue grants the patch widens
  std::vector<const SeenDenial*> any_grant;  // "a posix-mq plug or slot granting it"
  std::vector<std::string> notes;            // what is not in the patch, in order
  auto note = [&](std::string line) {
    if (std::find(notes.begin(), notes.end(), line) == notes.end()) notes.push_back(line);
  };
  auto call_of = [](const SeenDenial& denial) {
    std::string out = printable(denial.syscall);
    if (!denial.argument.empty()) {
      out += " arg=";
      append_quoted(out, denial.argument);
    }
    return out;
  };

  for (const auto& denial : denials) {
    if (manifest.find_service(denial.service) == nullptr) continue;
    const std::string service_pointer = cat("/services/", denial.service);
    const std::string_view need = denial.need;
    if (!denial.still_refused.empty()) {
      note(cat(service_pointer, ": cannot be patched: ", call_of(denial), ": ",
               printable(denial.still_refused), " (need=\"", printable(need), "\")"));
      continue;
    }
    ServicePatch& patch = services[denial.service];
    if (need.starts_with(kAllowNeed) && is_name(need.substr(kAllowNeed.size()))) {
      const std::string name(need.substr(kAllowNeed.size()));
      if (denial.recoverable) {
        // Programs go on without it; patched only if another call needs the same name.
        continue;
      }
      patch.allow[name].add(denial);
    } else if (denial.recoverable) {
      continue;  // its advice is "nothing" (or what the line says): never a patch
    } else if (need == kDenyNeed) {
      patch.undeny[denial.syscall].add(denial);
    } else if (need.starts_with(kArchitectureNeed) &&
               is_name(need.substr(kArchitectureNeed.size()))) {
      patch.architectures[std::string(need.substr(kArchitectureNeed.size()))].add(denial);
    } else if (auto queues = number_after(need, kQueuesNeed)) {
      if (!patch.queues || *queues > patch.queues->value) patch.queues = Budget{*queues, {}};
      patch.queues->cause.add(denial);
    } else if (auto bytes = number_after(need, kQueueBytesNeed)) {
      if (!patch.queue_bytes || *bytes > patch.queue_bytes->value) {
        patch.queue_bytes = Budget{*bytes, {}};
      }
      patch.queue_bytes->cause.add(denial);
    } else if (auto permission = slot_permission(need);
               permission && find_mq_slot(manifest, permission->second) != nullptr) {
      auto& bits = permissions[permission->second];
      for (const auto& [bit, word] : config::kPermissionWords) {
        if ((permission->first & bit) != 0) bits[bit].add(denial);
      }
      consumers_widened.insert(denial.service);
    } else if (need == kAnyMqGrantNeed) {
      any_grant.push_back(&denial);
    } else {
      note(cat(service_pointer, ": cannot be patched: ", call_of(denial), ": need=\"",
               printable(need), "\""));
    }
  }
  // An mq_* call the filter refused: the permission on the slot its mq_open named covers it.
  for (const SeenDenial* denial : any_grant) {
    if (consumers_widened.contains(denial->service)) continue;
    note(cat("/services/", denial->service, ": cannot be patched: ", call_of(*denial), ": need=\"",
             kAnyMqGrantNeed, "\""));
  }
  // What programs recover from, said once where nothing else allows it.
  for (const auto& denial : denials) {
    if (!denial.recoverable || !denial.still_refused.empty()) continue;
    auto found = services.find(denial.service);
    if (denial.need.starts_with(kAllowNeed) && found != services.end() &&
        found->second.allow.contains(denial.need.substr(kAllowNeed.size()))) {
      continue;
    }
    note(cat("/services/", denial.service, ": not patched: ", call_of(denial), ": need=\"",
             printable(denial.need), "\""));
  }

  Json patch = Json::object();
  std::vector<std::string> reasons;
  for (const auto& service : manifest.services) {
    const std::string pointer = cat("/services/", service.name);
    Json entry = Json::object();
    if (service.confinement != config::Confinement::Strict) {
      entry["confinement"] = nullptr;
      reasons.push_back(cat(pointer, "/confinement: null: the manifest says \"",
                            config::confinement_name(service.confinement),
                            "\"; suggest ran it in complain mode, and strict is the default"));
    }
    if (auto found = services.find(service.name); found != services.end()) {
      const ServicePatch& changes = found->second;
      if (!changes.allow.empty()) {
        Json list = service.seccomp.allow;
        for (const auto& [name, cause] : changes.allow) {
          list.push_back(name);
          reasons.push_back(cat(pointer, "/seccomp/allow: ", quoted_json(name), ": ",
                                describe(cause, service.name)));
        }
        entry["seccomp"]["allow"] = std::move(list);
      }
      if (!changes.undeny.empty()) {
        Json list = Json::array();
        for (const auto& name : service.seccomp.deny) {
          if (!changes.undeny.contains(name)) list.push_back(name);
        }
        for (const auto& [name, cause] : changes.undeny) {
          reasons.push_back(cat(pointer, "/seccomp/deny: without ", quoted_json(name), ": ",
                                describe(cause, service.name)));
        }
        entry["seccomp"]["deny"] = std::move(list);
      }
      if (!changes.architectures.empty()) {
        Json list = service.seccomp.architectures;
        for (const auto& [name, cause] : changes.architectures) {
          list.push_back(name);
          reasons.push_back(cat(pointer, "/seccomp/architectures: ", quoted_json(name), ": ",
                                describe(cause, service.name)));
        }
        entry["seccomp"]["architectures"] = std::move(list);
      }
      if (changes.queues) {
        entry["resources"]["queues"] = changes.queues->value;
        reasons.push_back(cat(pointer, "/resources/queues: ", changes.queues->value, ": ",
                              describe(changes.queues->cause, service.name)));
      }
      if (changes.queue_bytes) {
        entry["resources"]["queue-bytes"] = changes.queue_bytes->value;
        reasons.push_back(cat(pointer, "/resources/queue-bytes: ", changes.queue_bytes->value, ": ",
                              describe(changes.queue_bytes->cause, service.name)));
      }
    }
    for (const auto& slot : service.slots) {
      auto found = permissions.find(SlotKey{service.name, slot.name});
      if (found == permissions.end() || slot.mq() == nullptr) continue;
      unsigned bits = slot.mq()->permissions;
      const std::string slot_pointer = cat(pointer, "/slots/", slot.name, "/permissions");
      for (const auto& [bit, cause] : found->second) {
        if ((bits & bit) != 0) continue;
        bits |= bit;
        reasons.push_back(
            cat(slot_pointer, ": ",
                quoted_json(config::permission_word(static_cast<config::Permission>(bit))), ": ",
                describe(cause, service.name)));
      }
      entry["slots"][slot.name]["permissions"] = config::permission_names(bits);
    }
    if (!entry.empty()) patch["services"][service.name] = std::move(entry);
  }

  Suggestion suggestion;
  suggestion.empty = patch.empty();
  suggestion.patch = patch.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
  suggestion.reasons = std::move(reasons);
  suggestion.reasons.insert(suggestion.reasons.end(), notes.begin(), notes.end());
  return suggestion;
}

}  // namespace ipcrt::runtime
