// The boot planner (SPEC §3, §4): queues and shm objects to create or adopt, every kernel limit
// checked before anything is created, the start order, and each service's grants and
// environment.
#include "runtime/plan.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/service_env.hpp"
#include "common/text.hpp"
#include "config/expansion.hpp"
#include "config/parser.hpp"

namespace ipcrt::runtime {
namespace {

using config::Connection;
using config::Diagnostics;
using config::Manifest;
using config::Service;
using config::Slot;

std::string number(std::uint64_t value) {
  return std::to_string(value);
}
std::string number(long value) {
  return std::to_string(value);
}

bool is_pattern(const std::string& path) {
  return path.find('*') != std::string::npos;
}

std::string path_pointer(const Slot& slot, std::size_t index, std::size_t count) {
  return count > 1 ? cat(slot.pointer, "/path/", number(static_cast<long>(index)))
                   : cat(slot.pointer, "/path");
}

const ExistingQueue* find_existing(const KernelState& kernel, const std::string& path) {
  for (const auto& queue : kernel.existing_queues) {
    if (queue.path == path) return &queue;
  }
  return nullptr;
}

// One attribute of one queue against the sysctl. The hard ceilings above every sysctl are
// manifest rules: the parser refuses a value above them (config/parser.cpp).
void check_attribute(const PlannedQueue& queue, const std::string& pointer, const char* key,
                     long value, long sysctl_limit, const char* sysctl, Diagnostics& diagnostics) {
  if (value > sysctl_limit) {
    diagnostics.error(
        pointer, cat("queue ", queue.path, ": ", key, " ", number(value), " exceeds fs.mqueue.",
                     sysctl, " (", number(sysctl_limit), "); raise fs.mqueue.", sysctl,
                     " in the board profile's mqueue values, or lower ", key));
  }
}

class Planner {
 public:
  Planner(const Manifest& manifest, const std::vector<Connection>& connections,
          const KernelState& kernel, Diagnostics& diagnostics, const Identities* identities)
      : manifest_(manifest),
        connections_(connections),
        kernel_(kernel),
        diagnostics_(diagnostics),
        identities_(identities) {
    plan_.manifest_name = manifest.name;
    plan_.connections = connections;
    plan_.kernel = kernel;
    if (identities != nullptr) plan_.identities = *identities;
  }

  void warn(std::string pointer, std::string text) {
    diagnostics_.warning(std::move(pointer), text);
    plan_.warnings.push_back(std::move(text));
  }

  std::optional<Plan> build() {
    plan_queues();
    check_queue_count();
    check_charge();
    plan_shm();
    check_writable_paths();
    check_cgroup_limits();
    plan_services();
    warn_unconfined_neighbours();
    if (diagnostics_.has_errors()) return std::nullopt;
    return std::move(plan_);
  }

 private:
  void plan_queues() {
    const auto& limits = kernel_.limits;
    for (const auto& service : manifest_.services) {
      for (const auto& slot : service.slots) {
        const config::MqSlot* mq = slot.mq();
        if (mq == nullptr) continue;
        for (std::size_t i = 0; i < mq->paths.size(); ++i) {
          PlannedQueue queue;
          queue.path = mq->paths[i];
          // The kernel's own default for a queue created without attributes.
          queue.max_messages =
              mq->max_messages.value_or(std::min(limits.msg_default, limits.msg_max));
          queue.message_size =
              mq->message_size.value_or(std::min(limits.msgsize_default, limits.msgsize_max));
          queue.mode = mq->mode;
          queue.owner_service = service.name;
          queue.slot = cat(service.name, ':', slot.name);
          queue.create = mq->create && !is_pattern(queue.path);
          queue.remove_on_stop = mq->remove_on_stop;
          queue.pointer = path_pointer(slot, i, mq->paths.size());
          check_attribute(
              queue, mq->max_messages ? cat(slot.pointer, "/max-messages") : queue.pointer,
              "max-messages", queue.max_messages, limits.msg_max, "msg_max", diagnostics_);
          check_attribute(
              queue, mq->message_size ? cat(slot.pointer, "/message-size") : queue.pointer,
              "message-size", queue.message_size, limits.msgsize_max, "msgsize_max", diagnostics_);
          if (queue.create) match_existing(queue);
          if (queue.create && !queue.adopt) {
            queue.charged_bytes =
                platform::queue_charge_bytes(queue.max_messages, queue.message_size);
          }
          if (!mq->create && !is_pattern(queue.path) && !find_existing(kernel_, queue.path)) {
            warn(queue.pointer, cat("queue ", queue.path, " (", queue.slot,
                                    ") has create=false and does not exist yet: a service "
                                    "must create it before its consumers open it"));
          }
          plan_.queues.push_back(std::move(queue));
        }
      }
    }
  }

