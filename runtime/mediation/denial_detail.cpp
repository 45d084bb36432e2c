#include "runtime/mediation/denial_detail.hpp"

#include <arpa/inet.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <utility>

#include "common/text.hpp"
#include "runtime/seccomp/complain_limits.hpp"
#include "runtime/seccomp/groups.hpp"

namespace ipcrt::runtime {
namespace {

struct Named {
  std::uint64_t value;
  const char* name;
};

const char* name_of(std::uint64_t value, std::initializer_list<Named> names) {
  for (const auto& item : names) {
    if (item.value == value) return item.name;
  }
  return nullptr;
}

std::string hex(std::uint64_t value) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  do {
    out.insert(out.begin(), kDigits[value & 0xf]);
    value >>= 4;
  } while (value != 0);
  return "0x" + out;
}

std::string family_name(int family) {
  const char* name = name_of(static_cast<std::uint64_t>(family), {{AF_UNIX, "AF_UNIX"},
                                                                  {AF_INET, "AF_INET"},
                                                                  {AF_INET6, "AF_INET6"},
                                                                  {AF_NETLINK, "AF_NETLINK"},
                                                                  {AF_PACKET, "AF_PACKET"},
                                                                  {AF_BLUETOOTH, "AF_BLUETOOTH"},
                                                                  {AF_CAN, "AF_CAN"},
                                                                  {AF_ALG, "AF_ALG"},
                                                                  {AF_VSOCK, "AF_VSOCK"}});
  return name != nullptr ? name : cat("family ", family);
}

std::string socket_type(std::uint64_t raw) {
  const int type = static_cast<int>(raw);
  const int base = type & 0xf;
  const char* name = name_of(static_cast<std::uint64_t>(base), {{SOCK_STREAM, "SOCK_STREAM"},
                                                                {SOCK_DGRAM, "SOCK_DGRAM"},
                                                                {SOCK_RAW, "SOCK_RAW"},
                                                                {SOCK_SEQPACKET, "SOCK_SEQPACKET"},
                                                                {SOCK_RDM, "SOCK_RDM"}});
  std::string out = name != nullptr ? name : cat("type ", base);
  if ((type & SOCK_NONBLOCK) != 0) out += "|SOCK_NONBLOCK";
  if ((type & SOCK_CLOEXEC) != 0) out += "|SOCK_CLOEXEC";
  return out;
}

// The namespace and process-sharing flags of clone, clone3 and unshare; the rest in hex.
std::string clone_flags(std::uint64_t flags) {
  static constexpr Named kFlags[] = {{CLONE_NEWNS, "CLONE_NEWNS"},
                                     {CLONE_NEWUSER, "CLONE_NEWUSER"},
                                     {CLONE_NEWPID, "CLONE_NEWPID"},
                                     {CLONE_NEWNET, "CLONE_NEWNET"},
                                     {CLONE_NEWIPC, "CLONE_NEWIPC"},
                                     {CLONE_NEWUTS, "CLONE_NEWUTS"},
                                     {CLONE_NEWCGROUP, "CLONE_NEWCGROUP"},
                                     {0x80 /* CLONE_NEWTIME */, "CLONE_NEWTIME"},
                                     {CLONE_VM, "CLONE_VM"},
                                     {CLONE_THREAD, "CLONE_THREAD"},
                                     {CLONE_FS, "CLONE_FS"},
                                     {CLONE_FILES, "CLONE_FILES"},
                                     {CLONE_SIGHAND, "CLONE_SIGHAND"},
                                     {CLONE_VFORK, "CLONE_VFORK"},
                                     {CLONE_PIDFD, "CLONE_PIDFD"}};
  std::string out;
  for (const auto& flag : kFlags) {
    if ((flags & flag.value) == 0) continue;
    if (!out.empty()) out += '|';
    out += flag.name;
    flags &= ~flag.value;
  }
  // The exit signal in clone's low byte is not a flag.
  flags &= ~static_cast<std::uint64_t>(CSIGNAL);
  if (flags != 0) out += cat(out.empty() ? "" : "|", hex(flags));
  return out.empty() ? "0" : out;
}

std::string ioctl_request(std::uint64_t raw) {
  const auto request = raw & 0xffffffffU;
  const char* name = name_of(request, {{0x5401, "TCGETS"},
                                       {0x5402, "TCSETS"},
                                       {0x5413, "TIOCGWINSZ"},
                                       {0x5414, "TIOCSWINSZ"},
                                       {0x540e, "TIOCSCTTY"},
                                       {0x541b, "FIONREAD"},
                                       {0x5421, "FIONBIO"},
                                       {0x5412, "TIOCSTI"},
                                       {0x8912, "SIOCGIFCONF"},
                                       {0x8927, "SIOCGIFHWADDR"},
                                       {0x8933, "SIOCGIFINDEX"}});
  return name != nullptr ? cat("request ", name) : cat("request ", hex(request));
}

// sockaddr of connect, bind and sendto: the family, and for AF_UNIX the path ("@name" for the
// abstract namespace), for AF_INET/AF_INET6 the port.
std::string socket_address(const RefusedCall& call, std::uint64_t address, std::uint64_t length) {
  if (address == 0 || !call.read_memory) return {};
  sockaddr_storage storage{};
  const std::size_t size = std::min<std::uint64_t>(length, sizeof storage);
  if (size < sizeof(sa_family_t) || !call.read_memory(address, &storage, size)) return {};
  const int family = storage.ss_family;
  std::string out = family_name(family);
  if (family == AF_UNIX) {
    const auto* unix_address = reinterpret_cast<const sockaddr_un*>(&storage);
    const std::size_t path_size = size - offsetof(sockaddr_un, sun_path);
    if (path_size > 0 && unix_address->sun_path[0] == '\0') {
      out += cat(" @", std::string(unix_address->sun_path + 1,
                                   strnlen(unix_address->sun_path + 1, path_size - 1)));
    } else if (path_size > 0) {
      out +=
          cat(' ', std::string(unix_address->sun_path, strnlen(unix_address->sun_path, path_size)));
    }
  } else if (family == AF_INET && size >= sizeof(sockaddr_in)) {
    out += cat(" port ", ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port));
  } else if (family == AF_INET6 && size >= sizeof(sockaddr_in6)) {
    out += cat(" port ", ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port));
  }
  return out;
}

