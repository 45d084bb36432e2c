// unshare(2) and raw clone wrappers.
#include "platform/namespace.hpp"

#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>

#ifndef SYS_clone3
#define SYS_clone3 435  // the same number on every architecture
#endif

namespace ipcrt::platform {
namespace {

// struct clone_args up to `cgroup` (CLONE_ARGS_SIZE_VER2), spelled out: the libc headers of
// the cross toolchains may predate it.
struct CloneArgs {
  std::uint64_t flags;
  std::uint64_t pidfd;
  std::uint64_t child_tid;
  std::uint64_t parent_tid;
  std::uint64_t exit_signal;
  std::uint64_t stack;
  std::uint64_t stack_size;
  std::uint64_t tls;
  std::uint64_t set_tid;
  std::uint64_t set_tid_size;
  std::uint64_t cgroup;
};
static_assert(sizeof(CloneArgs) == 88);

constexpr std::uint64_t kCloneIntoCgroup = 0x200000000ULL;

}  // namespace

int enter_new_mount_namespace() noexcept {
  return ::unshare(CLONE_NEWNS) == 0 ? 0 : -errno;
}

long fork_raw(unsigned long namespace_flags) noexcept {
  // The argument order of clone differs between ABIs, but with no stack, no tids and no TLS
  // every remaining argument is 0.
  const long pid = ::syscall(SYS_clone, namespace_flags | SIGCHLD, 0, 0, 0, 0);
  return pid < 0 ? -errno : pid;
}

long fork_raw_into_cgroup(unsigned long namespace_flags, int cgroup_fd) noexcept {
  // No stack: like fork, the child goes on on a copy of this one.
  CloneArgs args{};
  args.flags = namespace_flags | kCloneIntoCgroup;
  args.exit_signal = SIGCHLD;
  args.cgroup = static_cast<std::uint64_t>(cgroup_fd);
  const long pid = ::syscall(SYS_clone3, &args, sizeof args);
  return pid < 0 ? -errno : pid;
}

}  // namespace ipcrt::platform
