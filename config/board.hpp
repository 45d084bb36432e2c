// Board profiles (SPEC §8): boards/<name>/board.json names a device's architecture, its cross
// toolchain, the fs.mqueue sysctls `run --board` writes before planning, and the board's default
// manifest; QEMU boards also say how scripts/image boots them. Format: boards/README.md.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "config/board_mounts.hpp"

namespace ipcrt::config {

// Values for /proc/sys/fs/mqueue/<name>; unset ones are left as the kernel has them.
struct MqueueSysctls {
  std::optional<long> msg_max;
  std::optional<long> msgsize_max;
  std::optional<long> msg_default;
  std::optional<long> msgsize_default;
  std::optional<long> queues_max;
};

// How scripts/image boots the board under qemu-system-*.
struct QemuProfile {
  std::string machine;         // -M
  std::string cpu;             // -cpu
  int memory_mib = 0;          // -m
  std::string console;         // console= on the kernel command line
  std::string kernel_package;  // Debian metapackage, e.g. linux-image-arm64
};

// The board's hardware watchdog (SPEC §11), armed by ipcrt in PID-1 mode and petted from its
// loop: a hung runtime resets the board.
struct WatchdogProfile {
  std::string device = "/dev/watchdog";  // a character device under /dev
  unsigned timeout_s = 30;               // asked of the driver, clamped to what it allows
};

// The longest timeout a profile may ask for: watchdog drivers allow minutes at most, and an
// hour without a reset is no longer a watchdog.
inline constexpr unsigned kMaxWatchdogTimeoutSeconds = 3600;

struct Board {
  std::string name;
  std::string description;
  std::string architecture;  // Debian architecture: arm64 or armhf
  std::string toolchain;     // toolchains/<toolchain>.cmake
  MqueueSysctls mqueue;
  std::string manifest;   // absolute path of the board's default manifest
  std::string directory;  // the directory board.json was read from
  std::optional<QemuProfile> qemu;
  std::optional<WatchdogProfile> watchdog;
  std::vector<BoardMount> mounts;  // PID-1 mode mounts these, in order, before planning
};

// Parses and validates board.json text. `file` names the file in errors; relative paths in
// it (the manifest) are resolved against `directory`.
[[nodiscard]] Result<Board> parse_board(std::string_view text, const std::string& file,
                                        const std::string& directory);

// Reads and parses `path` (a board.json).
[[nodiscard]] Result<Board> load_board_file(const std::string& path);

// Where `--board NAME` looks, in order: $IPCRT_BOARDS (colon-separated), /etc/ipcrt/boards
// (the device's own), /usr/share/ipcrt/boards (what a distribution installs). The binary names
// no build tree: a development checkout sets IPCRT_BOARDS.
[[nodiscard]] std::vector<std::string> default_board_dirs();

// Finds <dir>/<name>/board.json in the first of `dirs` that has it. A name containing '/'
// is taken as a path to a board directory or board.json instead.
[[nodiscard]] Result<Board> find_board(const std::string& name,
                                       const std::vector<std::string>& dirs = default_board_dirs());

// One fs.mqueue sysctl to write: "msg_max" and its value.
struct SysctlSetting {
  const char* name;
  long value;
};

// The sysctls a board sets, maxima before defaults (the kernel refuses a default above its
// maximum, so this is the order to write them in).
[[nodiscard]] std::vector<SysctlSetting> mqueue_sysctl_settings(const MqueueSysctls& sysctls);

}  // namespace ipcrt::config
