// The launch on the real kernel: descriptors the runtime inherited never reach a service
// (close_range, and its /proc/self/fd fallback for kernels before 5.11), and failing phases
// name what they failed on.
#include "runtime/launch.hpp"

#include <CppUTest/TestHarness.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "platform/descriptors.hpp"
#include "platform/memory.hpp"
#include "tests/support/process.hpp"

using ipcrt::test::unique_name;

namespace {

// Well above what the test process has open, so the probe's check is about this one.
constexpr int kInheritedFd = 200;

// /dev/null at kInheritedFd without close-on-exec, as a careless parent would leave it.
struct InheritableFd {
  InheritableFd() {
    int fd = ::open("/dev/null", O_RDONLY);
    CHECK(fd >= 0);
    CHECK_EQUAL(kInheritedFd, ::dup2(fd, kInheritedFd));
    ::close(fd);
  }
  ~InheritableFd() { ::close(kInheritedFd); }
};

enum class Marking { None, Fallback, WithoutCloseRange };

// A filter that answers close_range with ENOSYS, as a kernel before 5.9 does.
sock_filter kNoCloseRange[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_close_range, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

// Forks a child that marks its descriptors as `marking` says, then execs the probe, which
// exits 0 if kInheritedFd is still open, 1 if not. Returns the probe's exit code, or 100 + the
// marking's errno, or -1.
int probe_after(Marking marking) {
  std::string fd = std::to_string(kInheritedFd);
  const char* argv[] = {IPCRT_BOOT_PROBE, "fd-open", fd.c_str(), nullptr};
  sock_fprog no_close_range{sizeof kNoCloseRange / sizeof kNoCloseRange[0], kNoCloseRange};
  pid_t pid = ::fork();
  if (pid == 0) {
    int marked = 0;
    if (marking == Marking::Fallback) {
      marked = ipcrt::platform::mark_listed_descriptors_cloexec(3);
    } else if (marking == Marking::WithoutCloseRange) {
      if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
          ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &no_close_range) != 0 ||
          ::syscall(SYS_close_range, ~0U, ~0U, 0U) != -1 || errno != ENOSYS) {
        ::_exit(99);  // the filter does not stand in for an old kernel
      }
      marked = ipcrt::platform::mark_descriptors_cloexec(3);
    }
    if (marked < 0) ::_exit(100 + -marked);
    ::execv(argv[0], const_cast<char* const*>(argv));
    ::_exit(98);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

}  // namespace

TEST_GROUP(LaunchDescriptors){};

TEST(LaunchDescriptors, AnUnmarkedDescriptorIsInheritedAcrossExec) {
  InheritableFd inheritable;
  LONGS_EQUAL_TEXT(0, probe_after(Marking::None), "the probe must see what it inherits");
}

TEST(LaunchDescriptors, TheProcFallbackMarksInheritedDescriptorsCloseOnExec) {
  InheritableFd inheritable;
  LONGS_EQUAL(1, probe_after(Marking::Fallback));
}

TEST(LaunchDescriptors, WithoutCloseRangeTheFallbackIsUsed) {
  InheritableFd inheritable;
  LONGS_EQUAL(1, probe_after(Marking::WithoutCloseRange));
}

TEST(LaunchDescriptors, AServiceDoesNotInheritTheRuntimesDescriptors) {
  InheritableFd inheritable;
  ipcrt::runtime::LaunchSpec spec;
  spec.service = "probe";
  spec.arguments = {IPCRT_BOOT_PROBE, "fd-open", std::to_string(kInheritedFd)};
  auto launched = ipcrt::runtime::launch(spec);
  CHECK_TRUE_TEXT(launched.has_value(), launched ? "" : launched.error().describe().c_str());
  int status = 0;
  CHECK_EQUAL(launched->pid, ::waitpid(launched->pid, &status, 0));
  CHECK_TRUE(WIFEXITED(status));
  LONGS_EQUAL(1, WEXITSTATUS(status));
}

TEST_GROUP(LaunchFailures){};

// The child reports only the index of the mount; the parent names the object.
TEST(LaunchFailures, AnShmBindFailureNamesTheObject) {
  std::string private_dir = "/dev/shm/" + unique_name("lp");
  std::string missing = "/dev/shm/" + unique_name("lo");
  CHECK_EQUAL(0, ::mkdir(private_dir.c_str(), 0700));
  ipcrt::runtime::LaunchSpec spec;
  spec.service = "probe";
  spec.arguments = {IPCRT_BOOT_PROBE, "exit", "0"};
  spec.new_mount_namespace = true;
  spec.private_shm_dir = private_dir;
  spec.shm_mounts = {{"/dev/null", "/dev/null", false}, {missing, private_dir + "/lo", true}};
  auto launched = ipcrt::runtime::launch(spec);
  ::rmdir(private_dir.c_str());
  CHECK_FALSE(launched.has_value());
  STRCMP_EQUAL(("phase=shm-bind errno=ENOENT path=" + missing).c_str(),
               launched.error().describe().c_str());
}

TEST_GROUP(LaunchMemory){};

// The child reads nothing of the supervisor's heap but its TLS pages, so the fork leaves the
// rest out: the supervisor's pages are not made copy-on-write, and writing them after a
// launch takes no fault (one per page when the fork shared them). Every other fork still
// gets the whole heap: a plain fork afterwards reads what the heap holds.
TEST(LaunchMemory, TheHeapStaysOutOfTheChildsFork) {
  if (!ipcrt::platform::heap_start()) {
    UT_PRINT("skipped: /proc does not say where the heap starts (qemu-user), so it is forked");
    return;
  }
  constexpr int kPages = 256;
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<std::unique_ptr<char[]>> blocks;  // each below malloc's mmap threshold: the heap's
  for (int i = 0; i < kPages; ++i) {
    blocks.emplace_back(new char[page]);
    std::memset(blocks.back().get(), 1, page);
  }
  ipcrt::runtime::LaunchSpec spec;
  spec.service = "probe";
  spec.arguments = {IPCRT_BOOT_PROBE, "exit", "0"};
  auto launched = ipcrt::runtime::launch(spec);
  CHECK_TRUE_TEXT(launched.has_value(), launched ? "" : launched.error().describe().c_str());
  int status = 0;
  CHECK_EQUAL(launched->pid, ::waitpid(launched->pid, &status, 0));
  CHECK_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  rusage before{};
  ::getrusage(RUSAGE_THREAD, &before);
  for (auto& block : blocks) block[0] = 2;
  rusage after{};
  ::getrusage(RUSAGE_THREAD, &after);
  // A few blocks may lie in the TLS pages the child keeps.
  const long faults = after.ru_minflt - before.ru_minflt;
  CHECK_TEXT(faults < kPages / 4, (std::to_string(faults) + " faults on written pages").c_str());

  const pid_t plain = ::fork();
  if (plain == 0) ::_exit(blocks.back()[1] == 1 ? 0 : 1);
  CHECK_EQUAL(plain, ::waitpid(plain, &status, 0));
  CHECK_TRUE_TEXT(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a plain fork lacks the heap");
}
