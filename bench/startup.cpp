// Start-up of one confined service (issue #8): the same trivial program run to its exit by
//   - a bare fork + execve (the baseline),
//   - the running supervisor's launch path (runtime::launch: fork, mount namespace, private
//     /dev/shm, mqueue mounts hidden, capabilities dropped, no_new_privs, filter, exec),
//   - the same launch with the first wave's sandbox (a mount namespace and /dev/shm only),
//   - bubblewrap doing the same confinement (pid and IPC namespaces, /proc, /dev, tmpfs /tmp
//     and /dev/shm, --seccomp with the service's own allowlist), and with the first wave's,
//     started by fork + execve like a supervisor would,
//   - the whole `ipcrt run` command of a one-service manifest (ipcrt's own exec, parse, plan,
//     filter, resources, launch, supervision, cleanup), with its filter from the store that
//     earlier runs filled, as bubblewrap gets its filter compiled, and compiled afresh.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "bench/benchmarks.hpp"
#include "platform/seccomp.hpp"
#include "runtime/daemon.hpp"
#include "runtime/launch.hpp"
#include "runtime/seccomp/service_policy.hpp"

namespace ipcrt::bench {
namespace {

// `name` differs between the prepared service and `ipcrt run`'s: each removes its private
// /dev/shm directory at the end, which must not be the other's.
std::string startup_manifest(const Options& options, const std::string& name) {
  return R"({
  "version": 1,
  "name": ")" +
         name + R"(",
  "services": {
    "app": {
      "command": [")" +
         options.trivial + R"("],
      "plugs": {"shm": {"interface": "shared-memory", "private": true}}
    }
  }
}
)";
}

// The one service of the manifest, booted as `ipcrt run` boots it, ready to be launched again
// and again; its resources are released when this goes away.
class PreparedService {
 public:
  static std::optional<PreparedService> prepare(const std::string& manifest_path,
                                                Report& report) {
    runtime::DaemonOptions daemon_options;
    daemon_options.manifest_path = manifest_path;
    config::Diagnostics diagnostics;
    auto daemon = runtime::Daemon::prepare(std::move(daemon_options), diagnostics);
    if (!daemon) {
      report.failure("start-up: " + diagnostics.format(manifest_path) +
                     (daemon.error().error ? daemon.error().error->describe() : ""));
      return std::nullopt;
    }
    const config::Service& service = *(*daemon)->manifest().find_service("app");
    auto unmediated =
        runtime::compile_service_filter(service, (*daemon)->plan().services.front(), false);
    if (!unmediated) {
      report.failure("start-up: cannot compile the filter");
      return std::nullopt;
    }
    if (auto booted = (*daemon)->boot(); !booted) {
      report.failure("start-up: " + (booted.error().error ? booted.error().error->describe()
                                                           : booted.error().step));
      return std::nullopt;
    }
    PreparedService prepared;
    prepared.unmediated_filter_ = std::move(*unmediated);
    prepared.daemon_ = std::move(*daemon);
    return prepared;
  }

  [[nodiscard]] const runtime::LaunchSpec& spec() const {
    return daemon_->services().front().spec;
  }
  // The same allowlist answering EPERM instead of asking a supervisor: bubblewrap has none.
  [[nodiscard]] const platform::BpfProgram& unmediated_filter() const { return unmediated_filter_; }

 private:
  PreparedService() = default;
  platform::BpfProgram unmediated_filter_;
  std::unique_ptr<runtime::Daemon> daemon_;  // releases the resources when it goes
};

struct Configuration {
  std::string label;
  std::function<bool()> start_and_wait;  // false: the run failed
  std::vector<double> samples_us = {};
  std::function<void()> untimed_before = {};  // before each sample, outside its time
};

// `run` keeps compiled filters in /run/ipcrt/filters (runtime/seccomp/filter_store.hpp):
// emptied, the next `run` compiles its filter as the first run after a boot does.
void empty_filter_store() {
  const std::string dir = "/run/ipcrt/filters";
  if (DIR* listing = ::opendir(dir.c_str())) {
    while (const dirent* entry = ::readdir(listing)) {
      if (entry->d_name[0] != '.') ::unlink((dir + "/" + entry->d_name).c_str());
    }
    ::closedir(listing);
  }
}

}  // namespace

