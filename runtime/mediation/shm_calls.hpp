// The pure half of shared-memory mediation (SPEC §2.3): whether a path a service passed to
// open/openat (O_CREAT|O_EXCL) or unlink/unlinkat names one of the objects it may write, as
// it sees them at /dev/shm/<name>. No syscalls here.
//
// Why: each object is a bind mount in the service's own /dev/shm. Unlinking a mount point is
// EBUSY, and an exclusive create of its name EEXIST, so shm_unlink and
// shm_open(O_CREAT|O_EXCL) (Python's SharedMemory(create=True) and unlink()) fail. The
// supervisor sees those two calls of a service that may write an object and answers them for
// the object: an unlink succeeds and leaves it in place, an exclusive create truncates it and
// hands over a descriptor of it, so every service granted it keeps seeing the same object.
// Every other call is let through to the kernel unchanged, so what a service changes in its
// memory after the check can only make the kernel answer EBUSY or EEXIST, as it would anyway.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ipcrt::runtime {

// An object the service may write, as mediation acts on it.
struct MediatedObject {
  std::string name;  // "frames": the service sees it at /dev/shm/frames
  std::string path;  // "/run/ipcrt/gateway/shm/frames": in the runtime's store
};

// What a path names, decided on its text alone.
struct ObjectPath {
  const MediatedObject* object = nullptr;  // nullptr: no object of the service, let it through
  // The path is relative: it names `object` only if the directory `directory` (relative to the
  // call's directory descriptor or working directory; "" for that directory itself) is the
  // service's /dev/shm. Absolute paths are decided here: "/dev/shm/<name>" after removing
  // empty and "." components and resolving ".." (the service's /dev holds no symlinks).
  bool relative = false;
  std::string directory;
};

[[nodiscard]] ObjectPath object_path(const std::vector<MediatedObject>& objects,
                                     std::string_view path);

}  // namespace ipcrt::runtime
