// Syscall and group names against libseccomp's tables and groups.cpp.
#include "runtime/seccomp/syscall_names.hpp"

#include <seccomp.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "common/text.hpp"
#include "runtime/launch.hpp"
#include "runtime/seccomp/groups.hpp"

namespace ipcrt::runtime {
namespace {

// The ABIs of config::kSeccompArchitectures that this libseccomp supports.
const std::vector<std::uint32_t>& architecture_tokens() {
  static const std::vector<std::uint32_t> tokens = [] {
    std::vector<std::uint32_t> found;
    for (auto name : config::kSeccompArchitectures) {
      const std::uint32_t token = seccomp_arch_resolve_name(std::string(name).c_str());
      if (token != 0) found.push_back(token);
    }
    return found;
  }();
  return tokens;
}

// Every syscall name of the ABIs numbered from 0 (not mips, not x32), for "did you mean".
// Only an error pays for it.
std::vector<std::string> syscall_names() {
  std::vector<std::string> names;
  for (std::uint32_t token : architecture_tokens()) {
    for (int number = 0; number < 1024; ++number) {
      char* name = seccomp_syscall_resolve_num_arch(token, number);
      if (name == nullptr) continue;
      names.emplace_back(name);
      std::free(name);
    }
  }
  return names;
}

std::string unknown_syscall_hint(std::string_view name) {
  const auto names = syscall_names();
  const std::vector<std::string_view> candidates(names.begin(), names.end());
  std::string hint = "no architecture libseccomp knows has it; check the name in syscall(2)";
  if (auto closest = closest_match(name, candidates)) {
    hint = cat("did you mean \"", *closest, "\"? ", hint);
  }
  return hint;
}

Error unknown_syscall(std::string_view name) {
  return Error{cat("unknown syscall \"", name, "\""), 0, unknown_syscall_hint(name)};
}

}  // namespace

bool is_known_syscall(std::string_view name) {
  const std::string text(name);
  for (std::uint32_t token : architecture_tokens()) {
    // Names of other ABIs resolve to negative pseudo-numbers; only a real one counts.
    if (seccomp_syscall_resolve_name_arch(token, text.c_str()) >= 0) return true;
  }
  return false;
}

std::optional<Error> syscall_allow_problem(std::string_view name) {
  if (is_mq_syscall(name)) {
    return Error{cat(name, " cannot be allowed by name"), 0,
                 "mq_* syscalls come from posix-mq plugs and slots: connect a plug"};
  }
  if (!is_known_syscall(name)) return unknown_syscall(name);
  return std::nullopt;
}

std::optional<Error> syscall_group_problem(std::string_view group) {
  if (find_syscall_group(group) != nullptr) return std::nullopt;
  std::vector<std::string_view> names;
  for (const auto& known : syscall_groups()) names.push_back(known.name);
  std::string hint = cat("known groups: ", join(names, ", "));
  if (auto closest = closest_match(group, names)) {
    hint = cat("did you mean \"", *closest, "\"? ", hint);
  }
  return Error{cat("unknown syscall group \"", group, "\""), 0, std::move(hint)};
}

std::optional<Error> syscall_deny_problem(std::string_view name) {
  if (name.starts_with('@')) {
    return Error{cat("seccomp.deny takes syscall names, not groups: \"", name, "\""), 0,
                 "list the syscalls to remove one by one"};
  }
  // The launch itself needs these after the filter is loaded (the listener handoff, then
  // execve); denying one would leave the service unable to start, or with mediation make the
  // child wait on a listener nobody holds yet.
  for (std::string_view needed : kSyscallsAfterFilterLoad) {
    if (name == needed) {
      return Error{cat(name, " is needed to start any service and cannot be denied"), 0,
                   "remove it from seccomp.deny"};
    }
  }
  if (!is_known_syscall(name)) return unknown_syscall(name);
  return std::nullopt;
}

std::optional<Error> seccomp_entry_problem(std::string_view entry, config::SeccompList list) {
  if (list == config::SeccompList::Deny) return syscall_deny_problem(entry);
  return entry.starts_with('@') ? syscall_group_problem(entry) : syscall_allow_problem(entry);
}

}  // namespace ipcrt::runtime
