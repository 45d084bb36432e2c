// probe SYSCALL [ARGS...]: issues one syscall with harmless arguments and prints `errno=N`
// (0 on success). Seccomp tests run it under a filter and compare the errno with the one the
// filter returns; what the kernel answers otherwise (EBADF, ENOENT, ...) only has to differ.
// Static and libc-light, so its own startup needs few syscalls.
#include <fcntl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace {

constexpr const char* kMissingPath = "/nonexistent-ipcrt-probe/x";

long issue_mq_open(int argc, char** argv) {
  if (argc < 4) return -2;
  const char* name = argv[2][0] == '/' ? argv[2] + 1 : argv[2];  // the syscall takes no '/'
  long flags = 0;
  for (const char* part = argv[3]; *part != '\0';) {
    std::string_view rest(part);
    std::string_view word = rest.substr(0, rest.find('|'));
    if (word == "O_RDONLY")
      flags |= O_RDONLY;
    else if (word == "O_WRONLY")
      flags |= O_WRONLY;
    else if (word == "O_RDWR")
      flags |= O_RDWR;
    else if (word == "O_CREAT")
      flags |= O_CREAT;
    else if (word == "O_EXCL")
      flags |= O_EXCL;
    else
      return -2;
    part += word.size();
    if (*part == '|') ++part;
  }
  long fd = ::syscall(SYS_mq_open, name, flags, 0600, nullptr);
  if (fd >= 0) ::close(static_cast<int>(fd));
  return fd;
}

long issue_mq_unlink(int argc, char** argv) {
  if (argc < 3) return -2;
  return ::syscall(SYS_mq_unlink, argv[2][0] == '/' ? argv[2] + 1 : argv[2]);
}

// A fork-like clone (no new stack, SIGCHLD) with the namespace flags named in argv[2]
// ("none", "CLONE_NEWUSER|CLONE_NEWNET"). The child exits at once and is reaped.
long issue_clone(int argc, char** argv) {
  if (argc < 3) return -2;
  unsigned long flags = SIGCHLD;
  for (const char* part = argv[2]; *part != '\0';) {
    std::string_view rest(part);
    std::string_view word = rest.substr(0, rest.find('|'));
    if (word == "CLONE_NEWUSER")
      flags |= CLONE_NEWUSER;
    else if (word == "CLONE_NEWNET")
      flags |= CLONE_NEWNET;
    else if (word == "CLONE_NEWNS")
      flags |= CLONE_NEWNS;
    else if (word != "none")
      return -2;
    part += word.size();
    if (*part == '|') ++part;
  }
  long pid = ::syscall(SYS_clone, flags, nullptr, nullptr, nullptr, nullptr);
  if (pid == 0) ::_exit(0);
  if (pid > 0) ::waitpid(static_cast<pid_t>(pid), nullptr, 0);
  return pid;
}

#if defined(SYS_clone3)
// clone3 with struct clone_args version 0 (64 bytes): exit_signal SIGCHLD only.
long issue_clone3() {
  unsigned long long args[8] = {};
  args[4] = SIGCHLD;  // exit_signal
  long pid = ::syscall(SYS_clone3, args, sizeof args);
  if (pid == 0) ::_exit(0);
  if (pid > 0) ::waitpid(static_cast<pid_t>(pid), nullptr, 0);
  return pid;
}
#endif

// prlimit64 on the probe itself: "read" (new limit NULL, what glibc's getrlimit sends) or
// "set" (RLIMIT_CORE to 0/0: lowering needs no privilege and only touches the probe).
long issue_prlimit64(int argc, char** argv) {
  if (argc < 3) return -2;
  std::string_view form = argv[2];
  static rlimit64 old{};
  static const rlimit64 none{0, 0};
  if (form == "read") return ::syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, nullptr, &old);
  if (form == "set") return ::syscall(SYS_prlimit64, 0, RLIMIT_CORE, &none, nullptr);
  return -2;
}

#if defined(__x86_64__)
// getpid through the i386 ABI (int 0x80): the filter must refuse ABIs it does not list.
long issue_i386_getpid() {
  long result = 20;  // __NR_getpid on i386
  asm volatile("int $0x80" : "+a"(result) : : "memory");
  if (result < 0 && result > -4096) {
    errno = static_cast<int>(-result);
    return -1;
  }
  return result;
}
#endif

