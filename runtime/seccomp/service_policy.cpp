// A service's seccomp policy, read top to bottom: the base set, the manifest's additions, the
// posix-mq grants, the manifest's removals, then the compile.
#include "runtime/seccomp/service_policy.hpp"

#include <seccomp.h>

#include <algorithm>
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
    builder.mediate_shm(shm_mediated_syscalls(service, planned));
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
  if (service.type == config::ServiceType::Notify) builder.allow_sd_notify();
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

namespace {

// Appends `text` length-prefixed, so that no two lists of names make the same key.
void add_field(std::string& key, std::string_view text) {
  key += cat(text.size(), ':', text, ' ');
}

void add_list(std::string& key, std::string_view label, const std::vector<std::string>& items) {
  key += cat(label, '=', items.size(), '[');
  for (const auto& item : items) add_field(key, item);
  key += "] ";
}

}  // namespace

std::string filter_key(const config::Service& service, const PlannedService& planned,
                       bool mediate) {
  // What service_builder() makes of the grants: the mq_* syscalls follow the union of every
  // grant's permissions, mq_open and its flag filter the union over the queues not passed
  // open. Queue names and reasons are in no program.
  unsigned all = 0;
  unsigned opened = 0;
  bool granted = false;
  bool opens = false;
  bool passed = false;
  for (const auto& grant : planned.queues) {
    const unsigned permissions = grant.owner ? config::kPermAll : grant.permissions;
    granted = true;
    all |= permissions;
    if (passed_queue(planned, grant.path) != nullptr) {
      passed = true;
    } else {
      opens = true;
      opened |= permissions;
    }
  }
  const char* action = "eperm";
  if (mediate) {
    action = "notify";
  } else if (service.confinement == config::Confinement::Complain) {
    action = "log";
  }
  std::string key = cat("filter-key-1 action=", action);
  if (mediate) {
    key += " shm-routed=";
    for (const auto& name : shm_mediated_syscalls(service, planned)) add_field(key, name);
  }
  key +=
      cat(" mq=", granted ? 1 : 0, '/', all, '/', opens ? 1 : 0, '/', opened, '/', passed ? 1 : 0,
          " sd-notify=", service.type == config::ServiceType::Notify ? 1 : 0, ' ');
  add_list(key, "abis", service.seccomp.architectures);
  add_list(key, "allow", service.seccomp.allow);
  add_list(key, "deny", service.seccomp.deny);
  return key;
}

std::string policy_fingerprint(const config::Service& service, const PlannedService& planned,
                               bool mediate) {
  auto builder = service_builder(service, planned, "native", mediate);
  return builder ? builder->fingerprint() : std::string();
}

Result<platform::BpfProgram> FilterCache::filter_for(const config::Service& service,
                                                     const PlannedService& planned, bool mediate) {
  if (service.confinement == config::Confinement::Off) return platform::BpfProgram{};
  // The key from the builder's inputs: building the whole policy (every group's syscalls
  // with their reasons) only to find it compiled already cost a fifth of the supervisor's
  // time per service at the boot of 256 (issue 21). Equal inputs make equal builders, so a
  // hit never skips an error either: a failed build is not kept.
  std::string key = filter_key(service, planned, mediate);
  if (auto found = programs_.find(key); found != programs_.end()) return found->second;
  if (store_ != nullptr) {
    if (auto stored = store_->load(key)) {
      programs_.emplace(std::move(key), *stored);
      return std::move(*stored);
    }
  }
  auto builder = service_builder(service, planned, "native", mediate);
  if (!builder) return std::unexpected(builder.error());
  auto policy = build_for(service, builder->without_pseudo_code());
  if (!policy) return std::unexpected(policy.error());
  ++compiled_;
  if (store_ != nullptr) store_->save(key, policy->program);
  programs_.emplace(std::move(key), policy->program);
  return std::move(policy->program);
}

std::vector<std::string> shm_mediated_syscalls(const config::Service& service,
                                               const PlannedService& planned) {
  std::vector<std::string> names;
  const bool writes = std::any_of(planned.shm.begin(), planned.shm.end(),
                                  [](const ShmGrant& grant) { return grant.writable; });
  if (!writes || service.confinement == config::Confinement::Off) return names;
  // All four are in @default (@file-system), which every service has: only seccomp.deny
  // takes one away.
  for (const char* name : {"open", "openat", "unlink", "unlinkat"}) {
    if (std::find(service.seccomp.deny.begin(), service.seccomp.deny.end(), name) ==
        service.seccomp.deny.end()) {
      names.emplace_back(name);
    }
  }
  return names;
}

namespace {

// The permission an mq_* syscall needs on a grant; 0 for those any grant gives.
unsigned mq_permission(std::string_view syscall) {
  if (syscall.starts_with("mq_timedsend")) return config::kPermWrite;
  if (syscall.starts_with("mq_timedreceive") || syscall == "mq_notify") return config::kPermRead;
  if (syscall == "mq_unlink") return config::kPermDelete;
  return 0;
}

}  // namespace

std::string need_for_syscall(const config::Service& service, std::string_view syscall,
                             const std::vector<QueueGrant>& grants) {
  for (const auto& denied : service.seccomp.deny) {
    if (denied == syscall) return "removing it from seccomp.deny";
  }
  if (is_mq_syscall(syscall)) {
    // The filter cannot see which queue the call is on: named only where one slot can be
    // meant (the mq_open before it names the queue either way).
    const unsigned needed = mq_permission(syscall);
    std::vector<std::string> lacking;
    for (const auto& grant : grants) {
      if (needed == 0 || grant.owner || (grant.permissions & needed) != 0) continue;
      if (std::find(lacking.begin(), lacking.end(), grant.via) == lacking.end()) {
        lacking.push_back(grant.via);
      }
    }
    if (lacking.size() == 1) {
      return cat(config::permission_word(static_cast<config::Permission>(needed)), " on ",
                 lacking.front());
    }
    return "a posix-mq plug or slot granting it";
  }
  // The syscall itself: a @default one that was refused failed its argument filter (clone
  // with CLONE_NEW*, prlimit64 with a new limit), which only naming it lifts; any other is
  // named rather than the smallest group that holds it, since a group brings its neighbours
  // (@process's kill and fork with setpriority), wider than the denial needs (SPEC §15). A
  // program that needs more of a group shows each call as a denial of its own kind.
  return cat("seccomp.allow: ", syscall);
}

}  // namespace ipcrt::runtime
