// The capability allowlist. What is allowed cannot reach past the service's own sandbox: its
// effects are on the network (which services share with the host by design), on the clock, or
// bounded by the service's own memory budget. Everything else is refused saying why.
#include "config/capabilities.hpp"

#include <linux/capability.h>

#include <cctype>
#include <vector>

#include "common/text.hpp"

namespace ipcrt::config {
namespace {

// <linux/capability.h> of older kernels lacks the last three.
#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif
#ifndef CAP_CHECKPOINT_RESTORE
#define CAP_CHECKPOINT_RESTORE 40
#endif

constexpr CapabilityInfo kCapabilities[] = {
    {"chown", CAP_CHOWN,
     "it takes or gives away any file the service can reach, the host's own files among them"},
    {"dac_override", CAP_DAC_OVERRIDE,
     "it bypasses file permissions: the service could write every file it can reach, such as "
     "the host's /etc/shadow, the ipcrt binary or other services' files"},
    {"dac_read_search", CAP_DAC_READ_SEARCH,
     "it bypasses read permissions (other services' files, /etc/shadow), and its "
     "open_by_handle_at reaches files outside the service's mount view"},
    {"fowner", CAP_FOWNER,
     "it bypasses ownership checks: the service could chmod any file it can reach, the host's "
     "among them"},
    {"fsetid", CAP_FSETID,
     "set-user-ID and set-group-ID bits survive its writes and it may set them for groups it "
     "is not in: a privilege-raising program for users outside the sandbox"},
    {"kill", CAP_KILL,
     "it signals processes of any user, the supervisor and other services included, wherever "
     "the service can name them"},
    {"setgid", CAP_SETGID,
     "the service could take any group, such as the slot groups of queues and objects it was "
     "not granted"},
    {"setuid", CAP_SETUID, "the service could become any user: another service's, or root"},
    {"setpcap", CAP_SETPCAP,
     "it changes capability sets and the bounding set: the allowlist would stop binding"},
    {"linux_immutable", CAP_LINUX_IMMUTABLE,
     "it marks files immutable or append-only, so the host could no longer update or remove "
     "them"},
    {"net_bind_service", CAP_NET_BIND_SERVICE, {}},
    {"net_broadcast", CAP_NET_BROADCAST,
     "current kernels use it for nothing (broadcast and multicast need no capability)"},
    {"net_admin", CAP_NET_ADMIN, {}},
    {"net_raw", CAP_NET_RAW, {}},
    {"ipc_lock", CAP_IPC_LOCK, {}},
    {"ipc_owner", CAP_IPC_OWNER,
     "it bypasses the permissions of SysV IPC objects: the service could read and change other "
     "services' SysV shared memory, queues and semaphores"},
    {"sys_module", CAP_SYS_MODULE, "it loads code into the kernel"},
    {"sys_rawio", CAP_SYS_RAWIO,
     "it opens I/O ports and physical memory (iopl, /dev/mem) and sends raw commands to disks: "
     "the service could rewrite the kernel or the host's storage"},
    {"sys_chroot", CAP_SYS_CHROOT,
     "chroot from a directory held open is the classic way out of a mount view"},
    {"sys_ptrace", CAP_SYS_PTRACE,
     "it traces other users' processes and reads their memory (ptrace, process_vm_readv): the "
     "service could take over any process it can see"},
    {"sys_pacct", CAP_SYS_PACCT,
     "it turns on process accounting for the whole host, into a file of its choice"},
    {"sys_admin", CAP_SYS_ADMIN,
     "it mounts, creates namespaces and performs dozens of other privileged operations: the "
     "service could undo its own sandbox"},
    {"sys_boot", CAP_SYS_BOOT, "it reboots the device or starts another kernel (kexec)"},
    {"sys_nice", CAP_SYS_NICE,
     "real-time priorities and negative nice values let the service starve the supervisor and "
     "every other service"},
    {"sys_resource", CAP_SYS_RESOURCE,
     "it lifts resource limits, the mqueue limits and reserved disk space, and lowers its "
     "oom_score_adj below the supervisor's: the budgets that keep services from starving each "
     "other and the supervisor would stop binding"},
    {"sys_time", CAP_SYS_TIME, {}},
    {"sys_tty_config", CAP_SYS_TTY_CONFIG,
     "it hangs up terminals and reconfigures the host's consoles"},
    {"mknod", CAP_MKNOD,
     "it creates device nodes: one for the host's disk or memory would bypass `devices`"},
    {"lease", CAP_LEASE,
     "it takes leases on files the service does not own: whoever opens them then waits for it"},
    {"audit_write", CAP_AUDIT_WRITE,
     "it writes records into the kernel's audit log: a forged audit trail"},
    {"audit_control", CAP_AUDIT_CONTROL, "it changes or turns off the kernel's auditing"},
    {"setfcap", CAP_SETFCAP,
     "it sets file capabilities: a program the host then runs with privileges"},
    {"mac_override", CAP_MAC_OVERRIDE,
     "it overrides the mandatory access control (AppArmor, SELinux, Smack) of the host"},
    {"mac_admin", CAP_MAC_ADMIN,
     "it changes the mandatory access control (AppArmor, SELinux, Smack) policy of the host"},
    {"syslog", CAP_SYSLOG,
     "it reads the kernel log with kernel addresses (defeating KASLR) and clears it"},
    {"wake_alarm", CAP_WAKE_ALARM, {}},
    {"block_suspend", CAP_BLOCK_SUSPEND, {}},
    {"audit_read", CAP_AUDIT_READ, "it reads the audit log of the whole host"},
    {"perfmon", CAP_PERFMON,
     "it traces every process and the kernel with perf events and reads kernel addresses"},
    {"bpf", CAP_BPF, "it loads BPF programs and maps, which read kernel memory and trace the host"},
    {"checkpoint_restore", CAP_CHECKPOINT_RESTORE,
     "it chooses pids and opens other processes' mapped files (/proc/PID/map_files)"},
};

}  // namespace

std::span<const CapabilityInfo> capability_table() {
  return kCapabilities;
}

const CapabilityInfo* find_capability(std::string_view written) {
  std::string lower;
  for (char c : written) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view name = lower;
  if (name.starts_with("cap_")) name.remove_prefix(4);
  for (const auto& capability : kCapabilities) {
    if (capability.name == name) return &capability;
  }
  return nullptr;
}

std::string allowed_capability_names() {
  std::vector<std::string_view> names;
  for (const auto& capability : kCapabilities) {
    if (capability.refusal.empty()) names.push_back(capability.name);
  }
  return join(names, ", ");
}

}  // namespace ipcrt::config
