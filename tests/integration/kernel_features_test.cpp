// What ipcrt needs from the running kernel (SPEC §3, §5, §6): POSIX message queues with the
// mqueue filesystem, seccomp filters returning EPERM, user notification with ADDFD_FLAG_SEND
// (Linux >= 5.14) and, on 32-bit ARM, glibc calling the _time64 syscalls. On ARM this suite
// runs inside the qemu-system image on Debian's kernel (qemu-user emulates no seccomp).
#include <CppUTest/TestHarness.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <mqueue.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "platform/seccomp.hpp"
#include "tests/support/process.hpp"

using ipcrt::test::TempDir;
using ipcrt::test::unique_name;

namespace {

#if defined(__aarch64__)
constexpr unsigned kNativeArch = AUDIT_ARCH_AARCH64;
#elif defined(__arm__)
constexpr unsigned kNativeArch = AUDIT_ARCH_ARM;
#elif defined(__x86_64__)
constexpr unsigned kNativeArch = AUDIT_ARCH_X86_64;
#else
#error "add this architecture's AUDIT_ARCH_*"
#endif

constexpr long kMqueueMagic = 0x19800202;  // MQUEUE_MAGIC, include/uapi/linux/magic.h

// A hand-made filter: other ABIs are killed, `syscall_nr` gets `action`, the rest is allowed.
std::vector<sock_filter> filter_for(long syscall_nr, unsigned action) {
  return {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kNativeArch, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<unsigned>(syscall_nr), 0, 1),
      BPF_STMT(BPF_RET | BPF_K, action),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
}

// Child exit codes that say which step failed.
enum ChildExit { kOk = 0, kNoNewPrivs = 10, kLoad = 11, kUnexpected = 12, kSend = 13 };

int wait_exit_code(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Forks a child that loads `program` (prepared here, before fork) and then runs `probe`, which
// returns the child's exit code. Only syscalls happen in the child.
template <class Probe>
int run_confined(const std::vector<sock_filter>& program, Probe probe) {
  sock_fprog fprog{static_cast<unsigned short>(program.size()),
                   const_cast<sock_filter*>(program.data())};
  pid_t pid = ::fork();
  if (pid == 0) {
    if (ipcrt::platform::set_no_new_privs() != 0) ::_exit(kNoNewPrivs);
    if (ipcrt::platform::load_seccomp_filter(fprog, false) != 0) ::_exit(kLoad);
    ::_exit(probe());
  }
  return wait_exit_code(pid);
}

}  // namespace

TEST_GROUP(KernelMqueue){};

TEST(KernelMqueue, QueueSendReceiveAndTheMqueueFilesystem) {
  std::string name = unique_name("/ipcrt-kf");
  TempDir mountpoint;
  // A private mqueue mount shows the queue as a file, as /dev/mqueue does in the image.
  CHECK_EQUAL(0, ::mount("mqueue", mountpoint.path().c_str(), "mqueue", 0, nullptr));
  struct Cleanup {
    std::string name, dir;
    ~Cleanup() {
      ::mq_unlink(name.c_str());
      ::umount2(dir.c_str(), MNT_DETACH);
    }
  } cleanup{name, mountpoint.path()};

  mq_attr attr{};
  attr.mq_maxmsg = 4;
  attr.mq_msgsize = 64;
  mqd_t queue = ::mq_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600, &attr);
  CHECK_TEXT(queue != static_cast<mqd_t>(-1), std::strerror(errno));
  LONGS_EQUAL(0, ::mq_send(queue, "ping", 4, 3));
  char buffer[64];
  unsigned priority = 0;
  LONGS_EQUAL(4, ::mq_receive(queue, buffer, sizeof buffer, &priority));
  LONGS_EQUAL(3, priority);
  STRNCMP_EQUAL("ping", buffer, 4);
  ::mq_close(queue);

  struct statfs fs {};
  LONGS_EQUAL(0, ::statfs(mountpoint.path().c_str(), &fs));
  LONGS_EQUAL(kMqueueMagic, static_cast<long>(fs.f_type));
  struct stat info {};
  LONGS_EQUAL(0, ::stat((mountpoint.path() + name).c_str(), &info));
  LONGS_EQUAL(0600, info.st_mode & 0777);
}

TEST_GROUP(KernelSeccomp){};

TEST(KernelSeccomp, FilterLoadedByPlatformReturnsEpermForADeniedSyscall) {
  auto program = filter_for(SYS_getppid, SECCOMP_RET_ERRNO | EPERM);
  int code = run_confined(program, [] {
    long result = ::syscall(SYS_getppid);
    if (result != -1 || errno != EPERM) return int{kUnexpected};
    // Everything else still works.
    return ::syscall(SYS_getpid) > 0 ? int{kOk} : int{kUnexpected};
  });
  LONGS_EQUAL(kOk, code);
}