  // SPEC §4.2: an existing queue is adopted only with the same attributes (no silent loss),
  // and only if nobody else owns it or was given more access than the manifest gives (the
  // owner problem first: matching the attributes would not make such a queue safe).
  void match_existing(PlannedQueue& queue) {
    const ExistingQueue* existing = find_existing(kernel_, queue.path);
    if (existing == nullptr) return;
    const bool readable = existing->owner_uid != static_cast<uid_t>(-1);
    const Account* owner =
        identities_ != nullptr ? identities_->find_account(queue.owner_service) : nullptr;
    const auto slot_gid =
        identities_ != nullptr ? identities_->slot_group(queue.slot) : std::nullopt;
    if (owner != nullptr && slot_gid && readable) {
      if (auto refusal = adoption_refusal(queue, existing->owner_uid, existing->owner_gid,
                                          existing->mode, owner->identity.uid, *slot_gid)) {
        diagnostics_.error(queue.pointer, cat(refusal->message, "; ", refusal->hint));
        return;
      }
      queue.repair = needs_repair(queue, existing->owner_uid, existing->owner_gid, existing->mode,
                                  owner->identity.uid, *slot_gid);
    }
    if (existing->max_messages == queue.max_messages &&
        existing->message_size == queue.message_size) {
      queue.adopt = true;
      return;
    }
    const std::string name = queue.path.substr(1);
    const std::string seen = existing->max_messages == 0
                                 ? std::string("attributes the runtime cannot read")
                                 : cat("max-messages ", number(existing->max_messages),
                                       ", message-size ", number(existing->message_size));
    diagnostics_.error(
        queue.pointer,
        cat("queue ", queue.path, " already exists with ", seen,
            " but the manifest wants max-messages ", number(queue.max_messages), ", message-size ",
            number(queue.message_size), "; remove it (rm /dev/mqueue/", name,
            ", losing its messages) or change the manifest to match"));
  }

  void check_queue_count() {
    const long existing = static_cast<long>(kernel_.existing_queues.size());
    long total = existing;
    for (const auto& queue : plan_.queues) {
      if (!queue.create || queue.adopt) continue;
      ++total;
      if (total == kernel_.limits.queues_max + 1) {
        diagnostics_.error(
            queue.pointer,
            cat("queue ", queue.path, ": creating it would make ", number(total), " queues (",
                number(existing), " exist already), above fs.mqueue.queues_max (",
                number(kernel_.limits.queues_max),
                "); raise fs.mqueue.queues_max in the board profile's mqueue values, or remove "
                "unused queues from /dev/mqueue"));
      }
    }
  }

  // The kernel charges a queue to its creator's uid. The runtime cannot see who created an
  // existing queue, so it counts those owned by its own uid plus those it adopts (an earlier
  // boot created them as this uid).
  std::uint64_t existing_charge() const {
    const uid_t self = ::getuid();
    std::uint64_t total = 0;
    for (const auto& existing : kernel_.existing_queues) {
      bool adopted = std::any_of(plan_.queues.begin(), plan_.queues.end(), [&](const auto& queue) {
        return queue.adopt && queue.path == existing.path;
      });
      if ((existing.owner_uid == self || adopted) && existing.max_messages > 0) {
        total += platform::queue_charge_bytes(existing.max_messages, existing.message_size);
      }
    }
    return total;
  }

