// PID-1 mode: the kernel command line parser, and mounting plus running a manifest under a
// temporary root inside a private mount namespace (so the host's mounts are untouched), with
// power-off disabled; once without being PID 1, once as PID 1 of a new pid namespace. Then the
// fallback to the last known good manifest when the one found at boot is invalid (SPEC §12).
#include <CppUTest/TestHarness.h>
#include <dirent.h>
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>

#include "common/file.hpp"
#include "platform/mount.hpp"
#include "runtime/board_mounts.hpp"
#include "runtime/pid1.hpp"
#include "tests/support/process.hpp"

using ipcrt::runtime::last_good_fallback;
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

namespace {

std::string one_service(const std::string& name, const std::string& service,
                        const std::string& mode) {
  return "{\"version\": 1, \"name\": \"" + name + "\", \"services\": {\"" + service +
         "\": {\"command\": [\"" + IPCRT_BOOT_PROBE + "\", " + mode + "]}}}\n";
}

// Writes `text` as the last known good manifest of `name` under the state directory `state`.
std::string keep_last_good(const std::string& state, const std::string& name,
                           const std::string& text) {
  ::mkdir((state + "/" + name).c_str(), 0755);
  const std::string path = state + "/" + name + "/last-good.json";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    [[maybe_unused]] auto written = ::write(fd, text.data(), text.size());
    ::close(fd);
  }
  return path;
}

// PID-1 mode on the manifest `manifest` (ipcrt.manifest=) with `state` as the state directory,
// in a private mount namespace, as PID 1 of a new pid namespace when `as_init`; what it prints
// goes to `output`. Its exit status, 90 when the namespaces could not be made.
// `meanwhile`, if given, runs in the test with the child's pid while it boots and runs.
int boot_pid1(const ipcrt::test::TempDir& root, const std::string& manifest,
              const std::string& state, const std::string& output, bool as_init,
              const std::function<void(pid_t)>& meanwhile = {}) {
  const std::string cmdline = root.write_file("cmdline", "ipcrt.manifest=" + manifest + "\n");
  pid_t child = ::fork();
  if (child == 0) {
    if (::unshare(CLONE_NEWNS | (as_init ? CLONE_NEWPID : 0)) != 0 ||
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      ::_exit(90);
    }
    pid_t init = as_init ? ::fork() : 0;
    if (init == 0) {
      if (as_init && (::getpid() != 1 || ::mount("proc", "/proc", "proc", 0, nullptr) != 0)) {
        ::_exit(90);
      }
      int out = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (out < 0 || ::dup2(out, 1) < 0 || ::dup2(out, 2) < 0) ::_exit(90);
      ::setenv("IPCRT_STATE_DIR", state.c_str(), 1);
      ipcrt::runtime::Pid1Options options;
      options.root = root.path();
      options.cmdline = cmdline;
      options.default_manifest = "/nonexistent.json";
      options.power_off = false;
      ::_exit(ipcrt::runtime::run_pid1(options));
    }
    int status = 0;
    if (init < 0 || ::waitpid(init, &status, 0) != init || !WIFEXITED(status)) ::_exit(95);
    ::_exit(WEXITSTATUS(status));
  }
  if (meanwhile && child > 0) meanwhile(child);
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Waits up to 10 s for `text` in the file `output`.
bool printed_within(const std::string& output, const std::string& text) {
  for (int i = 0; i < 1000; ++i) {
    if (ipcrt::read_text_file(output).value_or("").find(text) != std::string::npos) return true;
    ::usleep(10000);
  }
  return false;
}

// The lines of `log` that contain `text`.
int lines_with(const std::string& log, const std::string& text) {
  int count = 0;
  for (std::size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) {
    ++count;
  }
  return count;
}

}  // namespace

