// SPEC §4a in the sandbox: planning, the parent's layout before fork, and the state directory.
#include "runtime/gateway_sandbox.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/text.hpp"

namespace ipcrt::runtime {
namespace {

constexpr uid_t kNobody = 65534;

// What every sandbox's /dev has of its own (launch.cpp): a pattern that matches one of them
// ("/dev/f*" matches full) must not make a second node there.
constexpr const char* kOwnDevNames[] = {"null",   "zero", "full", "random",      "urandom",
                                        "tty",    "ptmx", "fd",   "stdin",       "stdout",
                                        "stderr", "pts",  "shm",  "ipcrt-notify"};

bool is_own_dev_name(std::string_view relative) {
  const std::string_view first = relative.substr(0, relative.find('/'));
  return std::ranges::any_of(kOwnDevNames, [&](const char* own) { return first == own; });
}

// Writes `text` to `path` as a fresh root-owned 0644 file (the staging directory is sticky and
// world-writable: never reuse what someone else left under the temporary name).
Status write_view_file(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".new";
  if (::unlink(temporary.c_str()) != 0 && errno != ENOENT) {
    return fail_errno(cat("unlink ", temporary));
  }
  const int fd =
      ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return fail_errno(cat("create ", temporary));
  bool written = ::fchmod(fd, 0644) == 0;
  std::size_t done = 0;
  while (written && done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    written = n > 0;
    if (written) done += static_cast<std::size_t>(n);
  }
  const int saved = errno;
  ::close(fd);
  if (!written) {
    ::unlink(temporary.c_str());
    return fail_errno(cat("write ", temporary), saved);
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) return fail_errno(cat("rename ", path));
  return {};
}

// The host nodes a grant names now: the path itself, or what in its directory matches the
// pattern's one '*'. Symlinks (/dev/serial/by-id/...) are followed to their node.
void resolve_device(const Sandbox& sandbox, const Sandbox::Device& device, GatewayLaunch& launch) {
  std::vector<std::string> paths;
  const auto star = device.path.find('*');
  if (star == std::string::npos) {
    paths.push_back(device.path);
  } else {
    const auto slash = device.path.rfind('/', star);
    const std::string dir = device.path.substr(0, slash);
    const std::string prefix = device.path.substr(slash + 1, star - slash - 1);
    const std::string suffix = device.path.substr(star + 1);
    if (DIR* handle = ::opendir(dir.c_str())) {
      while (const dirent* entry = ::readdir(handle)) {
        const std::string_view name = entry->d_name;
        if (name.size() >= prefix.size() + suffix.size() && name.starts_with(prefix) &&
            name.ends_with(suffix) && name != "." && name != "..") {
          paths.push_back(cat(dir, '/', name));
        }
      }
      ::closedir(handle);
    }
    std::ranges::sort(paths);
  }
  for (const auto& path : paths) {
    const std::string relative = path.substr(5);  // after "/dev/"
    if (is_own_dev_name(relative)) continue;
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) continue;  // unplugged: absent from its view too
    if (!S_ISCHR(info.st_mode) && !S_ISBLK(info.st_mode)) continue;
    // What validate refuses by name, refused by number too: a symlink (or a renamed node) to
    // /dev/mem (1:1), /dev/kmem (1:2) or /dev/port (1:4) would hand out the host's memory.
    if (S_ISCHR(info.st_mode) && major(info.st_rdev) == 1 &&
        (minor(info.st_rdev) == 1 || minor(info.st_rdev) == 2 || minor(info.st_rdev) == 4)) {
      continue;
    }
    const std::string target = cat(sandbox.staging, '/', relative);
    if (std::ranges::any_of(launch.devices,
                            [&](const DeviceNode& n) { return n.target == target; }))
      continue;  // two patterns matched it: the first grant's group and access
    for (auto slash = relative.find('/'); slash != std::string::npos;
         slash = relative.find('/', slash + 1)) {
      std::string dir = cat(sandbox.staging, '/', relative.substr(0, slash));
      if (std::ranges::find(launch.device_dirs, dir) == launch.device_dirs.end())
        launch.device_dirs.push_back(std::move(dir));
    }
    const mode_t bits = (device.read ? 0440 : 0) | (device.write ? 0220 : 0);
    launch.devices.push_back(
        {path, target, (info.st_mode & S_IFMT) | bits, info.st_rdev, device.gid});
  }
}

// nftw() takes no context: the re-owning walk's, one walk at a time (the boot is one thread).
struct Reown {
  uid_t old_uid;
  uid_t uid;
  gid_t gid;
  int error;
} reown_state;

int reown_entry(const char* path, const struct stat* info, int, FTW*) {
  if (info->st_uid != reown_state.old_uid) return 0;
  if (::lchown(path, reown_state.uid, reown_state.gid) != 0) {
    reown_state.error = errno;
    return 1;
  }
  return 0;
}

// A parent made here is 0755 whatever the umask: the service's uid must pass through it.
Status make_parent(const std::string& path) {
  auto made = [&] {
    if (::mkdir(path.c_str(), 0755) == 0) return ::chmod(path.c_str(), 0755) == 0;
    return errno == EEXIST;
  };
  if (made()) return {};
  if (errno == ENOENT) {
    const auto slash = path.rfind('/');
    if (slash == 0 || slash == std::string::npos) return fail_errno(cat("mkdir ", path));
    if (auto parent = make_parent(path.substr(0, slash)); !parent) return parent;
    if (made()) return {};
  }
  return fail_errno(cat("mkdir ", path));
}

}  // namespace

