// POSIX message queue wrappers: the kernel's limits (/proc/sys/fs/mqueue, RLIMIT_MSGQUEUE)
// and queue operations. No policy: callers decide what to create and what is allowed.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/mqueue_limits.hpp"
#include "platform/fd.hpp"

namespace ipcrt::platform {

// Hard ceilings since Linux 3.5; they bind even CAP_SYS_RESOURCE.
using ipcrt::kHardMsgMax;
using ipcrt::kHardMsgSizeMax;

struct MqueueLimits {
  long msg_max = 0;
  long msgsize_max = 0;
  long msg_default = 0;
  long msgsize_default = 0;
  long queues_max = 0;
  std::uint64_t rlimit_msgqueue_soft = 0;  // RLIM_INFINITY when unlimited
  std::uint64_t rlimit_msgqueue_hard = 0;
};

// Reads the five sysctls under `proc_dir` (normally /proc/sys/fs/mqueue) and this process's
// RLIMIT_MSGQUEUE.
[[nodiscard]] Result<MqueueLimits> read_mqueue_limits(
    const std::string& proc_dir = "/proc/sys/fs/mqueue");

struct QueueAttributes {
  long max_messages = 0;
  long message_size = 0;
  long current_messages = 0;
  // From fstat of the queue descriptor (the mqueue fs inode).
  uid_t owner_uid = 0;
  gid_t owner_gid = 0;
  mode_t mode = 0;  // permission bits only
};

struct OpenedQueue {
  UniqueFd fd;
  bool created = false;  // false: the queue existed and was opened as it is
};

// Every queue of this IPC namespace, as "/name", sorted. Reads /dev/mqueue when the mqueue
// filesystem is mounted there; otherwise a detached mqueue mount (fsmount, Linux 5.2), or
// before that a private mount in a short-lived child with its own mount namespace (both need
// CAP_SYS_ADMIN; the host's mounts are not touched).
[[nodiscard]] Result<std::vector<std::string>> list_queues();
// The two ways without /dev/mqueue, unsorted, for tests that compare them: nullopt where the
// kernel has no fsmount or refuses it.
[[nodiscard]] std::optional<std::vector<std::string>> list_queues_detached();
[[nodiscard]] Result<std::vector<std::string>> list_queues_in_child();

// mq_open(O_RDONLY) + mq_getattr + fstat + close.
[[nodiscard]] Result<QueueAttributes> queue_attributes(const std::string& path);
[[nodiscard]] Result<QueueAttributes> queue_attributes(int fd);

// Creates `path` exclusively with these attributes and exactly `mode` (mq_open applies the
// umask, so the mode is set again with fchmod), or opens the existing queue read-write
// (created = false; its attributes are whatever it has: the caller compares them).
[[nodiscard]] Result<OpenedQueue> create_or_open_queue(const std::string& path, long max_messages,
                                                       long message_size, mode_t mode);

[[nodiscard]] Status set_queue_owner(int fd, uid_t uid, gid_t gid);
[[nodiscard]] Status set_queue_mode(int fd, mode_t mode);  // exactly `mode`: no umask
[[nodiscard]] Status unlink_queue(const std::string& path);

// The running kernel's pointer size: 8 on a 64-bit kernel even for a 32-bit (armhf) process,
// as on a Raspberry Pi with a 64-bit kernel and a 32-bit userland, or under qemu-user.
[[nodiscard]] unsigned kernel_word_bytes();

// The bytes the kernel charges to the creating user's RLIMIT_MSGQUEUE for one queue (Linux
// >= 3.5, ipc/mqueue.c): max_messages * (sizeof(struct msg_msg) + message_size) plus
// min(max_messages, MQ_PRIO_MAX) * sizeof(struct posix_msg_tree_node). Both structs are six
// kernel words, so `word_bytes` is the running kernel's pointer size, not this process's.
[[nodiscard]] std::uint64_t queue_charge_bytes(long max_messages, long message_size,
                                               unsigned word_bytes = kernel_word_bytes());

[[nodiscard]] Status set_msgqueue_rlimit(std::uint64_t soft, std::uint64_t hard);

}  // namespace ipcrt::platform
