// close_range(2) and its fallback through /proc/self/fd.
#include "platform/descriptors.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2U)
#endif

namespace ipcrt::platform {

int mark_descriptors_cloexec(unsigned first) noexcept {
  // ENOSYS before 5.9, EINVAL for the flag before 5.11, EPERM from container runtimes'
  // filters that predate it: the fallback does the same job in every case.
  if (::syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return 0;
  return mark_listed_descriptors_cloexec(first);
}

namespace {

// A directory entry's name as a descriptor number; -1 for "." and "..".
long descriptor_number(const char* name) noexcept {
  if (*name == '\0') return -1;
  long number = 0;
  for (; *name != '\0'; ++name) {
    if (*name < '0' || *name > '9' || number > 0x7fffffff / 10) return -1;
    number = number * 10 + (*name - '0');
  }
  return number;
}

}  // namespace

int mark_listed_descriptors_cloexec(unsigned first) noexcept {
  int directory = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (directory < 0) return -errno;
  // getdents64 fills the buffer with struct dirent64 records (glibc's matches the kernel's
  // linux_dirent64), each 8-byte aligned and d_reclen long.
  alignas(dirent64) char buffer[4096];
  for (;;) {
    long filled = ::syscall(SYS_getdents64, directory, buffer, sizeof buffer);
    if (filled < 0) {
      int error = errno;
      ::close(directory);
      return -error;
    }
    if (filled == 0) break;
    for (long offset = 0; offset < filled;) {
      const auto* entry = reinterpret_cast<const dirent64*>(buffer + offset);
      long fd = descriptor_number(entry->d_name);
      if (fd >= static_cast<long>(first) && fd != directory) {
        ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
      }
      offset += entry->d_reclen;
    }
  }
  ::close(directory);
  return 0;
}

int close_descriptors_except_these(const int* keep, unsigned count) noexcept {
  constexpr unsigned kMost = 64;
  if (count > kMost) return -E2BIG;
  unsigned sorted[kMost];
  unsigned kept = 0;
  for (unsigned i = 0; i < count; ++i) {
    if (keep[i] < 3) continue;
    unsigned at = kept++;
    for (; at > 0 && sorted[at - 1] > static_cast<unsigned>(keep[i]); --at)
      sorted[at] = sorted[at - 1];
    sorted[at] = static_cast<unsigned>(keep[i]);
  }
  unsigned next = 3;  // the lowest descriptor that may still be closed
  for (unsigned i = 0; i < kept; ++i) {
    if (sorted[i] > next && ::syscall(SYS_close_range, next, sorted[i] - 1, 0U) != 0) return -errno;
    next = sorted[i] + 1;
  }
  return ::syscall(SYS_close_range, next, ~0U, 0U) == 0 ? 0 : -errno;
}

int close_descriptors_except(int keep) noexcept {
  if (close_descriptors_except_these(&keep, 1) == 0) return 0;
  // Listed, then closed outside the listing (closing while reading would skip entries), until
  // a pass finds nothing more to close.
  for (;;) {
    int listed[256];
    std::size_t count = 0;
    int directory = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (directory < 0) return -errno;
    alignas(dirent64) char buffer[4096];
    long filled;
    while (count < 256 && (filled = ::syscall(SYS_getdents64, directory, buffer, sizeof buffer)) > 0) {
      for (long offset = 0; offset < filled && count < 256;) {
        const auto* entry = reinterpret_cast<const dirent64*>(buffer + offset);
        long fd = descriptor_number(entry->d_name);
        if (fd >= 3 && fd != keep && fd != directory) listed[count++] = static_cast<int>(fd);
        offset += entry->d_reclen;
      }
    }
    ::close(directory);
    if (count == 0) return 0;
    for (std::size_t i = 0; i < count; ++i) ::close(listed[i]);
  }
}

}  // namespace ipcrt::platform
