// mount(2) wrappers.
#include "platform/mount.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

#include "common/file.hpp"
#include "common/text.hpp"

namespace ipcrt::platform {
namespace {

#ifdef SYS_mount_setattr
constexpr long kSysMountSetattr = SYS_mount_setattr;
#else
constexpr long kSysMountSetattr = 442;  // the same number on every architecture
#endif

}  // namespace

int bind_mount(const char* source, const char* target, bool recursive) noexcept {
  unsigned long flags = MS_BIND;
  if (recursive) flags |= MS_REC;
  return ::mount(source, target, nullptr, flags, nullptr) == 0 ? 0 : -errno;
}

int cover_with_empty_tmpfs(const char* target) noexcept {
  unsigned long flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
  return ::mount("ipcrt-hidden", target, "tmpfs", flags, "size=4k,mode=0555") == 0 ? 0 : -errno;
}

int mount_tmpfs(const char* target, const char* options) noexcept {
  return ::mount("ipcrt", target, "tmpfs", MS_NOSUID | MS_NODEV, options) == 0 ? 0 : -errno;
}

int mount_proc(const char* target) noexcept {
  return ::mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) == 0 ? 0
                                                                                         : -errno;
}

int mount_devpts(const char* target) noexcept {
  return ::mount("devpts", target, "devpts", MS_NOSUID | MS_NOEXEC,
                 "newinstance,ptmxmode=0666,mode=0620") == 0
             ? 0
             : -errno;
}

int remount_readonly(const char* target) noexcept {
  return ::mount(nullptr, target, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) == 0 ? 0
                                                                                           : -errno;
}

int remount_writable(const char* target) noexcept {
  return ::mount(nullptr, target, nullptr, MS_REMOUNT | MS_BIND, nullptr) == 0 ? 0 : -errno;
}

int set_mount_readonly(const char* target, bool readonly, bool recursive) noexcept {
  // The kernel's struct mount_attr and flags (linux/mount.h clashes with sys/mount.h).
  struct {
    std::uint64_t attr_set;
    std::uint64_t attr_clr;
    std::uint64_t propagation;
    std::uint64_t userns_fd;
  } attributes{};
  constexpr std::uint64_t kMountAttrReadonly = 0x00000001;
  constexpr unsigned kAtRecursive = 0x8000;
  (readonly ? attributes.attr_set : attributes.attr_clr) = kMountAttrReadonly;
  const long rc = ::syscall(kSysMountSetattr, AT_FDCWD, target, recursive ? kAtRecursive : 0u,
                            &attributes, sizeof attributes);
  return rc == 0 ? 0 : -errno;
}

int make_path_readonly(const char* target) noexcept {
  // EINVAL: not the root of a mount; ENOSYS, EPERM: before Linux 5.12, or a container's filter.
  const int in_place = set_mount_readonly(target, true, /*recursive=*/true);
  if (in_place == 0 || in_place == -ENOENT) return 0;
  if (in_place != -EINVAL && in_place != -ENOSYS && in_place != -EPERM) return in_place;
  if (::mount(target, target, nullptr, MS_BIND | MS_REC, nullptr) != 0) {
    return errno == ENOENT ? 0 : -errno;
  }
  return remount_readonly(target);
}

int move_mount_to(const char* source, const char* target) noexcept {
  return ::mount(source, target, nullptr, MS_MOVE, nullptr) == 0 ? 0 : -errno;
}

int bind_file(const char* source, const char* target, unsigned mode) noexcept {
  struct stat info {};
  if (::stat(source, &info) != 0) return errno == ENOENT ? 0 : -errno;
  const int fd = ::open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return -errno;
  ::close(fd);
  return ::mount(source, target, nullptr, MS_BIND, nullptr) == 0 ? 0 : -errno;
}

