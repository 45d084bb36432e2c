// The hardware watchdog's pure parts (SPEC §11): the timeout clamped to the driver's limits
// read from a sysfs directory, the pet interval, the board named on the kernel command line.
// Arming a real driver resets the machine it runs on when the test dies: that is tested in
// the ARM images only, never on a development host.
#include "runtime/hardware_watchdog.hpp"

#include <CppUTest/TestHarness.h>

#include <filesystem>

#include "platform/watchdog.hpp"
#include "tests/support/process.hpp"

using ipcrt::platform::clamp_watchdog_timeout;
using ipcrt::platform::read_watchdog_limits;
using ipcrt::platform::WatchdogLimits;
using ipcrt::test::TempDir;

TEST_GROUP(HardwareWatchdog){};

TEST(HardwareWatchdog, TimeoutIsClampedToWhatTheDriverAllows) {
  WatchdogLimits softdog{1, 65535, false};
  LONGS_EQUAL(30, clamp_watchdog_timeout(30, softdog));
  WatchdogLimits bcm2835{1, 15, false};  // the Raspberry Pi's: at most 15 s
  LONGS_EQUAL(15, clamp_watchdog_timeout(30, bcm2835));
  WatchdogLimits slow{10, 0, false};  // max 0: none reported
  LONGS_EQUAL(10, clamp_watchdog_timeout(3, slow));
  LONGS_EQUAL(600, clamp_watchdog_timeout(600, slow));
  LONGS_EQUAL(30, clamp_watchdog_timeout(30, WatchdogLimits{}));
}

TEST(HardwareWatchdog, LimitsComeFromTheDriversSysfsDirectory) {
  TempDir sys;
  sys.write_file("min_timeout", "1\n");
  sys.write_file("max_timeout", "15\n");
  sys.write_file("nowayout", "1\n");
  auto limits = read_watchdog_limits(sys.path());
  LONGS_EQUAL(1, *limits.min_timeout);
  LONGS_EQUAL(15, *limits.max_timeout);
  CHECK_TRUE(limits.nowayout);
  TempDir empty;
  auto unknown = read_watchdog_limits(empty.path());
  CHECK_FALSE(unknown.min_timeout.has_value());
  CHECK_FALSE(unknown.max_timeout.has_value());
  CHECK_FALSE(unknown.nowayout);
}

TEST(HardwareWatchdog, TheLegacyNodeUsesTheFirstWatchdogsAttributes) {
  TempDir sys;
  // /dev/null is a character device with no watchdog attributes, as /dev/watchdog (misc).
  STRCMP_EQUAL((sys.path() + "/class/watchdog/watchdog0").c_str(),
               ipcrt::platform::watchdog_sysfs_dir("/dev/null", sys.path()).c_str());
  std::filesystem::create_directories(sys.path() + "/dev/char/1:3");
  sys.write_file("dev/char/1:3/max_timeout", "60\n");
  STRCMP_EQUAL((sys.path() + "/dev/char/1:3").c_str(),
               ipcrt::platform::watchdog_sysfs_dir("/dev/null", sys.path()).c_str());
}

TEST(HardwareWatchdog, ArmingAMissingDeviceSaysSoAndArmsNothing) {
  ipcrt::config::WatchdogProfile profile;
  profile.device = "/dev/ipcrt-no-such-watchdog";
  CHECK_FALSE(ipcrt::runtime::HardwareWatchdog::arm(profile).has_value());
}

TEST(HardwareWatchdog, BoardComesFromTheKernelCommandLine) {
  using ipcrt::runtime::board_from_cmdline;
  CHECK_FALSE(board_from_cmdline("console=ttyAMA0 quiet\n").has_value());
  STRCMP_EQUAL("qemu-virt-arm64",
               board_from_cmdline("console=ttyAMA0 ipcrt.board=qemu-virt-arm64 quiet\n")->c_str());
  STRCMP_EQUAL("b", board_from_cmdline("ipcrt.board=a ipcrt.board=b")->c_str());
  CHECK_FALSE(board_from_cmdline("ipcrt.board=").has_value());
}
