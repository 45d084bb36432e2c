// The manifest model (SPEC §2): what the parser produces from JSON and everything else
// consumes. Values are already normalised (leading '/' on queue paths, defaults applied where
// the default does not depend on the kernel); every element remembers its JSON pointer so
// later stages (connections, limits) can report errors at the right place.
#pragma once

#include <sys/types.h>

#include <csignal>
#include <cstdint>
#include <limits>
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

// The same words as strings, for JSON and text output.
[[nodiscard]] inline std::vector<std::string> permission_names(unsigned bits) {
  std::vector<std::string> names;
  for (auto word : permission_words(bits)) names.emplace_back(word);
  return names;
}

enum class RestartPolicy { No, OnFailure, Always };
enum class Confinement { Strict, Complain, Off };
// The manifest's word for each confinement: what the parser reads and every output writes.
[[nodiscard]] constexpr std::string_view confinement_name(Confinement confinement) {
  switch (confinement) {
    case Confinement::Strict:
      return "strict";
    case Confinement::Complain:
      return "complain";
    case Confinement::Off:
      return "off";
  }
  return "strict";
}
// SPEC §11: when a service counts as ready.
enum class ServiceType { Simple, Notify, Oneshot };
// SPEC §11: what the device does when a critical service fails for good.
enum class FailureAction { None, Reboot, Poweroff };

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

// A plug of interface `ipcrt-control` (SPEC §10): the service gets a connection to the runtime's
// control socket in IPCRT_CONTROL_FD, at this level. Its slot is the runtime's own, so it takes
// no part in slot matching and is kept apart from `plugs`.
enum class ControlAccess { Observe, Manage };

struct ControlPlug {
  std::string name;
  ControlAccess access = ControlAccess::Observe;
  std::string pointer;
};

inline constexpr const char* kControlInterface = "ipcrt-control";

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

// "max" in `resources` (no limit): what cgroup files spell "max".
inline constexpr std::uint64_t kNoLimit = std::numeric_limits<std::uint64_t>::max();

inline constexpr std::uint64_t kMiB = 1024 * 1024;
inline constexpr std::uint64_t kCpuPeriodUs = 100000;  // the period of a "50%" cpu-max

// cpu.max: `quota_us` of CPU time per `period_us` (both µs); quota kNoLimit is "max".
struct CpuMax {
  std::uint64_t quota_us = kNoLimit;
  std::uint64_t period_us = kCpuPeriodUs;
};

// SPEC §13. The cgroup limits are unset unless written (kNoLimit for "max"); the budgets need
// no cgroup and always apply, with their defaults filled in. The JSON pointer of a key is
// Service::pointer + "/resources/" + the key.
struct Resources {
  std::optional<std::uint64_t> memory_max;   // bytes
  std::optional<std::uint64_t> memory_high;  // bytes
  std::optional<std::uint64_t> pids_max;     // tasks, ipcrt's init included
  std::optional<unsigned> cpu_weight;        // 1..10000
  std::optional<CpuMax> cpu_max;
  std::uint64_t shm_bytes = 16 * kMiB;   // the service's own /dev/shm tmpfs
  std::uint64_t tmp_bytes = 16 * kMiB;   // its private /tmp and /var/tmp
  unsigned queues = 8;                   // queues it may create through patterns (SPEC §6)
  std::uint64_t queue_bytes = 1 * kMiB;  // their RLIMIT_MSGQUEUE charge, the kernel's formula

  // The manifest keys of the cgroup limits that are set, in this order: "memory-max",
  // "memory-high", "pids-max", "cpu-weight", "cpu-max". `plan` refuses them without cgroup v2.
  [[nodiscard]] std::vector<std::string_view> cgroup_keys() const {
    std::vector<std::string_view> keys;
    if (memory_max) keys.emplace_back("memory-max");
    if (memory_high) keys.emplace_back("memory-high");
    if (pids_max) keys.emplace_back("pids-max");
    if (cpu_weight) keys.emplace_back("cpu-weight");
    if (cpu_max) keys.emplace_back("cpu-max");
    return keys;
  }
};

// SPEC §11: `burst` automatic restarts within any `interval_ms`; the next failure in that
// window makes the service failed for good.
struct RestartLimit {
  unsigned burst = 5;
  unsigned interval_ms = 60000;
};

// SPEC §4a: a device node (or a `*` pattern for hotplugged nodes) bound into the service's /dev.
struct Device {
  std::string path;  // "/dev/ttyUSB0", "/dev/ttyACM*": absolute, under /dev, clean
  bool read = false;
  bool write = false;
  std::string pointer;  // of the entry

  [[nodiscard]] bool is_pattern() const { return path.find('*') != std::string::npos; }
};

// SPEC §4a: a host path the service may write (bound read-write into its view).
struct WritablePath {
  std::string path;     // absolute and clean
  std::string pointer;  // of the entry
};

// SPEC §4a: a capability kept as ambient, from the allowlist of config/capabilities.hpp.
struct Capability {
  std::string name;  // canonical: lower-case, without "cap_": "net_bind_service"
  int number = 0;    // CAP_* of <linux/capability.h>
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
  // SPEC §11 lifecycle.
  ServiceType type = ServiceType::Simple;
  unsigned start_timeout_ms = 30000;  // ready (or, a oneshot, exited 0) within this
  int stop_signal = SIGTERM;          // then SIGKILL after stop_timeout_ms
  unsigned stop_timeout_ms = 5000;
  std::optional<unsigned> watchdog_ms;  // notify services only
  RestartLimit restart_limit;
  bool critical = false;     // failing for good triggers the manifest's failure_action
  bool pass_queues = false;  // granted queues passed open from fd 3 (LISTEN_FDS)
  Resources resources;       // SPEC §13
  // SPEC §4a.
  std::vector<Device> devices;
  std::vector<Capability> capabilities;  // document order, no duplicates
  bool state_directory = true;           // /var/lib/ipcrt/<manifest>/<service>
  // Checked against the runtime's own paths by check_writable_paths() (config/paths.hpp).
  std::vector<WritablePath> writable_paths;
  std::vector<Slot> slots;  // document order
  std::vector<Plug> plugs;  // document order
  std::string pointer;      // "/services/<name>"
  std::optional<ControlPlug> control_plug;

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

// The top-level `control` object (SPEC §10).
struct ControlSettings {
  std::optional<std::string> group;  // name or number; unset: the socket is root's alone
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
  FailureAction failure_action = FailureAction::None;  // SPEC §11
  std::vector<Service> services;                       // document order
  std::vector<ConnectionSpec> connections;
  ControlSettings control;
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

[[nodiscard]] inline const char* control_access_name(ControlAccess access) {
  return access == ControlAccess::Manage ? "manage" : "observe";
}

}  // namespace ipcrt::config