int mask_path(const char* target, const char* dev_null) noexcept {
  struct stat info {};
  if (::lstat(target, &info) != 0) return errno == ENOENT ? 0 : -errno;
  if (S_ISDIR(info.st_mode)) return cover_with_empty_tmpfs(target);
  return ::mount(dev_null, target, nullptr, MS_BIND, nullptr) == 0 ? 0 : -errno;
}

namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string decode_mountinfo_field(std::string_view field) {
  std::string decoded;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const char* digits = field.data() + i + 1;
      if (digits[0] >= '0' && digits[0] <= '7' && digits[1] >= '0' && digits[1] <= '7' &&
          digits[2] >= '0' && digits[2] <= '7') {
        decoded +=
            static_cast<char>((digits[0] - '0') * 64 + (digits[1] - '0') * 8 + (digits[2] - '0'));
        i += 3;
        continue;
      }
    }
    decoded += field[i];
  }
  return decoded;
}

}  // namespace

Result<std::vector<MountEntry>> mount_table(const std::string& mountinfo) {
  auto text = read_text_file(mountinfo);
  if (!text) return std::unexpected(text.error());
  std::vector<MountEntry> mounts;
  std::string_view rest = *text;
  std::vector<std::string_view> fields;
  while (!rest.empty()) {
    const auto end = rest.find('\n');
    const std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    // "36 35 98:0 /root /mnt/point opts... - fstype source superopts": the mount point is the
    // fifth field, the type the first field after the " - " separator.
    fields.clear();
    for (std::size_t at = 0; at < line.size();) {
      const auto space = line.find(' ', at);
      fields.push_back(line.substr(at, space - at));
      if (space == std::string_view::npos) break;
      at = space + 1;
    }
    const auto separator = std::find(fields.begin(), fields.end(), "-");
    if (fields.size() < 5 || separator == fields.end() || separator + 1 == fields.end()) continue;
    mounts.push_back({decode_mountinfo_field(fields[4]), std::string(*(separator + 1))});
  }
  return mounts;
}

std::vector<std::string> mount_points_of_type(std::string_view type,
                                              const std::vector<MountEntry>& mounts) {
  std::vector<std::string> points;
  for (const auto& mount : mounts) {
    if (type.empty() || mount.type == type) points.push_back(mount.point);
  }
  return points;
}

Result<std::vector<std::string>> mount_points_of_type(std::string_view type,
                                                      const std::string& mountinfo) {
  auto mounts = mount_table(mountinfo);
  if (!mounts) return std::unexpected(mounts.error());
  return mount_points_of_type(type, *mounts);
}

Result<std::vector<std::string>> all_mount_points(const std::string& mountinfo) {
  return mount_points_of_type({}, mountinfo);
}

int remount_bind_readonly(const char* target) noexcept {
  unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV;
  return ::mount(nullptr, target, nullptr, flags, nullptr) == 0 ? 0 : -errno;
}

int make_mounts_slave() noexcept {
  return ::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) == 0 ? 0 : -errno;
}

bool is_mount_point(const std::string& path) {
  struct stat self {};
  struct stat parent {};
  if (::stat(path.c_str(), &self) != 0) return false;
  if (::stat((path + "/..").c_str(), &parent) != 0) return false;
  return self.st_dev != parent.st_dev || self.st_ino == parent.st_ino;
}

Status mount_filesystem(const std::string& type, const std::string& target, unsigned long flags,
                        const std::string& options) {
  if (::mkdir(target.c_str(), 0755) != 0 && errno != EEXIST) {
    return fail_errno(cat("mkdir ", target));
  }
  if (::mount(type.c_str(), target.c_str(), type.c_str(), flags,
              options.empty() ? nullptr : options.c_str()) != 0) {
    return fail_errno(cat("mount ", type, " on ", target), errno,
                      cat("requires CONFIG_",
                          type == "mqueue"    ? "POSIX_MQUEUE"
                          : type == "cgroup2" ? "CGROUPS"
                                              : "TMPFS",
                          " and CAP_SYS_ADMIN"));
  }
  return {};
}

}  // namespace ipcrt::platform
