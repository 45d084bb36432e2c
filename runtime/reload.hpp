// Reload without losing a message (SPEC §12): a changed manifest applied to the running device
// as a state machine on the supervisor's loop (timers and state changes, never a wait): plan
// against what runs, stop what was removed or changed (consumers first), keep, create or
// recreate queues, start what was added or changed, confirm within the window, and otherwise
// put the previous manifest back by the same rules. One reload at a time.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/connections.hpp"
#include "config/manifest.hpp"
#include "runtime/control/methods.hpp"
#include "runtime/plan.hpp"
#include "runtime/supervisor.hpp"

namespace ipcrt::runtime {

class Daemon;

// One manifest as it runs or is about to: what a reload compares and what a rollback restores.
struct Generation {
  std::string path;  // the file it was read from
  std::string text;  // its contents then (the last known good file is written from it)
  config::Manifest manifest;
  std::vector<config::Connection> connections;
  Plan plan;
  // Per service: its normalised manifest object, resolved grants, uid and groups, the board.
  std::map<std::string, std::string> fingerprints;
};

// The fingerprint of each of `plan`'s services, from the manifest file's `text`.
[[nodiscard]] std::map<std::string, std::string> service_fingerprints(
    const std::string& text, const Plan& plan, const std::string& board);

// What a change from one generation to another does to services and queues.
struct ReloadDiff {
  std::vector<std::string> added, removed, changed, unchanged;  // services
  std::vector<std::string> queues_added, queues_removed, queues_recreated;
};
[[nodiscard]] ReloadDiff diff_generations(const Generation& from, const Generation& to);

// `/var/lib/ipcrt/<name>/last-good.json` ($IPCRT_STATE_DIR instead of /var/lib/ipcrt).
[[nodiscard]] std::string last_good_path(const std::string& manifest_name);

class Reloader {
 public:
  Reloader(Daemon& daemon, Supervisor& supervisor, Generation running,
           control::ReloadCounts& counts);
  Reloader(const Reloader&) = delete;
  Reloader& operator=(const Reloader&) = delete;

  // The control socket's Reload and SIGHUP (reply empty). `path` empty: the running file.
  void request(std::string path, std::chrono::milliseconds confirm, control::DeferredReply reply);
  // A service changed state (from inside the supervisor): looked at from the loop.
  void service_changed();

 private:
  enum class Phase { Idle, Stopping, Confirming };
  struct Transition {
    ReloadDiff diff;
    bool rollback = false;
    std::set<std::string> stop_asked;
    std::map<std::string, pid_t> confirmed_pids;  // of started services once ready
    std::optional<Supervisor::TimerId> deadline;
    std::string failure;  // why a rollback's services did not come back
  };

  void begin(const ReloadDiff& diff, bool rollback);
  void step();
  void step_stopping();
  void apply();
  void step_confirming(bool at_deadline);
  void commit();
  void roll_back(const std::string& reason);
  void finish(std::string_view error, control::Json parameters);
  [[nodiscard]] std::vector<std::string> started() const;

  Daemon& daemon_;
  Supervisor& supervisor_;
  Generation current_;                  // what the supervisor runs (or is changing from)
  std::optional<Generation> target_;    // what it is changing to
  std::optional<Generation> previous_;  // a forward reload's starting point, for the rollback
  Phase phase_ = Phase::Idle;
  Transition transition_;
  std::chrono::milliseconds confirm_{30000};
  control::DeferredReply reply_;
  std::string rollback_reason_;
  bool step_scheduled_ = false;
  control::ReloadCounts& counts_;
};

}  // namespace ipcrt::runtime
