// PID-1 mode (SPEC §4.5): the gateway image's /init. Mounts the kernel filesystems that are
// missing, finds the manifest, runs it, then syncs and powers off. The paths are parameters
// so tests can exercise it under a temporary root without being PID 1.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace ipcrt::runtime {

struct Pid1Options {
  std::string root = "/";                 // mounts go under it
  std::string cmdline = "/proc/cmdline";  // read after /proc is mounted
  std::string default_manifest = "/etc/ipcrt/manifest.json";
  bool power_off = true;  // false in tests: return the status instead
};

// The value of `ipcrt.manifest=` in a kernel command line, if any.
[[nodiscard]] std::optional<std::string> manifest_from_cmdline(std::string_view cmdline);

// The last known good manifest (SPEC §12) that PID-1 mode boots when `manifest` does not
// parse, validate or plan: `<state dir>/<name>/last-good.json` of the name `manifest` still
// gives (its JSON's "name"), else of the only manifest name that has one; an error saying why
// when there is none (docs/decisions.md).
[[nodiscard]] Result<std::string> last_good_fallback(const std::string& manifest);

// Mounts /proc, /sys, /dev (devtmpfs), /dev/shm (tmpfs), /dev/mqueue, /run (tmpfs) under
// `root` where nothing is mounted yet. Failures are logged and skipped (a kernel without
// devtmpfs still boots); the first failure is returned.
Status mount_missing_filesystems(const std::string& root);

// Runs PID-1 mode; returns `run`'s exit status only when !power_off.
int run_pid1(const Pid1Options& options = {});

}  // namespace ipcrt::runtime
