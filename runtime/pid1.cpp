// PID-1 mode: kernel filesystems, manifest discovery, run, power off.
#include "runtime/pid1.hpp"

#include <sys/mount.h>
#include <sys/reboot.h>
#include <unistd.h>

#include "common/file.hpp"
#include "common/log.hpp"
#include "common/text.hpp"
#include "platform/mount.hpp"
#include "runtime/board_mounts.hpp"
#include "runtime/daemon.hpp"
#include "runtime/hardware_watchdog.hpp"
#include "runtime/logs/runtime_log.hpp"

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

}  // namespace

std::optional<std::string> manifest_from_cmdline(std::string_view cmdline) {
  constexpr std::string_view kKey = "ipcrt.manifest=";
  std::optional<std::string> found;
  std::size_t position = 0;
  while (position < cmdline.size()) {
    std::size_t end = cmdline.find_first_of(" \t\n", position);
    if (end == std::string_view::npos) end = cmdline.size();
    std::string_view word = cmdline.substr(position, end - position);
    if (word.starts_with(kKey) && word.size() > kKey.size()) {
      found = std::string(word.substr(kKey.size()));  // the last one wins, like the kernel
    }
    position = end + 1;
  }
  return found;
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
  int status = run_manifest(std::move(run_options), &due);
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
