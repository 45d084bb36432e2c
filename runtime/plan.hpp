// The boot plan (SPEC §3, §4, §7): everything `run` will create and start, derived from a
// validated manifest, its connections and the kernel's state, with every limit checked. `plan`
// prints it; `run` executes it; the policy compiler reads each service's grants from it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "config/connections.hpp"
#include "config/diagnostics.hpp"
#include "config/manifest.hpp"
#include "config/paths.hpp"
#include "platform/mqueue.hpp"
#include "runtime/cgroups/support.hpp"
#include "runtime/identities.hpp"

namespace ipcrt::runtime {

// A queue that exists before boot, as seen in the mqueue filesystem.
struct ExistingQueue {
  std::string path;  // "/telemetry"
  long max_messages = 0;
  long message_size = 0;
  uid_t owner_uid = 0;  // (uid_t)-1: the runtime cannot open it, nothing below is known
  gid_t owner_gid = 0;
  mode_t mode = 0;  // permission bits
};

// The runtime's own files on this machine, which no `writable-paths` entry may equal, contain
// or lie inside (SPEC §4a), and what exists. read_kernel_state() fills it; left as it is (unit
// tests), only the fixed directories and the manifest are protected, and existence is not
// checked.
struct HostPaths {
  std::string state_root{config::kStateRoot};          // $IPCRT_STATE_DIR when set
  std::vector<config::ProtectedPath> protected_paths;  // the ipcrt binary, the boards directories
  // The real path of an existing path (symlinks resolved), nullopt if there is none.
  std::function<std::optional<std::string>(const std::string&)> resolve;
};

// What the planner needs to know about the machine. Unit tests build it by hand.
struct KernelState {
  platform::MqueueLimits limits;
  std::vector<ExistingQueue> existing_queues;
  bool privileged = false;  // CAP_SYS_RESOURCE: RLIMIT_MSGQUEUE can be raised before creating
  HostPaths host;
  CgroupSupport cgroups;  // left as it is (unit tests): no cgroup v2, limits are refused
};

struct PlannedQueue {
  std::string path;  // "/telemetry"; a pattern "/camera-*" is never pre-created
  long max_messages = 0;
  long message_size = 0;
  mode_t mode = 0660;
  std::string owner_service;  // the slot's service; its user and group own the queue
  std::string slot;           // "sensor-hub:telemetry"
  bool create = true;         // false: the slot has create=false, or the path is a pattern
  bool adopt = false;         // already exists with these attributes: kept with its messages
  bool repair = false;        // adopted with another group or mode: boot puts the manifest's back
  bool remove_on_stop = false;
  std::uint64_t charged_bytes = 0;  // the kernel's RLIMIT_MSGQUEUE accounting for this queue
  std::string pointer;              // JSON pointer of the path
};

struct PlannedShmObject {
  std::string name;  // under /dev/shm, no leading '/'
  std::string slot;  // "sensor-hub:frames"
  std::optional<std::uint64_t> size;  // created with (grown to) this size; unset: as it comes
  // A `sem.NAME` object: an initialised process-shared semaphore, reset to this at every run.
  std::optional<unsigned> semaphore_value;
  std::string owner_service;
  std::vector<std::string> readers;  // services with read-only access (plugs, `read` list)
  std::vector<std::string> writers;  // services with read-write access (owner and `write` list)
};

struct QueueGrant {
  std::string path;          // a queue path or a pattern
  unsigned permissions = 0;  // config::Permission bits
  std::string via;           // the slot giving the grant: "sensor-hub:telemetry"
  bool owner = false;        // the service owns the slot (all permissions)
};

struct ShmGrant {
  std::string name;
  bool writable = false;
  std::string via;  // "sensor-hub:frames"
};

// A granted queue that a `pass-queues` service receives already open (SPEC §11): fds 3… in
// the order of PlannedService::passed_queues, blocking, close-on-exec cleared.
struct PassedQueue {
  int fd = 3;
  std::string path;          // "/telemetry"; LISTEN_FDNAMES names it without the '/'
  int access = 0;            // O_RDONLY, O_WRONLY or O_RDWR, as the grants allow
  unsigned permissions = 0;  // config::Permission bits: the union of the grants of this path
};

// The first descriptor of LISTEN_FDS (systemd's SD_LISTEN_FDS_START).
inline constexpr int kFirstPassedFd = 3;

struct PlannedService {
  std::string name;
  int start_order = 0;  // 0 starts first
  config::ServiceType type = config::ServiceType::Simple;  // what "ready" means (SPEC §11)
  // Services that must have started before this one: its `after` entries and the providers of
  // its connections, as far as the start order honours them (the one list the supervisor uses).
  std::vector<std::string> depends_on;
  std::vector<QueueGrant> queues;
  // pass-queues: its declared queues granted read or write (not patterns, not create=false
  // slots), in grant order, each path once; empty otherwise. prepare_launch() adds LISTEN_FDS,
  // LISTEN_FDNAMES and LISTEN_PID to the launch's environment.
  std::vector<PassedQueue> passed_queues;
  std::vector<ShmGrant> shm;
  std::string shm_dir;  // staging: "/run/ipcrt/<manifest>/staging/<service>"; "" if off
  // Where its granted objects are on the host (Plan::shm_store): bound from there into its
  // /dev/shm.
  std::string shm_store;
  // SPEC §4a: its state directory, STATE_ROOT/<manifest>/<service> ("" with
  // "state-directory": false): made by the boot, owned by the service's user, kept for good.
  std::string state_dir;
  // IPCRT_SERVICE and IPCRT_<NAME>_PATHS (SPEC §4.3), then HOME, USER, LOGNAME and SHELL
  // unless the manifest sets them (with identities only), in a stable order.
  std::vector<std::pair<std::string, std::string>> environment;
  // The manifest's command with `${NAME}` and `$$` expanded in every argument but the first,
  // from service_environment() (SPEC §15); empty when planned without identities (`policy`),
  // whose account variables are unknown.
  std::vector<std::string> command;
  // SPEC §13: its cgroup ("" without cgroup v2) and the files its limits set there.
  std::string cgroup;
  std::vector<std::pair<std::string, std::string>> cgroup_settings;
};

// The runtime's PATH for services unless the manifest sets one.
inline constexpr const char* kDefaultPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// What the service's program gets as its environment, in order: PATH unless the manifest sets
// it, the manifest's variables, then the runtime's (`planned.environment`), each replacing a
// manifest entry of the same name (glibc's getenv returns the first match). The one source of
// both the launch's envp and the `${NAME}` expansion.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> service_environment(
    const config::Service& service, const PlannedService& planned);

