// The manifest model (SPEC §2): what the parser produces from JSON and everything else
// consumes. Values are already normalised (leading '/' on queue paths, defaults applied where
// the default does not depend on the kernel); every element remembers its JSON pointer so
// later stages (connections, limits) can report errors at the right place.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
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

struct ShmSlot {
  std::vector<std::string> read;   // object names under /dev/shm, read-only for plugs
  std::vector<std::string> write;  // object names under /dev/shm, read-write for plugs
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

// The top-level `log` object (SPEC §14): persistent files and the ring's budget.
struct LogSettings {
  std::optional<std::string> dir;      // unset: no files, stderr and the ring only
  std::uint64_t max_bytes = 1048576;   // of one file
  unsigned files = 3;                  // the current file and its rotated predecessors
  std::uint64_t ring_bytes = 1048576;  // the memory `ipcrt logs` reads, for every service
};

struct Manifest {
  std::string file;  // as given on the command line; used in diagnostics
  std::string name;
  std::string publisher;
  std::vector<Service> services;  // document order
  std::vector<ConnectionSpec> connections;
  std::optional<LogSettings> log;  // unset: the defaults

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
