// Board profiles: the shipped boards load, bad board.json files get errors naming the key and
// the fix, and sysctls are written to (and restored in) a /proc-like directory.
#include <CppUTest/TestHarness.h>
#include <sys/mount.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "config/board.hpp"
#include "runtime/board_sysctls.hpp"
#include "tests/support/process.hpp"

using ipcrt::config::Board;
using ipcrt::config::find_board;
using ipcrt::config::load_board_file;
using ipcrt::test::source_path;
using ipcrt::test::TempDir;

namespace {

const char* const kValidBoard = R"({
  "name": "test-board",
  "description": "a board for tests",
  "architecture": "arm64",
  "toolchain": "aarch64-linux-gnu",
  "mqueue": {"msg_max": 100, "msgsize_max": 16384, "msg_default": 20, "queues_max": 300},
  "manifest": "gateway.json"
})";

std::string replace(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  if (at == std::string::npos) FAIL(("test setup: no " + from).c_str());
  return text.replace(at, from.size(), to);
}

// Writes <temp>/test-board/{board.json,gateway.json}; returns the board.json path.
std::string write_board(const TempDir& temp, const std::string& board_json) {
  std::filesystem::create_directories(temp.path() + "/test-board");
  temp.write_file("test-board/gateway.json", "{}");
  return temp.write_file("test-board/board.json", board_json);
}

std::string error_of(const TempDir& temp, const std::string& board_json) {
  auto board = load_board_file(write_board(temp, board_json));
  if (board) FAIL("expected the board to be rejected");
  return board.error().describe();
}

long read_number(const std::string& path) {
  long value = -1;
  std::ifstream(path) >> value;
  return value;
}

// A /proc/sys/fs/mqueue stand-in holding the given values.
void write_sysctls(const TempDir& dir, long msg_max, long msgsize_max, long msg_default,
                   long queues_max) {
  dir.write_file("msg_max", std::to_string(msg_max) + "\n");
  dir.write_file("msgsize_max", std::to_string(msgsize_max) + "\n");
  dir.write_file("msg_default", std::to_string(msg_default) + "\n");
  dir.write_file("msgsize_default", "8192\n");
  dir.write_file("queues_max", std::to_string(queues_max) + "\n");
}

}  // namespace

TEST_GROUP(BoardProfile){};

TEST(BoardProfile, EveryShippedBoardLoadsWithItsManifest) {
  const std::vector<std::string> dirs = {source_path("boards")};
  for (const char* name :
       {"qemu-virt-arm64", "qemu-virt-armhf", "raspberrypi4", "beaglebone-black"}) {
    auto board = find_board(name, dirs);
    if (!board) FAIL(board.error().describe().c_str());
    STRCMP_EQUAL(name, board->name.c_str());
    CHECK(std::filesystem::is_regular_file(board->manifest));
  }
}

TEST(BoardProfile, QemuBoardsSayHowToBoot) {
  auto board = find_board("qemu-virt-armhf", {source_path("boards")});
  if (!board) FAIL(board.error().describe().c_str());
  CHECK(board->qemu.has_value());
  STRCMP_EQUAL("armhf", board->architecture.c_str());
  STRCMP_EQUAL("cortex-a15", board->qemu->cpu.c_str());
  STRCMP_EQUAL("linux-image-armmp", board->qemu->kernel_package.c_str());
  STRCMP_CONTAINS("boards/qemu-virt-arm64/gateway.json", board->manifest.c_str());
}

TEST(BoardProfile, ParsesValuesAndResolvesTheManifestNextToIt) {
  TempDir temp;
  auto board = load_board_file(write_board(temp, kValidBoard));
  if (!board) FAIL(board.error().describe().c_str());
  LONGS_EQUAL(100, *board->mqueue.msg_max);
  LONGS_EQUAL(16384, *board->mqueue.msgsize_max);
  LONGS_EQUAL(20, *board->mqueue.msg_default);
  CHECK_FALSE(board->mqueue.msgsize_default.has_value());
  LONGS_EQUAL(300, *board->mqueue.queues_max);
  STRCMP_EQUAL((temp.path() + "/test-board/gateway.json").c_str(), board->manifest.c_str());
  CHECK_FALSE(board->qemu.has_value());
}

