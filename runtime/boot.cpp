// Boot of the plan's resources, with a rollback journal.
#include "runtime/boot.hpp"

#include <sys/resource.h>

#include <algorithm>

#include "common/log.hpp"
#include "common/text.hpp"
#include "platform/mqueue.hpp"
#include "platform/shm.hpp"

namespace ipcrt::runtime {
namespace {

const char* kind_name(BootJournal::Kind kind) {
  switch (kind) {
    case BootJournal::Kind::Queue:
      return "queue";
    case BootJournal::Kind::PrivateDir:
      return "private-dir";
    case BootJournal::Kind::File:
      return "file";
  }
  return "?";
}

const platform::Identity& identity_of(const Identities& identities, const std::string& service) {
  static const platform::Identity kNone{};
  auto it = identities.find(service);
  return it == identities.end() ? kNone : it->second;
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

Status create_queue(const PlannedQueue& queue, const platform::Identity& owner,
                    BootJournal& journal, BootedResources& resources) {
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
                                        attributes->mode, owner)) {
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
    log_info("adopted queue")
        .field("path", queue.path)
        .field("slot", queue.slot)
        .field("messages", attributes->current_messages);
  }
  if (queue.remove_on_stop) resources.remove_on_stop_queues.push_back(queue.path);
  return {};
}

bool shares_owner_access(const platform::Identity& writer, const platform::Identity& owner) {
  if (writer.uid == owner.uid || writer.gid == owner.gid) return true;
  return std::ranges::find(writer.groups, owner.gid) != writer.groups.end();
}

// Access to objects is decided by what each service can see in its private /dev/shm (and
// read-only mounts); the mode only has to let granted services in. Several writers share the
// object through its group (the owner's gid) when they can; world-writable is the fallback for
// writers outside that group, since services run without CAP_DAC_OVERRIDE.
mode_t object_mode(const PlannedShmObject& object, const Identities& identities) {
  if (object.writers.size() <= 1) return 0644;
  const auto& owner = identity_of(identities, object.owner_service);
  for (const auto& writer : object.writers) {
    if (!shares_owner_access(identity_of(identities, writer), owner)) {
      log_warn("object is world-writable: a writer is outside the owner's group")
          .field("path", "/dev/shm/" + object.name)
          .field("writer", writer);
      return 0666;
    }
  }
  return 0664;
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

Status boot_all(const Plan& plan, const Identities& identities, BootJournal& journal,
                BootedResources& resources) {
  if (auto raised = raise_msgqueue_limit(plan, resources); !raised) return raised;
  for (const auto& queue : plan.queues) {
    if (!queue.create) continue;
    auto created =
        create_queue(queue, identity_of(identities, queue.owner_service), journal, resources);
    if (!created) return created;
  }
  for (const auto& object : plan.shm) {
    const auto& owner = identity_of(identities, object.owner_service);
    std::string path = "/dev/shm/" + object.name;
    auto created =
        platform::create_shm_object(path, owner.uid, owner.gid, object_mode(object, identities));
    if (!created) return std::unexpected(created.error());
    if (*created) journal.record(BootJournal::Kind::File, path);
  }
  for (const auto& service : plan.services) {
    if (service.shm_dir.empty()) continue;
    auto created =
        create_private_dir(service, identity_of(identities, service.name), journal, resources);
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

Result<Identities> resolve_identities(const config::Manifest& manifest,
                                      const platform::UserDatabase& users) {
  Identities identities;
  for (const auto& service : manifest.services) {
    auto identity = users.resolve(service.user, service.group);
    if (!identity) {
      return std::unexpected(identity.error().wrap(cat(manifest.file, ": ", service.pointer)));
    }
    identities.emplace(service.name, *identity);
  }
  return identities;
}

Result<Identities> resolve_identities(const config::Manifest& manifest) {
  const bool named = std::ranges::any_of(
      manifest.services, [](const auto& service) { return service.user || service.group; });
  if (!named) return resolve_identities(manifest, platform::UserDatabase({}, {}));
  auto users = platform::UserDatabase::load();
  if (!users) return std::unexpected(users.error());
  return resolve_identities(manifest, *users);
}

Result<BootedResources> boot_resources(const Plan& plan, const Identities& identities) {
  BootJournal journal;
  BootedResources resources;
  auto booted = boot_all(plan, identities, journal, resources);
  if (!booted) {
    journal.rollback();
    return std::unexpected(booted.error());
  }
  return resources;
}

void release_resources(const BootedResources& resources) {
  for (const auto& dir : resources.private_dirs) {
    if (auto removed = platform::remove_private_dir(dir); !removed) {
      log_error("cleanup failed").field("error", removed.error().describe());
    }
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
