// Seccomp user notification (SECCOMP_RET_USER_NOTIF): the supervisor side of SPEC §6. Thin
// wrappers over the listener ioctls, reading a string from the caller's memory, and taking the
// listener fd out of a freshly confined child with pidfd_getfd (platform/pidfd.hpp; the child's
// filter never has to allow sendmsg for it). No policy: the mediator decides what to answer.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "platform/fd.hpp"

namespace ipcrt::platform {

struct Notification {
  std::uint64_t id = 0;
  pid_t pid = 0;  // in the supervisor's pid namespace
  int syscall = -1;
  std::uint32_t arch = 0;  // AUDIT_ARCH_* of the caller
  std::array<std::uint64_t, 6> args{};
};

// Waits for the next notification on `listener`. An error with errnum ENOENT means the caller
// died or was interrupted before the notification could be read: not a failure of ours.
[[nodiscard]] Result<Notification> receive_notification(int listener);

// After reading the caller's memory: true only if the notification is still pending, so the
// memory read belonged to the same, still blocked, syscall (the pid was not reused).
[[nodiscard]] bool notification_still_valid(int listener, std::uint64_t id);

// Fails the caller's syscall with `errnum` (e.g. EACCES).
[[nodiscard]] Status answer_error(int listener, std::uint64_t id, int errnum);
// Makes the caller's syscall return `value` without running it.
[[nodiscard]] Status answer_value(int listener, std::uint64_t id, std::int64_t value);
// Lets the kernel run the caller's syscall as if unfiltered, with the caller's own credentials
// (SECCOMP_USER_NOTIF_FLAG_CONTINUE). Only for calls that are allowed anyway (complain mode):
// the caller may change its arguments after the check.
[[nodiscard]] Status answer_continue(int listener, std::uint64_t id);
// Installs `fd` in the caller and makes its syscall return the new descriptor, atomically
// (SECCOMP_ADDFD_FLAG_SEND, Linux 5.14). `cloexec` sets O_CLOEXEC on the caller's copy.
[[nodiscard]] Result<int> answer_with_fd(int listener, std::uint64_t id, int fd, bool cloexec);

// Reads a NUL-terminated string of at most `max_length` bytes from `pid`'s memory at
// `address`. Fails with ENAMETOOLONG when no NUL is found within max_length + 1 bytes.
[[nodiscard]] Result<std::string> read_remote_string(pid_t pid, std::uint64_t address,
                                                     std::size_t max_length);
// Reads `size` bytes from `pid`'s memory at `address` into `out`.
[[nodiscard]] Status read_remote_memory(pid_t pid, std::uint64_t address, void* out,
                                        std::size_t size);

// Whether this kernel supports everything SPEC §6 needs: user notification with a listener,
// ADDFD with SEND, and pidfd_getfd. Probed for real once (a child asks, we answer), not by
// version number, so backports count.
[[nodiscard]] Status probe_user_notification();

// True when the probe could only succeed, known without a child: the kernel has the
// user-notification action (SECCOMP_GET_ACTION_AVAIL) and is Linux 5.14 or later (ADDFD with
// SEND; pidfd_getfd is 5.6), and this process runs under no seccomp filter, so none above
// it holds a listener (a second one would be refused with EBUSY). False says nothing: then
// probe_user_notification() decides.
[[nodiscard]] bool user_notification_certain();

// "5.14.0-rc1" -> true for (5, 14): at least that version. False when unparsable.
[[nodiscard]] bool kernel_release_at_least(std::string_view release, unsigned major,
                                           unsigned minor);

}  // namespace ipcrt::platform