TEST(BoardProfile, WatchdogHasADeviceUnderDevAndATimeout) {
  TempDir temp;
  auto board = load_board_file(write_board(
      temp,
      replace(kValidBoard, "\"manifest\"",
              "\"watchdog\": {\"device\": \"/dev/watchdog0\", \"timeout-s\": 15}, \"manifest\"")));
  if (!board) FAIL(board.error().describe().c_str());
  CHECK(board->watchdog.has_value());
  STRCMP_EQUAL("/dev/watchdog0", board->watchdog->device.c_str());
  LONGS_EQUAL(15, board->watchdog->timeout_s);
  auto plain = load_board_file(write_board(
      temp,
      replace(kValidBoard, "\"manifest\"", "\"watchdog\": {\"timeout-s\": 30}, \"manifest\"")));
  if (!plain) FAIL(plain.error().describe().c_str());
  STRCMP_EQUAL("/dev/watchdog", plain->watchdog->device.c_str());
  CHECK_FALSE(load_board_file(write_board(temp, kValidBoard))->watchdog.has_value());

  auto error =
      error_of(temp, replace(kValidBoard, "\"manifest\"",
                             "\"watchdog\": {\"device\": \"/etc/passwd\", \"timeout-s\": 0, "
                             "\"pet-s\": 1}, \"manifest\""));
  STRCMP_CONTAINS("/watchdog/pet-s: error: unknown key \"pet-s\" in the watchdog", error.c_str());
  STRCMP_CONTAINS("/watchdog/device: error: \"/etc/passwd\" is not a device under /dev",
                  error.c_str());
  STRCMP_CONTAINS("/watchdog/timeout-s: error: expected a positive integer up to 3600, got 0",
                  error.c_str());
  error = error_of(temp, replace(kValidBoard, "\"manifest\"",
                                 "\"watchdog\": {\"device\": \"/dev/../etc/x\"}, \"manifest\""));
  STRCMP_CONTAINS("/watchdog/device: error: \"/dev/../etc/x\" is not a device under /dev",
                  error.c_str());
  STRCMP_CONTAINS("/watchdog: error: missing \"timeout-s\"", error.c_str());
}

// SPEC §4a: `mounts`, fstab-like; the kernel's option words become flags, the rest is the
// filesystem's data; what only mount(8) understands is refused.
TEST(BoardProfile, MountsAreReadLikeFstabWithTheKernelsOptionWords) {
  TempDir temp;
  auto board = load_board_file(write_board(
      temp, replace(kValidBoard, "\"manifest\"",
                    "\"mounts\": [{\"source\": \"/dev/mmcblk0p3\", \"target\": \"/data\", "
                    "\"type\": \"ext4\", \"options\": \"noatime,nodev,nosuid,commit=30,errors="
                    "remount-ro\"}, {\"source\": \"/dev/vdb\", \"target\": \"/var/lib/ipcrt\", "
                    "\"type\": \"f2fs\"}, {\"source\": \"tmpfs\", \"target\": \"/data/cache\", "
                    "\"type\": \"tmpfs\", \"options\": \"ro,size=1m\"}], \"manifest\"")));
  if (!board) FAIL(board.error().describe().c_str());
  LONGS_EQUAL(3, board->mounts.size());
  const auto& data = board->mounts[0];
  STRCMP_EQUAL("/dev/mmcblk0p3", data.source.c_str());
  STRCMP_EQUAL("/data", data.target.c_str());
  STRCMP_EQUAL("ext4", data.type.c_str());
  LONGS_EQUAL(MS_NOATIME | MS_NODEV | MS_NOSUID, data.flags);
  STRCMP_EQUAL("commit=30,errors=remount-ro", data.data.c_str());
  STRCMP_EQUAL("defaults", board->mounts[1].options.c_str());
  LONGS_EQUAL(0, board->mounts[1].flags);
  LONGS_EQUAL(MS_RDONLY, board->mounts[2].flags);
  STRCMP_EQUAL("size=1m", board->mounts[2].data.c_str());
  LONGS_EQUAL(0, load_board_file(write_board(temp, kValidBoard))->mounts.size());

  auto parsed = ipcrt::config::parse_mount_options("ro,rw,relatime,noatime,sync,async");
  STRCMP_EQUAL("", parsed.error.c_str());
  LONGS_EQUAL(MS_NOATIME, parsed.flags);
}

