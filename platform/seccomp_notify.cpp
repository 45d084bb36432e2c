// Seccomp user-notification wrappers over the raw ioctls and syscalls.
#include "platform/seccomp_notify.hpp"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstring>
#include <vector>

#include "common/text.hpp"
#include "platform/pidfd.hpp"
#include "platform/seccomp.hpp"

namespace ipcrt::platform {
namespace {

// The kernel's struct seccomp_notif may be larger than the one in our headers; receive into a
// buffer of the kernel's size (seccomp_unotify(2)).
std::size_t kernel_notif_size() {
  static const std::size_t size = [] {
    seccomp_notif_sizes sizes{};
    if (::syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) {
      return sizeof(seccomp_notif);
    }
    return std::max<std::size_t>(sizes.seccomp_notif, sizeof(seccomp_notif));
  }();
  return size;
}

Status send_response(int listener, const seccomp_notif_resp& response) {
  auto& mutable_response = const_cast<seccomp_notif_resp&>(response);
  if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &mutable_response) != 0) {
    return fail_errno("SECCOMP_IOCTL_NOTIF_SEND");
  }
  return {};
}

}  // namespace

Result<Notification> receive_notification(int listener) {
  std::vector<std::byte> buffer(kernel_notif_size());  // must be zeroed for the kernel
  auto* raw = reinterpret_cast<seccomp_notif*>(buffer.data());
  if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, raw) != 0) {
    return fail_errno("SECCOMP_IOCTL_NOTIF_RECV");
  }
  Notification notification;
  notification.id = raw->id;
  notification.pid = static_cast<pid_t>(raw->pid);
  notification.syscall = raw->data.nr;
  notification.arch = raw->data.arch;
  for (std::size_t i = 0; i < notification.args.size(); ++i) {
    notification.args[i] = raw->data.args[i];
  }
  return notification;
}

bool notification_still_valid(int listener, std::uint64_t id) {
  return ::ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

Status answer_error(int listener, std::uint64_t id, int errnum) {
  seccomp_notif_resp response{};
  response.id = id;
  response.error = -errnum;
  return send_response(listener, response);
}

Status answer_value(int listener, std::uint64_t id, std::int64_t value) {
  seccomp_notif_resp response{};
  response.id = id;
  response.val = value;
  return send_response(listener, response);
}

Status answer_continue(int listener, std::uint64_t id) {
  seccomp_notif_resp response{};
  response.id = id;
  response.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  return send_response(listener, response);
}

Result<int> answer_with_fd(int listener, std::uint64_t id, int fd, bool cloexec) {
  seccomp_notif_addfd addfd{};
  addfd.id = id;
  addfd.flags = SECCOMP_ADDFD_FLAG_SEND;
  addfd.srcfd = static_cast<std::uint32_t>(fd);
  addfd.newfd_flags = cloexec ? O_CLOEXEC : 0;
  int installed = ::ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
  if (installed < 0) {
    return fail_errno("SECCOMP_IOCTL_NOTIF_ADDFD", errno,
                      errno == EINVAL ? "ADDFD with SEND requires Linux 5.14" : "");
  }
  return installed;
}

Status read_remote_memory(pid_t pid, std::uint64_t address, void* out, std::size_t size) {
  iovec local{out, size};
  iovec remote{reinterpret_cast<void*>(static_cast<std::uintptr_t>(address)), size};
  ssize_t count = ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
  if (count < 0) return fail_errno(cat("process_vm_readv of pid ", pid));
  if (static_cast<std::size_t>(count) != size) {
    return fail_errno(cat("process_vm_readv of pid ", pid, ": short read"), EFAULT);
  }
  return {};
}

Result<std::string> read_remote_string(pid_t pid, std::uint64_t address, std::size_t max_length) {
  // One remote iovec per page: process_vm_readv stops at the first unreadable iovec, so a
  // string that ends just before an unmapped page is still read whole.
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t wanted = max_length + 1;
  std::vector<char> buffer(wanted);
  std::vector<iovec> remote;
  for (std::uint64_t at = address, left = wanted; left > 0;) {
    std::uint64_t chunk = std::min<std::uint64_t>(left, page - (at % page));
    remote.push_back({reinterpret_cast<void*>(static_cast<std::uintptr_t>(at)),
                      static_cast<std::size_t>(chunk)});
    at += chunk;
    left -= chunk;
  }
  iovec local{buffer.data(), wanted};
  ssize_t count = ::process_vm_readv(pid, &local, 1, remote.data(), remote.size(), 0);
  if (count < 0) return fail_errno(cat("process_vm_readv of pid ", pid));
  const void* end = std::memchr(buffer.data(), '\0', static_cast<std::size_t>(count));
  if (end == nullptr) {
    return fail_errno(cat("string at ", address, " in pid ", pid), ENAMETOOLONG);
  }
  return std::string(buffer.data(),
                     static_cast<std::size_t>(static_cast<const char*>(end) - buffer.data()));
}

namespace {

// The probe child: confine itself so that getppid() goes to a listener, hand the listener's
// number to the parent, wait until the parent has taken it, then call getppid() and exit 0
// if it returned a working descriptor (installed by ADDFD+SEND). Async-signal-safe only.
[[noreturn]] void probe_child(const sock_fprog& program, int report_fd, int ack_fd) {
  if (set_no_new_privs() != 0) ::_exit(10);
  int listener = load_seccomp_filter(program, true);
  if (listener < 0) ::_exit(11);
  if (::write(report_fd, &listener, sizeof listener) != sizeof listener) ::_exit(12);
  char ack = 0;
  if (::read(ack_fd, &ack, 1) != 1) ::_exit(13);
  long installed = ::syscall(SYS_getppid);
  if (installed < 0 || ::fcntl(static_cast<int>(installed), F_GETFD) < 0) ::_exit(14);
  ::_exit(0);
}

Status answer_probe(pid_t child, int report_fd, int ack_fd) {
  int child_listener = -1;
  if (::read(report_fd, &child_listener, sizeof child_listener) != sizeof child_listener) {
    return fail("the probe child could not install a filter with a listener",
                "requires CONFIG_SECCOMP_FILTER and Linux 5.0 user notification");
  }
  auto pidfd = pidfd_open(child);
  if (!pidfd) return std::unexpected(pidfd.error());
  auto listener = pidfd_getfd(pidfd->get(), child_listener);
  if (!listener) return std::unexpected(listener.error());
  if (::write(ack_fd, "k", 1) != 1) return fail_errno("write to the probe child");
  pollfd ready{listener->get(), POLLIN, 0};
  if (::poll(&ready, 1, 5000) != 1) return fail("no notification from the probe child");
  auto notification = receive_notification(listener->get());
  if (!notification) return std::unexpected(notification.error());
  UniqueFd null_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null_fd.valid()) return fail_errno("open /dev/null");
  auto installed = answer_with_fd(listener->get(), notification->id, null_fd.get(), true);
  if (!installed) return std::unexpected(installed.error());
  return {};
}

}  // namespace

