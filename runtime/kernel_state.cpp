// The kernel state for the planner, read from /proc and the mqueue filesystem, and the
// runtime's own paths on this machine.
#include "runtime/kernel_state.hpp"

#include <linux/capability.h>

#include <cstdlib>

#include "config/board.hpp"
#include "platform/mqueue.hpp"
#include "platform/proc_status.hpp"
#include "runtime/identities.hpp"

namespace ipcrt::runtime {

bool has_cap_sys_resource(const std::string& proc_status_text) {
  auto effective = platform::proc_status_number(proc_status_text, "CapEff", 16);
  return effective && ((*effective >> CAP_SYS_RESOURCE) & 1U) != 0;
}

namespace {

std::optional<std::string> real_path(const std::string& path) {
  char* real = ::realpath(path.c_str(), nullptr);
  if (real == nullptr) return std::nullopt;
  std::string result(real);
  std::free(real);
  return result;
}

// SPEC §4a: what no service may write besides the fixed directories and the manifest.
HostPaths read_host_paths() {
  HostPaths host;
  host.state_root = AccountSources::state_directory();
  host.resolve = real_path;
  if (auto binary = real_path("/proc/self/exe")) {
    host.protected_paths.push_back({*binary, "the ipcrt binary"});
  }
  for (const auto& dir : config::default_board_dirs()) {
    host.protected_paths.push_back({dir, "a boards directory"});
  }
  return host;
}

}  // namespace

Result<KernelState> read_kernel_state() {
  KernelState state;
  state.host = read_host_paths();
  state.cgroups = probe_cgroups();
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