// The argument that holds the path of calls on a path.
std::optional<std::size_t> path_argument(std::string_view syscall) {
  static constexpr std::pair<std::string_view, std::size_t> kPaths[] = {
      {"open", 0},     {"creat", 0},     {"openat", 1},
      {"openat2", 1},  {"execve", 0},    {"execveat", 1},
      {"mkdir", 0},    {"mkdirat", 1},   {"unlink", 0},
      {"unlinkat", 1}, {"rmdir", 0},     {"chmod", 0},
      {"fchmodat", 1}, {"chown", 0},     {"lchown", 0},
      {"fchownat", 1}, {"truncate", 0},  {"mknod", 0},
      {"mknodat", 1},  {"chroot", 0},    {"mount", 1},
      {"umount2", 0},  {"swapon", 0},    {"acct", 0},
      {"rename", 0},   {"renameat", 1},  {"renameat2", 1},
      {"symlink", 1},  {"symlinkat", 2}, {"link", 1},
      {"linkat", 3},   {"utimensat", 1}, {"inotify_add_watch", 1},
      {"statfs", 0},   {"setxattr", 0},  {"lsetxattr", 0}};
  for (const auto& [name, index] : kPaths) {
    if (name == syscall) return index;
  }
  return std::nullopt;
}

bool one_of(std::string_view syscall, std::initializer_list<std::string_view> names) {
  for (auto name : names) {
    if (name == syscall) return true;
  }
  return false;
}

