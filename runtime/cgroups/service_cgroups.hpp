// The cgroups of one running manifest (SPEC §13): `<ipcrt's cgroup>/ipcrt.<manifest>/<service>`
// with the services' limits, ipcrt itself in `<ipcrt's cgroup>/ipcrt.supervisor` unless its
// cgroup is the root, the controllers the limits need and no others, and memory.oom.group in
// every service's cgroup. The launch starts each service inside its cgroup (CLONE_INTO_CGROUP),
// the supervisor's containment kills it whole (cgroup.kill), and OOM kills and refused forks
// are logged with the service's name as the kernel reports them (memory.events, pids.events).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "config/manifest.hpp"
#include "platform/fd.hpp"
#include "runtime/cgroups/support.hpp"
#include "runtime/supervisor.hpp"

namespace ipcrt::runtime {

// What `status` and `metrics` show of a service's cgroup; unset where its controller is off.
struct ServiceUsage {
  std::optional<std::uint64_t> memory_bytes;   // memory.current
  std::optional<std::uint64_t> memory_max;     // memory.max, unset when "max"
  std::optional<std::uint64_t> tasks;          // pids.current
  std::optional<std::uint64_t> oom_kills;      // memory.events oom_kill, over this run
  std::optional<std::uint64_t> forks_refused;  // pids.events max, over this run
};

// What the next run found of an earlier one that ended without removing its cgroups.
struct LeftoverSweep {
  std::size_t cgroups = 0;    // removed
  std::size_t processes = 0;  // that were still in them, killed
  std::optional<Error> error;
};

// Kills everything under `dir` (an earlier run's `ipcrt.<manifest>`), waits (bounded) for it to
// be empty and removes it with its children. Nothing there: an empty sweep.
[[nodiscard]] LeftoverSweep remove_leftover_cgroups(const std::string& dir);

class ServiceCgroups {
 public:
  // Moves ipcrt into its leaf, removes a SIGKILLed run's leftovers (and says so), enables the
  // controllers the manifest's limits need and makes each service's cgroup with its limits.
  // On failure nothing of the manifest's tree is left.
  [[nodiscard]] static Result<std::unique_ptr<ServiceCgroups>> create(
      const CgroupSupport& support, const config::Manifest& manifest);
  ServiceCgroups(const ServiceCgroups&) = delete;
  ServiceCgroups& operator=(const ServiceCgroups&) = delete;
  ~ServiceCgroups();  // remove()

  // The directory of `service`'s cgroup and a descriptor of it (CLONE_INTO_CGROUP); "" / -1
  // for a name that is not one of the manifest's services.
  [[nodiscard]] std::string path_of(const std::string& service) const;
  [[nodiscard]] int fd_of(const std::string& service) const;
  [[nodiscard]] const std::string& manifest_dir() const { return manifest_dir_; }

  // Watches the services' memory.events and pids.events in `supervisor`'s loop from now on.
  [[nodiscard]] Status watch(Supervisor& supervisor);
  // Logs OOM kills and refused forks not logged yet, of every service (the watch reads only
  // those of the services whose files changed).
  void check_events();
  [[nodiscard]] ServiceUsage usage(const std::string& service) const;

  // A reload's (SPEC §12): makes `service`'s cgroup, or sets its limits again; refused when it
  // needs a controller this run did not enable.
  [[nodiscard]] Status configure(const config::Service& service);

  // `service` has ended and will not start again in this run (the runtime is stopping):
  // its cgroup goes now, while the supervisor waits for the other services' ends, rather than
  // all at the end. Never waits: still populated (a killed process not gone yet), it is left
  // for remove().
  void release(const std::string& service);

  // Kills what is left in the tree, removes the services' cgroups and the manifest's (bounded
  // wait for killed processes). ipcrt's leaf stays: ipcrt is in it.
  void remove();

 private:
  struct Entry {
    std::string name;
    std::string path;
    platform::UniqueFd fd;
    std::uint64_t memory_max = config::kNoLimit;
    std::uint64_t pids_max = config::kNoLimit;
    std::uint64_t oom_kills_logged = 0;
    std::uint64_t forks_refused_logged = 0;
    int memory_watch = -1;  // inotify watch descriptors of its memory.events and pids.events
    int pids_watch = -1;
    bool released = false;  // its cgroup was removed (release())
  };
  ServiceCgroups() = default;
  [[nodiscard]] const Entry* find(const std::string& service) const;
  [[nodiscard]] Status make_entry(const config::Service& service);
  void add_watches(Entry& entry);
  void check_events(Entry& entry);

  std::string manifest_dir_;
  bool memory_ = false;  // controllers enabled for the services
  bool pids_ = false;
  std::vector<std::string> controllers_;  // enabled for the services
  std::vector<Entry> services_;
  platform::UniqueFd inotify_;
  Supervisor* supervisor_ = nullptr;
  std::optional<Supervisor::WatchId> watch_;
  bool removed_ = false;
};

}  // namespace ipcrt::runtime
