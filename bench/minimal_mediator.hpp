// The physical floor of a mediated mq_open's round trip (issue 21): a minimal C-style mediator
// that answers a confined caller's mq_open with the least any correct mediator must do per
// call, and nothing else. Per notification: SECCOMP_IOCTL_NOTIF_RECV, the name copied from the
// caller (process_vm_readv), SECCOMP_IOCTL_NOTIF_ID_VALID (the copy belongs to this very call),
// mq_open of that name, SECCOMP_IOCTL_NOTIF_ADDFD with SECCOMP_ADDFD_FLAG_SEND, close. Raw
// syscalls on stack buffers: no allocation, no credentials, no decision, no log. The caller
// waits for it the same way (the benchmark polls the listener as ipcrt's server thread does),
// so ipcrt's ServiceMediator::handle measured beside it shows what ipcrt adds above the kernel's
// round trip. Not a mediator to use: it grants whatever name it is asked for.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ipcrt::bench {

class MinimalMediator {
 public:
  // Asks the kernel once for the size of its struct seccomp_notif and the native ABI; exits
  // the benchmark if the size exceeds the stack buffer.
  MinimalMediator();

  // Answers one pending notification on `listener` (poll said POLLIN): a native mq_open gets
  // the queue it names, opened with its access flags (close-on-exec on both copies); anything
  // else EPERM; a name that cannot be read EFAULT or ENAMETOOLONG; a caller gone meanwhile
  // nothing.
  void handle(int listener) const;

 private:
  std::size_t notif_size_ = 0;
  std::uint32_t native_arch_ = 0;  // AUDIT_ARCH_* of this process (the filter's only ABI)
  std::uint64_t page_ = 4096;
};

}  // namespace ipcrt::bench
