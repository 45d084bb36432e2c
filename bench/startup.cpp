// Start-up of one confined service (issue #8): the same trivial program run to its exit by
//   - a bare fork + execve (the baseline),
//   - the running supervisor's launch path (runtime::launch: fork, mount namespace, private
//     /dev/shm, mqueue mounts hidden, capabilities dropped, no_new_privs, filter, exec),
//   - the same launch with the first wave's sandbox (a mount namespace and /dev/shm only),
//   - bubblewrap doing the same confinement (pid and IPC namespaces, /proc, /dev, tmpfs /tmp
//     and /dev/shm, --seccomp with the service's own allowlist), and with the first wave's,
//     started by fork + execve like a supervisor would,
//   - crun doing the same as bubblewrap (an OCI bundle of this machine's root, the filter given
//     precompiled), its whole command,
//   - the whole `ipcrt run` command of a one-service manifest (ipcrt's own exec, parse, plan,
//     filter, resources, launch, supervision, cleanup), with its filter from the store that
//     earlier runs filled, as bubblewrap gets its filter compiled, and compiled afresh,
//   - ipcrt's floor for that command: its exec and parse (`ipcrt validate`), then one launch.
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "bench/benchmarks.hpp"
#include "platform/fd.hpp"
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

std::string base64(const std::string& bytes) {
  static constexpr char kDigits[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string text;
  for (std::size_t at = 0; at < bytes.size(); at += 3) {
    const std::size_t left = bytes.size() - at;
    std::uint32_t group = static_cast<unsigned char>(bytes[at]) << 16;
    if (left > 1) group |= static_cast<unsigned char>(bytes[at + 1]) << 8;
    if (left > 2) group |= static_cast<unsigned char>(bytes[at + 2]);
    for (std::size_t digit = 0; digit < 4; ++digit) {
      text += digit <= left ? kDigits[(group >> (18 - 6 * digit)) & 63] : '=';
    }
  }
  return text;
}

// The sandbox of the bubblewrap row as an OCI bundle's config.json: pid, IPC and mount
// namespaces, /proc, a /dev that crun fills with the usual devices, tmpfs /tmp and /dev/shm,
// and the same filter, precompiled (crun's `run.oci.seccomp_bpf_data`, as bubblewrap's
// --seccomp FD), run as root like bubblewrap here.
std::string crun_config(const std::string& rootfs, const std::string& program,
                        const std::string& filter) {
  return R"({
  "ociVersion": "1.0.0",
  "process": {"terminal": false, "user": {"uid": 0, "gid": 0}, "args": [")" +
         program + R"("],
              "env": ["PATH=/usr/bin:/bin"], "cwd": "/", "noNewPrivileges": true},
  "root": {"path": ")" +
         rootfs + R"(", "readonly": false},
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
     "options": ["nosuid", "nodev", "noexec", "mode=1777"]}
  ],
  "annotations": {"run.oci.seccomp_bpf_data": ")" +
         base64(filter) + R"("},
  "linux": {"namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "mount"}]}
}
)";
}

// The mount namespace crun runs in: this machine's root bound onto the bundle's rootfs
// (bubblewrap's --dev-bind / /; crun pivots into a root of its own and cannot pivot into
// "/" itself), and the cgroup2 file system at /sys/fs/cgroup where it is not there (this VM's
// hybrid layout, which crun refuses even with its cgroup manager disabled). Made by a child
// that is killed once the namespace is held open; the bind is private to that namespace, so the
// benchmark's own, whose scratch directory is removed at the end, never sees it. Its
// descriptor, or -1.
int crun_mount_namespace(const std::string& rootfs) {
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) return -1;
  const pid_t child = ::fork();
  if (child == 0) {
    struct statfs cgroup {};
    const bool made = ::unshare(CLONE_NEWNS) == 0 &&
                      ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
                      ::mount("/", rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) == 0 &&
                      ::statfs("/sys/fs/cgroup", &cgroup) == 0 &&
                      (cgroup.f_type == CGROUP2_SUPER_MAGIC ||
                       ::mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, nullptr) == 0);
    const char byte = made ? '1' : '0';
    if (::write(ready[1], &byte, 1) != 1) ::_exit(1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  int namespace_fd = -1;
  char byte = 0;
  if (child > 0 && ::read(ready[0], &byte, 1) == 1 && byte == '1') {
    namespace_fd =
        ::open(("/proc/" + std::to_string(child) + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC);
  }
  ::close(ready[0]);
  if (child > 0) {
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
  }
  return namespace_fd;
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
  const std::string filter(reinterpret_cast<const char*>(instructions.data()),
                           instructions.size() * sizeof(sock_filter));
  if (!write_file(filter_path, filter)) {
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
  platform::UniqueFd crun_namespace;
  if (!options.crun.empty()) {
    const std::string bundle = options.scratch_dir + "/crun-bundle";
    const std::string rootfs = bundle + "/rootfs";
    if (::mkdir(bundle.c_str(), 0700) != 0 || ::mkdir(rootfs.c_str(), 0755) != 0 ||
        !write_file(bundle + "/config.json", crun_config(rootfs, options.trivial, filter)) ||
        (crun_namespace = platform::UniqueFd(crun_mount_namespace(rootfs))).get() < 0) {
      report.failure("start-up: cannot prepare crun's bundle in " + bundle);
      return;
    }
    // The state crun keeps of a container (/run/crun/ID) goes with its `run`.
    const std::string id = "ipcrt-bench-" + std::to_string(::getpid());
    configurations.push_back(
        {"crun run: the same as bubblewrap's row above (an OCI bundle of /, its filter given, "
         "no cgroup)",
         [&options, namespace_fd = crun_namespace.get(), bundle, id] {
           pid_t pid = fork_exec(
               {.argv = {options.crun, "--cgroup-manager=disabled", "run", "--bundle", bundle, id},
                .mount_namespace = namespace_fd});
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
  // What no `ipcrt run` can go below: its own exec and the parse of the manifest, then the
  // launch of the service as the running supervisor makes it (the launch row).
  configurations.push_back(
      {"ipcrt's floor: its exec and parse (`ipcrt validate`), then the supervisor's launch", [&] {
         pid_t pid = fork_exec({.argv = {options.ipcrt, "validate", manifest_path}});
         if (pid <= 0 || wait_exit(pid) != 0) return false;
         auto launched = runtime::launch(prepared->spec());
         return launched && wait_exit(launched->pid) == 0;
       }});
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
          "bubblewrap, crun and `ipcrt run` include their own exec. crun is started in a mount "
          "namespace made for it (setns before its exec): this machine's root bound onto its "
          "bundle's rootfs and, where it is not there, cgroup2 at /sys/fs/cgroup (crun "
          "refuses a hybrid cgroup layout even with its cgroup manager disabled).",
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
