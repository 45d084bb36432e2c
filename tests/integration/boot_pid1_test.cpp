// PID-1 mode: the kernel command line parser, and mounting plus running a manifest under a
// temporary root inside a private mount namespace (so the host's mounts are untouched), with
// power-off disabled; once without being PID 1, once as PID 1 of a new pid namespace.
#include <CppUTest/TestHarness.h>
#include <dirent.h>
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/file.hpp"
#include "platform/mount.hpp"
#include "runtime/board_mounts.hpp"
#include "runtime/pid1.hpp"
#include "tests/support/process.hpp"

using ipcrt::runtime::manifest_from_cmdline;

TEST_GROUP(Pid1){};

TEST(Pid1, FindsTheManifestOnTheKernelCommandLine) {
  CHECK_FALSE(manifest_from_cmdline("console=ttyAMA0 quiet\n").has_value());
  STRCMP_EQUAL(
      "/etc/gw.json",
      manifest_from_cmdline("console=ttyAMA0 ipcrt.manifest=/etc/gw.json quiet\n")->c_str());
  STRCMP_EQUAL("/b.json",
               manifest_from_cmdline("ipcrt.manifest=/a.json ipcrt.manifest=/b.json")->c_str());
  CHECK_FALSE(manifest_from_cmdline("ipcrt.manifest= xipcrt.manifest=/c.json").has_value());
}