std::string passwd_text(const Account& account, const std::string& service) {
  const auto& id = account.identity;
  std::string text = "root:x:0:0:root:/root:/bin/sh\n";
  if (id.uid != 0 && id.uid != kNobody) {
    text += cat(account.user_name, ":x:", id.uid, ':', id.gid, ":ipcrt service ", service, ':',
                account.home, ':', account.shell, '\n');
  }
  text += "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
  return text;
}

std::string group_text(const Account& account, const Identities& identities) {
  const auto& id = account.identity;
  std::string text = "root:x:0:\n";
  std::vector<gid_t> gids{id.gid};
  for (gid_t gid : id.groups) {
    if (std::ranges::find(gids, gid) == gids.end()) gids.push_back(gid);
  }
  for (gid_t gid : gids) {
    if (gid == 0 || gid == kNobody) continue;
    const std::string* name = identities.group_name(gid);
    if (name == nullptr) continue;  // a number without a name: `id` shows the number
    text += cat(*name, ":x:", gid, ':', gid == id.gid ? std::string() : account.user_name, '\n');
  }
  text += "nogroup:x:65534:\n";
  return text;
}

void add_gateway_sandbox(LaunchSpec& spec, const config::Service& service,
                         const PlannedService& planned, const Account& account,
                         const Identities& identities) {
  if (!spec.sandboxed) return;
  Sandbox& sandbox = spec.sandbox;
  // Writable for a root service too, whose host is otherwise read-only.
  sandbox.state_directory = planned.state_dir;
  sandbox.passwd = passwd_text(account, service.name);
  sandbox.group = group_text(account, identities);
  sandbox.staged_passwd = sandbox.staging + "/passwd";
  sandbox.staged_group = sandbox.staging + "/group";
  for (std::size_t i = 0; i < service.devices.size(); ++i) {
    const auto& device = service.devices[i];
    const gid_t gid = i < account.device_groups.size() ? account.device_groups[i] : 0;
    sandbox.devices.push_back({device.path, device.read, device.write, gid});
  }
  for (const auto& capability : service.capabilities) {
    if (capability.number >= 0 && capability.number < 64)
      spec.ambient_capabilities |= 1ULL << capability.number;
  }
}

Result<GatewayLaunch> prepare_gateway_launch(const Sandbox& sandbox) {
  GatewayLaunch launch;
  for (const auto& device : sandbox.devices) resolve_device(sandbox, device, launch);
  if (!sandbox.passwd.empty()) {
    if (auto written = write_view_file(sandbox.staged_passwd, sandbox.passwd); !written)
      return std::unexpected(written.error());
  }
  if (!sandbox.group.empty()) {
    if (auto written = write_view_file(sandbox.staged_group, sandbox.group); !written)
      return std::unexpected(written.error());
  }
  return launch;
}

Status ensure_state_directory(const std::string& path, uid_t uid, gid_t gid) {
  const auto slash = path.rfind('/');
  if (slash != 0 && slash != std::string::npos) {
    if (auto made = make_parent(path.substr(0, slash)); !made) return made;
  }
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return fail_errno(cat("mkdir ", path));
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    return fail(cat("state directory ", path, " is not a directory (", std::strerror(errno), ")"),
                cat("move it away: ipcrt keeps the service's state there"));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const int saved = errno;
    ::close(fd);
    return fail_errno(cat("fstat ", path), saved);
  }
  if (info.st_uid != uid) {
    // The service's uid changed (a new `user`, or its dynamic id was given anew): what it
    // kept is handed to the new uid, but only what the old one owned.
    reown_state = {info.st_uid, uid, gid, 0};
    if (::nftw(path.c_str(), reown_entry, 16, FTW_PHYS | FTW_MOUNT) != 0) {
      ::close(fd);
      return fail_errno(cat("re-own ", path, " from uid ", info.st_uid, " to ", uid),
                        reown_state.error != 0 ? reown_state.error : errno);
    }
  }
  const bool owned = ::fchown(fd, uid, gid) == 0 && ::fchmod(fd, 0700) == 0;
  const int saved = errno;
  ::close(fd);
  if (!owned) return fail_errno(cat("set owner and mode of ", path), saved);
  return {};
}

}  // namespace ipcrt::runtime