TEST(KernelSeccomp, UserNotificationWithAddfdSendInstallsAFdInTheCaller) {
  // The child traps getppid to a listener it passes to us; we answer by installing our pipe's
  // read end in the child (SECCOMP_ADDFD_FLAG_SEND, Linux >= 5.14), as ipcrt does for mq_open.
  auto program = filter_for(SYS_getppid, SECCOMP_RET_USER_NOTIF);
  sock_fprog fprog{static_cast<unsigned short>(program.size()), program.data()};
  int sockets[2];
  int pipe_fds[2];
  LONGS_EQUAL(0, ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets));
  LONGS_EQUAL(0, ::pipe2(pipe_fds, O_CLOEXEC));
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  char byte = 'x';
  iovec iov{&byte, 1};

  pid_t pid = ::fork();
  if (pid == 0) {
    if (ipcrt::platform::set_no_new_privs() != 0) ::_exit(kNoNewPrivs);
    int listener = ipcrt::platform::load_seccomp_filter(fprog, true);
    if (listener < 0) ::_exit(kLoad);
    msghdr message{};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &listener, sizeof(int));
    if (::sendmsg(sockets[1], &message, 0) != 1) ::_exit(kSend);
    long fd = ::syscall(SYS_getppid);
    struct stat info {};
    if (fd < 0 || ::fstat(static_cast<int>(fd), &info) != 0 || !S_ISFIFO(info.st_mode)) {
      ::_exit(kUnexpected);
    }
    ::_exit(kOk);
  }
  ::close(sockets[1]);

  msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  int listener = -1;
  if (::recvmsg(sockets[0], &message, 0) == 1 && CMSG_FIRSTHDR(&message) != nullptr) {
    std::memcpy(&listener, CMSG_DATA(CMSG_FIRSTHDR(&message)), sizeof(int));
  }
  seccomp_notif notification{};
  int received = listener >= 0 ? ::ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &notification) : -1;
  int addfd_result = -1;
  if (received == 0) {
    seccomp_notif_addfd addfd{};
    addfd.id = notification.id;
    addfd.flags = SECCOMP_ADDFD_FLAG_SEND;
    addfd.srcfd = static_cast<unsigned>(pipe_fds[0]);
    addfd_result = ::ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
  }
  int addfd_errno = errno;
  if (addfd_result < 0 && listener >= 0) ::kill(pid, SIGKILL);
  int code = wait_exit_code(pid);
  if (listener >= 0) ::close(listener);
  ::close(sockets[0]);
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);

  CHECK_TEXT(listener >= 0, "no listener fd: SECCOMP_FILTER_FLAG_NEW_LISTENER failed");
  LONGS_EQUAL(0, received);
  LONGS_EQUAL(SYS_getppid, notification.data.nr);
  CHECK_TEXT(addfd_result >= 0, (std::string("SECCOMP_IOCTL_NOTIF_ADDFD with FLAG_SEND: ") +
                                 std::strerror(addfd_errno) + " (needs Linux >= 5.14)")
                                    .c_str());
  LONGS_EQUAL(kOk, code);
}

#if defined(__arm__)
TEST_GROUP(KernelTime64){};

// SPEC §5 puts the _time64 variants beside their 32-bit twins: glibc 2.36 calls the _time64
// syscall, except where the value fits in 32 bits and it picks the old syscall (a short
// clock_nanosleep). A filter with only one twin breaks programs, so each is checked here.
TEST(KernelTime64, GlibcShortClockNanosleepUsesThe32BitSyscall) {
  auto program = filter_for(__NR_clock_nanosleep, SECCOMP_RET_ERRNO | EPERM);
  int code = run_confined(program, [] {
    timespec nap{0, 1000};
    return ::clock_nanosleep(CLOCK_MONOTONIC, 0, &nap, nullptr) == EPERM ? int{kOk}
                                                                         : int{kUnexpected};
  });
  LONGS_EQUAL(kOk, code);
}

TEST(KernelTime64, GlibcClockGettimeUsesTheTime64Syscall) {
  // A CPU-time clock is not served by the vDSO, so the call reaches the kernel.
  auto program = filter_for(__NR_clock_gettime64, SECCOMP_RET_ERRNO | EPERM);
  int code = run_confined(program, [] {
    timespec now{};
    int result = ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return result == -1 && errno == EPERM ? int{kOk} : int{kUnexpected};
  });
  LONGS_EQUAL(kOk, code);
}
#endif