// The manifest names itself but does not validate: PID 1 says why, naming the file, each
// error and the fallback, then runs the last known good manifest of that name.
TEST(Pid1, AnInvalidManifestAtBootFallsBackLoudlyToTheLastKnownGoodOne) {
  ipcrt::test::TempDir root;
  ipcrt::test::TempDir state;
  const std::string name = ipcrt::test::unique_name("p1");
  const std::string good = keep_last_good(state.path(), name, one_service(name, "good", "\"ids\""));
  const std::string manifest = root.write_file(
      "manifest.json", "{\"version\": 1, \"name\": \"" + name +
                           "\", \"services\": {\"broken\": {\"comand\": [\"/bin/true\"]}}}\n");
  const std::string output = root.path() + "/out";
  const int status = boot_pid1(root, manifest, state.path(), output, true);
  const std::string printed = ipcrt::read_text_file(output).value_or("");
  LONGS_EQUAL_TEXT(0, status, printed.c_str());
  // The diagnostics in the compiler's format, and as error lines of the runtime's log.
  CHECK_TEXT(printed.find(manifest + ": /services/broken") != std::string::npos, printed.c_str());
  CHECK_TEXT(lines_with(printed, "level=error msg=\"manifest invalid at boot\"") >= 1,
             printed.c_str());
  CHECK_TEXT(printed.find("falling back to the last known good manifest") != std::string::npos &&
                 printed.find("fallback=" + good) != std::string::npos,
             printed.c_str());
  // The last known good manifest is what ran.
  CHECK_TEXT(printed.find("good: uid=") != std::string::npos, printed.c_str());
  CHECK_TEXT(printed.find("service=broken") == std::string::npos, printed.c_str());
}

// Not even JSON: no name to go by. The one manifest with a last known good file is the
// device's. Once the file found at boot is fixed, SIGHUP applies it (not the fallback again):
// on a PID-1 device nothing may call Reload, so SIGHUP is the update agent's way.
TEST(Pid1, AManifestThatIsNotJsonFallsBackToTheOnlyLastKnownGoodOneUntilFixed) {
  ipcrt::test::TempDir root;
  ipcrt::test::TempDir state;
  const std::string name = ipcrt::test::unique_name("p1");
  const std::string stopped = root.shared_file("stopped");
  const std::string keeper = "\"keeper\": {\"command\": [\"" + std::string(IPCRT_BOOT_PROBE) +
                             "\", \"log-term\", \"keeper\", \"" + stopped + "\"]}";
  const std::string good = keep_last_good(
      state.path(), name,
      "{\"version\": 1, \"name\": \"" + name + "\", \"services\": {" + keeper + "}}\n");
  const std::string manifest = root.write_file("manifest.json", "{\"version\": 1, \"na");
  const std::string output = root.path() + "/out";
  bool reloaded = false;
  const int status = boot_pid1(root, manifest, state.path(), output, false, [&](pid_t runtime) {
    if (!printed_within(output, "keeper waits for SIGTERM")) return (void)::kill(runtime, SIGTERM);
    root.write_file("manifest.json", "{\"version\": 1, \"name\": \"" + name +
                                         "\", \"services\": {" + keeper +
                                         ", \"added\": {\"type\": \"oneshot\", \"command\": [\"" +
                                         IPCRT_BOOT_PROBE + "\", \"exit\", \"0\"]}}}\n");
    ::kill(runtime, SIGHUP);
    reloaded = printed_within(output, "msg=started service=added");
    ::kill(runtime, SIGTERM);
  });
  const std::string printed = ipcrt::read_text_file(output).value_or("");
  LONGS_EQUAL_TEXT(0, status, printed.c_str());
  CHECK_TEXT(printed.find("fallback=" + good) != std::string::npos, printed.c_str());
  CHECK_TEXT(printed.find("msg=reload manifest=" + manifest) != std::string::npos, printed.c_str());
  CHECK_TEXT(reloaded, printed.c_str());
  // The reload kept the fallback's service as it ran: started once.
  LONGS_EQUAL_TEXT(1, lines_with(printed, "msg=started service=keeper"), printed.c_str());
}

