// bench-floor COUNT CGROUP-DIR|- PROGRAM [ARG...]: the physical limit of booting and stopping
// COUNT confined services (issue 21), the floor ipcrt's boot and stop rows are set against.
// A minimal launcher doing the kernel's part of SPEC §4.3's confinement and nothing else: no
// manifest, no plan, no log, no supervisor state. Each service gets its own PID, mount and
// IPC namespaces (the PID one from clone, the others unshared by the child, as ipcrt does),
// an init as pid 1 there that forwards SIGTERM and exits with the service's status, a mount
// tree like ipcrt's (private /tmp, /var/tmp, /dev/shm, a minimal /dev, /proc
// and /sys read-only where SPEC §4.3 says, the masks), an unprivileged uid, no_new_privs and a
// seccomp filter; with CGROUP-DIR, a cgroup of its own under it (CLONE_INTO_CGROUP), killed
// when its init has ended (cgroup.kill) and removed at the end, as ipcrt contains a service.
// On SIGTERM every init gets SIGTERM at once; the launcher reaps them as they end and exits 0
// once all have. Everything that allocates happens before the forks.
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr std::uint64_t kCloneIntoCgroup = 0x200000000ULL;
constexpr unsigned kNobody = 65534;

struct CloneArgs {
  std::uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
      set_tid_size, cgroup;
};

[[noreturn]] void die(const char* what) {
  // Raw write: this may run in a child between fork and exec.
  const char* error = ::strerror(errno);
  [[maybe_unused]] auto a = ::write(2, "bench-floor: ", 13);
  [[maybe_unused]] auto b = ::write(2, what, ::strlen(what));
  [[maybe_unused]] auto c = ::write(2, ": ", 2);
  [[maybe_unused]] auto d = ::write(2, error, ::strlen(error));
  [[maybe_unused]] auto e = ::write(2, "\n", 1);
  ::_exit(127);
}

void must(int result, const char* what) {
  if (result < 0) die(what);
}

bool exists(const char* path) {
  struct stat info {};
  return ::lstat(path, &info) == 0;
}

void bind_readonly(const char* path) {
  if (!exists(path)) return;
  must(::mount(path, path, nullptr, MS_BIND | MS_REC, nullptr), path);
  must(::mount(nullptr, path, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr), path);
}

bool set_readonly_in_place(const char* path) {
  struct {
    std::uint64_t attr_set, attr_clr, propagation, userns_fd;
  } attributes{1 /* MOUNT_ATTR_RDONLY */, 0, 0, 0};
  return ::syscall(SYS_mount_setattr, AT_FDCWD, path, 0x8000 /* AT_RECURSIVE */, &attributes,
                   sizeof attributes) == 0;
}

void tmpfs(const char* path, unsigned long flags, const char* options) {
  if (!exists(path)) return;
  must(::mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV | flags, options), path);
}

// The mount tree of a confined service, as ipcrt's launch builds it (runtime/launch.cpp).
void build_mounts() {
  must(::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr), "make / a slave");
  must(::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr), "/proc");
  for (const char* path :
       {"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs"}) {
    bind_readonly(path);
  }
  for (const char* path : {"/proc/kcore", "/proc/keys", "/proc/timer_list"}) {
    if (exists(path)) must(::mount("/dev/null", path, nullptr, MS_BIND, nullptr), path);
  }
  // As ipcrt's launch (platform::make_path_readonly): the copied /sys and its submounts
  // read-only in place, no bind (Linux 5.12's mount_setattr; a bind where it is missing).
  if (!set_readonly_in_place("/sys")) bind_readonly("/sys");
  tmpfs("/sys/firmware", MS_RDONLY | MS_NOEXEC, "size=0");
  // A minimal /dev, built on the private /tmp and moved over the host's.
  tmpfs("/tmp", 0, "size=16m,mode=1777");
  must(::mkdir("/tmp/dev", 0755), "mkdir /tmp/dev");
  must(::mount("tmpfs", "/tmp/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=755"),
       "/dev tmpfs");
  // Nodes of its own, as ipcrt's launch makes them (mknod), not mounts of the host's.
  for (const char* node : {"null", "zero", "full", "random", "urandom", "tty"}) {
    char host[32], target[40];
    std::snprintf(host, sizeof host, "/dev/%s", node);
    std::snprintf(target, sizeof target, "/tmp/dev/%s", node);
    struct stat info {};
    if (::stat(host, &info) != 0) continue;
    must(::mknod(target, S_IFCHR | 0666, info.st_rdev), target);
    must(::chmod(target, 0666), target);
  }
  must(::mkdir("/tmp/dev/pts", 0755), "mkdir pts");
  must(::mkdir("/tmp/dev/shm", 01777), "mkdir shm");
  must(::mount("/dev/pts", "/tmp/dev/pts", nullptr, MS_BIND, nullptr), "/dev/pts");
  must(::mount("tmpfs", "/tmp/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=1777"),
       "/dev/shm");
  must(::mount("/tmp/dev", "/dev", nullptr, MS_MOVE, nullptr), "move /dev");
  must(::mount(nullptr, "/dev", nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC,
               nullptr),
       "/dev read-only");
  must(::rmdir("/tmp/dev"), "rmdir /tmp/dev");
  tmpfs("/var/tmp", 0, "size=16m,mode=1777");
  tmpfs("/run/ipcrt", MS_RDONLY | MS_NOEXEC, "size=0");
  tmpfs("/run/systemd", MS_RDONLY | MS_NOEXEC, "size=0");
  bind_readonly("/etc/passwd");
  bind_readonly("/etc/group");
}

