// Seccomp policy (SPEC §5): turns a planned service into a compiled BPF program, in the
// parent, before fork.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "config/manifest.hpp"
#include "platform/seccomp.hpp"
#include "runtime/plan.hpp"
#include "runtime/seccomp/filter_store.hpp"
#include "runtime/seccomp/policy_builder.hpp"

namespace ipcrt::runtime {

// The service's whole policy: @default, seccomp.allow/deny/architectures, the mq_* syscalls
// of its posix-mq grants. Strict denies with EPERM, complain logs and allows. Errors name the
// service and the manifest key. `architecture` is the native ABI ("native" or a libseccomp
// name, for inspecting a board's policy on another machine).
// `mediate`: the kernel supports user notification (SPEC §6); refused syscalls and every
// mq_open/mq_unlink go to the supervisor, which decides, answers and reports.
[[nodiscard]] Result<CompiledPolicy> compile_service_policy(
    const config::Service& service, const PlannedService& planned,
    std::string_view architecture = "native", bool mediate = false);

// The service's filter for the native ABI (plus seccomp.architectures). Confinement `off`
// gives an empty program: nothing is loaded.
[[nodiscard]] Result<platform::BpfProgram> compile_service_filter(const config::Service& service,
                                                                  const PlannedService& planned,
                                                                  bool mediate = false);

// What a service's filter depends on, from the manifest and plan (not from a built policy):
// services with equal keys have equal PolicyBuilder fingerprints, hence equal programs. The
// in-memory FilterCache and the on-disk one are keyed by it.
[[nodiscard]] std::string filter_key(const config::Service& service, const PlannedService& planned,
                                     bool mediate);
// The PolicyBuilder::fingerprint() of the service's policy (for tests of filter_key()); ""
// when the policy has an error.
[[nodiscard]] std::string policy_fingerprint(const config::Service& service,
                                             const PlannedService& planned, bool mediate);

// Filters compiled once per distinct policy (issue #8: compiling dominated the boot of many
// services). Queue names are not in a program, only which mq_* syscalls and flags are
// allowed, so services differing only in their queues share one.
class FilterCache {
 public:
  // `store`: compiled programs kept between runs (may be nullptr; must outlive the cache).
  explicit FilterCache(const FilterStore* store = nullptr) : store_(store) {}
  // As compile_service_filter(), from the cache when an equal policy was compiled before
  // (in this process, or by an earlier one into the store).
  [[nodiscard]] Result<platform::BpfProgram> filter_for(const config::Service& service,
                                                        const PlannedService& planned,
                                                        bool mediate);
  // Distinct programs handed out, and how many of those libseccomp compiled here.
  [[nodiscard]] std::size_t programs() const { return programs_.size(); }
  [[nodiscard]] std::size_t compiled() const { return compiled_; }

 private:
  const FilterStore* store_;
  std::map<std::string, platform::BpfProgram> programs_;
  std::size_t compiled_ = 0;
};

// The syscalls through which a service that may write a shared-memory object unlinks it or
// creates it exclusively (shm_unlink, shm_open with O_CREAT|O_EXCL): open, openat, unlink,
// unlinkat, less what seccomp.deny removes. Empty when it may write none. Where mediation
// runs they go to the supervisor (PolicyBuilder::mediate_shm), which answers them for the
// objects (SPEC §2.3) and lets the rest through.
[[nodiscard]] std::vector<std::string> shm_mediated_syscalls(const config::Service& service,
                                                             const PlannedService& planned);

// For a denial line: what in the manifest would allow `syscall` for `service`
// ("seccomp.allow: setpriority", "removing it from seccomp.deny"). For an mq_* syscall, the
// permission on the one slot among `grants` (the service's) that lacks it ("write on
// sensor-hub:telemetry").
[[nodiscard]] std::string need_for_syscall(const config::Service& service,
                                           std::string_view syscall,
                                           const std::vector<QueueGrant>& grants = {});

}  // namespace ipcrt::runtime