// Valid, but it does not plan on this kernel (a queue longer than fs.mqueue.msg_max allows):
// the same fallback, from the plan step; nothing of the manifest was created.
TEST(Pid1, AManifestThatDoesNotPlanFallsBackToo) {
  const long msg_max = std::strtol(
      ipcrt::read_text_file("/proc/sys/fs/mqueue/msg_max").value_or("0").c_str(), nullptr, 10);
  if (msg_max <= 0 || msg_max >= 65536) TEST_EXIT;  // no value between the limit and the ceiling
  ipcrt::test::TempDir root;
  ipcrt::test::TempDir state;
  const std::string name = ipcrt::test::unique_name("p1");
  const std::string queue = "/" + ipcrt::test::unique_name("p1q");
  const std::string good =
      keep_last_good(state.path(), name, one_service(name, "good", "\"exit\", \"0\""));
  const std::string manifest = root.write_file(
      "manifest.json", "{\"version\": 1, \"name\": \"" + name +
                           "\", \"services\": {\"hub\": {\"command\": [\"/bin/true\"], "
                           "\"slots\": {\"q\": {\"interface\": \"posix-mq\", \"path\": \"" +
                           queue + "\", \"max-messages\": " + std::to_string(msg_max + 1) +
                           ", \"message-size\": 32}}}}}\n");
  const std::string output = root.path() + "/out";
  const int status = boot_pid1(root, manifest, state.path(), output, false);
  const std::string printed = ipcrt::read_text_file(output).value_or("");
  LONGS_EQUAL_TEXT(0, status, printed.c_str());
  CHECK_TEXT(printed.find("exceeds fs.mqueue.msg_max") != std::string::npos, printed.c_str());
  CHECK_TEXT(printed.find("step=plan fallback=" + good) != std::string::npos, printed.c_str());
  CHECK_TEXT(printed.find("msg=started service=good") != std::string::npos, printed.c_str());
  CHECK_TRUE(::mq_open(queue.c_str(), O_RDONLY) == (mqd_t)-1);
}

// Without a last known good manifest PID-1 mode fails as it always did (exit 1), and says
// there was nothing to fall back to.
TEST(Pid1, WithoutALastKnownGoodOneAnInvalidManifestFailsAsBefore) {
  ipcrt::test::TempDir root;
  ipcrt::test::TempDir state;
  const std::string name = ipcrt::test::unique_name("p1");
  const std::string manifest = root.write_file(
      "manifest.json", "{\"version\": 1, \"name\": \"" + name + "\", \"services\": {}}\n");
  const std::string output = root.path() + "/out";
  const int status = boot_pid1(root, manifest, state.path(), output, false);
  const std::string printed = ipcrt::read_text_file(output).value_or("");
  LONGS_EQUAL_TEXT(1, status, printed.c_str());
  CHECK_TEXT(printed.find("no last known good manifest to fall back to") != std::string::npos &&
                 printed.find(state.path() + "/" + name + "/last-good.json") != std::string::npos,
             printed.c_str());
}

// Which file the fallback takes: the name's own, never a guess among several, never a name
// that is a path.
TEST(Pid1, TheFallbackIsTheNamedOrTheOnlyLastKnownGoodManifest) {
  ipcrt::test::TempDir root;
  ipcrt::test::TempDir state;
  const char* saved = ::getenv("IPCRT_STATE_DIR");
  const std::string restore = saved != nullptr ? saved : "";
  ::setenv("IPCRT_STATE_DIR", state.path().c_str(), 1);
  const std::string first = keep_last_good(state.path(), "first", "{}");
  const std::string second = keep_last_good(state.path(), "second", "{}");
  auto named =
      last_good_fallback(root.write_file("named.json", "{\"name\": \"second\", \"services\": 3}"));
  auto broken = last_good_fallback(root.write_file("broken.json", "{\"name\": \"sec"));
  auto traversal = last_good_fallback(root.write_file("dots.json", "{\"name\": \"../first\"}"));
  auto missing = last_good_fallback(root.path() + "/absent.json");
  ::unlink(second.c_str());
  auto only = last_good_fallback(root.path() + "/absent.json");
  auto unknown = last_good_fallback(root.write_file("other.json", "{\"name\": \"third\"}"));
  ::setenv("IPCRT_STATE_DIR", restore.c_str(), 1);
  CHECK_TRUE(named.has_value());
  STRCMP_EQUAL(second.c_str(), named->c_str());
  CHECK_FALSE(broken.has_value());  // two candidates: no guess
  CHECK_TEXT(broken.error().describe().find("2 (") != std::string::npos,
             broken.error().describe().c_str());
  CHECK_FALSE(traversal.has_value());
  CHECK_FALSE(missing.has_value());
  CHECK_TRUE(only.has_value());
  STRCMP_EQUAL(first.c_str(), only->c_str());
  CHECK_FALSE(unknown.has_value());  // the name's own or nothing
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
