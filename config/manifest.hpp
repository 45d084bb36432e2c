// The manifest model (SPEC §2): what the parser produces from JSON and everything else
// consumes. Values are already normalised (leading '/' on queue paths, defaults applied where
// the default does not depend on the kernel); every element remembers its JSON pointer so
// later stages (connections, limits) can report errors at the right place.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace ipcrt::config {

enum class Interface { PosixMq, SharedMemory };

// Bit set of posix-mq permissions; `open` is accepted by the parser and adds nothing.
enum Permission : unsigned {
  kPermRead = 1U << 0U,
  kPermWrite = 1U << 1U,
  kPermCreate = 1U << 2U,
  kPermDelete = 1U << 3U,
  kPermAll = kPermRead | kPermWrite | kPermCreate | kPermDelete,
};

struct PermissionWord {
  Permission bit;
  std::string_view word;  // as written in a slot's `permissions`
};

// The one spelling of each permission: the parser reads these words, and denials, policies and
// plans print them, always in this order.
inline constexpr PermissionWord kPermissionWords[] = {
    {kPermRead, "read"}, {kPermWrite, "write"}, {kPermCreate, "create"}, {kPermDelete, "delete"}};

// snapd's `open`, which every grant includes, so it sets no bit.
inline constexpr std::string_view kPermissionOpen = "open";

[[nodiscard]] inline std::string_view permission_word(Permission bit) {
  for (const auto& [known, word] : kPermissionWords) {
    if (known == bit) return word;
  }
  return {};
}

// The words of the bits set in `bits`, in kPermissionWords order: {"read", "create"}.
[[nodiscard]] inline std::vector<std::string_view> permission_words(unsigned bits) {
  std::vector<std::string_view> words;
  for (const auto& [bit, word] : kPermissionWords) {
    if ((bits & bit) != 0U) words.push_back(word);
  }
  return words;
}

enum class RestartPolicy { No, OnFailure, Always };
enum class Confinement { Strict, Complain, Off };

struct MqSlot {
  std::vector<std::string> paths;  // normalised: "/name", or "/prefix-*" (a pattern, §6)
  unsigned permissions = kPermRead | kPermWrite;  // granted to connected plugs
  std::optional<long> max_messages;               // unset: the kernel's msg_default
  std::optional<long> message_size;               // unset: the kernel's msgsize_default
  mode_t mode = 0660;
  bool create = true;           // the runtime creates the queues at boot
  bool remove_on_stop = false;  // queues are kernel-persistent unless this is set
};

// What glibc's sem_open("/NAME") opens: the object "sem.NAME" (SPEC §2.3).
inline constexpr std::string_view kSemaphorePrefix = "sem.";

// One entry of a shared-memory slot's `read` or `write` list: a name, or an object with a
// size, or for a semaphore its initial value.
struct ShmObject {
  std::string name;                         // under /dev/shm, without the prefix
  std::optional<std::uint64_t> size;        // bytes to create it with; unset: as it comes
  std::optional<unsigned> semaphore_value;  // only on semaphores; unset: 0
  std::string pointer;                      // JSON pointer of the entry

  [[nodiscard]] bool is_semaphore() const { return name.starts_with(kSemaphorePrefix); }
};

struct ShmSlot {
  std::vector<ShmObject> read;   // read-only for plugs
  std::vector<ShmObject> write;  // read-write for plugs
};

struct Slot {
  std::string name;
  Interface interface = Interface::PosixMq;
  std::string identifier;  // the `posix-mq` / `shared-memory` attribute, default: name
  std::variant<MqSlot, ShmSlot> attributes;
  std::string pointer;  // JSON pointer of the slot object

  [[nodiscard]] const MqSlot* mq() const { return std::get_if<MqSlot>(&attributes); }
  [[nodiscard]] const ShmSlot* shm() const { return std::get_if<ShmSlot>(&attributes); }
};

struct Plug {
  std::string name;
  Interface interface = Interface::PosixMq;
  std::string identifier;    // default: name
  bool private_shm = false;  // shared-memory `private: true`
  std::string pointer;
};

// libseccomp 2.5's architecture names (seccomp_arch_resolve_name): what seccomp.architectures
// accepts, and the ABIs whose syscall names `validate` knows.
inline constexpr std::string_view kSeccompArchitectures[] = {
    "x86",       "x86_64", "x32",      "arm",         "aarch64", "mips",  "mips64",
    "mips64n32", "mipsel", "mipsel64", "mipsel64n32", "ppc",     "ppc64", "ppc64le",
    "s390",      "s390x",  "parisc",   "parisc64",    "riscv64",
};

// Which list of `seccomp` an entry is in.
enum class SeccompList { Allow, Deny };

struct SeccompSettings {
  std::vector<std::string> allow;          // syscall names or @groups
  std::vector<std::string> deny;           // syscall names removed from the allowed set
  std::vector<std::string> architectures;  // extra ABIs, libseccomp names ("arm", "x86")
};

struct Rlimit {
  std::string name;  // manifest key: "msgqueue", "nofile", ...
  int resource = 0;  // RLIMIT_* constant
  std::uint64_t soft = 0;
  std::uint64_t hard = 0;  // both RLIM_INFINITY for "infinity"
};

struct Service {
  std::string name;
  std::vector<std::string> command;  // absolute program path first
  std::optional<std::string> user;   // name or number; unset: the runtime's own
  std::optional<std::string> group;
  std::vector<std::pair<std::string, std::string>> environment;  // document order
  std::optional<std::string> working_directory;
  std::string publisher;  // the service's, else the manifest's, else ""
  RestartPolicy restart = RestartPolicy::No;
  unsigned restart_delay_ms = 100;  // backoff start; doubles per restart, capped
  std::vector<std::string> after;
  std::vector<Rlimit> rlimits;
  Confinement confinement = Confinement::Strict;
  SeccompSettings seccomp;
  std::vector<Slot> slots;  // document order
  std::vector<Plug> plugs;  // document order
  std::string pointer;      // "/services/<name>"

  [[nodiscard]] const Slot* find_slot(const std::string& slot_name) const {
    for (const auto& slot : slots) {
      if (slot.name == slot_name) return &slot;
    }
    return nullptr;
  }
  [[nodiscard]] const Plug* find_plug(const std::string& plug_name) const {
    for (const auto& plug : plugs) {
      if (plug.name == plug_name) return &plug;
    }
    return nullptr;
  }
};

// An entry of the manifest's explicit `connections` list, as written.
struct ConnectionSpec {
  std::string plug_service;
  std::string plug;
  std::string slot_service;
  std::string slot;
  std::string pointer;  // "/connections/<index>"
};

struct Manifest {
  std::string file;  // as given on the command line; used in diagnostics
  std::string name;
  std::string publisher;
  std::vector<Service> services;  // document order
  std::vector<ConnectionSpec> connections;

  [[nodiscard]] const Service* find_service(const std::string& service_name) const {
    for (const auto& service : services) {
      if (service.name == service_name) return &service;
    }
    return nullptr;
  }
};

[[nodiscard]] inline const char* interface_name(Interface interface) {
  return interface == Interface::PosixMq ? "posix-mq" : "shared-memory";
}

}  // namespace ipcrt::config
