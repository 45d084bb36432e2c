// The syscall groups of SPEC §5 as data: what each `@group` allows, and the syscalls no group
// may ever contain. Names are libseccomp's; a name missing on an architecture is skipped when
// the filter is built, so one table serves x86_64, aarch64 and 32-bit ARM.
#pragma once

#include <sched.h>

#include <cstdint>
#include <span>
#include <string_view>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080  // Linux 5.6; older libc headers lack it
#endif

namespace ipcrt::runtime {

// clone with any of these is unshare(2) by another name, which no group allows (SPEC §5).
inline constexpr std::uint64_t kNamespaceCloneFlags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
                                                      CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |
                                                      CLONE_NEWCGROUP | CLONE_NEWTIME;

struct SyscallGroup {
  std::string_view name;                       // "@network-io"
  std::string_view summary;                    // one line for error messages and docs
  std::span<const std::string_view> includes;  // other groups, by name
  std::span<const std::string_view> syscalls;  // its own names
};

[[nodiscard]] std::span<const SyscallGroup> syscall_groups();
[[nodiscard]] const SyscallGroup* find_syscall_group(std::string_view name);

// Every syscall of `group`, its included groups first, possibly with duplicates.
template <class Visit>
void for_each_group_syscall(const SyscallGroup& group, Visit&& visit) {
  for (std::string_view included : group.includes) {
    if (const SyscallGroup* inner = find_syscall_group(included)) {
      for_each_group_syscall(*inner, visit);
    }
  }
  for (std::string_view name : group.syscalls) visit(name);
}

// SPEC §5: allowed only one by one through seccomp.allow, never through a group.
[[nodiscard]] std::span<const std::string_view> never_allowed_syscalls();
[[nodiscard]] bool is_never_allowed(std::string_view name);

// The posix-mq syscalls: granted only by connected plugs and owned slots, never by a group or
// by seccomp.allow.
[[nodiscard]] std::span<const std::string_view> mq_syscalls();
[[nodiscard]] bool is_mq_syscall(std::string_view name);

// 32-bit ARM (and i386) pairs each time-related syscall with a 64-bit-time twin
// ("clock_gettime" / "clock_gettime64"); "" when `name` has none.
[[nodiscard]] std::string_view time64_twin(std::string_view name);

}  // namespace ipcrt::runtime
