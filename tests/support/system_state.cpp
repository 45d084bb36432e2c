// Reads a queue through a read-only descriptor: the state a test checks stays as it was.
#include "tests/support/system_state.hpp"

#include <fcntl.h>
#include <mqueue.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

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


std::string shm_store(const std::string& manifest) {
  return "/run/ipcrt/" + manifest + "/shm";  // SPEC §4.2, spelled out: the test checks it
}

std::string shm_object(const std::string& manifest, const std::string& object) {
  return shm_store(manifest) + "/" + object;
}

namespace {

bool mounted_at(const std::string& path) {
  struct stat self {};
  struct stat parent {};
  return ::stat(path.c_str(), &self) == 0 && ::stat((path + "/..").c_str(), &parent) == 0 &&
         self.st_dev != parent.st_dev;
}

void remove_store(const std::string& path) {
  while (mounted_at(path) && ::umount2(path.c_str(), MNT_DETACH) == 0) {
  }
  ::rmdir(path.c_str());
  ::rmdir(path.substr(0, path.rfind('/')).c_str());
}

}  // namespace

bool shm_store_mounted(const std::string& manifest) {
  return mounted_at(shm_store(manifest));
}

unsigned long long shm_store_size(const std::string& manifest) {
  struct statfs info {};
  if (!shm_store_mounted(manifest) || ::statfs(shm_store(manifest).c_str(), &info) != 0) return 0;
  return static_cast<unsigned long long>(info.f_blocks) * info.f_bsize;
}

ShmStoreCleanup::~ShmStoreCleanup() {
  remove_store(shm_store(manifest));
}

LeftoverShmStore::LeftoverShmStore(const std::string& manifest, const std::string& options)
    : path(shm_store(manifest)) {
  const std::string dir = path.substr(0, path.rfind('/'));
  ::mkdir("/run/ipcrt", 0755);
  ::mkdir(dir.c_str(), 0700);
  ::mkdir(path.c_str(), 0700);
  if (::mount("leftover", path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
    path.clear();
  }
}

LeftoverShmStore::~LeftoverShmStore() {
  if (!path.empty()) remove_store(path);
}

}  // namespace ipcrt::test