void run_startup(const Options& options, Report& report) {
  const std::string manifest_path = options.scratch_dir + "/startup.json";
  const std::string launch_manifest_path = options.scratch_dir + "/launch.json";
  const std::string filter_path = options.scratch_dir + "/startup.bpf";
  if (!write_file(manifest_path, startup_manifest(options, "bench-run")) ||
      !write_file(launch_manifest_path, startup_manifest(options, "bench-launch"))) {
    report.failure("start-up: cannot write " + manifest_path);
    return;
  }
  auto prepared = PreparedService::prepare(launch_manifest_path, report);
  if (!prepared) return;
  const auto& instructions = prepared->unmediated_filter().instructions;
  if (!write_file(filter_path, std::string(reinterpret_cast<const char*>(instructions.data()),
                                           instructions.size() * sizeof(sock_filter)))) {
    report.failure("start-up: cannot write " + filter_path);
    return;
  }

  std::vector<Configuration> configurations;
  configurations.push_back({"bare fork + exec", [&] {
                              pid_t pid = fork_exec({.argv = {options.trivial}});
                              return pid > 0 && wait_exit(pid) == 0;
                            }});
  configurations.push_back({"ipcrt: supervisor's launch of a confined service", [&] {
                              auto launched = runtime::launch(prepared->spec());
                              if (!launched) {
                                std::fprintf(stderr, "ipcrt-bench: launch: %s\n",
                                             launched.error().describe().c_str());
                                return false;
                              }
                              return wait_exit(launched->pid) == 0;
                            }});
  // SPEC §13: what the service's cgroup adds to its start (CLONE_INTO_CGROUP): the same launch
  // without it.
  runtime::LaunchSpec no_cgroup = prepared->spec();
  no_cgroup.cgroup_fd = -1;
  no_cgroup.cgroup.clear();
  if (prepared->spec().cgroup_fd >= 0) {
    configurations.push_back({"ipcrt: the same launch without a cgroup", [&] {
                                auto launched = runtime::launch(no_cgroup);
                                return launched && wait_exit(launched->pid) == 0;
                              }});
  }
  // The first wave's sandbox, beside today's: a mount namespace and a private /dev/shm only
  // (no pid namespace and init, no /proc, /dev, /tmp of its own).
  runtime::LaunchSpec previous = prepared->spec();
  previous.sandboxed = false;
  previous.private_shm_dir = previous.sandbox.staging;
  previous.shm_mounts.clear();
  previous.capture_output = false;
  configurations.push_back({"ipcrt: the same launch with the first wave's sandbox", [&] {
                              auto launched = runtime::launch(previous);
                              return launched && wait_exit(launched->pid) == 0;
                            }});
  if (!options.bwrap.empty()) {
    configurations.push_back(
        {"bubblewrap: --unshare-pid --proc /proc --dev /dev, tmpfs /tmp and /dev/shm, --seccomp",
         [&] {
           int filter = ::open(filter_path.c_str(), O_RDONLY | O_CLOEXEC);
           pid_t pid = fork_exec(
               {.argv = {options.bwrap, "--unshare-ipc", "--unshare-pid", "--new-session",
                         "--dev-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs",
                         "/tmp", "--tmpfs", "/dev/shm", "--seccomp", "3", options.trivial},
                .keep_fd = filter});
           ::close(filter);
           return pid > 0 && wait_exit(pid) == 0;
         }});
    configurations.push_back(
        {"bubblewrap: --unshare-ipc, tmpfs /dev/shm, --seccomp", [&] {
           int filter = ::open(filter_path.c_str(), O_RDONLY | O_CLOEXEC);
           pid_t pid =
               fork_exec({.argv = {options.bwrap, "--unshare-ipc", "--dev-bind", "/", "/",
                                   "--tmpfs", "/dev/shm", "--seccomp", "3", options.trivial},
                          .keep_fd = filter});
           ::close(filter);
           return pid > 0 && wait_exit(pid) == 0;
         }});
  }
  auto whole_run = [&] {
    pid_t pid = fork_exec({.argv = {options.ipcrt, "run", manifest_path}});
    return pid > 0 && wait_exit(pid) == 0;
  };
  // Like bubblewrap's --seccomp FD, the filter compiled before: by an earlier run, kept.
  configurations.push_back(
      {"ipcrt run: the whole command, one-service manifest (its filter stored)", whole_run});
  configurations.push_back({"ipcrt run: the same, its filter compiled (first run after a boot)",
                            whole_run,
                            {},
                            empty_filter_store});
  if (options.host_mount_namespace >= 0) {
    // The host's own /run (bench/main.cpp): its directories on the root file system.
    configurations.push_back(
        {"ipcrt run: the same (filter stored), /run/ipcrt on this machine's root file system",
         [&] {
           pid_t pid = fork_exec({.argv = {options.ipcrt, "run", manifest_path},
                                  .mount_namespace = options.host_mount_namespace});
           return pid > 0 && wait_exit(pid) == 0;
         }});
  }

  const int rounds = options.rounds * 5;           // a sample takes about a millisecond
  for (int round = -1; round < rounds; ++round) {  // round -1 warms caches up, not kept
    // Each round starts one configuration later: what one leaves to the kernel (a whole run's
    // cgroups and namespaces being freed) is not always paid by the same next one. In a fixed
    // order the launch after `ipcrt run` was 1.5-2 ms slower, whichever launch it was.
    for (std::size_t k = 0; k < configurations.size(); ++k) {
      auto& configuration =
          configurations[(k + static_cast<std::size_t>(round + 1)) % configurations.size()];
      if (configuration.untimed_before) configuration.untimed_before();
      double start = now_ns();
      if (!configuration.start_and_wait()) {
        report.failure("start-up: " + configuration.label + " did not run " + options.trivial);
        return;
      }
      if (round >= 0) configuration.samples_us.push_back((now_ns() - start) / 1000);
    }
  }

  Summary baseline = summarize(configurations.front().samples_us);
  std::optional<Summary> bubblewrap;
  // The fair comparison: bubblewrap building a sandbox like ipcrt's.
  for (const auto& configuration : configurations) {
    if (configuration.label.starts_with("bubblewrap: --unshare-pid")) {
      bubblewrap = summarize(configuration.samples_us);
    }
  }
  Section& section = report.section(
      "Start-up of one confined service",
      "One sample: start `" + options.trivial + "` and wait for its exit; " +
          std::to_string(rounds) +
          " rounds. The launch row is what the running supervisor does for each service; "
          "bubblewrap and `ipcrt run` include their own exec.",
      "fork+exec", bubblewrap ? "bubblewrap" : "");
  for (const auto& configuration : configurations) {
    Summary summary = summarize(configuration.samples_us);
    Row row{configuration.label, summary, "µs", summary.median / baseline.median, {}};
    if (bubblewrap) row.other_ratio = summary.median / bubblewrap->median;
    section.rows.push_back(row);
  }
  const Summary launch = summarize(configurations[1].samples_us);
  report.target({"confined start-up (supervisor's launch) / bare fork+exec",
                 launch.median / baseline.median, 1.5, Better::Lower, "×"});
  if (bubblewrap) {
    report.target({"confined start-up (supervisor's launch) / bubblewrap",
                   launch.median / bubblewrap->median, 0.4, Better::Lower, "×"});
    for (const auto& configuration : configurations) {
      if (!configuration.label.ends_with("(its filter stored)")) continue;
      report.target(
          {"whole `ipcrt run` of one service (filter stored) / bubblewrap's whole "
           "command (filter given)",
           summarize(configuration.samples_us).median / bubblewrap->median, 0.75, Better::Lower,
           "×"});
    }
  }
}

}  // namespace ipcrt::bench
