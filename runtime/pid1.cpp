// PID-1 mode: kernel filesystems, manifest discovery, run, power off.
#include "runtime/pid1.hpp"

#include <dirent.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/file.hpp"
#include "common/log.hpp"
#include "common/text.hpp"
#include "platform/mount.hpp"
#include "runtime/board_mounts.hpp"
#include "runtime/daemon.hpp"
#include "runtime/hardware_watchdog.hpp"
#include "runtime/identities.hpp"
#include "runtime/logs/runtime_log.hpp"
#include "runtime/reload.hpp"

namespace ipcrt::runtime {
namespace {

struct KernelFilesystem {
  const char* target;  // relative to the root
  const char* type;
  unsigned long flags;
  const char* options;
};

constexpr KernelFilesystem kFilesystems[] = {
    {"proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, ""},
    {"sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, ""},
    // SPEC §4.5, §13: cgroup v2 with every controller, so that services get their limits;
    // nsdelegate as systemd mounts it (a cgroup namespace is a delegation boundary).
    {"sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, "nsdelegate"},
    {"dev", "devtmpfs", MS_NOSUID, "mode=0755"},
    {"dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"},
    {"dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, ""},
    {"run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"},
};

std::string under(const std::string& root, const char* relative) {
  std::string path = root;
  if (path.empty() || path.back() != '/') path += '/';
  return path + relative;
}

// A manifest name as the parser accepts it (lower-case letters, digits, '-'): never a path.
bool plain_name(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

// SPEC §12: as PID 1, a manifest that does not parse, validate or plan does not leave the
// device without its services: the last known good one boots instead, loudly. Kept in one
// function so PID-1 mode's other steps stay as they are.
int run_or_fall_back(DaemonOptions options, config::FailureAction* due) {
  const std::string manifest = options.manifest_path;
  const std::optional<config::Board> board = options.board;
  HardwareWatchdog* const watchdog = options.watchdog;
  std::optional<PrepareRejection> rejected;
  const int status = run_manifest(std::move(options), due, &rejected);
  // Only the manifest's own faults: a lock, the id registry or the kernel's state would fail
  // the last known good one alike.
  if (!rejected || (rejected->failure.step != "manifest" && rejected->failure.step != "plan")) {
    return status;
  }
  // Each error again as a log line: the runtime's log may be all that leaves the device.
  std::string_view printed = rejected->diagnostics;
  while (!printed.empty()) {
    const std::size_t end = std::min(printed.find('\n'), printed.size());
    const std::string_view line = printed.substr(0, end);
    printed.remove_prefix(std::min(end + 1, printed.size()));
    if (line.find(": error: ") == std::string_view::npos) continue;
    log_error("manifest invalid at boot").field("manifest", manifest).field("diagnostic", line);
  }
  auto good = last_good_fallback(manifest);
  if (!good) {
    log_error("manifest invalid at boot: no last known good manifest to fall back to")
        .field("manifest", manifest)
        .field("step", rejected->failure.step)
        .field("error", good.error().describe());
    return status;
  }
  log_error("manifest invalid at boot: falling back to the last known good manifest")
      .field("manifest", manifest)
      .field("step", rejected->failure.step)
      .field("fallback", *good)
      .field("hint",
             cat("fix ", manifest, ", then send SIGHUP to ipcrt (pid 1): it reloads ", manifest));
  DaemonOptions fallback;
  fallback.manifest_path = *good;
  fallback.reload_path = manifest;
  fallback.pid1 = true;
  fallback.board = board;
  fallback.watchdog = watchdog;
  return run_manifest(std::move(fallback), due);
}

}  // namespace

Result<std::string> last_good_fallback(const std::string& manifest) {
  const std::string state = AccountSources::state_directory();
  const std::string hint =
      cat("a confirmed reload (ipcrt reload) keeps its manifest as ", state,
          "/<name>/last-good.json; with none there, fix the manifest or the image");
  std::string name;
  if (auto text = read_text_file(manifest)) {
    nlohmann::json document = nlohmann::json::parse(*text, nullptr, false);
    if (document.is_object() && document.contains("name") && document["name"].is_string()) {
      name = document["name"].get<std::string>();
    }
  }
  if (!plain_name(name)) {
    // Unreadable, not JSON or no usable name: a device runs one manifest, so the only last
    // known good one there is is its.
    std::vector<std::string> found;
    if (DIR* directory = ::opendir(state.c_str())) {
      while (const dirent* entry = ::readdir(directory)) {
        const std::string candidate = entry->d_name;
        if (plain_name(candidate) && ::access(last_good_path(candidate).c_str(), R_OK) == 0) {
          found.push_back(candidate);
        }
      }
      ::closedir(directory);
    }
    if (found.size() != 1) {
      return fail(cat(manifest, " names no manifest and ", state, " holds ",
                      found.empty() ? std::string("no last known good manifest")
                                    : cat(found.size(), " (", join(found, ", "), ")")),
                  found.empty() ? hint : "remove the ones of manifests this device no longer runs");
    }
    name = found.front();
  }
  std::string path = last_good_path(name);
  if (::access(path.c_str(), R_OK) != 0) {
    return fail_errno(cat("no last known good manifest ", path), errno, hint);
  }
  if (path == manifest) return fail(cat(manifest, " is the last known good manifest itself"), hint);
  return path;
}

std::optional<std::string> manifest_from_cmdline(std::string_view cmdline) {
  return kernel_parameter(cmdline, "ipcrt.manifest");
}

Status mount_missing_filesystems(const std::string& root) {
  Status first;
  for (const auto& filesystem : kFilesystems) {
    std::string target = under(root, filesystem.target);
    if (platform::is_mount_point(target)) continue;
    auto mounted =
        platform::mount_filesystem(filesystem.type, target, filesystem.flags, filesystem.options);
    if (mounted) {
      log_info("mounted").field("type", filesystem.type).field("target", target);
    } else {
      log_warn("mount failed").field("target", target).field("error", mounted.error().describe());
      if (first) first = mounted;
    }
  }
  return first;
}

int run_pid1(const Pid1Options& options) {
  // The console never blocks PID 1; run_manifest opens it again once /proc is mounted.
  install_runtime_log();
  log_info("ipcrt init").field("pid", ::getpid());
  [[maybe_unused]] auto mounted = mount_missing_filesystems(options.root);

  std::string manifest = options.default_manifest;
  auto cmdline = read_text_file(options.cmdline);
  if (cmdline) {
    if (auto chosen = manifest_from_cmdline(*cmdline)) manifest = *chosen;
  }
  log_info("booting").field("manifest", manifest);

  DaemonOptions run_options;
  run_options.manifest_path = manifest;
  run_options.pid1 = true;
  // `ipcrt.board=NAME`: its sysctls, and its hardware watchdog (SPEC §11), armed before the
  // boot so that a runtime that hangs from here on resets the board.
  std::optional<HardwareWatchdog> watchdog;
  std::vector<config::BoardMount> board_mounts;
  if (auto name = cmdline ? board_from_cmdline(*cmdline) : std::optional<std::string>{}) {
    auto board = config::find_board(*name);
    if (!board) {
      log_error("board not found").field("board", *name).field("error", board.error().describe());
    } else {
      log_info("board").field("board", board->name);
      // Its `mounts` (the data partition, SPEC §4a) before anything is planned or read from
      // /var/lib/ipcrt, and before the watchdog is armed: a source may take seconds to appear.
      board_mounts = board->mounts;
      [[maybe_unused]] auto data = mount_board_filesystems(board_mounts, options.root);
      if (board->watchdog) watchdog = HardwareWatchdog::arm(*board->watchdog);
      run_options.board = std::move(*board);
    }
  }
  if (watchdog) run_options.watchdog = &*watchdog;
  config::FailureAction due = config::FailureAction::None;
  int status = run_or_fall_back(std::move(run_options), &due);
  // Every service has ended: what they wrote to the data partition reaches it whole.
  unmount_board_filesystems(board_mounts, options.root);
  // A critical service failed for good: the manifest's failure-action, after the orderly
  // stop run_manifest has done (SPEC §11). Every other end of the run powers off.
  const bool reboot = due == config::FailureAction::Reboot;
  {
    auto line = log_info(reboot ? "reboot" : "poweroff");
    line.field("status", status);
    if (due != config::FailureAction::None) line.field("reason", "failure-action");
  }
  // Both ends are clean ones (the orderly stop is done): disarmed where the driver allows,
  // so that neither the reboot nor the power-off races a reset by the watchdog.
  if (watchdog) watchdog->power_off();
  if (!options.power_off) return status;

  ::sync();
  if (watchdog) watchdog->pet();  // a NOWAYOUT watchdog, still armed: sync may have been long
  ::reboot(reboot ? RB_AUTOBOOT : RB_POWER_OFF);
  // PID 1 must never exit: the kernel would panic.
  for (;;) ::pause();
}

}  // namespace ipcrt::runtime
