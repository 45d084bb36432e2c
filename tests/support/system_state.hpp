// What tests look at after a boot: whether a path or queue exists, and a queue's owner, mode
// and messages, read without changing them.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace ipcrt::test {

bool path_exists(const std::string& path);  // lstat: a dangling symlink exists too
bool queue_exists(const std::string& path);

struct QueueState {
  uid_t owner = 0;
  mode_t mode = 0;  // permission bits
  long messages = 0;
  gid_t group = 0;
};
// nullopt when the queue cannot be opened for reading.
std::optional<QueueState> queue_state(const std::string& path);

// A manifest's shm store (/run/ipcrt/<manifest>/shm): where its objects are, whether it is
// mounted, its tmpfs size in bytes (0 when not mounted).
std::string shm_store(const std::string& manifest);
std::string shm_object(const std::string& manifest, const std::string& object);
bool shm_store_mounted(const std::string& manifest);
unsigned long long shm_store_size(const std::string& manifest);

// Whatever a case leaves of a manifest's shm store is unmounted and removed at the end of the
// case, also when a check failed.
struct ShmStoreCleanup {
  std::string manifest;
  ~ShmStoreCleanup();
};

// A store as a runtime of `manifest` that was SIGKILLed leaves it: a tmpfs mounted at
// shm_store(manifest) with `options` (a runtime's is "mode=0700"); removed at the end.
struct LeftoverShmStore {
  explicit LeftoverShmStore(const std::string& manifest, const std::string& options = "mode=0700");
  ~LeftoverShmStore();
  LeftoverShmStore(const LeftoverShmStore&) = delete;
  LeftoverShmStore& operator=(const LeftoverShmStore&) = delete;
  [[nodiscard]] std::string object(const std::string& name) const { return path + "/" + name; }
  std::string path;
};

}  // namespace ipcrt::test
