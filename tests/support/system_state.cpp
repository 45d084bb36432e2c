// Reads a queue through a read-only descriptor: the state a test checks stays as it was.
#include "tests/support/system_state.hpp"

#include <fcntl.h>
#include <mqueue.h>
#include <sys/stat.h>

namespace ipcrt::test {

bool path_exists(const std::string& path) {
  struct stat info {};
  return ::lstat(path.c_str(), &info) == 0;
}

bool queue_exists(const std::string& path) {
  return queue_state(path).has_value();
}

std::optional<QueueState> queue_state(const std::string& path) {
  mqd_t queue = ::mq_open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (queue == static_cast<mqd_t>(-1)) return std::nullopt;
  struct stat info {};
  mq_attr attributes{};
  bool read = ::fstat(queue, &info) == 0 && ::mq_getattr(queue, &attributes) == 0;
  ::mq_close(queue);
  if (!read) return std::nullopt;
  return QueueState{info.st_uid, static_cast<mode_t>(info.st_mode & 07777),
                    static_cast<long>(attributes.mq_curmsgs), info.st_gid};
}

}  // namespace ipcrt::test
