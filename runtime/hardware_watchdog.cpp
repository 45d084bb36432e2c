// The hardware watchdog of PID-1 mode.
#include "runtime/hardware_watchdog.hpp"

#include <algorithm>

#include "common/log.hpp"
#include "common/text.hpp"
#include "runtime/supervisor.hpp"

namespace ipcrt::runtime {

std::optional<HardwareWatchdog> HardwareWatchdog::arm(const config::WatchdogProfile& profile,
                                                      const std::string& sys) {
  auto device = platform::Watchdog::open(profile.device);
  if (!device) {
    log_error("watchdog not armed")
        .field("device", profile.device)
        .field("error", device.error().describe());
    return std::nullopt;
  }
  HardwareWatchdog watchdog;
  watchdog.device_ = std::move(*device);
  watchdog.path_ = profile.device;
  const auto limits =
      platform::read_watchdog_limits(platform::watchdog_sysfs_dir(profile.device, sys));
  const unsigned asked = platform::clamp_watchdog_timeout(profile.timeout_s, limits);
  auto set = watchdog.device_.set_timeout(asked);
  if (set) {
    watchdog.timeout_s_ = *set;
  } else {
    // A fixed timeout: pet within the driver's own.
    auto current = watchdog.device_.timeout();
    watchdog.timeout_s_ = current && *current > 0 ? *current : profile.timeout_s;
    log_warn("watchdog timeout not set")
        .field("device", profile.device)
        .field("error", set.error().describe())
        .field("timeout-s", watchdog.timeout_s_);
  }
  watchdog.can_disarm_ = watchdog.device_.magic_close() && !limits.nowayout;
  auto line = log_info("watchdog armed");
  line.field("device", profile.device)
      .field("identity", watchdog.device_.identity())
      .field("requested-s", profile.timeout_s)
      .field("timeout-s", watchdog.timeout_s_);
  if (limits.min_timeout) line.field("min-s", *limits.min_timeout);
  if (limits.max_timeout) line.field("max-s", *limits.max_timeout);
  line.field("nowayout", limits.nowayout).field("magic-close", watchdog.device_.magic_close());
  watchdog.pet();
  return watchdog;
}

std::chrono::milliseconds HardwareWatchdog::pet_interval() const {
  // A third of the timeout: two pets may be late before the board resets.
  return std::max(std::chrono::milliseconds(250),
                  std::chrono::milliseconds(timeout_s_ * 1000U / 3U));
}

void HardwareWatchdog::attach(Supervisor& supervisor) {
  pet();
  schedule(supervisor);
}

void HardwareWatchdog::schedule(Supervisor& supervisor) {
  supervisor.after(pet_interval(), [this, &supervisor] {
    pet();
    schedule(supervisor);
  });
}

void HardwareWatchdog::pet() {
  if (!device_.pet() && device_.is_open()) {
    log_warn("watchdog not petted").field("device", path_);
  }
}

void HardwareWatchdog::power_off() {
  if (!can_disarm_) {
    pet();
    log_info("watchdog left armed")
        .field("device", path_)
        .field("reason", device_.magic_close() ? "nowayout" : "no magic close")
        .field("hint", "it is petted until reboot(2)");
    return;
  }
  device_.close_with_magic();
  log_info("watchdog disarmed").field("device", path_);
}

std::optional<std::string> board_from_cmdline(std::string_view cmdline) {
  return kernel_parameter(cmdline, "ipcrt.board");
}

}  // namespace ipcrt::runtime
