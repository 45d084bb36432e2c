// PID-1 mode without being PID 1: the kernel command line parser, and mounting plus running a
// manifest under a temporary root inside a private mount namespace (so the host's mounts are
// untouched), with power-off disabled.
#include <CppUTest/TestHarness.h>
#include <mqueue.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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
