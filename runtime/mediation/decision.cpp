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

// The permissions mq_open's flags need (SPEC §5); O_ACCMODE 3 is invalid and needs everything.
unsigned permissions_for_flags(int flags) {
  unsigned needed = 0;
  switch (flags & O_ACCMODE) {
    case O_RDONLY:
      needed = kPermRead;
      break;
    case O_WRONLY:
      needed = kPermWrite;
      break;
    default:
      needed = kPermRead | kPermWrite;
      break;
  }
  if ((flags & O_CREAT) != 0) needed |= kPermCreate;
  return needed;
}

// A syscall name as the kernel sees it: no '/', not empty, not "." or "..", at most NAME_MAX.
bool plausible_queue_name(const std::string& raw_name) {
  return !raw_name.empty() && raw_name.size() <= NAME_MAX &&
         raw_name.find('/') == std::string::npos && raw_name != "." && raw_name != "..";
}

MediationDecision decide(const std::vector<QueueGrant>& grants, const std::string& raw_name,
                         unsigned needed) {
  MediationDecision decision;
  decision.queue_path = "/" + raw_name;
  const QueueGrant* closest = nullptr;
  if (plausible_queue_name(raw_name)) {
    for (const auto& grant : grants) {
      if (!queue_path_matches(grant.path, decision.queue_path)) continue;
      if ((grant.permissions & needed) == needed) {
        decision.allowed = true;
        decision.grant = &grant;
        return decision;
      }
      closest = closest != nullptr ? closest : &grant;
    }
  }
  if (closest != nullptr) {
    decision.need =
        cat(join(config::permission_words(needed & ~closest->permissions), "+"), " on ",
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
  return decide(grants, raw_name, permissions_for_flags(flags));
}

MediationDecision decide_mq_unlink(const std::vector<QueueGrant>& grants,
                                   const std::string& raw_name) {
  return decide(grants, raw_name, kPermDelete);
}

}  // namespace ipcrt::runtime
