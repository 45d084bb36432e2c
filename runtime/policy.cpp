// A service's seccomp policy, read top to bottom: the base set, the manifest's additions, the
// posix-mq grants, the manifest's removals, then the compile.
#include "runtime/policy.hpp"

#include <seccomp.h>

#include <cerrno>

#include "common/text.hpp"

namespace ipcrt::runtime {

Result<CompiledPolicy> compile_service_policy(const config::Service& service,
                                              const PlannedService& planned,
                                              std::string_view architecture) {
  PolicyBuilder builder(architecture);
  builder.default_action(
      service.confinement == config::Confinement::Complain ? SCMP_ACT_LOG : SCMP_ACT_ERRNO(EPERM));
  for (const auto& extra : service.seccomp.architectures) builder.add_architecture(extra);
  builder.allow_group("@default");
  for (const auto& entry : service.seccomp.allow) builder.allow(entry);
  for (const auto& grant : planned.queues) builder.allow_mq(grant);
  for (const auto& name : service.seccomp.deny) builder.deny_syscall(name);
  auto policy = builder.build();
  if (!policy) {
    Error error = policy.error();
    error.message = cat(service.pointer, "/seccomp: ", error.message);
    return std::unexpected(std::move(error));
  }
  return policy;
}

Result<platform::BpfProgram> compile_service_filter(const config::Service& service,
                                                    const PlannedService& planned) {
  if (service.confinement == config::Confinement::Off) return platform::BpfProgram{};
  auto policy = compile_service_policy(service, planned);
  if (!policy) return std::unexpected(policy.error());
  return std::move(policy->program);
}

}  // namespace ipcrt::runtime
