// The kernel's view of the manifest's queues for `ipcrt queues` and metrics (SPEC §10): their
// attributes and depth (mq_getattr on a descriptor of our own, which changes nothing), and the
// bytes queued now, which only the mqueue filesystem tells (its QSIZE). /dev/mqueue may not be
// mounted: the census then uses a detached mount of its own (fsmount, never attached to any
// mount point), or reports no bytes where even that is impossible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "platform/fd.hpp"
#include "platform/mqueue.hpp"

namespace ipcrt::runtime::control {

struct QueueObservation {
  std::optional<platform::QueueAttributes> attributes;  // none: the queue cannot be opened
  std::optional<std::uint64_t> bytes;                   // QSIZE
  std::string problem;                                  // why attributes (or bytes) are missing
};

class QueueCensus {
 public:
  // Finds or makes a view of the mqueue filesystem; without one, bytes stay unknown.
  QueueCensus();

  [[nodiscard]] QueueObservation observe(const std::string& path) const;
  // The queues that exist now whose names start with `prefix` ("/camera-"), sorted, at most
  // `limit` of them: the queues of a pattern slot.
  [[nodiscard]] std::vector<std::string> existing_with_prefix(const std::string& prefix,
                                                              std::size_t limit) const;
  [[nodiscard]] bool sees_bytes() const { return root_.valid(); }

 private:
  platform::UniqueFd root_;  // the mqueue filesystem's root directory, or invalid
};

}  // namespace ipcrt::runtime::control