long issue(std::string_view name, int argc, char** argv) {
  static char buffer[4096];
  static timespec zero{};
  if (name == "getpid") return ::syscall(SYS_getpid);
  if (name == "getppid") return ::syscall(SYS_getppid);
  if (name == "dup") return ::syscall(SYS_dup, 1);
  if (name == "getcwd") return ::syscall(SYS_getcwd, buffer, sizeof buffer);
  if (name == "eventfd2") return ::syscall(SYS_eventfd2, 0, 0);
  if (name == "socket") return ::syscall(SYS_socket, AF_UNIX, SOCK_DGRAM, 0);
  if (name == "setpriority") return ::syscall(SYS_setpriority, PRIO_PROCESS, 0, 19);
  if (name == "sigaltstack") return ::syscall(SYS_sigaltstack, nullptr, buffer);
  if (name == "timerfd_create") return ::syscall(SYS_timerfd_create, CLOCK_MONOTONIC, 0);
  if (name == "msgctl") return ::syscall(SYS_msgctl, -1, IPC_STAT, buffer);
  if (name == "uname") return ::syscall(SYS_uname, buffer);
  if (name == "mount") return ::syscall(SYS_mount, "none", kMissingPath, "ipcrt-nofs", 0, nullptr);
  if (name == "umount2") return ::syscall(SYS_umount2, kMissingPath, 0);
  if (name == "pivot_root") return ::syscall(SYS_pivot_root, kMissingPath, kMissingPath);
  if (name == "unshare") {
    // Optional flags: "CLONE_NEWUSER" (what no mode may let through, SPEC §15).
    if (argc >= 3 && std::string_view(argv[2]) == "CLONE_NEWUSER") {
      return ::syscall(SYS_unshare, CLONE_NEWUSER);
    }
    return ::syscall(SYS_unshare, 0);
  }
#if defined(SYS_io_uring_setup)
  if (name == "io_uring_setup") {
    static unsigned char params[120] = {};  // struct io_uring_params, zeroed
    long fd = ::syscall(SYS_io_uring_setup, 1, params);
    if (fd >= 0) ::close(static_cast<int>(fd));
    return fd;
  }
#endif
  if (name == "clone") return issue_clone(argc, argv);
  if (name == "prlimit64") return issue_prlimit64(argc, argv);
  // Through glibc: which syscall it picks is the point (prlimit64 on 64-bit ABIs; on 32-bit
  // ARM getrlimit uses ugetrlimit, getrlimit64 and setrlimit use prlimit64).
  if (name == "getrlimit") {
    static rlimit limit{};
    return ::getrlimit(RLIMIT_NOFILE, &limit);
  }
  if (name == "getrlimit64") {
    static rlimit64 limit{};
    return ::getrlimit64(RLIMIT_NOFILE, &limit);
  }
  if (name == "setrlimit") {
    static const rlimit none{0, 0};
    return ::setrlimit(RLIMIT_CORE, &none);
  }
#if defined(SYS_clone3)
  if (name == "clone3") return issue_clone3();
#endif
  // The mount API: bad descriptors and missing paths, so an unfiltered call only fails.
  if (name == "fsopen") return ::syscall(SYS_fsopen, "ipcrt-nofs", 0);
  if (name == "fsconfig") return ::syscall(SYS_fsconfig, -1, 0, nullptr, nullptr, 0);
  if (name == "fsmount") return ::syscall(SYS_fsmount, -1, 0, 0);
  if (name == "fspick") return ::syscall(SYS_fspick, -1, kMissingPath, 0);
  if (name == "move_mount") return ::syscall(SYS_move_mount, -1, kMissingPath, -1, kMissingPath, 0);
  if (name == "open_tree") return ::syscall(SYS_open_tree, -1, kMissingPath, 0);
  if (name == "mount_setattr") return ::syscall(SYS_mount_setattr, -1, kMissingPath, 0, nullptr, 0);
  if (name == "setns") return ::syscall(SYS_setns, -1, 0);
  if (name == "chroot") return ::syscall(SYS_chroot, kMissingPath);
  if (name == "ptrace") return ::syscall(SYS_ptrace, 0x7fff, 0, nullptr, nullptr);
  if (name == "process_vm_readv")
    return ::syscall(SYS_process_vm_readv, 0, nullptr, 0, nullptr, 0, 0);
  if (name == "process_vm_writev")
    return ::syscall(SYS_process_vm_writev, 0, nullptr, 0, nullptr, 0, 0);
  if (name == "kexec_load") return ::syscall(SYS_kexec_load, 0, 0, nullptr, 0xdead0000UL);
  if (name == "kexec_file_load")
    return ::syscall(SYS_kexec_file_load, -1, -1, 0, nullptr, 0xdead0000UL);
  if (name == "init_module") return ::syscall(SYS_init_module, nullptr, 0, "");
  if (name == "finit_module") return ::syscall(SYS_finit_module, -1, "", 0);
  if (name == "delete_module")
    return ::syscall(SYS_delete_module, "ipcrt_no_such_module", O_NONBLOCK);
  if (name == "bpf") return ::syscall(SYS_bpf, -1, nullptr, 0);
  if (name == "perf_event_open") return ::syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0);
  if (name == "keyctl") return ::syscall(SYS_keyctl, -1, 0, 0, 0, 0);
  if (name == "add_key") return ::syscall(SYS_add_key, nullptr, nullptr, nullptr, 0, 0);
  if (name == "request_key") return ::syscall(SYS_request_key, nullptr, nullptr, nullptr, 0);
  if (name == "reboot") return ::syscall(SYS_reboot, 0, 0, 0, nullptr);  // bad magic: EINVAL
  if (name == "swapon") return ::syscall(SYS_swapon, kMissingPath, 0);
  if (name == "swapoff") return ::syscall(SYS_swapoff, kMissingPath);
  if (name == "settimeofday") return ::syscall(SYS_settimeofday, nullptr, nullptr);
  if (name == "clock_settime") return ::syscall(SYS_clock_settime, CLOCK_MONOTONIC, &zero);
  if (name == "clock_adjtime" || name == "adjtimex") {
    static timex query{};  // modes 0: reads only
    if (name == "adjtimex") return ::syscall(SYS_adjtimex, &query);
    return ::syscall(SYS_clock_adjtime, CLOCK_REALTIME, &query);
  }
