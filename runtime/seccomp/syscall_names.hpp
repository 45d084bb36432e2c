// Which names a manifest's `seccomp` may use (SPEC §2.6, §5), as one set of rules for
// `validate` (through the manifest loader) and for the policy compiler. A syscall name is known
// if libseccomp knows it on any architecture it supports, so a board's names check on any build
// host; a group is known if groups.cpp has it. Nothing here reads the device.
#pragma once

#include <optional>
#include <string_view>

#include "common/error.hpp"
#include "config/manifest.hpp"

namespace ipcrt::runtime {

// A real syscall on at least one of config::kSeccompArchitectures.
[[nodiscard]] bool is_known_syscall(std::string_view name);

// Why `name` cannot be allowed by name (unknown, or an mq_* syscall), or nullopt.
[[nodiscard]] std::optional<Error> syscall_allow_problem(std::string_view name);
// Why `group` ("@network-io") cannot be allowed, or nullopt.
[[nodiscard]] std::optional<Error> syscall_group_problem(std::string_view group);
// Why `name` cannot be in seccomp.deny (a group, unknown, or needed to start any service).
[[nodiscard]] std::optional<Error> syscall_deny_problem(std::string_view name);

// One seccomp.allow or seccomp.deny entry; config::ParseOptions::seccomp_entry_problem.
[[nodiscard]] std::optional<Error> seccomp_entry_problem(std::string_view entry,
                                                         config::SeccompList list);

}  // namespace ipcrt::runtime
