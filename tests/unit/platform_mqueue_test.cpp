// The mqueue limits reader against the real /proc and against a prepared directory.
#include <CppUTest/TestHarness.h>

#include <fstream>

#include "platform/mqueue.hpp"
#include "tests/support/process.hpp"

using ipcrt::platform::read_mqueue_limits;

namespace {
long read_long(const std::string& path) {
  long value = -1;
  std::ifstream(path) >> value;
  return value;
}
}  // namespace

TEST_GROUP(PlatformMqueueLimits){};

TEST(PlatformMqueueLimits, ReadsTheRealKernelValues) {
  auto limits = read_mqueue_limits();
  CHECK_TRUE(limits.has_value());
  LONGS_EQUAL(read_long("/proc/sys/fs/mqueue/msg_max"), limits->msg_max);
  LONGS_EQUAL(read_long("/proc/sys/fs/mqueue/msgsize_max"), limits->msgsize_max);
  LONGS_EQUAL(read_long("/proc/sys/fs/mqueue/queues_max"), limits->queues_max);
  CHECK_TRUE(limits->rlimit_msgqueue_soft <= limits->rlimit_msgqueue_hard);
}

TEST(PlatformMqueueLimits, ReadsAPreparedDirectory) {
  ipcrt::test::TempDir dir;
  dir.write_file("msg_max", "64\n");
  dir.write_file("msgsize_max", "4096\n");
  dir.write_file("msg_default", "10\n");
  dir.write_file("msgsize_default", "1024\n");
  dir.write_file("queues_max", "300\n");
  auto limits = read_mqueue_limits(dir.path());
  CHECK_TRUE(limits.has_value());
  LONGS_EQUAL(64, limits->msg_max);
  LONGS_EQUAL(4096, limits->msgsize_max);
  LONGS_EQUAL(10, limits->msg_default);
  LONGS_EQUAL(1024, limits->msgsize_default);
  LONGS_EQUAL(300, limits->queues_max);
}

TEST(PlatformMqueueLimits, MissingSysctlIsAnErrorWithAHint) {
  ipcrt::test::TempDir dir;
  auto limits = read_mqueue_limits(dir.path());
  CHECK_FALSE(limits.has_value());
  STRCMP_CONTAINS("msg_max", limits.error().describe().c_str());
  STRCMP_CONTAINS("CONFIG_POSIX_MQUEUE", limits.error().describe().c_str());
}
