// What `complain` never lets through (SPEC §5, §15). Complain mode logs a refused call and lets
// it run, so that `ipcrt suggest` can see everything a program needs; but it must not become a
// way out of the sandbox. A call is still refused in complain mode when it is:
//   - on the never-allowed list of §5 (mount, unshare, setns, ptrace, bpf, ...) and not named
//     in seccomp.allow (naming it is the manifest's explicit choice, as in strict);
//   - one of the io_uring calls, whose operations bypass seccomp altogether;
//   - clone or unshare with CLONE_NEWUSER (a user namespace gives the caller every
//     capability inside it), and clone3 that reached the refusal path (its flags are in memory
//     the caller can change after any check, so they cannot be judged);
//   - made through an ABI the filter does not cover (its calls would run unfiltered).
// Mediated, the supervisor applies this to each call it is asked about; without mediation the
// filter itself refuses them (PolicyBuilder, complain's SCMP_ACT_LOG default).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace ipcrt::runtime {

// io_uring_setup, io_uring_enter, io_uring_register.
[[nodiscard]] std::span<const std::string_view> io_uring_syscalls();
[[nodiscard]] bool is_io_uring_syscall(std::string_view name);

// Why complain mode must still refuse `syscall` with these arguments when the filter sent it
// to the refusal path; "" when complain may let it run.
[[nodiscard]] std::string complain_refusal(std::string_view syscall,
                                           const std::array<std::uint64_t, 6>& args);

// What a call through an ABI outside the filter gets in complain mode too.
inline constexpr std::string_view kForeignAbiRefusal =
    "its ABI is not in the filter: complain mode would run it unfiltered";

}  // namespace ipcrt::runtime