TEST(BoardProfile, ABadMountIsAnErrorAtItsPointerWithTheFix) {
  TempDir temp;
  auto mounts = [&](const std::string& entries) {
    return error_of(
        temp, replace(kValidBoard, "\"manifest\"", "\"mounts\": [" + entries + "], \"manifest\""));
  };
  auto error = mounts(
      "{\"source\": \"LABEL=data\", \"target\": \"/data\", \"type\": \"ext4\"},"
      "{\"source\": \"/dev/vdb\", \"target\": \"/run/x\", \"type\": \"ext4\"},"
      "{\"source\": \"/dev/vdc\", \"target\": \"/srv/\", \"type\": \"Ext4\"},"
      "{\"source\": \"/etc/x.img\", \"target\": \"/srv\", \"type\": \"ext4\"},"
      "{\"source\": \"/dev/vdd\", \"target\": \"/mnt\", \"type\": \"ext4\", \"options\": "
      "\"noatime,nofail\"},"
      "{\"source\": \"/dev/vde\", \"target\": \"/opt\", \"options\": \"a,,b\", \"dump\": 0}");
  STRCMP_CONTAINS("/mounts/0/source: error: \"LABEL=data\": ipcrt resolves no LABEL=",
                  error.c_str());
  STRCMP_CONTAINS("/mounts/1/target: error: \"/run/x\" is under /run, which ipcrt mounts itself",
                  error.c_str());
  STRCMP_CONTAINS("/mounts/2/target: error:", error.c_str());
  STRCMP_CONTAINS("/mounts/2/type: error: \"Ext4\" is not a filesystem type", error.c_str());
  STRCMP_CONTAINS("/mounts/3/source: error: \"/etc/x.img\" is not a device under /dev",
                  error.c_str());
  STRCMP_CONTAINS("/mounts/4/options: error: \"nofail\" is an option of mount(8) or an init",
                  error.c_str());
  STRCMP_CONTAINS("/mounts/5/dump: error: unknown key \"dump\"", error.c_str());
  STRCMP_CONTAINS("/mounts/5: error: missing \"type\"", error.c_str());
  STRCMP_CONTAINS("/mounts/5/options: error: has an empty option", error.c_str());

  error = mounts(
      "{\"source\": \"/dev/vda\", \"target\": \"/data/logs\", \"type\": \"ext4\"},"
      "{\"source\": \"/dev/vdb\", \"target\": \"/data\", \"type\": \"ext4\"},"
      "{\"source\": \"/dev/vdc\", \"target\": \"/data/logs\", \"type\": \"ext4\"},"
      "{\"source\": \"/dev/vdd\", \"target\": \"/\", \"type\": \"ext4\"}");
  STRCMP_CONTAINS(
      "/mounts/1/target: error: \"/data\" holds \"/data/logs\" of /mounts/0, which "
      "would be hidden (hint: list the outer filesystem first, as in fstab)",
      error.c_str());
  STRCMP_CONTAINS("/mounts/2/target: error: \"/data/logs\" is mounted already by /mounts/0",
                  error.c_str());
  STRCMP_CONTAINS("/mounts/3/target: error: \"/\" is the initramfs itself", error.c_str());
  error = mounts("\"/dev/vda /data ext4\"");
  STRCMP_CONTAINS("/mounts/0: error: expected an object", error.c_str());
}

TEST(BoardProfile, UnknownKeyIsAnErrorNamingIt) {
  TempDir temp;
  auto error = error_of(temp, replace(kValidBoard, "\"manifest\"", "\"manifets\""));
  STRCMP_CONTAINS("board.json: /manifets: error: unknown key \"manifets\"", error.c_str());
}

TEST(BoardProfile, UnknownSysctlIsAnError) {
  TempDir temp;
  auto error = error_of(temp, replace(kValidBoard, "\"queues_max\"", "\"queue_max\""));
  STRCMP_CONTAINS(
      "/mqueue/queue_max: error: unknown key \"queue_max\" in the mqueue sysctls (hint: did you "
      "mean \"queues_max\"?",
      error.c_str());
}

TEST(BoardProfile, ValueAboveTheKernelHardLimitIsRejected) {
  TempDir temp;
  auto error = error_of(temp, replace(kValidBoard, "\"msg_max\": 100", "\"msg_max\": 65537"));
  STRCMP_CONTAINS(
      "/mqueue/msg_max: error: expected a positive integer up to 65536, got 65537 (hint: the "
      "kernel refuses more for fs.mqueue.msg_max)",
      error.c_str());
  error = error_of(temp, replace(kValidBoard, "16384", "16777217"));
  STRCMP_CONTAINS(
      "/mqueue/msgsize_max: error: expected an integer from 128 up to 16777216, got 16777217",
      error.c_str());
}

TEST(BoardProfile, DefaultAboveItsMaximumIsRejected) {
  TempDir temp;
  auto error = error_of(temp, replace(kValidBoard, "\"msg_default\": 20", "\"msg_default\": 200"));
  STRCMP_CONTAINS("/mqueue/msg_default: error: is above msg_max", error.c_str());
}

TEST(BoardProfile, NonIntegerSysctlIsRejected) {
  TempDir temp;
  auto error = error_of(temp, replace(kValidBoard, "\"msg_max\": 100", "\"msg_max\": \"100\""));
  STRCMP_CONTAINS("/mqueue/msg_max: error: expected a positive integer up to 65536, got a string",
                  error.c_str());
}

TEST(BoardProfile, ToolchainMustMatchTheArchitecture) {
  TempDir temp;
  auto error = error_of(temp, replace(kValidBoard, "\"arm64\"", "\"armhf\""));
  STRCMP_CONTAINS("/toolchain: error: \"aarch64-linux-gnu\" does not build for armhf",
                  error.c_str());
  STRCMP_CONTAINS("use arm-linux-gnueabihf", error.c_str());
}

