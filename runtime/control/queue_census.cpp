#include "runtime/control/queue_census.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "common/text.hpp"

namespace ipcrt::runtime::control {
namespace {

constexpr long kMqueueMagic = 0x19800202;  // MQUEUE_MAGIC, include/uapi/linux/magic.h
constexpr const char* kMqueueMount = "/dev/mqueue";

// The new mount API (Linux 5.2), through syscall(): not every target's libc wraps it.
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
constexpr unsigned kFsopenCloexec = 0x1;    // FSOPEN_CLOEXEC
constexpr unsigned kFsconfigCmdCreate = 6;  // FSCONFIG_CMD_CREATE
constexpr unsigned kFsmountCloexec = 0x1;   // FSMOUNT_CLOEXEC
constexpr unsigned kMountAttrNoexecNosuidNodev =
    0x1 | 0x2 | 0x8;  // MOUNT_ATTR_{NOSUID,NODEV,NOEXEC}

platform::UniqueFd mounted_root() {
  struct statfs info {};
  if (::statfs(kMqueueMount, &info) != 0 || static_cast<long>(info.f_type) != kMqueueMagic) {
    return {};
  }
  return platform::UniqueFd(::open(kMqueueMount, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

// A mount of this IPC namespace's mqueue filesystem that belongs to no mount point: the host's
// mount table does not change, and the mount goes away with the descriptor.
platform::UniqueFd detached_root() {
  platform::UniqueFd context(static_cast<int>(::syscall(SYS_fsopen, "mqueue", kFsopenCloexec)));
  if (!context.valid()) return {};
  if (::syscall(SYS_fsconfig, context.get(), kFsconfigCmdCreate, nullptr, nullptr, 0) != 0) {
    return {};
  }
  return platform::UniqueFd(static_cast<int>(
      ::syscall(SYS_fsmount, context.get(), kFsmountCloexec, kMountAttrNoexecNosuidNodev)));
}

// "QSIZE:129          NOTIFY:0     SIGNO:0     NOTIFY_PID:0": the first number.
std::optional<std::uint64_t> parse_qsize(std::string_view text) {
  constexpr std::string_view kKey = "QSIZE:";
  if (!text.starts_with(kKey)) return std::nullopt;
  std::uint64_t value = 0;
  const char* begin = text.data() + kKey.size();
  auto [end, error] = std::from_chars(begin, text.data() + text.size(), value);
  if (error != std::errc{} || end == begin) return std::nullopt;
  return value;
}

}  // namespace

QueueCensus::QueueCensus() {
  root_ = mounted_root();
  if (!root_.valid()) root_ = detached_root();
}

QueueObservation QueueCensus::observe(const std::string& path) const {
  QueueObservation observation;
  auto attributes = platform::queue_attributes(path);
  if (attributes) {
    observation.attributes = *attributes;
  } else {
    observation.problem = attributes.error().describe();
  }
  if (!root_.valid() || path.size() < 2) return observation;
  platform::UniqueFd file(
      ::openat(root_.get(), path.c_str() + 1, O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!file.valid()) return observation;
  char text[128];
  const ssize_t count = ::read(file.get(), text, sizeof text - 1);
  if (count > 0)
    observation.bytes = parse_qsize(std::string_view(text, static_cast<std::size_t>(count)));
  return observation;
}

std::vector<std::string> QueueCensus::existing_with_prefix(const std::string& prefix,
                                                           std::size_t limit) const {
  std::vector<std::string> names;
  if (!root_.valid() || prefix.empty()) return names;
  // fdopendir takes over its descriptor: give it a fresh one of the root.
  const int directory_fd = ::openat(root_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (directory_fd < 0) return names;
  DIR* directory = ::fdopendir(directory_fd);
  if (directory == nullptr) {
    ::close(directory_fd);
    return names;
  }
  const std::string_view wanted = std::string_view(prefix).substr(1);
  while (const dirent* entry = ::readdir(directory)) {
    const std::string_view name = entry->d_name;
    if (name == "." || name == ".." || !name.starts_with(wanted)) continue;
    names.push_back(cat('/', name));
    if (names.size() >= limit) break;
  }
  ::closedir(directory);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace ipcrt::runtime::control
