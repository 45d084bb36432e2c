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

namespace {

// A board directory in `temp` whose profile raises queues_max by one and sets msg_max to
// `msg_max`; returns its path (what `--board` takes).
std::string write_raising_board(ipcrt::test::TempDir& temp, long queues_max, long msg_max) {
  std::filesystem::create_directories(temp.path() + "/raising-board");
  temp.write_file("raising-board/gateway.json", "{}");
  temp.write_file(
      "raising-board/board.json",
      "{\"name\": \"raising-board\", \"description\": \"d\", \"architecture\": \"arm64\","
      " \"toolchain\": \"aarch64-linux-gnu\", \"manifest\": \"gateway.json\","
      " \"mqueue\": {\"queues_max\": " +
          std::to_string(queues_max + 1) + ", \"msg_max\": " + std::to_string(msg_max) + "}}");
  return temp.path() + "/raising-board";
}

}  // namespace

// SPEC §4.1: validate, then plan, and only then write the board's sysctls; a manifest that
// fails either changes nothing on the system.
TEST(BoardSysctlsOnTheKernel, AnInvalidManifestLeavesEverySysctlAsItWas) {
  SysctlRestorer restorer({"queues_max", "msg_max"});
  const long queues_max = read_sysctl("queues_max");
  const long msg_max = read_sysctl("msg_max");
  ipcrt::test::TempDir temp;
  const std::string board = write_raising_board(temp, queues_max, msg_max + 1);
  const std::string invalid = temp.write_file("invalid.json", "{\"version\": 1, \"nmae\": \"x\"}");
  auto run = ipcrt::test::run_ipcrt({"run", invalid, "--board", board});
  LONGS_EQUAL_TEXT(1, run.exit_code, run.err.c_str());
  LONGS_EQUAL(queues_max, read_sysctl("queues_max"));
  LONGS_EQUAL(msg_max, read_sysctl("msg_max"));
}

TEST(BoardSysctlsOnTheKernel, AManifestBeyondTheBoardsLimitsLeavesEverySysctlAsItWas) {
  SysctlRestorer restorer({"queues_max", "msg_max"});
  const long queues_max = read_sysctl("queues_max");
  const long msg_max = read_sysctl("msg_max");
  ipcrt::test::TempDir temp;
  // The board keeps msg_max; the queue asks for one message more than it allows.
  const std::string board = write_raising_board(temp, queues_max, msg_max);
  const std::string name = ipcrt::test::unique_name("bl");
  const std::string manifest = temp.write_file(
      "beyond.json", "{\"version\": 1, \"name\": \"" + name +
                         "\", \"services\": {\"svc\": {\"command\": [\"/bin/true\"], "
                         "\"slots\": {\"q\": {\"interface\": \"posix-mq\", \"path\": \"/" +
                         name + "\", \"max-messages\": " + std::to_string(msg_max + 1) + "}}}}}");
  auto run = ipcrt::test::run_ipcrt({"run", manifest, "--board", board});
  LONGS_EQUAL_TEXT(3, run.exit_code, run.err.c_str());
  STRCMP_CONTAINS("msg_max", run.err.c_str());
  LONGS_EQUAL(queues_max, read_sysctl("queues_max"));
  LONGS_EQUAL(msg_max, read_sysctl("msg_max"));
}

// The plan is made against the board's values: a queue the kernel's current msg_max refuses
// but the board's allows boots, and the board's value is then in force.
TEST(BoardSysctlsOnTheKernel, TheManifestIsPlannedAgainstTheBoardsValues) {
  SysctlRestorer restorer({"queues_max", "msg_max"});
  const long queues_max = read_sysctl("queues_max");
  const long msg_max = read_sysctl("msg_max");
  ipcrt::test::TempDir temp;
  const std::string board = write_raising_board(temp, queues_max, msg_max + 1);
  const std::string name = ipcrt::test::unique_name("bp");
  const std::string manifest = temp.write_file(
      "fits.json", "{\"version\": 1, \"name\": \"" + name +
                       "\", \"services\": {\"svc\": {\"command\": [\"/bin/true\"], "
                       "\"slots\": {\"q\": {\"interface\": \"posix-mq\", \"path\": \"/" +
                       name + "\", \"max-messages\": " + std::to_string(msg_max + 1) +
                       ", \"message-size\": 128, \"remove-on-stop\": true}}}}}");
  auto run = ipcrt::test::run_ipcrt({"run", manifest, "--board", board});
  LONGS_EQUAL_TEXT(0, run.exit_code, run.err.c_str());
  LONGS_EQUAL(msg_max + 1, read_sysctl("msg_max"));
  LONGS_EQUAL(queues_max + 1, read_sysctl("queues_max"));
}
