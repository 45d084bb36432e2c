// `ipcrt suggest` (SPEC §15): from the calls a run in complain mode saw refused, the smallest
// manifest change that lets the manifest run under `strict`, as a JSON merge patch (RFC 7396)
// with arrays given whole, and one `POINTER: reason` line per patched entry.
//
// Denials are collected structurally (DenialObserver, before the rate limit of the lines) and
// their `need` is read in the few exact forms that mediation writes and a patch can express:
//   "seccomp.allow: NAME"              the service's seccomp.allow, NAME added
//   "removing it from seccomp.deny"    the service's seccomp.deny, the syscall removed
//   "seccomp.architectures: ABI"       the service's seccomp.architectures, ABI added
//   "PERM[+PERM] on SERVICE:SLOT"      that posix-mq slot's permissions, PERM added
//   "resources.queues: N", "resources.queue-bytes: N"   the largest N seen
// Every other need (a capability case, `set "user"`, a missing plug connection) cannot be
// patched and is said so; a call programs recover from (glibc's nscd probe) is not patched;
// what complain mode refused too (runtime/seccomp/complain_limits.hpp) cannot be patched.
// Services whose manifest confinement is not strict get "confinement": null (the default).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "config/manifest.hpp"
#include "runtime/mediation/notification.hpp"

namespace ipcrt::runtime {

// One kind of refused call (service, syscall, need), with the first argument seen and how
// many calls of that kind there were.
struct SeenDenial {
  std::string service;
  std::string syscall;
  std::string argument;
  std::string need;
  bool recoverable = false;
  std::string still_refused;
  std::uint64_t count = 1;
};

// Collects what a DenialObserver is given; safe to call from every mediation thread. A
// hostile service can make unbounded kinds (one per queue name): beyond kMaxKinds they are
// only counted.
class DenialCollector {
 public:
  static constexpr std::size_t kMaxKinds = 1024;

  void add(const DenialEvent& event);
  // In the order first seen.
  [[nodiscard]] std::vector<SeenDenial> denials() const;
  [[nodiscard]] std::uint64_t dropped() const;

 private:
  mutable std::mutex mutex_;
  std::vector<SeenDenial> seen_;
  std::map<std::tuple<std::string, std::string, std::string>, std::size_t> index_;
  std::uint64_t dropped_ = 0;
};

struct Suggestion {
  std::string patch;                 // JSON, "{}" when nothing is needed, ending in '\n'
  std::vector<std::string> reasons;  // "POINTER: reason", one per patched entry, then the rest
  bool empty = true;                 // the patch is {}
};

// `manifest` as written (its confinements, lists and permissions are what the patch extends).
[[nodiscard]] Suggestion suggest_patch(const config::Manifest& manifest,
                                       const std::vector<SeenDenial>& denials);

}  // namespace ipcrt::runtime
