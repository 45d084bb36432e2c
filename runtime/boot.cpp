// Boot of the plan's resources, with a rollback journal.
#include "runtime/boot.hpp"

#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <set>

#include "common/log.hpp"
#include "common/text.hpp"
#include "platform/mount.hpp"
#include "platform/mqueue.hpp"
#include "platform/shm.hpp"
#include "platform/shm_store.hpp"
#include "runtime/gateway_sandbox.hpp"

namespace ipcrt::runtime {
namespace {

// rmdir that leaves a directory still holding something (another run's, or a leftover).
bool remove_if_empty(const std::string& path) {
  return ::rmdir(path.c_str()) == 0;
}

// The staging tmpfs: 16 MiB at most (two small account files per service; the rest are
// mount points), root's 0700, no devices, programs or set-id bits.
constexpr const char* kStagingOptions = "size=16777216,mode=0700";

// The staging tmpfs off the tree: what is on it (every staging directory) goes with it. Not
// mounted any more (EINVAL) or gone (ENOENT) counts as done.
Status detach_staging(const std::string& root) {
  if (::umount2(root.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0 && errno != EINVAL &&
      errno != ENOENT) {
    return fail_errno(cat("unmount ", root));
  }
  return {};
}

Status unmount_staging(const std::string& root) {
  if (auto detached = detach_staging(root); !detached) return detached;
  if (::rmdir(root.c_str()) != 0 && errno != ENOENT) return fail_errno(cat("rmdir ", root));
  return {};
}

const char* kind_name(BootJournal::Kind kind) {
  switch (kind) {
    case BootJournal::Kind::Queue:
      return "queue";
    case BootJournal::Kind::PrivateDir:
      return "private-dir";
    case BootJournal::Kind::File:
      return "file";
    case BootJournal::Kind::ShmStore:
      return "shm-store";
    case BootJournal::Kind::Directory:
      return "directory";
    case BootJournal::Kind::StagingMount:
      return "staging";
  }
  return "?";
}

// Who a slot's queues and objects belong to: its service's uid and the slot's own group.
struct ResourceOwner {
  uid_t uid = 0;
  gid_t gid = 0;
};

// A plan without identities would have everything owned by root: refused rather than guessed.
Result<const Account*> account_of(const Plan& plan, const std::string& service) {
  const Account* account = plan.identities.find_account(service);
  if (account == nullptr) {
    return fail(cat("no user resolved for service ", service),
                "plan with identities (allocate_identities) before booting");
  }
  return account;
}

Result<ResourceOwner> owner_of(const Plan& plan, const std::string& service,
                               const std::string& slot) {
  auto account = account_of(plan, service);
  if (!account) return std::unexpected(account.error());
  auto gid = plan.identities.slot_group(slot);
  if (!gid) {
    return fail(cat("no group resolved for slot ", slot),
                "plan with identities (allocate_identities) before booting");
  }
  return ResourceOwner{(*account)->identity.uid, *gid};
}

// RLIMIT_MSGQUEUE is charged to the runtime's user when it creates a queue (SPEC §3).
Status raise_msgqueue_limit(const Plan& plan, BootedResources& resources) {
  rlimit original{};
  if (::getrlimit(RLIMIT_MSGQUEUE, &original) != 0) return fail_errno("getrlimit RLIMIT_MSGQUEUE");
  resources.service_default_rlimits.push_back({RLIMIT_MSGQUEUE, original});
  if (!plan.kernel.privileged || plan.charged_bytes == 0) return {};
  if (original.rlim_cur == RLIM_INFINITY) return {};
  // Queues already charged to this user are unknown; infinity leaves no guesswork, and the
  // services get the original limit back.
  return platform::set_msgqueue_rlimit(RLIM_INFINITY, RLIM_INFINITY);
}

// An adopted queue whose owner is acceptable (adoption_refusal) gets the manifest's owner,
// group and mode back: a service may have changed them (SPEC §4.2).
Status repair_queue(const PlannedQueue& queue, const ResourceOwner& owner, int fd,
                    const platform::QueueAttributes& found) {
  if (!needs_repair(queue, found.owner_uid, found.owner_gid, found.mode, owner.uid, owner.gid)) {
    return {};
  }
  // Owner first: a chown clears set-id bits, the mode is then exact.
  if (auto owned = platform::set_queue_owner(fd, owner.uid, owner.gid); !owned) return owned;
  if (auto moded = platform::set_queue_mode(fd, queue.mode); !moded) return moded;
  log_warn("put back queue owner and mode")
      .field("path", queue.path)
      .field("found-owner", cat(found.owner_uid, ':', found.owner_gid))
      .field("owner", cat(owner.uid, ':', owner.gid));
  return {};
}

Status create_queue(const PlannedQueue& queue, const ResourceOwner& owner, BootJournal& journal,
                    BootedResources& resources) {
  auto opened = platform::create_or_open_queue(queue.path, queue.max_messages, queue.message_size,
                                               queue.mode);
  if (!opened) return std::unexpected(opened.error());
  if (opened->created) {
    journal.record(BootJournal::Kind::Queue, queue.path);
    if (auto owned = platform::set_queue_owner(opened->fd.get(), owner.uid, owner.gid); !owned) {
      return owned;
    }
    log_info("created queue").field("path", queue.path).field("slot", queue.slot);
  } else {
    auto attributes = platform::queue_attributes(opened->fd.get());
    if (!attributes) return std::unexpected(attributes.error());
    // Checked on the descriptor boot would keep using: `plan` saw the name, which may have
    // been replaced since.
    if (auto refusal = adoption_refusal(queue, attributes->owner_uid, attributes->owner_gid,
                                        attributes->mode, owner.uid, owner.gid)) {
      return std::unexpected(std::move(*refusal));
    }
    if (attributes->max_messages != queue.max_messages ||
        attributes->message_size != queue.message_size) {
      return fail(
          cat("queue ", queue.path, " already exists with max-messages=", attributes->max_messages,
              " message-size=", attributes->message_size, ", the manifest asks for max-messages=",
              queue.max_messages, " message-size=", queue.message_size),
          cat("drain and remove it (rm /dev/mqueue", queue.path, ") or change ", queue.slot,
              " to match; it is kept to not lose messages"));
    }
    if (auto repaired = repair_queue(queue, owner, opened->fd.get(), *attributes); !repaired) {
      return repaired;
    }
    log_info("adopted queue")
        .field("path", queue.path)
        .field("slot", queue.slot)
        .field("messages", attributes->current_messages);
  }
  if (queue.remove_on_stop) resources.remove_on_stop_queues.push_back(queue.path);
  return {};
}

// Every service granted an object has the slot's group (SPEC §4.3), so the group bits let
// exactly them in: read for all of them, write when plugs may write. Which objects a service
// sees at all, and read-only, is decided by its private /dev/shm; the mode is the second wall.
mode_t object_mode(const PlannedShmObject& object) {
  return object.writers.size() > 1 ? 0660 : 0640;
}

// The parents of the services' staging directories: /run/ipcrt (0755) and the manifest's
// directory and its staging/ (root's 0700), never symlinks (SPEC §4.2's wall against other
// users, who could otherwise plant a directory a service's /dev is built in).
Status make_staging_root(const Plan& plan, BootJournal& journal, BootedResources& resources) {
  const std::string root = staging_root(plan.manifest_name);
  const std::string manifest_dir = root.substr(0, root.find_last_of('/'));
  if (auto made = platform::ensure_owned_directory(std::string(config::kRunDirectory), 0755, false);
      !made) {
    return made;
  }
  for (const std::string& dir : {manifest_dir, root}) {
    if (auto made = platform::ensure_owned_directory(dir, 0700, true); !made) return made;
  }
  journal.record(BootJournal::Kind::Directory, manifest_dir);
  // A tmpfs of its own, so that the end of the run removes every staging directory at once (on
  // a /run on disk, as in containers, each rmdir costs milliseconds). One a SIGKILLed runtime
  // left is dropped first: only root could mount there, and its services are gone.
  if (platform::is_mount_point(root) && ::umount2(root.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0) {
    return fail_errno(cat("unmount the staging tmpfs left at ", root));
  }
  if (::mount("ipcrt-staging", root.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              kStagingOptions) != 0) {
    return fail_errno(cat("mount a tmpfs on ", root), errno,
                      "run needs CAP_SYS_ADMIN (root) and CONFIG_TMPFS");
  }
  journal.record(BootJournal::Kind::StagingMount, root);
  resources.staging_root = root;
  return {};
}

Status create_private_dir(const PlannedService& service, const platform::Identity& identity,
                          BootJournal& journal, BootedResources& resources) {
  auto created = platform::create_private_dir(service.shm_dir);
  if (!created) return std::unexpected(created.error());
  if (*created) journal.record(BootJournal::Kind::PrivateDir, service.shm_dir);
  resources.private_dirs.push_back(service.shm_dir);
  auto dir = platform::open_private_dir(service.shm_dir);
  if (!dir) return std::unexpected(dir.error());
  // Mount points for the granted objects; removed with the directory.
  for (const auto& grant : service.shm) {
    auto placeholder = platform::create_placeholder(dir->get(), service.shm_dir, grant.name,
                                                    identity.uid, identity.gid, 0600);
    if (!placeholder) return placeholder;
  }
  return {};
}

// The objects' own tmpfs (SPEC §4.2): mounted now, or adopted from a runtime of this manifest
// that did not get to stop (killed, crashed), contents and all; what that one declared and
// this manifest does not is removed. Without objects, such a leftover is just unmounted.
Status mount_store(const Plan& plan, const std::string& store, BootJournal& journal,
                   BootedResources& resources) {
  if (plan.shm.empty()) {
    if (!platform::shm_store_mounted(store)) return {};
    if (auto removed = platform::unmount_shm_store(store); !removed) return removed;
    log_info("removed leftover shm store").field("path", store);
    return {};
  }
  std::set<std::string> declared;
  for (const auto& object : plan.shm) declared.insert(object.name);
  const std::uint64_t bytes =
      plan.shm_store_bytes != 0 ? plan.shm_store_bytes : shm_store_bytes(plan.shm);
  // Inodes: the root and each object; nothing else is ever made there.
  const std::string options = platform::shm_store_options(bytes, declared.size() + 1);
  auto mounted = platform::mount_shm_store(store, options, declared);
  if (!mounted) return std::unexpected(mounted.error());
  if (mounted->mounted) {
    journal.record(BootJournal::Kind::ShmStore, store);
  } else {
    log_info("adopted shm store")
        .field("path", store)
        .field("bytes", bytes)
        .field("removed", mounted->removed);
  }
  resources.shm_store = store;
  return {};
}

Status boot_all(const Plan& plan, BootJournal& journal, BootedResources& resources) {
  if (auto raised = raise_msgqueue_limit(plan, resources); !raised) return raised;
  for (const auto& queue : plan.queues) {
    if (!queue.create) continue;
    auto owner = owner_of(plan, queue.owner_service, queue.slot);
    if (!owner) return std::unexpected(owner.error());
    if (auto created = create_queue(queue, *owner, journal, resources); !created) return created;
  }
  const std::string store =
      plan.shm_store.empty() ? shm_store_path(plan.manifest_name) : plan.shm_store;
  if (auto mounted = mount_store(plan, store, journal, resources); !mounted) return mounted;
  for (const auto& object : plan.shm) {
    auto owner = owner_of(plan, object.owner_service, object.slot);
    if (!owner) return std::unexpected(owner.error());
    std::string path = cat(store, '/', object.name);
    auto created = platform::create_shm_object(path, owner->uid, owner->gid, object_mode(object));
    if (!created) return std::unexpected(created.error());
    if (*created) journal.record(BootJournal::Kind::File, path);
    // Usable by ordinary programs at once (SPEC §2.3): mmap needs the size, sem_open without
    // O_CREAT an initialised semaphore, reset at every run.
    if (object.semaphore_value) {
      if (auto ready = platform::init_semaphore(path, *object.semaphore_value); !ready) return ready;
    } else if (object.size) {
      if (auto grown = platform::grow_shm_object(path, *object.size); !grown) return grown;
    }
  }
  // SPEC §4a: kept across runs, so never rolled back; re-owned when the service's uid changed.
  for (const auto& service : plan.services) {
    if (service.state_dir.empty()) continue;
    auto account = account_of(plan, service.name);
    if (!account) return std::unexpected(account.error());
    const auto& identity = (*account)->identity;
    if (auto made = ensure_state_directory(service.state_dir, identity.uid, identity.gid); !made)
      return made;
  }
  if (std::any_of(plan.services.begin(), plan.services.end(),
                  [](const PlannedService& service) { return !service.shm_dir.empty(); })) {
    if (auto made = make_staging_root(plan, journal, resources); !made) return made;
  }
  for (const auto& service : plan.services) {
    if (service.shm_dir.empty()) continue;
    auto account = account_of(plan, service.name);
    if (!account) return std::unexpected(account.error());
    auto created = create_private_dir(service, (*account)->identity, journal, resources);
    if (!created) return created;
  }
  return {};
}

}  // namespace

void BootJournal::rollback() {
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    Status undone;
    switch (it->kind) {
      case Kind::Queue:
        undone = platform::unlink_queue(it->path);
        break;
      case Kind::PrivateDir:
        undone = platform::remove_private_dir(it->path);
        break;
      case Kind::File:
        undone = platform::remove_file(it->path);
        break;
      case Kind::ShmStore:
        undone = platform::unmount_shm_store(it->path);
        break;
      case Kind::Directory:
        if (!remove_if_empty(it->path)) continue;  // holds what it held before this boot
        break;
      case Kind::StagingMount:
        undone = unmount_staging(it->path);
        break;
    }
    if (undone) {
      log_info("rolled back").field("kind", kind_name(it->kind)).field("path", it->path);
    } else {
      log_error("rollback failed")
          .field("kind", kind_name(it->kind))
          .field("error", undone.error().describe());
    }
  }
  entries_.clear();
}

Result<BootedResources> boot_resources(const Plan& plan) {
  BootJournal journal;
  BootedResources resources;
  auto booted = boot_all(plan, journal, resources);
  if (!booted) {
    journal.rollback();
    return std::unexpected(booted.error());
  }
  return resources;
}

Status boot_queue(const Plan& plan, const PlannedQueue& queue, BootedResources& resources) {
  auto owner = owner_of(plan, queue.owner_service, queue.slot);
  if (!owner) return std::unexpected(owner.error());
  BootJournal journal;
  if (auto created = create_queue(queue, *owner, journal, resources); !created) {
    journal.rollback();
    return created;
  }
  return {};
}

Status boot_private_dir(const Plan& plan, const PlannedService& service,
                        BootedResources& resources) {
  // SPEC §4a: a service a reload adds (or gives another user) has its state directory too.
  if (!service.state_dir.empty()) {
    auto owner = account_of(plan, service.name);
    if (!owner) return std::unexpected(owner.error());
    const auto& identity = (*owner)->identity;
    if (auto made = ensure_state_directory(service.state_dir, identity.uid, identity.gid); !made)
      return made;
  }
  if (service.shm_dir.empty()) return {};
  if (std::find(resources.private_dirs.begin(), resources.private_dirs.end(), service.shm_dir) !=
      resources.private_dirs.end()) {
    std::erase(resources.private_dirs, service.shm_dir);
    (void)platform::remove_private_dir(service.shm_dir);  // made again with its grants
  }
  auto account = account_of(plan, service.name);
  if (!account) return std::unexpected(account.error());
  BootJournal journal;
  if (auto created = create_private_dir(service, (*account)->identity, journal, resources);
      !created) {
    journal.rollback();
    return created;
  }
  return {};
}

void release_private_dir(BootedResources& resources, const std::string& dir) {
  auto found = std::find(resources.private_dirs.begin(), resources.private_dirs.end(), dir);
  if (found == resources.private_dirs.end()) return;
  resources.private_dirs.erase(found);
  if (auto removed = platform::remove_private_dir(dir); !removed) {
    log_error("cleanup failed").field("error", removed.error().describe());
  }
}

bool on_staging_tmpfs(const BootedResources& resources, const std::string& dir) {
  const std::string& root = resources.staging_root;
  return !root.empty() && dir.size() > root.size() && dir.starts_with(root) &&
         dir[root.size()] == '/';
}

void release_resources(const BootedResources& resources) {
  // The staging tmpfs first: its unmount takes every staging directory on it at once, where
  // removing each by name costs an open, a listing, unlinks and an rmdir per service. Only if
  // it stays mounted are they removed one by one (never after the unmount: the names would then
  // be the covered directory's, which is not the run's).
  bool detached = false;
  if (!resources.staging_root.empty()) {
    auto unmounted = detach_staging(resources.staging_root);
    detached = unmounted.has_value();
    if (!detached) log_error("cleanup failed").field("error", unmounted.error().describe());
  }
  for (const auto& dir : resources.private_dirs) {
    if (detached && on_staging_tmpfs(resources, dir)) continue;
    if (auto removed = platform::remove_private_dir(dir); !removed) {
      log_error("cleanup failed").field("error", removed.error().describe());
    }
  }
  if (detached && ::rmdir(resources.staging_root.c_str()) != 0 && errno != ENOENT) {
    log_error("cleanup failed")
        .field("error", fail_errno(cat("rmdir ", resources.staging_root)).error().describe());
  }
  if (!resources.shm_store.empty()) {
    if (auto removed = platform::unmount_shm_store(resources.shm_store); !removed) {
      log_error("cleanup failed").field("error", removed.error().describe());
    }
  }
  if (!resources.staging_root.empty()) {
    (void)remove_if_empty(resources.staging_root.substr(0, resources.staging_root.rfind('/')));
  }
  for (const auto& path : resources.remove_on_stop_queues) {
    if (auto removed = platform::unlink_queue(path); removed) {
      log_info("removed queue").field("path", path);
    } else {
      log_error("cleanup failed").field("error", removed.error().describe());
    }
  }
}

}  // namespace ipcrt::runtime
