// POSIX message queue wrappers over the raw kernel interfaces.
#include "platform/mqueue.hpp"

#include <sys/resource.h>

#include <fstream>

#include "common/text.hpp"

namespace ipcrt::platform {
namespace {

Result<long> read_sysctl(const std::string& path) {
  std::ifstream in(path);
  long value = 0;
  if (!in || !(in >> value)) {
    return fail(cat("cannot read ", path),
                "is CONFIG_POSIX_MQUEUE enabled and /proc mounted?");
  }
  return value;
}

}  // namespace

Result<MqueueLimits> read_mqueue_limits(const std::string& proc_dir) {
  MqueueLimits limits;
  struct Field {
    const char* name;
    long* value;
  };
  const Field fields[] = {{"msg_max", &limits.msg_max},
                          {"msgsize_max", &limits.msgsize_max},
                          {"msg_default", &limits.msg_default},
                          {"msgsize_default", &limits.msgsize_default},
                          {"queues_max", &limits.queues_max}};
  for (const auto& field : fields) {
    auto value = read_sysctl(proc_dir + "/" + field.name);
    if (!value) return std::unexpected(value.error());
    *field.value = *value;
  }
  rlimit rl{};
  if (::getrlimit(RLIMIT_MSGQUEUE, &rl) != 0) return fail_errno("getrlimit(RLIMIT_MSGQUEUE)");
  limits.rlimit_msgqueue_soft = rl.rlim_cur;
  limits.rlimit_msgqueue_hard = rl.rlim_max;
  return limits;
}

}  // namespace ipcrt::platform