  void check_charge() {
    const std::uint64_t already = existing_charge();
    std::uint64_t total = already;
    for (const auto& queue : plan_.queues) total += queue.charged_bytes;
    plan_.charged_bytes = total - already;
    plan_.rlimit_msgqueue_needed = total;
    const auto& limits = kernel_.limits;
    if (kernel_.privileged) {
      // CAP_SYS_RESOURCE may raise both limits: `run` raises them, so nothing is refused here.
      if (total > limits.rlimit_msgqueue_hard) {
        warn("", cat("RLIMIT_MSGQUEUE hard limit ", number(limits.rlimit_msgqueue_hard),
                     " is below the ", number(total),
                     " bytes the queues need; run raises it (CAP_SYS_RESOURCE)"));
      }
      return;
    }
    const std::uint64_t limit = limits.rlimit_msgqueue_soft;
    std::uint64_t running = already;
    for (const auto& queue : plan_.queues) {
      if (queue.charged_bytes == 0) continue;
      running += queue.charged_bytes;
      if (running > limit) {
        diagnostics_.error(
            queue.pointer,
            cat("queue ", queue.path, ": its ", number(queue.charged_bytes),
                " bytes bring the total charged to uid ",
                number(static_cast<std::uint64_t>(::getuid())), " to ", number(running),
                ", above RLIMIT_MSGQUEUE (", number(limit),
                " bytes); raise the limit (ulimit -q, or run ipcrt as root so it raises it), or "
                "lower max-messages or message-size"));
        return;
      }
    }
  }

  // SPEC §4a: each writable path exists here and reaches none of the runtime's own files,
  // symlinks resolved (`validate` checked the fixed directories as written).
  void check_writable_paths() {
    const HostPaths& host = kernel_.host;
    config::WritablePathRules rules;
    rules.protected_paths = config::runtime_directories();
    if (host.state_root != config::kStateRoot) {
      rules.protected_paths.push_back({host.state_root, "the runtime's state", true});
    }
    rules.protected_paths.insert(rules.protected_paths.end(), host.protected_paths.begin(),
                                 host.protected_paths.end());
    std::optional<std::string> manifest_path;
    if (host.resolve) manifest_path = host.resolve(manifest_.file);
    if (!manifest_path && manifest_.file.starts_with('/')) manifest_path = manifest_.file;
    if (manifest_path) rules.protected_paths.push_back({*manifest_path, "the manifest"});
    rules.resolve = host.resolve;
    for (const auto& service : manifest_.services) {
      if (service.writable_paths.empty()) continue;
      rules.own_state_directory =
          service.state_directory
              ? config::state_directory_path(host.state_root, manifest_.name, service.name)
              : std::string();
      config::check_writable_paths(service, rules, diagnostics_);
    }
  }

  std::vector<std::string> plug_services_of(const Service& service, const Slot& slot) const {
    std::vector<std::string> services;
    for (const auto& connection : connections_) {
      if (connection.slot_service == service.name && connection.slot == slot.name) {
        services.push_back(connection.plug_service);
      }
    }
    return services;
  }

  void plan_shm() {
    for (const auto& service : manifest_.services) {
      for (const auto& slot : service.slots) {
        const config::ShmSlot* shm = slot.shm();
        if (shm == nullptr) continue;
        const auto plugs = plug_services_of(service, slot);
        auto add = [&](const config::ShmObject& declared, bool plugs_write) {
          PlannedShmObject object;
          object.name = declared.name;
          object.size = declared.size;
          if (declared.is_semaphore())
            object.semaphore_value = declared.semaphore_value.value_or(0);
          object.slot = cat(service.name, ':', slot.name);
          object.owner_service = service.name;
          object.writers.push_back(service.name);
          for (const auto& plug : plugs)
            (plugs_write ? object.writers : object.readers).push_back(plug);
          plan_.shm.push_back(std::move(object));
        };
        for (const auto& object : shm->write) add(object, true);
        for (const auto& object : shm->read) add(object, false);
      }
    }
    plan_.shm_store = shm_store_path(manifest_.name);
    plan_.shm_store_bytes = shm_store_bytes(plan_.shm);
  }

