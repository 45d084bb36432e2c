// The watchdog device API and the driver's sysfs limits.
#include "platform/watchdog.hpp"

#include <fcntl.h>
#include <linux/watchdog.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>

#include "common/file.hpp"
#include "common/text.hpp"

namespace ipcrt::platform {
namespace {

std::optional<unsigned> read_unsigned(const std::string& path) {
  auto text = read_text_file(path);
  if (!text) return std::nullopt;
  unsigned value = 0;
  bool digits = false;
  for (char c : *text) {
    if (c == '\n') break;
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
    digits = true;
  }
  return digits ? std::optional<unsigned>(value) : std::nullopt;
}

}  // namespace

std::string watchdog_sysfs_dir(const std::string& device, const std::string& sys) {
  struct stat info {};
  if (::stat(device.c_str(), &info) == 0 && S_ISCHR(info.st_mode)) {
    const std::string dir = cat(sys, "/dev/char/", major(info.st_rdev), ':', minor(info.st_rdev));
    if (::access(cat(dir, "/max_timeout").c_str(), F_OK) == 0 ||
        ::access(cat(dir, "/timeout").c_str(), F_OK) == 0) {
      return dir;
    }
  }
  return cat(sys, "/class/watchdog/watchdog0");
}

WatchdogLimits read_watchdog_limits(const std::string& sysfs_dir) {
  WatchdogLimits limits;
  limits.min_timeout = read_unsigned(sysfs_dir + "/min_timeout");
  limits.max_timeout = read_unsigned(sysfs_dir + "/max_timeout");
  limits.nowayout = read_unsigned(sysfs_dir + "/nowayout").value_or(0) != 0;
  return limits;
}

unsigned clamp_watchdog_timeout(unsigned requested, const WatchdogLimits& limits) {
  unsigned clamped = requested;
  // A driver that reports a max of 0 has none (the core's default for "unset").
  if (limits.max_timeout && *limits.max_timeout > 0 && clamped > *limits.max_timeout) {
    clamped = *limits.max_timeout;
  }
  if (limits.min_timeout && clamped < *limits.min_timeout) clamped = *limits.min_timeout;
  return clamped == 0 ? 1 : clamped;
}

Result<Watchdog> Watchdog::open(const std::string& device) {
  Watchdog watchdog;
  watchdog.fd_.reset(::open(device.c_str(), O_WRONLY | O_CLOEXEC));
  if (!watchdog.fd_.valid()) {
    return fail_errno(cat("cannot open the watchdog ", device), errno,
                      errno == ENOENT ? "the board has no such device: is its driver loaded?"
                                      : "another process holds it open, or ipcrt is not root");
  }
  watchdog_info info{};
  if (::ioctl(watchdog.fd_.get(), WDIOC_GETSUPPORT, &info) == 0) {
    const auto* name = reinterpret_cast<const char*>(info.identity);
    std::size_t length = 0;
    while (length < sizeof info.identity && name[length] != '\0') ++length;
    watchdog.identity_.assign(name, length);
    watchdog.magic_close_ = (info.options & WDIOF_MAGICCLOSE) != 0U;
  }
  return watchdog;
}

Result<unsigned> Watchdog::set_timeout(unsigned seconds) {
  int value = static_cast<int>(seconds);
  if (::ioctl(fd_.get(), WDIOC_SETTIMEOUT, &value) != 0) {
    return fail_errno(
        cat("WDIOC_SETTIMEOUT ", seconds), errno,
        errno == EOPNOTSUPP ? "the driver's timeout is fixed" : "the driver refuses this timeout");
  }
  return static_cast<unsigned>(value);
}

Result<unsigned> Watchdog::timeout() const {
  int value = 0;
  if (::ioctl(fd_.get(), WDIOC_GETTIMEOUT, &value) != 0) {
    return fail_errno("WDIOC_GETTIMEOUT", errno);
  }
  return static_cast<unsigned>(value);
}

bool Watchdog::pet() {
  int ignored = 0;
  return fd_.valid() && ::ioctl(fd_.get(), WDIOC_KEEPALIVE, &ignored) == 0;
}

void Watchdog::close_with_magic() {
  if (!fd_.valid()) return;
  [[maybe_unused]] auto written = ::write(fd_.get(), "V", 1);
  fd_.reset();
}

}  // namespace ipcrt::platform
