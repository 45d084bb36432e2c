#include "runtime/mediation/decision.hpp"

#include <fcntl.h>

#include <climits>

#include "common/text.hpp"
#include "config/manifest.hpp"

namespace ipcrt::runtime {
namespace {

using config::kPermCreate;
using config::kPermDelete;
using config::kPermRead;
using config::kPermWrite;

// The permissions mq_open's access mode needs (SPEC §5); O_ACCMODE 3 is invalid and needs both.
unsigned permissions_for_access(int flags) {
  switch (flags & O_ACCMODE) {
    case O_RDONLY:
      return kPermRead;
    case O_WRONLY:
      return kPermWrite;
    default:
      return kPermRead | kPermWrite;
  }
}

// O_CREAT asks for `create` unless it can only mean an open: without O_EXCL, on a declared
// queue. A pattern names queues that may not exist yet, and O_EXCL insists on a new one.
bool creation_requested(const QueueGrant& grant, int flags) {
  if ((flags & O_CREAT) == 0) return false;
  return (flags & O_EXCL) != 0 || grant.path.ends_with('*');
}

unsigned permissions_for(const QueueGrant& grant, int flags) {
  return permissions_for_access(flags) | (creation_requested(grant, flags) ? kPermCreate : 0U);
}

// A syscall name as the kernel sees it: no '/', not empty, not "." or "..", at most NAME_MAX.
bool plausible_queue_name(const std::string& raw_name) {
  return !raw_name.empty() && raw_name.size() <= NAME_MAX &&
         raw_name.find('/') == std::string::npos && raw_name != "." && raw_name != "..";
}

// `needed(grant)`: the permissions the call needs through that grant.
template <class Needed>
MediationDecision decide(const std::vector<QueueGrant>& grants, const std::string& raw_name,
                         Needed&& needed) {
  MediationDecision decision;
  decision.queue_path = "/" + raw_name;
  const QueueGrant* closest = nullptr;
  if (plausible_queue_name(raw_name)) {
    for (const auto& grant : grants) {
      if (!queue_path_matches(grant.path, decision.queue_path)) continue;
      if ((grant.permissions & needed(grant)) == needed(grant)) {
        decision.allowed = true;
        decision.grant = &grant;
        return decision;
      }
      closest = closest != nullptr ? closest : &grant;
    }
  }
  if (closest != nullptr) {
    decision.need =
        cat(join(config::permission_words(needed(*closest) & ~closest->permissions), "+"), " on ",
            closest->via);
  } else {
    decision.need = cat("a posix-mq plug connected to a slot with path ", decision.queue_path);
  }
  return decision;
}

}  // namespace

bool queue_path_matches(const std::string& grant_path, const std::string& path) {
  if (!grant_path.ends_with('*')) return grant_path == path;
  const std::string_view prefix(grant_path.data(), grant_path.size() - 1);
  return path.size() > prefix.size() && path.starts_with(prefix) &&
         path.find('/', 1) == std::string::npos;
}

MediationDecision decide_mq_open(const std::vector<QueueGrant>& grants, const std::string& raw_name,
                                 int flags) {
  MediationDecision decision = decide(
      grants, raw_name, [flags](const QueueGrant& grant) { return permissions_for(grant, flags); });
  decision.open_existing_only = decision.allowed && (flags & O_CREAT) != 0 &&
                                (decision.grant->permissions & kPermCreate) == 0;
  return decision;
}

MediationDecision decide_mq_unlink(const std::vector<QueueGrant>& grants,
                                   const std::string& raw_name) {
  return decide(grants, raw_name, [](const QueueGrant&) { return unsigned{kPermDelete}; });
}

}  // namespace ipcrt::runtime