bool kernel_release_at_least(std::string_view release, unsigned major, unsigned minor) {
  unsigned found_major = 0;
  unsigned found_minor = 0;
  const char* end = release.data() + release.size();
  auto [dot, major_error] = std::from_chars(release.data(), end, found_major);
  if (major_error != std::errc() || dot == end || *dot != '.') return false;
  auto [rest, minor_error] = std::from_chars(dot + 1, end, found_minor);
  if (minor_error != std::errc()) return false;
  return found_major > major || (found_major == major && found_minor >= minor);
}

bool user_notification_certain() {
  // Under a filter of its own (a container runtime's, or an outer ipcrt's), one with a
  // listener may already be in the chain: only the probe can tell.
  if (::prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 0) return false;
  std::uint32_t action = SECCOMP_RET_USER_NOTIF;
  if (::syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) != 0) return false;
  seccomp_notif_sizes sizes{};
  if (::syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) return false;
  utsname name{};
  if (::uname(&name) != 0) return false;
  return kernel_release_at_least(name.release, 5, 14);
}

Status probe_user_notification() {
  // Trap getppid (which nothing calls implicitly) to the listener; allow everything else.
  sock_filter instructions[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program{static_cast<unsigned short>(std::size(instructions)), instructions};
  int report[2];
  int ack[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return fail_errno("pipe2");
  if (::pipe2(ack, O_CLOEXEC) != 0) {
    ::close(report[0]);
    ::close(report[1]);
    return fail_errno("pipe2");
  }
  pid_t child = ::fork();
  if (child == 0) probe_child(program, report[1], ack[0]);
  ::close(report[1]);
  ::close(ack[0]);
  Status answered = child < 0 ? fail_errno("fork") : answer_probe(child, report[0], ack[1]);
  ::close(report[0]);
  ::close(ack[1]);
  if (child < 0) return answered;
  if (!answered) ::kill(child, SIGKILL);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!answered) return answered;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return fail(cat("the probe child did not get a working descriptor (status ", status, ')'),
                "SECCOMP_ADDFD_FLAG_SEND requires Linux 5.14");
  }
  return {};
}

}  // namespace ipcrt::platform
