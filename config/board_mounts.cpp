// Board `mounts`: the option words of fstab, as mount(2) takes them.
#include "config/board_mounts.hpp"

#include <sys/mount.h>

#include "common/text.hpp"

namespace ipcrt::config {
namespace {

struct FlagWord {
  std::string_view word;
  unsigned long set;
  unsigned long clear;
};

// mount(8)'s generic options that are MS_* flags (util-linux, libmount/src/optmap.c).
constexpr FlagWord kFlagWords[] = {
    {"defaults", 0, 0},
    {"rw", 0, MS_RDONLY},
    {"ro", MS_RDONLY, 0},
    {"nosuid", MS_NOSUID, 0},
    {"suid", 0, MS_NOSUID},
    {"nodev", MS_NODEV, 0},
    {"dev", 0, MS_NODEV},
    {"noexec", MS_NOEXEC, 0},
    {"exec", 0, MS_NOEXEC},
    {"noatime", MS_NOATIME, MS_RELATIME | MS_STRICTATIME},
    {"atime", 0, MS_NOATIME},
    {"nodiratime", MS_NODIRATIME, 0},
    {"diratime", 0, MS_NODIRATIME},
    {"relatime", MS_RELATIME, MS_NOATIME | MS_STRICTATIME},
    {"norelatime", 0, MS_RELATIME},
    {"strictatime", MS_STRICTATIME, MS_NOATIME | MS_RELATIME},
    {"lazytime", MS_LAZYTIME, 0},
    {"nolazytime", 0, MS_LAZYTIME},
    {"sync", MS_SYNCHRONOUS, 0},
    {"async", 0, MS_SYNCHRONOUS},
    {"dirsync", MS_DIRSYNC, 0},
};

// Words of fstab that mount(8), systemd or an init act on and the kernel never sees: ipcrt
// mounts every entry, at boot, as root, so none of them can mean anything here.
constexpr std::string_view kUserspaceWords[] = {"auto",  "noauto",  "nofail", "user",    "nouser",
                                                "users", "owner",   "group",  "_netdev", "bind",
                                                "rbind", "remount", "move",   "loop"};

}  // namespace

MountOptions parse_mount_options(std::string_view options) {
  MountOptions parsed;
  std::string_view rest = options;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view word = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (word.empty()) {
      parsed.error = "has an empty option (two commas, or one at an end)";
      return parsed;
    }
    bool known = false;
    for (const auto& flag : kFlagWords) {
      if (word != flag.word) continue;
      parsed.flags = (parsed.flags & ~flag.clear) | flag.set;
      known = true;
    }
    if (known) continue;
    const std::string_view name = word.substr(0, word.find('='));
    bool userspace = name.starts_with("x-") || name.starts_with("X-") || name == "comment";
    for (auto refused : kUserspaceWords) userspace = userspace || name == refused;
    if (userspace) {
      parsed.error = cat("\"", word,
                         "\" is an option of mount(8) or an init, not of the kernel: ipcrt "
                         "mounts every entry at boot (remove it)");
      return parsed;
    }
    if (!parsed.data.empty()) parsed.data += ',';
    parsed.data += word;  // the filesystem's own: "commit=30", "errors=remount-ro"
  }
  return parsed;
}

}  // namespace ipcrt::config
