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

}  // namespace ipcrt::test