  // SPEC §13: a limit that cannot be applied here is an error naming the fix, never ignored.
  void check_cgroup_limits() {
    for (const auto& service : manifest_.services) {
      for (auto key : service.resources.cgroup_keys()) {
        if (auto refusal = limit_refusal(kernel_.cgroups, key)) {
          diagnostics_.error(cat(service.pointer, "/resources/", key), refusal->message,
                             refusal->hint);
        }
      }
    }
  }

  void plan_services() {
    auto order = start_order();
    if (!order) return;
    const auto deps = dependencies();
    std::vector<int> position_of(order->size(), 0);
    for (std::size_t position = 0; position < order->size(); ++position) {
      position_of[(*order)[position]] = static_cast<int>(position);
    }
    for (std::size_t index : *order) {
      const Service& service = manifest_.services[index];
      PlannedService planned;
      planned.name = service.name;
      planned.start_order = position_of[index];
      planned.type = service.type;
      // The edges the order honours: a provider edge between services that provide to each
      // other is dropped for the one that starts first (document order), so nothing waits in
      // a circle.
      for (const auto& dep : deps[index]) {
        const std::string& name = manifest_.services[dep.on].name;
        if (position_of[dep.on] < planned.start_order &&
            std::find(planned.depends_on.begin(), planned.depends_on.end(), name) ==
                planned.depends_on.end()) {
          planned.depends_on.push_back(name);
        }
      }
      if (service.confinement != config::Confinement::Off) {
        planned.shm_dir = cat(staging_root(manifest_.name), '/', service.name);
      }
      if (kernel_.cgroups.usable) {
        planned.cgroup = cat(kernel_.cgroups.manifest_dir(manifest_.name), "/", service.name);
        planned.cgroup_settings = cgroup_settings(service.resources);
      }
      planned.shm_store = plan_.shm_store;
      if (service.state_directory) {
        planned.state_dir =
            config::state_directory_path(kernel_.host.state_root, manifest_.name, service.name);
      }
      add_grants(service, planned);
      if (service.pass_queues) add_passed_queues(service, planned);
      if (service.confinement == config::Confinement::Off && !planned.shm.empty()) {
        warn(service.pointer + "/confinement",
             cat("service ", service.name, " has confinement off: its /dev/shm is the host's, "
                 "and the shared-memory objects it is granted are not there (they are on "
                 "ipcrt's own tmpfs, ", plan_.shm_store, "); confine it to see them"));
      }
      add_account_variables(service, planned);
      expand_command(service, planned);
      plan_.services.push_back(std::move(planned));
    }
  }

  // A confined service's pid namespace keeps a neighbour of the same user out of its /proc
  // (SPEC §4.3), but a `confinement: off` service sees the host's /proc: running as the same
  // uid, it can open a confined service's /proc/PID/root, descriptors and memory.
  void warn_unconfined_neighbours() {
    for (const auto& loose : manifest_.services) {
      if (loose.confinement != config::Confinement::Off) continue;
      const Account* account = plan_.identities.find_account(loose.name);
      if (account == nullptr) continue;
      for (const auto& other : manifest_.services) {
        const Account* theirs = plan_.identities.find_account(other.name);
        if (other.confinement == config::Confinement::Off || theirs == nullptr ||
            theirs->identity.uid != account->identity.uid) {
          continue;
        }
        warn(loose.pointer + "/confinement",
             cat("services ", loose.name, " (confinement off) and ", other.name,
                 " run as the same user (uid ", account->identity.uid, "): ", loose.name,
                 " can reach ", other.name, "'s processes through /proc (its files, descriptors "
                 "and memory); give them different users, or drop \"user\" from one"));
      }
    }
  }

  // A slot and a plug of one service with the same name share one variable: their values are
  // joined, slot first, without duplicates.
  static void add_paths(PlannedService& service, const std::string& name,
                        const std::vector<std::string>& values) {
    std::string variable = paths_variable(name);
    auto it = std::find_if(service.environment.begin(), service.environment.end(),
                           [&](const auto& entry) { return entry.first == variable; });
    if (it == service.environment.end()) {
      service.environment.emplace_back(variable, join(values, kPathListSeparator));
      return;
    }
    for (const auto& value : values) {
      std::string bounded = cat(kPathListSeparator, it->second, kPathListSeparator);
      if (bounded.find(cat(kPathListSeparator, value, kPathListSeparator)) == std::string::npos) {
        it->second += it->second.empty() ? value : cat(kPathListSeparator, value);
      }
    }
  }

