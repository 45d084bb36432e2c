// A board profile's `mounts` (SPEC §4a, PID-1 mode): the filesystems ipcrt mounts as PID 1
// before it plans, fstab-like, so that state directories, the last known good manifest and
// persistent logs live on the board's data partition and survive reboots. Parsing and the
// option words only; runtime/board_mounts.cpp mounts them. Format: boards/README.md.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ipcrt::config {

struct BoardMount {
  std::string source;       // the device node ("/dev/mmcblk0p3"), or a name for tmpfs and the like
  std::string target;       // absolute, clean, made (0755) if missing
  std::string type;         // the filesystem type mount(2) takes: "ext4"
  std::string options;      // as written ("noatime,commit=30"), for the log
  unsigned long flags = 0;  // MS_* from the option words the kernel takes as flags
  std::string data;         // the other words, for the filesystem ("commit=30")
};

// The options of one entry: fstab's generic words as MS_* flags (defaults, rw, ro, [no]suid,
// [no]dev, [no]exec, [no]atime, [no]diratime, relatime, strictatime, lazytime, sync, async,
// dirsync), the rest kept as the filesystem's data. fstab words that only mount(8) or an init
// understands (noauto, nofail, user, _netdev, x-*, ...) are refused: `error` says why.
struct MountOptions {
  unsigned long flags = 0;
  std::string data;
  std::string error;  // "" if the options are valid
};
[[nodiscard]] MountOptions parse_mount_options(std::string_view options);

}  // namespace ipcrt::config