#if defined(SYS_clock_settime64)
  // 32-bit ABIs: the _time64 twins take 64-bit structs; the zeroed buffer serves as both.
  if (name == "clock_settime64") return ::syscall(SYS_clock_settime64, CLOCK_MONOTONIC, buffer);
  if (name == "clock_adjtime64") return ::syscall(SYS_clock_adjtime64, CLOCK_REALTIME, buffer);
#endif
#if defined(SYS_iopl)
  if (name == "iopl") return ::syscall(SYS_iopl, 0);
  if (name == "ioperm") return ::syscall(SYS_ioperm, 0, 0, 0);
#endif
  if (name == "userfaultfd") {
    long fd = ::syscall(SYS_userfaultfd, O_CLOEXEC);
    if (fd >= 0) ::close(static_cast<int>(fd));
    return fd;
  }
  if (name == "open_by_handle_at") return ::syscall(SYS_open_by_handle_at, -1, nullptr, 0);
  if (name == "acct") return ::syscall(SYS_acct, kMissingPath);
  if (name == "quotactl") return ::syscall(SYS_quotactl, 0, nullptr, 0, nullptr);
  if (name == "syslog") return ::syscall(SYS_syslog, 10, nullptr, 0);  // SYSLOG_ACTION_SIZE_BUFFER
  if (name == "mq_open") return issue_mq_open(argc, argv);
  if (name == "mq_unlink") return issue_mq_unlink(argc, argv);
  if (name == "mq_getsetattr") return ::syscall(SYS_mq_getsetattr, -1, nullptr, buffer);
  if (name == "mq_notify") return ::syscall(SYS_mq_notify, -1, nullptr);
  if (name == "mq_timedsend") return ::syscall(SYS_mq_timedsend, -1, buffer, 1, 0, nullptr);
  if (name == "mq_timedreceive")
    return ::syscall(SYS_mq_timedreceive, -1, buffer, 1, nullptr, nullptr);
#if defined(SYS_mq_timedsend_time64)
  if (name == "mq_timedsend_time64")
    return ::syscall(SYS_mq_timedsend_time64, -1, buffer, 1, 0, nullptr);
  if (name == "mq_timedreceive_time64")
    return ::syscall(SYS_mq_timedreceive_time64, -1, buffer, 1, nullptr, nullptr);
#endif
#if defined(__x86_64__)
  if (name == "i386_getpid") return issue_i386_getpid();
#endif
  return -2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    static const char usage[] = "usage: probe SYSCALL [ARGS...]\n";
    [[maybe_unused]] auto n = ::write(2, usage, sizeof usage - 1);
    return 2;
  }
  errno = 0;
  long result = issue(argv[1], argc, argv);
  if (result == -2) {
    std::fprintf(stderr, "probe: unsupported syscall or arguments: %s\n", argv[1]);
    return 2;
  }
  std::printf("errno=%d\n", result < 0 ? errno : 0);
  return 0;
}