  static std::vector<std::string> shm_names(const config::ShmSlot& shm) {
    std::vector<std::string> names;
    for (const auto* list : {&shm.write, &shm.read}) {
      for (const auto& object : *list) names.push_back(object.name);
    }
    return names;
  }

  void add_grants(const Service& service, PlannedService& planned) const {
    planned.environment.emplace_back(kServiceNameVariable, service.name);
    for (const auto& slot : service.slots) {
      const std::string via = cat(service.name, ':', slot.name);
      if (const auto* mq = slot.mq()) {
        for (const auto& path : mq->paths) {
          planned.queues.push_back({path, config::kPermAll, via, true});
        }
        add_paths(planned, slot.name, mq->paths);
      } else if (const auto* shm = slot.shm()) {
        for (const auto& name : shm_names(*shm)) planned.shm.push_back({name, true, via});
        add_paths(planned, slot.name, shm_names(*shm));
      }
    }
    for (const auto& plug : service.plugs) {
      for (const auto& connection : connections_) {
        if (connection.plug_service != service.name || connection.plug != plug.name) continue;
        if (connection.slot_service.empty()) continue;  // private shm: nothing shared to name
        const Service* provider = manifest_.find_service(connection.slot_service);
        const Slot* slot = provider ? provider->find_slot(connection.slot) : nullptr;
        if (slot == nullptr) continue;
        const std::string via = connection.slot_ref();
        if (const auto* mq = slot->mq()) {
          for (const auto& path : mq->paths) {
            planned.queues.push_back({path, mq->permissions, via, false});
          }
          add_paths(planned, plug.name, mq->paths);
        } else if (const auto* shm = slot->shm()) {
          for (const auto& object : shm->write) planned.shm.push_back({object.name, true, via});
          for (const auto& object : shm->read) planned.shm.push_back({object.name, false, via});
          add_paths(planned, plug.name, shm_names(*shm));
        }
      }
    }
  }

  // SPEC §11 pre-opened queues: each declared path once, in grant order, with the access of
  // all its grants. Patterns name no queue yet, and a create=false slot's queue may not exist
  // when the service starts: both stay reachable by name (mq_open, mediated), as do queues
  // granted neither read nor write.
  void add_passed_queues(const Service& service, PlannedService& planned) {
    for (const auto& grant : planned.queues) {
      if (is_pattern(grant.path)) continue;
      const auto queue = std::find_if(plan_.queues.begin(), plan_.queues.end(),
                                      [&](const PlannedQueue& q) { return q.path == grant.path; });
      if (queue == plan_.queues.end() || !queue->create) continue;
      const unsigned permissions = grant.owner ? config::kPermAll : grant.permissions;
      auto passed = std::find_if(planned.passed_queues.begin(), planned.passed_queues.end(),
                                 [&](const PassedQueue& p) { return p.path == grant.path; });
      if (passed == planned.passed_queues.end()) {
        planned.passed_queues.push_back(
            {kFirstPassedFd + static_cast<int>(planned.passed_queues.size()), grant.path, 0, 0});
        passed = planned.passed_queues.end() - 1;
      }
      passed->permissions |= permissions;
      const bool read = (passed->permissions & config::kPermRead) != 0U;
      const bool write = (passed->permissions & config::kPermWrite) != 0U;
      passed->access = read && write ? O_RDWR : write ? O_WRONLY : O_RDONLY;
    }
    // Neither read nor write (create, delete or open only): nothing to pass. An O_RDONLY
    // descriptor would be readable through another grant's mq_timedreceive (the filter
    // cannot tell descriptors apart), which mediation never allows either.
    std::erase_if(planned.passed_queues, [](const PassedQueue& passed) {
      return (passed.permissions & (config::kPermRead | config::kPermWrite)) == 0U;
    });
    for (std::size_t i = 0; i < planned.passed_queues.size(); ++i) {
      planned.passed_queues[i].fd = kFirstPassedFd + static_cast<int>(i);
    }
    if (planned.passed_queues.empty()) {
      if (!planned.queues.empty()) {
        warn(service.pointer + "/pass-queues",
             cat("service ", service.name,
                 " has \"pass-queues\" but none of its queues can be passed (patterns, "
                 "queues of slots with \"create\": false and queues granted neither read nor "
                 "write are opened by name)"));
      }
    }
    // LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID are the launch's (prepare_launch), as the
    // other protocol variables: not in `environment`, not expandable in `command`.
  }

