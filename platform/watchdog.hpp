// The Linux watchdog device API (Documentation/watchdog/watchdog-api.rst): opening the device
// arms it, WDIOC_KEEPALIVE pets it, and writing 'V' before close disarms it where the driver
// supports the magic close and was not built or loaded with NOWAYOUT. No policy here: when to
// pet and whether to disarm is runtime/hardware_watchdog's.
#pragma once

#include <optional>
#include <string>

#include "common/error.hpp"
#include "platform/fd.hpp"

namespace ipcrt::platform {

// What the driver allows, from its sysfs directory; unknown values stay unset.
struct WatchdogLimits {
  std::optional<unsigned> min_timeout;
  std::optional<unsigned> max_timeout;
  bool nowayout = false;  // once armed it cannot be stopped: closing it only starts the count
};

// The sysfs directory of the watchdog at `device`: /sys/dev/char/MAJ:MIN of its node, or for
// the legacy /dev/watchdog (misc 10:130), which has no timeout attributes there, the first
// watchdog's /sys/class/watchdog/watchdog0. `sys` is the sysfs mount (tests use a copy).
[[nodiscard]] std::string watchdog_sysfs_dir(const std::string& device,
                                             const std::string& sys = "/sys");

// min_timeout, max_timeout and nowayout of a watchdog sysfs directory; missing files leave
// the values unknown.
[[nodiscard]] WatchdogLimits read_watchdog_limits(const std::string& sysfs_dir);

// `requested` within the driver's limits (as far as they are known).
[[nodiscard]] unsigned clamp_watchdog_timeout(unsigned requested, const WatchdogLimits& limits);

class Watchdog {
 public:
  // Opens (and so arms) the device, and asks the driver who it is and what it supports.
  [[nodiscard]] static Result<Watchdog> open(const std::string& device);

  // WDIOC_SETTIMEOUT: the timeout the driver set (it may round), or the error.
  [[nodiscard]] Result<unsigned> set_timeout(unsigned seconds);
  // WDIOC_GETTIMEOUT.
  [[nodiscard]] Result<unsigned> timeout() const;
  // WDIOC_KEEPALIVE; false if the driver refused it.
  bool pet();
  // The magic close: 'V', then close. Whether the driver stops is up to it (NOWAYOUT drivers
  // do not); the device is closed either way.
  void close_with_magic();

  [[nodiscard]] const std::string& identity() const { return identity_; }
  [[nodiscard]] bool magic_close() const { return magic_close_; }  // WDIOF_MAGICCLOSE
  [[nodiscard]] bool is_open() const { return fd_.valid(); }

 private:
  UniqueFd fd_;
  std::string identity_;
  bool magic_close_ = false;
};

}  // namespace ipcrt::platform