TEST(BoardProfile, MissingManifestFileIsAnError) {
  TempDir temp;
  auto error = error_of(temp, replace(kValidBoard, "gateway.json", "nowhere.json"));
  STRCMP_CONTAINS("/manifest: error: no manifest at", error.c_str());
}

TEST(BoardProfile, NameMustMatchItsDirectory) {
  TempDir temp;
  auto error = error_of(temp, replace(kValidBoard, "\"test-board\"", "\"other-board\""));
  STRCMP_CONTAINS("/name: error: \"other-board\" differs from its directory", error.c_str());
}

TEST(BoardProfile, SyntaxErrorIsReported) {
  TempDir temp;
  auto error = error_of(temp, "{\n  \"name\": ");
  STRCMP_CONTAINS("board.json:2:11: error: invalid JSON: syntax error", error.c_str());
}

TEST(BoardProfile, EveryProblemIsReportedOneLineEach) {
  TempDir temp;
  auto error = error_of(
      temp, replace(replace(replace(kValidBoard, "\"arm64\"", "\"armel\""), "\"msg_max\": 100",
                            "\"msg_max\": 0"),
                    "\"description\": \"a board for tests\",", "\"name\": \"test-board\","));
  STRCMP_CONTAINS("board.json: /name: error: duplicate key \"name\"", error.c_str());
  STRCMP_CONTAINS("board.json: /: error: missing \"description\"", error.c_str());
  STRCMP_CONTAINS(
      "board.json: /architecture: error: unknown architecture \"armel\" (hint: use "
      "arm64 or armhf (Debian's names))",
      error.c_str());
  STRCMP_CONTAINS("board.json: /mqueue/msg_max: error: expected a positive integer", error.c_str());
  LONGS_EQUAL(4, std::count(error.begin(), error.end(), '\n') + 1);
}

TEST(BoardProfile, FindBoardRejectsPathTraversalAndNamesWhereItLooked) {
  TempDir temp;
  auto board = find_board("..", {temp.path()});
  CHECK_FALSE(board.has_value());
  STRCMP_CONTAINS("invalid board name", board.error().message.c_str());
  board = find_board("missing-board", {temp.path()});
  CHECK_FALSE(board.has_value());
  STRCMP_CONTAINS(("no board \"missing-board\" in " + temp.path()).c_str(),
                  board.error().message.c_str());
}

TEST(BoardProfile, FindBoardSearchesDirectoriesInOrder) {
  TempDir first;
  TempDir second;
  write_board(second, kValidBoard);
  write_board(first, replace(kValidBoard, "a board for tests", "the first one"));
  auto board = find_board("test-board", {first.path(), second.path()});
  if (!board) FAIL(board.error().describe().c_str());
  STRCMP_EQUAL("the first one", board->description.c_str());
}

TEST_GROUP(BoardSysctls){};

TEST(BoardSysctls, WritesOnlyTheListedValues) {
  TempDir temp;
  TempDir proc;
  write_sysctls(proc, 10, 8192, 10, 256);
  auto board = load_board_file(write_board(temp, kValidBoard));
  if (!board) FAIL(board.error().describe().c_str());
  auto status = ipcrt::runtime::apply_board_sysctls(*board, proc.path());
  if (!status) FAIL(status.error().describe().c_str());
  LONGS_EQUAL(100, read_number(proc.path() + "/msg_max"));
  LONGS_EQUAL(16384, read_number(proc.path() + "/msgsize_max"));
  LONGS_EQUAL(20, read_number(proc.path() + "/msg_default"));
  LONGS_EQUAL(8192, read_number(proc.path() + "/msgsize_default"));
  LONGS_EQUAL(300, read_number(proc.path() + "/queues_max"));
}

TEST(BoardSysctls, AFailedWriteRestoresWhatWasWrittenAndNamesTheFile) {
  TempDir temp;
  TempDir proc;
  write_sysctls(proc, 10, 8192, 10, 256);
  // A directory where a sysctl file should be: writing it fails after msg_max was written.
  std::filesystem::remove(proc.path() + "/msg_default");
  std::filesystem::create_directory(proc.path() + "/msg_default");
  auto board = load_board_file(write_board(temp, kValidBoard));
  if (!board) FAIL(board.error().describe().c_str());
  auto status = ipcrt::runtime::apply_board_sysctls(*board, proc.path());
  CHECK_FALSE(status.has_value());
  STRCMP_CONTAINS((proc.path() + "/msg_default").c_str(), status.error().describe().c_str());
  LONGS_EQUAL(10, read_number(proc.path() + "/msg_max"));
  LONGS_EQUAL(8192, read_number(proc.path() + "/msgsize_max"));
  LONGS_EQUAL(256, read_number(proc.path() + "/queues_max"));
}
