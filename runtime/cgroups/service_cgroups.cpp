// Making, watching and removing the cgroups of a running manifest.
#include "runtime/cgroups/service_cgroups.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <thread>

#include "common/log.hpp"
#include "common/text.hpp"
#include "platform/cgroup.hpp"

namespace ipcrt::runtime {
namespace {

// How long a sweep waits for killed processes to leave their cgroup (one in uninterruptible
// sleep leaves when its I/O ends): at boot or at the end, never in the supervisor's loop.
constexpr std::chrono::seconds kEmptyWait{2};

// The cpu.weight of ipcrt's leaf: ten times a service's default (100), so that the supervisor
// keeps its share when services saturate the CPU.
constexpr const char* kSupervisorCpuWeight = "1000";

std::size_t count_processes(const std::string& dir) {
  std::size_t count = 0;
  if (auto pids = platform::cgroup_processes(dir)) count += pids->size();
  if (auto children = platform::child_cgroups(dir)) {
    for (const auto& child : *children) count += count_processes(cat(dir, "/", child));
  }
  return count;
}

void wait_until_empty(const std::string& dir) {
  const auto deadline = std::chrono::steady_clock::now() + kEmptyWait;
  for (;;) {
    auto populated = platform::cgroup_populated(dir);
    // Without cgroup.events (Linux < 4.13? never for cgroup2 with cgroup.kill): the procs.
    const bool busy = populated ? *populated : count_processes(dir) > 0;
    if (!busy || std::chrono::steady_clock::now() >= deadline) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// Depth first: a cgroup can be removed once it has no children and no processes.
Status remove_tree(const std::string& dir, std::size_t& removed) {
  if (auto children = platform::child_cgroups(dir)) {
    for (const auto& child : *children) {
      if (auto done = remove_tree(cat(dir, "/", child), removed); !done) return done;
    }
  }
  auto done = platform::remove_cgroup(dir);
  if (done) ++removed;
  return done;
}

std::optional<std::uint64_t> read_number(const std::string& dir, const char* file) {
  auto text = platform::read_cgroup_file(dir, file);
  if (!text) return std::nullopt;
  auto words = platform::split_words(*text);
  if (words.empty()) return std::nullopt;
  std::uint64_t value = 0;
  const std::string& word = words.front();
  auto [end, error] = std::from_chars(word.data(), word.data() + word.size(), value);
  if (error != std::errc{}) return std::nullopt;  // "max"
  return value;
}

std::optional<std::uint64_t> read_event(const std::string& dir, const char* file,
                                        std::string_view key) {
  auto text = platform::read_cgroup_file(dir, file);
  if (!text) return std::nullopt;
  auto values = platform::parse_flat_keyed(*text);
  auto found = values.find(key);
  return found != values.end() ? std::optional(found->second) : std::optional<std::uint64_t>(0);
}

}  // namespace

LeftoverSweep remove_leftover_cgroups(const std::string& dir) {
  LeftoverSweep sweep;
  if (::access(dir.c_str(), F_OK) != 0) return sweep;
  sweep.processes = count_processes(dir);
  if (auto killed = platform::kill_cgroup(dir); !killed) {
    sweep.error = killed.error();
    return sweep;
  }
  wait_until_empty(dir);
  if (auto removed = remove_tree(dir, sweep.cgroups); !removed) sweep.error = removed.error();
  return sweep;
}

Result<std::unique_ptr<ServiceCgroups>> ServiceCgroups::create(const CgroupSupport& support,
                                                               const config::Manifest& manifest) {
  std::unique_ptr<ServiceCgroups> tree(new ServiceCgroups());
  tree->manifest_dir_ = support.manifest_dir(manifest.name);
  const std::vector<std::string> needed = controllers_needed(manifest.services);
  tree->controllers_ = needed;

  // cgroup v2's no-internal-process rule: a cgroup that passes controllers on holds no
  // process, so ipcrt leaves its own cgroup for a leaf (the root is exempt).
  if (!support.at_root) {
    const std::string leaf = support.supervisor_dir();
    if (auto made = platform::make_cgroup(leaf); !made) return std::unexpected(made.error());
    if (auto moved = platform::move_process(leaf, ::getpid()); !moved) {
      return std::unexpected(moved.error().wrap("ipcrt into its own leaf cgroup"));
    }
  }

  // A runtime that was SIGKILLed left its tree (and, for services without a PID namespace,
  // maybe processes in it); the manifest's lock says no runtime of this name runs now.
  LeftoverSweep sweep = remove_leftover_cgroups(tree->manifest_dir_);
  if (sweep.error) return std::unexpected(sweep.error->wrap("removing leftover cgroups"));
  if (sweep.cgroups > 0) {
    log_warn("removed leftover cgroups")
        .field("cgroup", tree->manifest_dir_)
        .field("cgroups", sweep.cgroups)
        .field("processes-killed", sweep.processes)
        .field("reason", "an earlier run of this manifest ended without removing them");
  }

  if (!needed.empty()) {
    if (auto enabled = platform::enable_controllers(support.own, needed); !enabled) {
      return std::unexpected(enabled.error());
    }
  }
  if (auto made = platform::make_cgroup(tree->manifest_dir_); !made) {
    return std::unexpected(made.error());
  }
  if (!needed.empty()) {
    if (auto enabled = platform::enable_controllers(tree->manifest_dir_, needed); !enabled) {
      return std::unexpected(enabled.error());
    }
  }
  for (const auto& controller : needed) {
    tree->memory_ = tree->memory_ || controller == "memory";
    tree->pids_ = tree->pids_ || controller == "pids";
    if (controller == "cpu" && !support.at_root) {
      if (auto weighted = platform::write_cgroup_file(support.supervisor_dir(), "cpu.weight",
                                                      kSupervisorCpuWeight);
          !weighted) {
        log_warn("supervisor cpu.weight not set").field("error", weighted.error().describe());
      }
    }
  }

  for (const auto& service : manifest.services) {
    if (auto made = tree->make_entry(service); !made) return std::unexpected(made.error());
  }
  return tree;
}

Status ServiceCgroups::make_entry(const config::Service& service) {
  Entry entry;
  entry.name = service.name;
  entry.path = cat(manifest_dir_, "/", service.name);
  entry.memory_max = service.resources.memory_max.value_or(config::kNoLimit);
  entry.pids_max = service.resources.pids_max.value_or(config::kNoLimit);
  if (auto made = platform::make_cgroup(entry.path); !made) return std::unexpected(made.error());
  // An OOM kill takes the whole service (its init included) rather than one process of it,
  // so it restarts whole instead of running on with a part missing.
  if (memory_) {
    if (auto grouped = platform::write_cgroup_file(entry.path, "memory.oom.group", "1");
        !grouped) {
      return std::unexpected(grouped.error());
    }
  }
  for (const auto& [file, value] : cgroup_settings(service.resources)) {
    if (auto set = platform::write_cgroup_file(entry.path, file, value); !set) {
      return std::unexpected(set.error().wrap(cat("service ", service.name)));
    }
  }
  auto fd = platform::open_cgroup(entry.path);
  if (!fd) return std::unexpected(fd.error());
  entry.fd = std::move(*fd);
  if (inotify_.valid()) add_watches(entry);
  std::erase_if(services_, [&](const Entry& old) { return old.name == service.name; });
  services_.push_back(std::move(entry));
  return {};
}

Status ServiceCgroups::configure(const config::Service& service) {
  for (const auto& controller : controllers_needed({service})) {
    if (std::find(controllers_.begin(), controllers_.end(), controller) == controllers_.end()) {
      return fail(cat("service ", service.name, " needs the cgroup controller ", controller,
                      ", which this run did not enable"),
                  "restart the runtime to apply new kinds of resource limits");
    }
  }
  return make_entry(service);
}

ServiceCgroups::~ServiceCgroups() {
  remove();
}

const ServiceCgroups::Entry* ServiceCgroups::find(const std::string& service) const {
  for (const auto& entry : services_) {
    if (entry.name == service) return &entry;
  }
  return nullptr;
}

std::string ServiceCgroups::path_of(const std::string& service) const {
  const Entry* entry = find(service);
  return entry != nullptr ? entry->path : std::string();
}

int ServiceCgroups::fd_of(const std::string& service) const {
  const Entry* entry = find(service);
  return entry != nullptr ? entry->fd.get() : -1;
}

Status ServiceCgroups::watch(Supervisor& supervisor) {
  if (!memory_ && !pids_) return {};
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return fail_errno("inotify_init1");
  inotify_.reset(fd);
  for (auto& entry : services_) {
    add_watches(entry);
    if ((memory_ && entry.memory_watch < 0) || (pids_ && entry.pids_watch < 0)) {
      return fail_errno(cat("inotify_add_watch ", entry.path, memory_ ? "/memory.events"
                                                                       : "/pids.events"));
    }
  }
  // Only the services whose files changed are read again: an event of one service costs
  // one or two reads, not two for every service of the manifest.
  auto watched = supervisor.watch(fd, EPOLLIN, [this](std::uint32_t, Supervisor::WatchId) {
    alignas(inotify_event) char buffer[4096];
    std::vector<Entry*> changed;
    ssize_t length;
    while ((length = ::read(inotify_.get(), buffer, sizeof buffer)) > 0) {
      for (ssize_t at = 0; at < length;) {
        const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
        at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
        if ((event->mask & IN_MODIFY) == 0) continue;  // IN_IGNORED: a removed cgroup
        for (auto& entry : services_) {
          if (entry.memory_watch != event->wd && entry.pids_watch != event->wd) continue;
          if (std::find(changed.begin(), changed.end(), &entry) == changed.end()) {
            changed.push_back(&entry);
          }
          break;
        }
      }
    }
    for (Entry* entry : changed) check_events(*entry);
  });
  if (!watched) return std::unexpected(watched.error());
  supervisor_ = &supervisor;
  watch_ = *watched;
  return {};
}

void ServiceCgroups::add_watches(Entry& entry) {
  // cgroupfs reports a change of these files as IN_MODIFY.
  if (memory_) {
    entry.memory_watch = ::inotify_add_watch(
        inotify_.get(), cat(entry.path, "/memory.events").c_str(), IN_MODIFY);
  }
  if (pids_) {
    entry.pids_watch =
        ::inotify_add_watch(inotify_.get(), cat(entry.path, "/pids.events").c_str(), IN_MODIFY);
  }
}

void ServiceCgroups::check_events() {
  for (auto& entry : services_) check_events(entry);
}

void ServiceCgroups::check_events(Entry& entry) {
  if (entry.released) return;
  if (memory_) {
    const auto kills = read_event(entry.path, "memory.events", "oom_kill").value_or(0);
    if (kills > entry.oom_kills_logged) {
      auto line = log_warn("out of memory: killed");
      line.field("service", entry.name).field("oom-kills", kills - entry.oom_kills_logged);
      if (entry.memory_max != config::kNoLimit) line.field("memory-max", entry.memory_max);
      line.field("hint",
                 "the service reached resources.memory-max: raise it, or find what grows");
      entry.oom_kills_logged = kills;
    }
  }
  if (pids_) {
    const auto refused = read_event(entry.path, "pids.events", "max").value_or(0);
    if (refused > entry.forks_refused_logged) {
      auto line = log_warn("fork refused");
      line.field("service", entry.name).field("refused", refused - entry.forks_refused_logged);
      if (entry.pids_max != config::kNoLimit) line.field("pids-max", entry.pids_max);
      line.field("hint",
                 "the service reached resources.pids-max (ipcrt's init counts): raise it, or "
                 "find what forks");
      entry.forks_refused_logged = refused;
    }
  }
}

ServiceUsage ServiceCgroups::usage(const std::string& service) const {
  ServiceUsage usage;
  const Entry* entry = find(service);
  if (entry == nullptr || entry->released) return usage;
  if (memory_) {
    usage.memory_bytes = read_number(entry->path, "memory.current");
    usage.memory_max = read_number(entry->path, "memory.max");
    usage.oom_kills = read_event(entry->path, "memory.events", "oom_kill");
  }
  if (pids_) {
    usage.tasks = read_number(entry->path, "pids.current");
    usage.forks_refused = read_event(entry->path, "pids.events", "max");
  }
  return usage;
}

void ServiceCgroups::release(const std::string& service) {
  if (removed_) return;
  for (auto& entry : services_) {
    if (entry.name != service || entry.released) continue;
    check_events(entry);  // an OOM kill that ended it is still logged
    // EBUSY: a process of it is still dying (one that left its PID namespace's end behind,
    // an unconfined service's), or it made cgroups below its own: remove() sees to those.
    // Its descriptor stays open until remove(): the service's launch spec still names it.
    if (::rmdir(entry.path.c_str()) == 0 || errno == ENOENT) entry.released = true;
    return;
  }
}

void ServiceCgroups::remove() {
  if (removed_) return;
  removed_ = true;
  if (supervisor_ != nullptr && watch_) supervisor_->unwatch(*watch_);
  watch_.reset();
  supervisor_ = nullptr;
  inotify_.reset();
  for (auto& entry : services_) entry.fd.reset();
  if (manifest_dir_.empty() || ::access(manifest_dir_.c_str(), F_OK) != 0) return;
  (void)platform::kill_cgroup(manifest_dir_);
  wait_until_empty(manifest_dir_);
  // The services' cgroups are known: removed by name, without listing any directory; only
  // what that leaves (cgroups a service made below its own) needs the walk of the tree.
  for (const auto& entry : services_) {
    if (!entry.released) (void)::rmdir(entry.path.c_str());
  }
  if (::rmdir(manifest_dir_.c_str()) == 0 || errno == ENOENT) return;
  std::size_t removed = 0;
  if (auto done = remove_tree(manifest_dir_, removed); !done) {
    log_warn("cgroups not removed")
        .field("cgroup", manifest_dir_)
        .field("error", done.error().describe())
        .field("hint", "the next run of this manifest removes them");
  }
}

}  // namespace ipcrt::runtime