// Whether a set*id call asks only for the ids the caller has (or -1, "unchanged"): what
// programs do to drop privileges they do not have (busybox at start), which the kernel allows
// without any capability. setgroups always needs CAP_SETGID.
bool sets_own_ids(const RefusedCall& call) {
  if (!call.caller_ids) return false;
  std::string_view syscall = call.syscall;
  const bool sixteen_bit = !call.wide && !syscall.ends_with("32");
  if (syscall.ends_with("32")) syscall.remove_suffix(2);
  const bool user = syscall.find("uid") != std::string_view::npos;
  const std::uint32_t own = user ? call.caller_ids->first : call.caller_ids->second;
  std::size_t count = 0;
  if (one_of(syscall, {"setuid", "setgid", "setfsuid", "setfsgid"})) {
    count = 1;
  } else if (one_of(syscall, {"setreuid", "setregid"})) {
    count = 2;
  } else if (one_of(syscall, {"setresuid", "setresgid"})) {
    count = 3;
  }
  if (count == 0) return false;
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint32_t value = sixteen_bit ? static_cast<std::uint32_t>(call.args[i] & 0xffff)
                                            : static_cast<std::uint32_t>(call.args[i]);
    const std::uint32_t unchanged = sixteen_bit ? 0xffff : 0xffffffffU;
    // setfs*id takes no "unchanged" value; -1 there is a real (invalid) id.
    if (value == own) continue;
    if (value == unchanged && !syscall.starts_with("setfs")) continue;
    return false;
  }
  return true;
}

}  // namespace

bool changes_ids(std::string_view syscall) {
  return one_of(syscall,
                {"setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setfsuid",
                 "setfsgid", "setgroups", "setuid32", "setgid32", "setreuid32", "setregid32",
                 "setresuid32", "setresgid32", "setfsuid32", "setfsgid32", "setgroups32"});
}

std::string describe_argument(const RefusedCall& call) {
  const auto& args = call.args;
  const std::string_view syscall = call.syscall;
  if (syscall == "socket" || syscall == "socketpair") {
    return cat(family_name(static_cast<int>(args[0])), ' ', socket_type(args[1]));
  }
  if (syscall == "connect" || syscall == "bind") return socket_address(call, args[1], args[2]);
  if (syscall == "sendto") return socket_address(call, args[4], args[5]);
  if (syscall == "ioctl") return cat("fd ", static_cast<int>(args[0]), ' ', ioctl_request(args[1]));
  if (syscall == "clone" || syscall == "unshare") return clone_flags(args[0]);
  if (syscall == "clone3") {
    std::uint64_t flags = 0;
    if (call.read_memory && call.read_memory(args[0], &flags, sizeof flags)) {
      return clone_flags(flags);
    }
    return {};
  }
  if (syscall == "setns")
    return cat("fd ", static_cast<int>(args[0]), " nstype ", clone_flags(args[1]));
  if (syscall == "kill" || syscall == "tkill") {
    return cat("pid ", static_cast<int>(args[0]), " signal ", static_cast<int>(args[1]));
  }
  if (syscall == "tgkill") {
    return cat("pid ", static_cast<int>(args[1]), " signal ", static_cast<int>(args[2]));
  }
  if (syscall == "setpriority") {
    return cat("which ", static_cast<int>(args[0]), " who ", static_cast<int>(args[1]), " nice ",
               static_cast<int>(args[2]));
  }
  if (syscall.starts_with("setgroups")) return cat("count ", static_cast<int>(args[0]));
  if (changes_ids(syscall)) {
    // The ids asked for, -1 for "unchanged"; the reason a capability is or is not needed.
    const std::size_t count = syscall.starts_with("setres")  ? 3
                              : syscall.starts_with("setre") ? 2
                                                             : 1;
    std::string out = "ids";
    for (std::size_t i = 0; i < count; ++i) out += cat(' ', static_cast<int>(args[i]));
    return out;
  }
  if (syscall == "prctl") return cat("option ", static_cast<int>(args[0]));
  if (syscall == "ptrace") {
    return cat("request ", static_cast<long>(args[0]), " pid ", static_cast<int>(args[1]));
  }
  if (auto index = path_argument(syscall); index && call.read_string) {
    if (auto path = call.read_string(args[*index], 4096)) return *path;
  }
  return {};
}

