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
