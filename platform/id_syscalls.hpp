// The raw syscall numbers that change or read ids. 32-bit ABIs (arm, i386) kept 16-bit ids
// under the plain names; their *32 calls take full ids. Raw, because glibc's wrappers for
// setgroups and the set*id family act on every thread (a signal to each), which neither the
// cloned child nor a mediation thread acting as one caller may do.
#pragma once

#include <sys/syscall.h>

namespace ipcrt::platform {

#ifdef SYS_setresuid32
inline constexpr long kSysSetgroups = SYS_setgroups32;
inline constexpr long kSysGetgroups = SYS_getgroups32;
inline constexpr long kSysSetresgid = SYS_setresgid32;
inline constexpr long kSysSetresuid = SYS_setresuid32;
inline constexpr long kSysSetfsuid = SYS_setfsuid32;
inline constexpr long kSysSetfsgid = SYS_setfsgid32;
#else
inline constexpr long kSysSetgroups = SYS_setgroups;
inline constexpr long kSysGetgroups = SYS_getgroups;
inline constexpr long kSysSetresgid = SYS_setresgid;
inline constexpr long kSysSetresuid = SYS_setresuid;
inline constexpr long kSysSetfsuid = SYS_setfsuid;
inline constexpr long kSysSetfsgid = SYS_setfsgid;
#endif

}  // namespace ipcrt::platform