DenialAdvice advise(const RefusedCall& call, const std::string& filter_need) {
  DenialAdvice advice{describe_argument(call), filter_need, false};
  const std::string_view syscall = call.syscall;
  const auto& args = call.args;
  if (changes_ids(syscall) && sets_own_ids(call)) {
    // Allowing it changes nothing: the filter's need is the narrowest fix.
  } else if (changes_ids(syscall)) {
    // A confined service has no CAP_SETUID/CAP_SETGID: allowing the call cannot make it work.
    advice.need =
        "set \"user\" (and \"group\") to the account the program switches to, so ipcrt "
        "switches user for the service: a confined service has no capability to change its ids";
  } else if (one_of(syscall,
                    {"chown", "fchown", "lchown", "fchownat", "chown32", "fchown32", "lchown32"})) {
    advice.need = cat(filter_need,
                      " if the service changes only the group of its own files; another user's "
                      "file needs CAP_CHOWN, which no service gets: let the service's user own it");
  } else if (syscall == "syslog") {
    advice.need =
        "nothing a manifest can give: the kernel log needs CAP_SYSLOG, which no service gets "
        "(it shows kernel addresses); read it on the host";
  } else if (is_io_uring_syscall(syscall)) {
    advice.need =
        "nothing a manifest can give a confined service: io_uring's operations bypass seccomp "
        "(use read/write or epoll)";
  } else if ((syscall == "clone" || syscall == "unshare") && (args[0] & kNamespaceCloneFlags) != 0) {
    // Allowing the call would also allow CLONE_NEWUSER, and with it every capability inside
    // the new namespace; without one, the other namespaces need capabilities no service has.
    advice.need =
        "nothing a manifest should give: new namespaces need capabilities no confined service "
        "has (ipcrt already gives each service its own PID, mount and IPC namespaces)";
  } else if (syscall == "setpriority" && static_cast<int>(args[2]) < 0) {
    advice.need =
        "a nice value of 0 or more: a negative one needs CAP_SYS_NICE, which no service gets";
  } else if (one_of(syscall, {"settimeofday", "clock_settime", "clock_settime64", "adjtimex",
                              "clock_adjtime", "clock_adjtime64", "stime"})) {
    advice.need = cat(filter_need, " and \"capabilities\": [\"sys_time\"]");
  } else if (syscall == "socket" && (static_cast<int>(args[1]) & 0xf) == SOCK_RAW) {
    advice.need = cat(filter_need, " and \"capabilities\": [\"net_raw\"]");
  } else if (syscall == "socket" && static_cast<int>(args[0]) == AF_PACKET) {
    advice.need = cat(filter_need, " and \"capabilities\": [\"net_raw\"]");
  } else if (syscall == "connect" && (advice.argument == "AF_UNIX /var/run/nscd/socket" ||
                                      advice.argument == "AF_UNIX /run/nscd/socket")) {
    // The same probe's next step where the socket was let through (complain mode): nscd is
    // not in any service's view, the connect fails, and glibc reads the files itself.
    advice.recoverable = true;
    advice.need =
        cat("nothing if this is glibc's name-service probe of nscd (the program goes on "
            "without it); ",
            filter_need, " only if the service itself connects to nscd");
  } else if (syscall == "socket" && static_cast<int>(args[0]) == AF_UNIX &&
             static_cast<int>(args[1]) == (SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK)) {
    // glibc's NSS asks nscd over exactly this socket before it reads /etc/passwd itself, and
    // carries on when it cannot (id, ls -l, ps, Python's pwd): not a reason to give sockets.
    advice.recoverable = true;
    advice.need =
        cat("nothing if this is glibc's name-service probe of nscd (the program goes "
            "on without it); ",
            filter_need, " only if the service itself uses Unix sockets");
  }
  return advice;
}

}  // namespace ipcrt::runtime
