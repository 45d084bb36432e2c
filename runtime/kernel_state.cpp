// The kernel state for the planner, read from /proc and the mqueue filesystem.
#include "runtime/kernel_state.hpp"

#include <linux/capability.h>

#include "platform/mqueue.hpp"
#include "platform/proc_status.hpp"

namespace ipcrt::runtime {

bool has_cap_sys_resource(const std::string& proc_status_text) {
  auto effective = platform::proc_status_number(proc_status_text, "CapEff", 16);
  return effective && ((*effective >> CAP_SYS_RESOURCE) & 1U) != 0;
}

Result<KernelState> read_kernel_state() {
  KernelState state;
  auto limits = platform::read_mqueue_limits();
  if (!limits) return std::unexpected(limits.error());
  state.limits = *limits;

  auto status_text = platform::read_own_proc_status();
  if (!status_text) return std::unexpected(status_text.error());
  state.privileged = has_cap_sys_resource(*status_text);

  auto names = platform::list_queues();
  if (!names) return std::unexpected(names.error());
  for (const auto& name : *names) {
    ExistingQueue queue;
    queue.path = name;
    // A queue we may not open still counts against queues_max; its attributes stay 0 (unknown)
    // and it is never adopted, so a clash shows up at boot as an attribute mismatch.
    if (auto attributes = platform::queue_attributes(name)) {
      queue.max_messages = attributes->max_messages;
      queue.message_size = attributes->message_size;
      queue.owner_uid = attributes->owner_uid;
      queue.owner_gid = attributes->owner_gid;
      queue.mode = attributes->mode;
    } else {
      queue.owner_uid = static_cast<uid_t>(-1);
    }
    state.existing_queues.push_back(std::move(queue));
  }
  return state;
}

}  // namespace ipcrt::runtime