// The service, pid 2: an unprivileged uid, no_new_privs, a filter, exec.
[[noreturn]] void exec_service(char** argv, const sock_fprog& filter) {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  const gid_t groups[] = {kNobody};
  must(static_cast<int>(::syscall(SYS_setgroups, 1, groups)), "setgroups");
  must(static_cast<int>(::syscall(SYS_setresgid, kNobody, kNobody, kNobody)), "setresgid");
  must(static_cast<int>(::syscall(SYS_setresuid, kNobody, kNobody, kNobody)), "setresuid");
  must(::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0), "PR_SET_PDEATHSIG");
  must(::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS");
  must(static_cast<int>(::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &filter)), "seccomp");
  ::execv(argv[0], argv);
  die(argv[0]);
}

// Pid 1 of the service's namespaces: the mounts, the service, then forwarding and reaping.
[[noreturn]] void init(char** argv, const sock_fprog& filter) {
  must(::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0), "PR_SET_PDEATHSIG");
  must(::setsid(), "setsid");
  // As ipcrt's launch: the mount and IPC namespaces made here, on this child's CPU time.
  must(::unshare(CLONE_NEWNS | CLONE_NEWIPC), "unshare mount and IPC namespaces");
  build_mounts();
  const pid_t service = static_cast<pid_t>(::syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0));
  must(service, "fork the service");
  if (service == 0) exec_service(argv, filter);
  sigset_t all;
  sigfillset(&all);
  for (;;) {
    siginfo_t info{};
    const int signal = ::sigwaitinfo(&all, &info);
    if (signal == SIGCHLD) {
      int status = 0;
      pid_t reaped;
      while ((reaped = ::waitpid(-1, &status, WNOHANG)) > 0) {
        if (reaped == service)
          ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
      }
    } else if (signal > 0) {
      ::kill(service, signal);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fputs("usage: bench-floor COUNT CGROUP-DIR|- PROGRAM [ARG...]\n", stderr);
    return 2;
  }
  const int count = std::atoi(argv[1]);
  const std::string cgroup_dir = std::strcmp(argv[2], "-") == 0 ? "" : argv[2];
  char** service_argv = argv + 3;

  // Every signal the launcher waits for stays pending until it does; the children start
  // with all of them blocked, as ipcrt's init does, and the service unblocks them.
  sigset_t waited;
  sigfillset(&waited);
  ::sigprocmask(SIG_SETMASK, &waited, nullptr);

  // Allow everything: what a filter costs at exec and at exit, not what it decides.
  static sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
  const sock_fprog filter{1, allow};

  std::vector<std::string> cgroups;
  std::vector<int> cgroup_fds;
  if (!cgroup_dir.empty()) {
    if (::mkdir(cgroup_dir.c_str(), 0755) != 0 && errno != EEXIST) die(cgroup_dir.c_str());
    for (int i = 0; i < count; ++i) {
      cgroups.push_back(cgroup_dir + "/s" + std::to_string(i));
      if (::mkdir(cgroups.back().c_str(), 0755) != 0 && errno != EEXIST) die("mkdir cgroup");
      cgroup_fds.push_back(::open(cgroups.back().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (cgroup_fds.back() < 0) die("open cgroup");
    }
  }
  std::vector<pid_t> inits(static_cast<std::size_t>(count), 0);
  for (int i = 0; i < count; ++i) {
    CloneArgs args{};
    args.flags = CLONE_NEWPID;
    args.exit_signal = SIGCHLD;
    if (!cgroup_fds.empty()) {
      args.flags |= kCloneIntoCgroup;
      args.cgroup = static_cast<std::uint64_t>(cgroup_fds[static_cast<std::size_t>(i)]);
    }
    const long pid = ::syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0) die("clone3");
    if (pid == 0) init(service_argv, filter);
    inits[static_cast<std::size_t>(i)] = static_cast<pid_t>(pid);
  }

  int alive = count;
  bool stopping = false;
  auto reap = [&](pid_t pid) {
    for (std::size_t i = 0; i < inits.size(); ++i) {
      if (inits[i] != pid) continue;
      inits[i] = 0;
      --alive;
      // Containment, as ipcrt's: whatever is left in the service's cgroup.
      if (!cgroups.empty()) {
        const int fd = ::open((cgroups[i] + "/cgroup.kill").c_str(), O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
          [[maybe_unused]] auto written = ::write(fd, "1", 1);
          ::close(fd);
        }
      }
    }
  };
  while (alive > 0) {
    siginfo_t info{};
    const int signal = ::sigwaitinfo(&waited, &info);
    if ((signal == SIGTERM || signal == SIGINT) && !stopping) {
      stopping = true;
      for (pid_t pid : inits) {
        if (pid > 0) ::kill(pid, SIGTERM);
      }
    } else if (signal == SIGCHLD) {
      int status = 0;
      pid_t reaped;
      while ((reaped = ::waitpid(-1, &status, WNOHANG)) > 0) reap(reaped);
    }
  }
  for (std::size_t i = 0; i < cgroups.size(); ++i) {
    ::close(cgroup_fds[i]);
    ::rmdir(cgroups[i].c_str());
  }
  if (!cgroup_dir.empty()) ::rmdir(cgroup_dir.c_str());
  return 0;
}
