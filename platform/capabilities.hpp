// Capabilities for the child between fork and exec: a confined service keeps none, even when it
// runs as root (a root process with capabilities could write the supervisor's memory through
// /proc, make device nodes, or undo its own confinement). Async-signal-safe; 0 or -errno.
#pragma once

namespace ipcrt::platform {

// The highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap), read in
// the parent; CAP_LAST_CAP of our headers when it cannot be read.
[[nodiscard]] int last_capability();

// Empties the bounding set (needs CAP_SETPCAP, so call it before dropping root): after execve
// the service can gain no capability, whatever its uid or the file's capabilities.
[[nodiscard]] int drop_capability_bounding_set(int last) noexcept;
// The same, but the capabilities in `keep` (bit N: CAP_N) stay in the bounding set: those a
// service is granted as ambient capabilities (SPEC §4a).
[[nodiscard]] int drop_capability_bounding_set_except(int last, unsigned long long keep) noexcept;
// Clears the inheritable and ambient sets, so nothing is carried across execve either.
[[nodiscard]] int clear_inheritable_capabilities() noexcept;

// SPEC §4a: leaves the calling process exactly `keep` as its effective, permitted, inheritable
// and ambient sets, so that execve of a program without file capabilities hands them on (as a
// non-root user the new program's capabilities are its ambient set). Call it after the uid
// change, which (with PR_SET_KEEPCAPS) kept the permitted set; `keep` must be within it.
[[nodiscard]] int set_ambient_capabilities(unsigned long long keep) noexcept;

// Leaves the calling process only `capability` (effective and permitted), or none with -1: for
// ipcrt's init in a service's pid namespace, which signals the service and does nothing else.
[[nodiscard]] int keep_only_capability(int capability) noexcept;

}  // namespace ipcrt::platform
