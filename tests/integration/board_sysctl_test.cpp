// apply_board_sysctls on the real /proc/sys/fs/mqueue (root only); the previous values are
// put back whatever the outcome.
#include <CppUTest/TestHarness.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/board.hpp"
#include "runtime/board_sysctls.hpp"
#include "tests/support/process.hpp"

namespace {

const std::string kSysctlDir = ipcrt::runtime::kMqueueSysctlDir;

long read_sysctl(const char* name) {
  long value = -1;
  std::ifstream(kSysctlDir + "/" + name) >> value;
  return value;
}

// Restores the listed sysctls when the test ends, passed or failed.
class SysctlRestorer {
 public:
  explicit SysctlRestorer(std::initializer_list<const char*> names) {
    for (const char* name : names) saved_.emplace_back(name, read_sysctl(name));
  }
  ~SysctlRestorer() {
    for (const auto& [name, value] : saved_) std::ofstream(kSysctlDir + "/" + name) << value;
  }

 private:
  std::vector<std::pair<std::string, long>> saved_;
};

}  // namespace

TEST_GROUP(BoardSysctlsOnTheKernel){};

TEST(BoardSysctlsOnTheKernel, WritesTheRealSysctlsAndTheyTakeEffect) {
  SysctlRestorer restorer({"queues_max"});
  long queues_max = read_sysctl("queues_max");
  long msg_max = read_sysctl("msg_max");
  CHECK(queues_max >= 0 && msg_max > 0);

  ipcrt::test::TempDir temp;
  std::filesystem::create_directories(temp.path() + "/sysctl-board");
  temp.write_file("sysctl-board/gateway.json", "{}");
  // Raising queues_max by one disturbs nothing else running on this kernel; msg_max is
  // written with its current value, which apply_board_sysctls skips.
  auto path = temp.write_file(
      "sysctl-board/board.json",
      "{\"name\": \"sysctl-board\", \"description\": \"d\", \"architecture\": \"arm64\","
      " \"toolchain\": \"aarch64-linux-gnu\", \"manifest\": \"gateway.json\","
      " \"mqueue\": {\"queues_max\": " +
          std::to_string(queues_max + 1) + ", \"msg_max\": " + std::to_string(msg_max) + "}}");
  auto board = ipcrt::config::load_board_file(path);
  if (!board) FAIL(board.error().describe().c_str());

  auto applied = ipcrt::runtime::apply_board_sysctls(*board);
  if (!applied) FAIL(applied.error().describe().c_str());
  LONGS_EQUAL(queues_max + 1, read_sysctl("queues_max"));
  LONGS_EQUAL(msg_max, read_sysctl("msg_max"));
  // What a failed boot does: the previous value comes back.
  applied->restore();
  LONGS_EQUAL(queues_max, read_sysctl("queues_max"));
}
