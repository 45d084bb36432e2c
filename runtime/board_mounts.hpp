// PID-1 mode's board `mounts` (SPEC §4a): the data partition and the like, mounted after the
// kernel filesystems and before anything is planned, so that /var/lib/ipcrt (state
// directories, the id registry, the last known good manifest) and persistent logs are the
// partition's; unmounted after the orderly stop, before the power-off. Paths are under `root`
// so tests can mount under a temporary root.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "config/board_mounts.hpp"

namespace ipcrt::runtime {

// How long a missing source node (/dev/...) is waited for: storage on USB, MMC or SCSI is
// probed asynchronously and may appear after the kernel has started /init (the kernel's own
// `rootwait`).
inline constexpr std::chrono::milliseconds kMountSourceWait{10000};

// Mounts each entry in order, making its target (0755) where missing; an entry whose target
// is a mount point already (a bootloader's initramfs mounted it) is left as it is. A failed
// entry is logged with its cause and fix and the others still mounted: the device boots
// without the partition rather than not at all (loudly). Returns the first failure.
Status mount_board_filesystems(const std::vector<config::BoardMount>& mounts,
                               const std::string& root = "/",
                               std::chrono::milliseconds source_wait = kMountSourceWait);

// After the orderly stop: syncs, then unmounts what mount_board_filesystems mounted, the last
// first; one still busy is left mounted (already synced) and logged.
void unmount_board_filesystems(const std::vector<config::BoardMount>& mounts,
                               const std::string& root = "/");

}  // namespace ipcrt::runtime
