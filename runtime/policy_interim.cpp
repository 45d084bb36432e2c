// Interim filter until the policy engine lands: allow by default, refuse with EPERM the
// syscalls SPEC §5 never allows. Replaced by runtime/policy.cpp.
#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/text.hpp"
#include "runtime/policy.hpp"

namespace ipcrt::runtime {
namespace {

constexpr const char* kNeverAllowed[] = {
    "mount", "umount", "umount2", "pivot_root", "unshare", "setns", "chroot", "ptrace",
    "process_vm_readv", "process_vm_writev", "kexec_load", "kexec_file_load", "init_module",
    "finit_module", "delete_module", "bpf", "perf_event_open", "keyctl", "add_key",
    "request_key", "reboot", "swapon", "swapoff", "settimeofday", "clock_settime",
    "clock_settime64", "clock_adjtime", "clock_adjtime64", "adjtimex", "stime", "iopl",
    "ioperm", "userfaultfd", "open_by_handle_at", "acct", "quotactl", "syslog"};

// libseccomp 2.5 exports BPF only to a file descriptor.
Result<platform::BpfProgram> export_program(scmp_filter_ctx context) {
  int fd = ::memfd_create("ipcrt-bpf", MFD_CLOEXEC);
  if (fd < 0) return fail_errno("memfd_create for the BPF export");
  int rc = seccomp_export_bpf(context, fd);
  off_t size = ::lseek(fd, 0, SEEK_END);
  platform::BpfProgram program;
  if (rc == 0 && size > 0) {
    program.instructions.resize(static_cast<std::size_t>(size) / sizeof(sock_filter));
    if (::pread(fd, program.instructions.data(), static_cast<std::size_t>(size), 0) != size) {
      rc = -EIO;
    }
  }
  ::close(fd);
  if (rc != 0 || size <= 0) return fail_errno("seccomp_export_bpf", rc < 0 ? -rc : EIO);
  return program;
}

}  // namespace

Result<platform::BpfProgram> compile_service_filter(const config::Service& service,
                                                    const PlannedService& /*planned*/) {
  if (service.confinement == config::Confinement::Off) return platform::BpfProgram{};
  scmp_filter_ctx context = seccomp_init(SCMP_ACT_ALLOW);
  if (context == nullptr) return fail("seccomp_init failed", "requires CONFIG_SECCOMP_FILTER");
  for (const char* name : kNeverAllowed) {
    int number = seccomp_syscall_resolve_name(name);
    if (number == __NR_SCMP_ERROR) continue;  // not a syscall on this architecture
    if (seccomp_rule_add(context, SCMP_ACT_ERRNO(EPERM), number, 0) != 0) {
      seccomp_release(context);
      return fail(cat("seccomp_rule_add ", name, " failed"));
    }
  }
  auto program = export_program(context);
  seccomp_release(context);
  return program;
}

}  // namespace ipcrt::runtime
