// The board's hardware watchdog in PID-1 mode (SPEC §11): armed with the board profile's
// timeout, clamped to what the driver allows (logged), petted by a timer of the supervisor's
// loop, so that it is petted only while that loop turns: if ipcrt hangs, the board resets. On
// a clean power-off it is disarmed with the magic close where the driver allows; a NOWAYOUT
// driver is petted until reboot(2) instead.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "config/board.hpp"
#include "platform/watchdog.hpp"

namespace ipcrt::runtime {

class Supervisor;

class HardwareWatchdog {
 public:
  // Opens the device, sets the timeout and pets it once; nullopt (logged) if the device cannot
  // be opened. `sys` is the sysfs mount the driver's limits are read from.
  [[nodiscard]] static std::optional<HardwareWatchdog> arm(const config::WatchdogProfile& profile,
                                                           const std::string& sys = "/sys");

  // Pets it from `supervisor`'s loop from now on, every third of the timeout.
  void attach(Supervisor& supervisor);
  void pet();
  // The clean end of PID-1 mode, a power-off or a failure-action reboot: disarms it (magic
  // close) unless the driver cannot stop, which is logged; then only pet() and reboot(2) remain.
  void power_off();

  [[nodiscard]] unsigned timeout_s() const { return timeout_s_; }
  [[nodiscard]] std::chrono::milliseconds pet_interval() const;
  [[nodiscard]] bool can_disarm() const { return can_disarm_; }

 private:
  void schedule(Supervisor& supervisor);

  platform::Watchdog device_;
  std::string path_;
  unsigned timeout_s_ = 0;
  bool can_disarm_ = false;  // WDIOF_MAGICCLOSE and not NOWAYOUT
};

// `ipcrt.board=NAME` of a kernel command line, if any (the last one wins, like the kernel's).
[[nodiscard]] std::optional<std::string> board_from_cmdline(std::string_view cmdline);

}  // namespace ipcrt::runtime