struct Plan {
  std::string manifest_name;
  std::vector<PlannedQueue> queues;  // document order
  std::vector<PlannedShmObject> shm;
  // The runtime's tmpfs the objects live on (SPEC §4.2), shm_store_path(manifest_name), and
  // its size: shm_store_bytes() of the objects. Unused when there are no objects.
  std::string shm_store;
  std::uint64_t shm_store_bytes = 0;
  std::vector<config::Connection> connections;
  std::vector<PlannedService> services;  // start order
  std::vector<std::string> warnings;     // also emitted as diagnostics
  std::uint64_t charged_bytes = 0;       // total RLIMIT_MSGQUEUE charge of queues to create
  // charged_bytes plus what existing queues already charge to our uid (as far as known): a
  // privileged `run` raises RLIMIT_MSGQUEUE (soft, and hard if lower) to at least this.
  std::uint64_t rlimit_msgqueue_needed = 0;
  KernelState kernel;
  // Who each service runs as and each slot's group; empty when planned without (`policy`).
  Identities identities;

  [[nodiscard]] const PlannedService* find_service(const std::string& name) const {
    for (const auto& service : services) {
      if (service.name == name) return &service;
    }
    return nullptr;
  }
};

// "/run/ipcrt/<manifest>/shm": the runtime's own tmpfs for the manifest's shared-memory
// objects, 0700 and root's (SPEC §4.2).
[[nodiscard]] std::string shm_store_path(std::string_view manifest_name);
// Where each confined service's staging directory is (its /dev, and the mount points of its
// objects): /run/ipcrt/<name>/staging, root's 0700, so no other user can plant one there.
[[nodiscard]] std::string staging_root(std::string_view manifest_name);

// What the store of `objects` may hold: each sized object, page by page (a semaphore is one
// page), plus kShmStoreMargin for what programs size themselves (an object without `size`,
// Python's SharedMemory(create=True, size=N) after an unlink) or grow beyond its `size`.
inline constexpr std::uint64_t kShmStoreMargin = 16ULL << 20;
[[nodiscard]] std::uint64_t shm_store_bytes(const std::vector<PlannedShmObject>& objects);

// Plans a validated manifest. Limit violations and ordering errors (an `after` cycle) are
// reported in `diagnostics` at the offending JSON pointer; the plan is returned only if there
// are none. With `identities` (copied into the plan, which `run` needs), an existing queue is
// adopted only if adoption_refusal() finds nothing, and services get their account's
// variables; without, owners are not checked.
[[nodiscard]] std::optional<Plan> make_plan(const config::Manifest& manifest,
                                            const std::vector<config::Connection>& connections,
                                            const KernelState& kernel,
                                            config::Diagnostics& diagnostics,
                                            const Identities* identities = nullptr);

// Why an existing queue found with this owner, group and mode must not be adopted for
// `queue`, whose queues belong to `owner_uid` and the slot's `slot_gid`, or nullopt. Anyone
// may create a queue before boot, and adopting keeps its messages: one owned by another user
// (who may read or inject messages, and change its mode again) is refused. Owned by the slot's
// user or by root (an earlier runtime), its group and mode are put back instead (SPEC §4.2).
// The error names what was found, what is expected and the fix.
[[nodiscard]] std::optional<Error> adoption_refusal(const PlannedQueue& queue, uid_t uid, gid_t gid,
                                                    mode_t mode, uid_t owner_uid, gid_t slot_gid);

// Whether `path` is passed to `service` as a descriptor.
[[nodiscard]] const PassedQueue* passed_queue(const PlannedService& service,
                                              const std::string& path);

// "O_RDONLY", "O_WRONLY" or "O_RDWR" of PassedQueue::access, as `plan` shows it.
[[nodiscard]] const char* access_mode_name(int access);

// Whether an adopted queue found with this owner, group and mode needs the manifest's back.
[[nodiscard]] bool needs_repair(const PlannedQueue& queue, uid_t uid, gid_t gid, mode_t mode,
                                uid_t owner_uid, gid_t slot_gid);

}  // namespace ipcrt::runtime
