// Executing a plan's resources (SPEC §4.2): queues, private shm directories, the runtime's
// tmpfs for shared-memory objects and the objects in it. Every thing this boot creates is
// journaled; a failure rolls the journal back in reverse so nothing is left behind. Adopted
// (pre-existing) things are never journaled.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "runtime/launch.hpp"
#include "runtime/plan.hpp"

namespace ipcrt::runtime {

class BootJournal {
 public:
  // Directory: removed if empty. StagingMount: the staging tmpfs, unmounted and removed.
  enum class Kind { Queue, PrivateDir, File, ShmStore, Directory, StagingMount };
  struct Entry {
    Kind kind;
    std::string path;
  };

  BootJournal() = default;
  BootJournal(const BootJournal&) = delete;
  BootJournal& operator=(const BootJournal&) = delete;

  void record(Kind kind, std::string path) { entries_.push_back({kind, std::move(path)}); }
  // Undoes every entry, newest first; failures are logged and do not stop the rest.
  void rollback();
  [[nodiscard]] const std::vector<Entry>& entries() const { return entries_; }

 private:
  std::vector<Entry> entries_;
};

// What the supervisor removes at a requested stop.
struct BootedResources {
  std::vector<std::string> remove_on_stop_queues;
  std::vector<std::string> private_dirs;
  std::string shm_store;  // the objects' tmpfs, unmounted at the end of the run; "" if none
  std::string staging_root;  // the private dirs' tmpfs, unmounted at the end; "" if none
  // The runtime's RLIMIT_MSGQUEUE before boot raised it; services inherit this one.
  std::vector<ResourceLimit> service_default_rlimits;
};

// Creates the plan's resources, owned as its identities say (a plan made without them
// cannot boot). On failure, everything created so far is removed and the error names the step.
[[nodiscard]] Result<BootedResources> boot_resources(const Plan& plan);

// One queue of `plan` as boot creates it, or adopts it (owner and mode put back) with its
// messages: a reload's (SPEC §12). Noted in `resources` if it is removed at the stop.
[[nodiscard]] Status boot_queue(const Plan& plan, const PlannedQueue& queue,
                                BootedResources& resources);

// A service's private /dev/shm staging directory with its grants' mount points, made again
// for a reload's new or changed service; and its state directory (SPEC §4a).
[[nodiscard]] Status boot_private_dir(const Plan& plan, const PlannedService& service,
                                      BootedResources& resources);

// Removes one private shm dir of `resources` now (a service that ended at the stop) rather
// than with release_resources().
void release_private_dir(BootedResources& resources, const std::string& dir);

// `dir` is on the run's staging tmpfs (`resources.staging_root`), which release_resources()
// unmounts with everything on it: a directory there needs no removal of its own at the end.
[[nodiscard]] bool on_staging_tmpfs(const BootedResources& resources, const std::string& dir);

// Removes what the end of a run removes: remove-on-stop queues, private shm dirs (those on the
// staging tmpfs with its unmount), and the objects' tmpfs with every object in it.
void release_resources(const BootedResources& resources);

}  // namespace ipcrt::runtime