  // SPEC §4.3: what programs expect of a login (a shell's ~, Python's getpass), unless the
  // manifest says otherwise.
  void add_account_variables(const Service& service, PlannedService& planned) const {
    const Account* account =
        identities_ != nullptr ? identities_->find_account(service.name) : nullptr;
    if (account == nullptr) return;
    const std::pair<const char*, const std::string&> variables[] = {{"HOME", account->home},
                                                                    {"USER", account->user_name},
                                                                    {"LOGNAME", account->user_name},
                                                                    {"SHELL", account->shell}};
    for (const auto& [key, value] : variables) {
      const bool set_by_manifest =
          std::any_of(service.environment.begin(), service.environment.end(),
                      [&](const auto& entry) { return entry.first == key; });
      if (!set_by_manifest) planned.environment.emplace_back(key, value);
    }
  }

  // SPEC §15: an undefined name is a plan error at its argument. Without identities the
  // account variables are not known yet, so nothing is expanded (or refused).
  void expand_command(const Service& service, PlannedService& planned) const {
    if (identities_ == nullptr) return;
    const auto environment = service_environment(service, planned);
    auto expanded = config::expand_arguments(service.command, environment);
    if (expanded) {
      planned.command = std::move(*expanded);
      return;
    }
    for (const auto& problem : expanded.error()) {
      diagnostics_.error(
          cat(service.pointer, "/command/", number(static_cast<long>(problem.argument))),
          problem.error.message, problem.error.hint);
    }
  }

  struct Dependency {
    std::size_t on;
    bool hard;  // `after`; providers are soft: mutual providers start in document order
  };

  std::vector<std::vector<Dependency>> dependencies() const {
    const auto& services = manifest_.services;
    auto index_of = [&](const std::string& name) -> std::optional<std::size_t> {
      for (std::size_t i = 0; i < services.size(); ++i) {
        if (services[i].name == name) return i;
      }
      return std::nullopt;
    };
    std::vector<std::vector<Dependency>> deps(services.size());
    for (std::size_t i = 0; i < services.size(); ++i) {
      for (const auto& name : services[i].after) {
        if (auto on = index_of(name)) deps[i].push_back({*on, true});
      }
      for (const auto& connection : connections_) {
        if (connection.plug_service != services[i].name) continue;
        auto on = index_of(connection.slot_service);
        if (on && *on != i) deps[i].push_back({*on, false});
      }
    }
    return deps;
  }

  // Kahn's algorithm, lowest document index first. When only provider edges block (services
  // that provide to each other), the first such service in document order starts; a cycle of
  // `after` entries is an error.
  std::optional<std::vector<std::size_t>> start_order() {
    const auto deps = dependencies();
    const std::size_t count = deps.size();
    std::vector<bool> started(count, false);
    std::vector<std::size_t> order;
    auto ready = [&](std::size_t i, bool hard_only) {
      return std::all_of(deps[i].begin(), deps[i].end(), [&](const Dependency& dep) {
        return started[dep.on] || (hard_only && !dep.hard);
      });
    };
    while (order.size() < count) {
      std::optional<std::size_t> next;
      for (bool hard_only : {false, true}) {
        for (std::size_t i = 0; i < count && !next; ++i) {
          if (!started[i] && ready(i, hard_only)) next = i;
        }
        if (next) {
          if (hard_only) {
            warn(manifest_.services[*next].pointer,
                 cat("services provide slots to each other; ", manifest_.services[*next].name,
                     " starts first (document order)"));
          }
          break;
        }
      }
      if (!next) {
        // Only `after` edges block here: the manifest rule names the cycle.
        config::check_after_cycles(manifest_, diagnostics_);
        return std::nullopt;
      }
      started[*next] = true;
      order.push_back(*next);
    }
    return order;
  }