TEST(Pid1, MountsWhatIsMissingThenRunsTheManifestFromTheCommandLine) {
  ipcrt::test::TempDir root;
  std::string name = ipcrt::test::unique_name("p1");
  std::string manifest =
      root.write_file("manifest.json", "{\"version\": 1, \"name\": \"" + name +
                                           "\", \"services\": {\"only\": {\"command\": [\"" +
                                           IPCRT_BOOT_PROBE + "\", \"exit\", \"0\"]}}}\n");
  std::string cmdline =
      root.write_file("cmdline", "console=ttyS0 ipcrt.manifest=" + manifest + "\n");

  pid_t child = ::fork();
  if (child == 0) {
    // A private namespace: nothing mounted here reaches the host.
    if (::unshare(CLONE_NEWNS) != 0 ||
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      ::_exit(90);
    }
    ipcrt::runtime::Pid1Options options;
    options.root = root.path();
    options.cmdline = cmdline;
    options.default_manifest = "/nonexistent.json";
    options.power_off = false;
    int status = ipcrt::runtime::run_pid1(options);
    if (status != 0) ::_exit(91);
    for (const char* target : {"/proc", "/sys", "/dev", "/dev/shm", "/dev/mqueue", "/run"}) {
      if (!ipcrt::platform::is_mount_point(root.path() + target)) ::_exit(92);
    }
    struct stat info {};
    if (::stat((root.path() + "/proc/self").c_str(), &info) != 0) ::_exit(93);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK_TRUE(WIFEXITED(status));
  LONGS_EQUAL_TEXT(
      0, WEXITSTATUS(status),
      "90: namespace, 91: run failed, 92: a filesystem was not mounted, 93: not procfs");
}

// As PID 1 of a new pid namespace (with its own /proc), ipcrt is init: the processes a service
// leaves behind are reparented to it. They must be killed with the service's session and
// reaped, so that when run returns nothing but ipcrt is left in the namespace, not even a
// zombie.
TEST(Pid1, AsInitItKillsAndReapsWhatAServiceLeftBehind) {
  ipcrt::test::TempDir root;
  std::string name = ipcrt::test::unique_name("p1");
  std::string manifest = root.write_file(
      "manifest.json", "{\"version\": 1, \"name\": \"" + name +
                           "\", \"services\": {\"leaver\": {\"command\": [\"" + IPCRT_BOOT_PROBE +
                           "\", \"stragglers\", \"exit\", \"0\"]}}}\n");
  std::string cmdline = root.write_file("cmdline", "ipcrt.manifest=" + manifest + "\n");
  std::string output = root.path() + "/out";

  pid_t child = ::fork();
  if (child == 0) {
    if (::unshare(CLONE_NEWNS | CLONE_NEWPID) != 0 ||
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      ::_exit(90);
    }
    pid_t init = ::fork();  // the first child in the new namespace is its PID 1
    if (init == 0) {
      // Our own /proc (in our private mount namespace): pids and session ids as we see them.
      if (::getpid() != 1 || ::mount("proc", "/proc", "proc", 0, nullptr) != 0) ::_exit(90);
      int out = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      // ipcrt logs what its services print on its stderr.
      if (out < 0 || ::dup2(out, 1) < 0 || ::dup2(out, 2) < 0) ::_exit(90);
      ipcrt::runtime::Pid1Options options;
      options.root = root.path();
      options.cmdline = cmdline;
      options.power_off = false;
      if (ipcrt::runtime::run_pid1(options) != 0) ::_exit(91);
      DIR* proc = ::opendir("/proc");
      if (proc == nullptr) ::_exit(90);
      int others = 0;
      while (const dirent* entry = ::readdir(proc)) {
        if (entry->d_name[0] >= '1' && entry->d_name[0] <= '9' &&
            std::string(entry->d_name) != "1") {
          ++others;
        }
      }
      ::closedir(proc);
      ::_exit(others == 0 ? 0 : 94);
    }
    int status = 0;
    if (init < 0 || ::waitpid(init, &status, 0) != init || !WIFEXITED(status)) ::_exit(95);
    ::_exit(WEXITSTATUS(status));
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK_TRUE(WIFEXITED(status));
  std::string printed = ipcrt::read_text_file(output).value_or("");
  CHECK_TEXT(printed.find("straggler ") != std::string::npos, printed.c_str());
  LONGS_EQUAL_TEXT(0, WEXITSTATUS(status),
                   "90: namespace or /proc, 91: run failed, 94: a process (or zombie) was left, "
                   "95: init did not exit");
}

// SPEC §4a: the board's `mounts` are mounted before the manifest runs (its service writes to
// one and sees it with its options) and unmounted after the orderly stop.
TEST(Pid1, MountsTheBoardsFilesystemsBeforeTheRunAndUnmountsThemAfter) {
  ipcrt::test::TempDir root;
  const std::string name = ipcrt::test::unique_name("p1");
  const std::string data = root.path() + "/data";
  const std::string manifest = root.write_file(
      "manifest.json",
      "{\"version\": 1, \"name\": \"" + name +
          "\", \"services\": {\"writer\": {\"command\": [\"/bin/sh\", \"-c\", \"echo kept > " +
          data + "/file && cat " + data + "/file && grep -c ' " + data +
          " .*noexec.* tmpfs ' /proc/self/mountinfo\"]}}}\n");
  ::chmod(root.path().c_str(), 0755);  // the writer, a dynamic user, passes through to /data
  ::mkdir((root.path() + "/pb").c_str(), 0755);
  root.write_file("pb/gateway.json", "{}");
  root.write_file("pb/board.json",
                  R"({"name": "pb", "description": "test", "architecture": "arm64",
                      "toolchain": "aarch64-linux-gnu", "manifest": "gateway.json",
                      "mounts": [{"source": "tmpfs", "target": "/data", "type": "tmpfs",
                                  "options": "noexec,nosuid,mode=1777,size=1m"}]})");
  const std::string cmdline = root.write_file(
      "cmdline", "ipcrt.manifest=" + manifest + " ipcrt.board=" + root.path() + "/pb\n");
  const std::string output = root.path() + "/out";
  pid_t child = ::fork();
  if (child == 0) {
    if (::unshare(CLONE_NEWNS) != 0 ||
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      ::_exit(90);
    }
    int out = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0 || ::dup2(out, 2) < 0) ::_exit(90);
    ipcrt::runtime::Pid1Options options;
    options.root = root.path();
    options.cmdline = cmdline;
    options.power_off = false;
    if (ipcrt::runtime::run_pid1(options) != 0) ::_exit(91);
    ::_exit(ipcrt::platform::is_mount_point(data) ? 92 : 0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  const std::string printed = ipcrt::read_text_file(output).value_or("");
  CHECK_TRUE(WIFEXITED(status));
  LONGS_EQUAL_TEXT(0, WEXITSTATUS(status),
                   ("90: namespace, 91: run failed, 92: left mounted\n" + printed).c_str());
  STRCMP_CONTAINS("msg=mounted source=tmpfs", printed.c_str());
  STRCMP_CONTAINS("service=writer stream=stdout msg=\"kept\"", printed.c_str());
  STRCMP_CONTAINS("service=writer stream=stdout msg=\"1\"", printed.c_str());
  STRCMP_CONTAINS("msg=unmounted", printed.c_str());
  CHECK_TEXT(printed.find("msg=mounted") < printed.find("msg=started"), printed.c_str());
}

// A mount that fails is logged with its cause and fix and the others are still mounted; a
// missing source node is waited for, within a bound.
TEST(Pid1, AFailedBoardMountNamesItsCauseAndTheOthersAreStillMounted) {
  ipcrt::test::TempDir root;
  const std::string output = root.path() + "/out";
  pid_t child = ::fork();
  if (child == 0) {
    if (::unshare(CLONE_NEWNS) != 0 ||
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      ::_exit(90);
    }
    int out = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0 || ::dup2(out, 2) < 0) ::_exit(90);
    std::vector<ipcrt::config::BoardMount> mounts(3);
    mounts[0] = {"/dev/ipcrt-no-such-disk", "/missing", "ext4", "defaults", 0, ""};
    mounts[1] = {"tmpfs", "/odd", "ipcrtnosuchfs", "defaults", 0, ""};
    mounts[2] = {"tmpfs", "/deep/er/data", "tmpfs", "ro", MS_RDONLY, "size=64k"};
    auto mounted = ipcrt::runtime::mount_board_filesystems(mounts, root.path(),
                                                           std::chrono::milliseconds(200));
    if (mounted) ::_exit(91);
    const bool deep = ipcrt::platform::is_mount_point(root.path() + "/deep/er/data");
    const bool read_only =
        ::mkdir((root.path() + "/deep/er/data/x").c_str(), 0755) != 0 && errno == EROFS;
    ipcrt::runtime::unmount_board_filesystems(mounts, root.path());
    if (ipcrt::platform::is_mount_point(root.path() + "/deep/er/data")) ::_exit(94);
    ::_exit(!deep ? 92 : !read_only ? 93 : 0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  const std::string printed = ipcrt::read_text_file(output).value_or("");
  CHECK_TRUE(WIFEXITED(status));
  LONGS_EQUAL_TEXT(0, WEXITSTATUS(status),
                   ("90: namespace, 91: no failure, 92: not mounted, 93: not read-only, 94: still "
                    "mounted\n" +
                    printed)
                       .c_str());
  STRCMP_CONTAINS(
      ("/dev/ipcrt-no-such-disk on " + root.path() + "/missing: no such device after 200 ms")
          .c_str(),
      printed.c_str());
  STRCMP_CONTAINS("the kernel has no ipcrtnosuchfs filesystem", printed.c_str());
}
