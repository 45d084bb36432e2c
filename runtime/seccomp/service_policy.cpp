// A service's seccomp policy, read top to bottom: the base set, the manifest's additions, the
// posix-mq grants, the manifest's removals, then the compile.
#include "runtime/seccomp/service_policy.hpp"

#include <seccomp.h>

#include <cerrno>

#include "common/text.hpp"
#include "runtime/launch.hpp"
#include "runtime/seccomp/groups.hpp"
#include "runtime/seccomp/syscall_names.hpp"

namespace ipcrt::runtime {

namespace {

// The service's builder, read top to bottom: the base set, the manifest's additions, the
// posix-mq grants, the manifest's removals.
Result<PolicyBuilder> service_builder(const config::Service& service, const PlannedService& planned,
                                      std::string_view architecture, bool mediate) {
  PolicyBuilder builder(architecture);
  // Mediated: the supervisor answers refused calls (EPERM, or let through in complain mode)
  // and reports each one; otherwise the kernel answers, and complain relies on its audit log.
  if (mediate) {
    builder.default_action(SCMP_ACT_NOTIFY).mediate_queues();
  } else {
    builder.default_action(service.confinement == config::Confinement::Complain
                               ? SCMP_ACT_LOG
                               : SCMP_ACT_ERRNO(EPERM));
  }
  for (const auto& extra : service.seccomp.architectures) builder.add_architecture(extra);
  builder.allow_group("@default");
  for (const auto& entry : service.seccomp.allow) builder.allow(entry);
  for (const auto& grant : planned.queues) {
    builder.allow_mq(grant, passed_queue(planned, grant.path) != nullptr);
  }
  for (const auto& name : service.seccomp.deny) {
    // Checked here too, not only by `validate`, for services built without the loader.
    if (auto problem = syscall_deny_problem(name)) {
      return std::unexpected(problem->wrap(cat(service.pointer, "/seccomp/deny")));
    }
    builder.deny_syscall(name);
  }
  return builder;
}

Result<CompiledPolicy> build_for(const config::Service& service, PolicyBuilder& builder) {
  auto policy = builder.build();
  if (!policy) {
    return std::unexpected(policy.error().wrap(cat(service.pointer, "/seccomp")));
  }
  return policy;
}

}  // namespace

Result<CompiledPolicy> compile_service_policy(const config::Service& service,
                                              const PlannedService& planned,
                                              std::string_view architecture, bool mediate) {
  auto builder = service_builder(service, planned, architecture, mediate);
  if (!builder) return std::unexpected(builder.error());
  return build_for(service, *builder);
}

Result<platform::BpfProgram> compile_service_filter(const config::Service& service,
                                                    const PlannedService& planned, bool mediate) {
  FilterCache once;
  return once.filter_for(service, planned, mediate);
}

Result<platform::BpfProgram> FilterCache::filter_for(const config::Service& service,
                                                     const PlannedService& planned, bool mediate) {
  if (service.confinement == config::Confinement::Off) return platform::BpfProgram{};
  auto builder = service_builder(service, planned, "native", mediate);
  if (!builder) return std::unexpected(builder.error());
  std::string key = builder->fingerprint();
  if (auto found = programs_.find(key); found != programs_.end()) return found->second;
  auto policy = build_for(service, builder->without_pseudo_code());
  if (!policy) return std::unexpected(policy.error());
  programs_.emplace(std::move(key), policy->program);
  return std::move(policy->program);
}

std::string need_for_syscall(const config::Service& service, std::string_view syscall) {
  for (const auto& denied : service.seccomp.deny) {
    if (denied == syscall) return "removing it from seccomp.deny";
  }
  if (is_mq_syscall(syscall)) return "a posix-mq plug or slot granting it";
  if (is_never_allowed(syscall)) return cat("seccomp.allow: ", syscall);
  // Every service has @default: a syscall of it that was refused failed its argument filter
  // (clone with CLONE_NEW*, prlimit64 with a new limit), which only naming it lifts.
  bool in_default = false;
  if (const SyscallGroup* base = find_syscall_group("@default")) {
    for_each_group_syscall(
        *base, [&](std::string_view name) { in_default = in_default || name == syscall; });
  }
  if (in_default) return cat("seccomp.allow: ", syscall);
  // The smallest group that contains it names the narrowest fix.
  const SyscallGroup* best = nullptr;
  std::size_t best_size = 0;
  for (const auto& group : syscall_groups()) {
    if (group.name == "@default") continue;
    bool contains = false;
    std::size_t size = 0;
    for_each_group_syscall(group, [&](std::string_view name) {
      ++size;
      contains = contains || name == syscall;
    });
    if (contains && (best == nullptr || size < best_size)) {
      best = &group;
      best_size = size;
    }
  }
  if (best != nullptr) return cat("seccomp.allow: ", best->name);
  return cat("seccomp.allow: ", syscall);
}

}  // namespace ipcrt::runtime
