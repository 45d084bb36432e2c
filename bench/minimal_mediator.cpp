// The round trip's floor: see bench/minimal_mediator.hpp. Everything that is not per call
// (the notification size, the ABI, the page size) is asked once, in the constructor.
#include "bench/minimal_mediator.hpp"

#include <fcntl.h>
#include <linux/limits.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ipcrt::bench {
namespace {

// Room for the kernel's struct seccomp_notif (80 bytes today; it may grow, which is why its
// size is asked for).
constexpr std::size_t kNotifBuffer = 256;

void answer_error(int listener, std::uint64_t id, int errnum) {
  seccomp_notif_resp response{};
  response.id = id;
  response.error = -errnum;
  (void)::ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &response);
}

}  // namespace

MinimalMediator::MinimalMediator() {
  seccomp_notif_sizes sizes{};
  notif_size_ = ::syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) == 0
                    ? sizes.seccomp_notif
                    : sizeof(seccomp_notif);
  if (notif_size_ < sizeof(seccomp_notif)) notif_size_ = sizeof(seccomp_notif);
  if (notif_size_ > kNotifBuffer) {
    std::fprintf(stderr, "minimal mediator: struct seccomp_notif is %zu bytes here, over %zu\n",
                 notif_size_, kNotifBuffer);
    std::exit(1);
  }
  native_arch_ = seccomp_arch_native();  // SCMP_ARCH_* are the AUDIT_ARCH_* values
  page_ = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

void MinimalMediator::handle(int listener) const {
  alignas(seccomp_notif) unsigned char buffer[kNotifBuffer];
  std::memset(buffer, 0, notif_size_);  // the kernel refuses a buffer that is not zeroed
  auto* notification = reinterpret_cast<seccomp_notif*>(buffer);
  if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, notification) != 0) return;  // caller gone
  const std::uint64_t id = notification->id;
  if (notification->data.arch != native_arch_ || notification->data.nr != SYS_mq_open) {
    answer_error(listener, id, EPERM);
    return;
  }
  // The name, as the kernel would copy it: at most NAME_MAX bytes and the NUL, one remote
  // iovec per page touched (process_vm_readv stops at the first unreadable one).
  char name[NAME_MAX + 1];
  const std::uint64_t address = notification->data.args[0];
  const auto first = static_cast<std::size_t>(std::min<std::uint64_t>(
      page_ - address % page_, sizeof name));  // the bytes up to the end of its page
  iovec remote[2] = {
      {reinterpret_cast<void*>(static_cast<std::uintptr_t>(address)), first},
      {reinterpret_cast<void*>(static_cast<std::uintptr_t>(address + first)), sizeof name - first}};
  const unsigned long pieces = first < sizeof name ? 2 : 1;
  iovec local{name, sizeof name};
  const ssize_t count = ::process_vm_readv(notification->pid, &local, 1, remote, pieces, 0);
  if (count <= 0 || std::memchr(name, '\0', static_cast<std::size_t>(count)) == nullptr) {
    answer_error(listener, id, count == static_cast<ssize_t>(sizeof name) ? ENAMETOOLONG : EFAULT);
    return;
  }
  // The name read belongs to this call, still blocked: only now is it acted on.
  if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) != 0) return;
  const int flags = (static_cast<int>(notification->data.args[1]) & (O_ACCMODE | O_NONBLOCK));
  const long queue = ::syscall(SYS_mq_open, name, flags | O_CLOEXEC, 0, nullptr);
  if (queue < 0) {
    answer_error(listener, id, errno);
    return;
  }
  seccomp_notif_addfd addfd{};
  addfd.id = id;
  addfd.flags = SECCOMP_ADDFD_FLAG_SEND;
  addfd.srcfd = static_cast<std::uint32_t>(queue);
  addfd.newfd_flags = O_CLOEXEC;
  (void)::ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);  // fails only if the caller died
  ::close(static_cast<int>(queue));
}

}  // namespace ipcrt::bench