  const Manifest& manifest_;
  const std::vector<Connection>& connections_;
  const KernelState& kernel_;
  Diagnostics& diagnostics_;
  const Identities* identities_;  // nullptr: owners of existing queues are not checked
  Plan plan_;
};

}  // namespace

std::string shm_store_path(std::string_view manifest_name) {
  return cat(config::kRunDirectory, '/', manifest_name, "/shm");
}

std::string staging_root(std::string_view manifest_name) {
  return cat(config::kRunDirectory, '/', manifest_name, "/staging");
}

std::uint64_t shm_store_bytes(const std::vector<PlannedShmObject>& objects) {
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  std::uint64_t bytes = kShmStoreMargin;
  for (const auto& object : objects) {
    const std::uint64_t size = object.semaphore_value ? 1 : object.size.value_or(0);
    const std::uint64_t rounded = (size + page - 1) / page * page;  // sizes fit in an off_t
    bytes = rounded > UINT64_MAX - bytes ? UINT64_MAX : bytes + rounded;
  }
  return bytes;
}

std::optional<Plan> make_plan(const Manifest& manifest, const std::vector<Connection>& connections,
                              const KernelState& kernel, Diagnostics& diagnostics,
                              const Identities* identities) {
  return Planner(manifest, connections, kernel, diagnostics, identities).build();
}

std::optional<Error> adoption_refusal(const PlannedQueue& queue, uid_t uid, gid_t gid, mode_t mode,
                                      uid_t owner_uid, gid_t slot_gid) {
  // Root is the runtime, or was before services got users of their own.
  if (uid == owner_uid || uid == 0) return std::nullopt;
  return Error{
      cat("queue ", queue.path, " already exists with owner uid ", uid, ", gid ", gid, ", mode ",
          octal_mode(mode & 07777), ", but slot ", queue.slot, " needs owner uid ", owner_uid,
          " (service ", queue.owner_service, "), gid ", slot_gid, ", mode ", octal_mode(queue.mode),
          ": another user owns it, who could read or inject messages and change its "
          "mode again"),
      0,
      cat("remove it (rm /dev/mqueue/", queue.path.substr(1),
          ") and run again: the runtime will create it with that owner and mode")};
}

const PassedQueue* passed_queue(const PlannedService& service, const std::string& path) {
  for (const auto& passed : service.passed_queues) {
    if (passed.path == path) return &passed;
  }
  return nullptr;
}

const char* access_mode_name(int access) {
  switch (access & O_ACCMODE) {
    case O_WRONLY:
      return "O_WRONLY";
    case O_RDWR:
      return "O_RDWR";
    default:
      return "O_RDONLY";
  }
}

bool needs_repair(const PlannedQueue& queue, uid_t uid, gid_t gid, mode_t mode, uid_t owner_uid,
                  gid_t slot_gid) {
  return uid != owner_uid || gid != slot_gid || (mode & 07777) != queue.mode;
}

std::vector<std::pair<std::string, std::string>> service_environment(
    const config::Service& service, const PlannedService& planned) {
  std::vector<std::pair<std::string, std::string>> environment;
  const auto sets = [&](const std::string& key) {
    return std::any_of(service.environment.begin(), service.environment.end(),
                       [&](const auto& entry) { return entry.first == key; });
  };
  if (!sets("PATH")) environment.emplace_back("PATH", kDefaultPath);
  for (const auto& entry : service.environment) environment.push_back(entry);
  for (const auto& entry : planned.environment) {
    std::erase_if(environment, [&](const auto& existing) { return existing.first == entry.first; });
    environment.push_back(entry);
  }
  return environment;
}

}  // namespace ipcrt::runtime
