#include "runtime/seccomp/complain_limits.hpp"

#include <sched.h>

#include <algorithm>

#include "common/text.hpp"
#include "runtime/seccomp/groups.hpp"

namespace ipcrt::runtime {
namespace {

constexpr std::string_view kIoUring[] = {"io_uring_setup", "io_uring_enter", "io_uring_register"};

}  // namespace

std::span<const std::string_view> io_uring_syscalls() {
  return kIoUring;
}

bool is_io_uring_syscall(std::string_view name) {
  return std::find(std::begin(kIoUring), std::end(kIoUring), name) != std::end(kIoUring);
}

std::string complain_refusal(std::string_view syscall, const std::array<std::uint64_t, 6>& args) {
  if (is_io_uring_syscall(syscall)) {
    return "io_uring's operations bypass seccomp: refused in complain mode too";
  }
  // unshare is on the never-allowed list too; this names the reason that matters.
  if ((syscall == "clone" || syscall == "unshare") && (args[0] & CLONE_NEWUSER) != 0) {
    return "a user namespace (CLONE_NEWUSER) gives every capability inside it: refused in "
           "complain mode too";
  }
  if (syscall == "clone3") {
    return "clone3's flags are in memory the caller can change after a check: refused in "
           "complain mode too";
  }
  if (is_never_allowed(syscall)) {
    return cat(syscall, " is on the never-allowed list (SPEC §5): refused in complain mode too");
  }
  return {};
}

}  // namespace ipcrt::runtime
