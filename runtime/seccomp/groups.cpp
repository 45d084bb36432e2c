// Syscall group tables (SPEC §5). Written for this project from the syscall(2) manual pages,
// with systemd's @system-service and Docker's default profile as a sense of scale only.
// 32-bit ARM names (chown32, fstat64, mmap2, ..._time64) sit beside their 64-bit spellings;
// runtime_policy_test checks that every time-related name has its _time64 twin in the same
// group and that no group holds a never-allowed or mq_* syscall.
#include "runtime/seccomp/groups.hpp"

#include <algorithm>
#include <array>

namespace ipcrt::runtime {
namespace {

using Names = std::string_view;

constexpr Names kBasicIo[] = {
    "read",    "write",   "readv",    "writev",          "pread64", "pwrite64", "preadv",
    "pwritev", "preadv2", "pwritev2", "lseek",           "_llseek", "close",    "close_range",
    "dup",     "dup2",    "dup3",     "fcntl",           "fcntl64", "sendfile", "sendfile64",
    "splice",  "tee",     "vmsplice", "copy_file_range", "pipe",    "pipe2",
};

constexpr Names kFileSystem[] = {
    "open",
    "openat",
    "openat2",
    "creat",
    "stat",
    "fstat",
    "lstat",
    "stat64",
    "fstat64",
    "lstat64",
    "newfstatat",
    "fstatat64",
    "statx",
    "access",
    "faccessat",
    "faccessat2",
    "getcwd",
    "chdir",
    "fchdir",
    "mkdir",
    "mkdirat",
    "rmdir",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "readlink",
    "readlinkat",
    "chmod",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "chown",
    "fchown",
    "lchown",
    "fchownat",
    "chown32",
    "fchown32",
    "lchown32",
    "truncate",
    "ftruncate",
    "truncate64",
    "ftruncate64",
    "getdents",
    "getdents64",
    "statfs",
    "fstatfs",
    "statfs64",
    "fstatfs64",
    "utime",
    "utimes",
    "futimesat",
    "utimensat",
    "utimensat_time64",
    "fallocate",
    "fsync",
    "fdatasync",
    "sync_file_range",
    "arm_sync_file_range",
    "syncfs",
    "sync",
    "umask",
    "flock",
    "fadvise64",
    "fadvise64_64",
    "arm_fadvise64_64",
    "mknod",
    "mknodat",
    "getxattr",
    "lgetxattr",
    "fgetxattr",
    "listxattr",
    "llistxattr",
    "flistxattr",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
    "inotify_init",
    "inotify_init1",
    "inotify_add_watch",
    "inotify_rm_watch",
    "memfd_create",
    "readahead",
};

constexpr Names kIoEvent[] = {
    "epoll_create",   "epoll_create1", "epoll_ctl",    "epoll_ctl_old", "epoll_wait",
    "epoll_wait_old", "epoll_pwait",   "epoll_pwait2", "poll",          "ppoll",
    "ppoll_time64",   "select",        "_newselect",   "pselect6",      "pselect6_time64",
    "eventfd",        "eventfd2",
};

constexpr Names kNetworkIo[] = {
    "socket",   "socketpair",  "bind",        "listen",     "accept",     "accept4",
    "connect",  "getsockname", "getpeername", "getsockopt", "setsockopt", "sendto",
    "recvfrom", "sendmsg",     "recvmsg",     "sendmmsg",   "recvmmsg",   "recvmmsg_time64",
    "shutdown", "send",        "recv",        "socketcall",
};

// Creating, running and waiting for processes; what ordinary programs and shells need.
constexpr Names kProcessCore[] = {
    "fork",
    "vfork",
    "clone",
    "clone3",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "wait4",
    "waitid",
    "waitpid",
    "getpid",
    "getppid",
    "gettid",
    "getpgid",
    "getpgrp",
    "getsid",
    "setpgid",
    "prctl",
    "arch_prctl",
    "set_tid_address",
    "set_robust_list",
    "get_robust_list",
    "rseq",
    "getrlimit",
    "ugetrlimit",
    "prlimit64",  // read form only (new limit NULL) unless setrlimit is allowed: PolicyBuilder
    "getrusage",
    "times",
    "getpriority",
    "sched_yield",
    "sched_getaffinity",
    "sched_getparam",
    "sched_getscheduler",
    "sched_getattr",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "capget",
    "pidfd_open",
    "pidfd_send_signal",
    "set_thread_area",
    "get_thread_area",
    "set_tls",
};

// Changing credentials, scheduling and session: beyond what @default needs.
constexpr Names kProcessExtra[] = {
    "setsid",
    "setpriority",
    "sched_setaffinity",
    "sched_setparam",
    "sched_setscheduler",
    "sched_setattr",
    "setrlimit",
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setfsuid",
    "setfsgid",
    "setgroups",
    "setuid32",
    "setgid32",
    "setreuid32",
    "setregid32",
    "setresuid32",
    "setresgid32",
    "setfsuid32",
    "setfsgid32",
    "setgroups32",
    "capset",
    "ioprio_set",
    "ioprio_get",
};

constexpr Names kSignal[] = {
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "rt_sigpending",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_sigqueueinfo",
    "rt_tgsigqueueinfo",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "kill",
    "tkill",
    "tgkill",
    "pause",
    "sigaction",
    "sigprocmask",
    "sigreturn",
    "signal",
    "sigpending",
    "sigsuspend",
    "restart_syscall",
};

constexpr Names kTimer[] = {
    "alarm",
    "getitimer",
    "setitimer",
    "timer_create",
    "timer_delete",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timer_getoverrun",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "nanosleep",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_getres",
    "clock_getres_time64",
    "gettimeofday",
    "time",
};

constexpr Names kSysvIpc[] = {
    "shmget", "shmat",  "shmdt",  "shmctl", "semget", "semop", "semtimedop", "semtimedop_time64",
    "semctl", "msgget", "msgsnd", "msgrcv", "msgctl", "ipc",
};

// Memory, threads, identity and the odd ends every libc touches at startup or in libpthread.
constexpr Names kDefaultOwn[] = {
    "brk",       "mmap",          "mmap2",       "munmap",      "mremap",       "mprotect",
    "madvise",   "msync",         "mincore",     "mlock",       "mlock2",       "munlock",
    "mlockall",  "munlockall",    "membarrier",  "futex",       "futex_time64", "futex_waitv",
    "getrandom", "uname",         "sysinfo",     "getuid",      "geteuid",      "getgid",
    "getegid",   "getresuid",     "getresgid",   "getgroups",   "getuid32",     "geteuid32",
    "getgid32",  "getegid32",     "getresuid32", "getresgid32", "getgroups32",  "ioctl",
    "getcpu",    "get_mempolicy", "cacheflush",  "breakpoint",
};

constexpr Names kProcessIncludes[] = {"@process-core"};
constexpr Names kDefaultIncludes[] = {"@basic-io",     "@file-system", "@io-event",
                                      "@process-core", "@signal",      "@timer"};

constexpr SyscallGroup kGroups[] = {
    {"@default", "what ordinary C/C++/Python programs and a busybox shell need", kDefaultIncludes,
     kDefaultOwn},
    {"@basic-io", "reading and writing open descriptors, pipes", {}, kBasicIo},
    {"@file-system", "files, directories, metadata, inotify", {}, kFileSystem},
    {"@io-event", "epoll, poll, select, eventfd", {}, kIoEvent},
    {"@network-io", "sockets", {}, kNetworkIo},
    {"@process-core", "fork, exec, wait, process queries (part of @default)", {}, kProcessCore},
    {"@process", "@process-core plus credentials, sessions and scheduling changes",
     kProcessIncludes, kProcessExtra},
    {"@signal", "signal handlers, masks, signalfd, kill", {}, kSignal},
    {"@timer", "clocks, sleeps, interval timers, timerfd", {}, kTimer},
    {"@sysv-ipc", "System V shared memory, semaphores, message queues", {}, kSysvIpc},
};

constexpr Names kNeverAllowed[] = {
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    // The mount API of Linux 5.2+ reaches what mount(2) does.
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "unshare",
    "setns",
    "chroot",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "bpf",
    "perf_event_open",
    "keyctl",
    "add_key",
    "request_key",
    "reboot",
    "swapon",
    "swapoff",
    "settimeofday",
    "clock_settime",
    "clock_settime64",
    "clock_adjtime",
    "clock_adjtime64",
    "adjtimex",
    "stime",
    "iopl",
    "ioperm",
    "userfaultfd",
    "open_by_handle_at",
    "acct",
    "quotactl",
    "syslog",
};

constexpr Names kMqSyscalls[] = {
    "mq_open",      "mq_unlink",           "mq_getsetattr",   "mq_notify",
    "mq_timedsend", "mq_timedsend_time64", "mq_timedreceive", "mq_timedreceive_time64",
};

struct Twin {
  std::string_view name;
  std::string_view time64;
};

constexpr Twin kTime64Twins[] = {
    {"clock_gettime", "clock_gettime64"},
    {"clock_settime", "clock_settime64"},
    {"clock_adjtime", "clock_adjtime64"},
    {"clock_getres", "clock_getres_time64"},
    {"clock_nanosleep", "clock_nanosleep_time64"},
    {"timer_gettime", "timer_gettime64"},
    {"timer_settime", "timer_settime64"},
    {"timerfd_gettime", "timerfd_gettime64"},
    {"timerfd_settime", "timerfd_settime64"},
    {"utimensat", "utimensat_time64"},
    {"pselect6", "pselect6_time64"},
    {"ppoll", "ppoll_time64"},
    {"io_pgetevents", "io_pgetevents_time64"},
    {"recvmmsg", "recvmmsg_time64"},
    {"mq_timedsend", "mq_timedsend_time64"},
    {"mq_timedreceive", "mq_timedreceive_time64"},
    {"semtimedop", "semtimedop_time64"},
    {"rt_sigtimedwait", "rt_sigtimedwait_time64"},
    {"futex", "futex_time64"},
    {"sched_rr_get_interval", "sched_rr_get_interval_time64"},
};

bool contains(std::span<const std::string_view> names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

std::span<const SyscallGroup> syscall_groups() {
  return kGroups;
}

const SyscallGroup* find_syscall_group(std::string_view name) {
  for (const auto& group : kGroups) {
    if (group.name == name) return &group;
  }
  return nullptr;
}

std::span<const std::string_view> never_allowed_syscalls() {
  return kNeverAllowed;
}
bool is_never_allowed(std::string_view name) {
  return contains(kNeverAllowed, name);
}

std::span<const std::string_view> mq_syscalls() {
  return kMqSyscalls;
}
bool is_mq_syscall(std::string_view name) {
  return contains(kMqSyscalls, name);
}

std::string_view time64_twin(std::string_view name) {
  for (const auto& twin : kTime64Twins) {
    if (twin.name == name) return twin.time64;
  }
  return {};
}

}  // namespace ipcrt::runtime
