// cgroup v2 files with open/read/write (no iostreams in the runtime).
#include "platform/cgroup.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

#include "common/file.hpp"
#include "common/text.hpp"

namespace ipcrt::platform {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string decode_field(std::string_view field) {
  std::string decoded;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && field.size() - i > 3) {
      const char* d = field.data() + i + 1;
      if (d[0] >= '0' && d[0] <= '7' && d[1] >= '0' && d[1] <= '7' && d[2] >= '0' && d[2] <= '7') {
        decoded += static_cast<char>((d[0] - '0') * 64 + (d[1] - '0') * 8 + (d[2] - '0'));
        i += 3;
        continue;
      }
    }
    decoded += field[i];
  }
  return decoded;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (std::size_t at = 0; at <= text.size();) {
    const auto next = text.find(separator, at);
    parts.push_back(text.substr(at, next == std::string_view::npos ? next : next - at));
    if (next == std::string_view::npos) break;
    at = next + 1;
  }
  return parts;
}

std::string join_path(const std::string& dir, std::string_view file) {
  return cat(dir, "/", file);
}

// The hint of every cgroupfs write refused for lack of rights.
constexpr const char* kDelegationHint =
    "ipcrt needs its cgroup delegated: run it as root, under systemd with Delegate=yes";

}  // namespace

std::optional<std::string> parse_unified_cgroup(std::string_view proc_cgroup) {
  for (std::string_view line : split(proc_cgroup, '\n')) {
    if (line.starts_with("0::")) return std::string(line.substr(3));
  }
  return std::nullopt;
}

std::vector<CgroupMount> parse_cgroup_mounts(std::string_view mountinfo) {
  std::vector<CgroupMount> mounts;
  for (std::string_view line : split(mountinfo, '\n')) {
    // "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw": root is the
    // fourth field, the mount point the fifth, the type and super options follow " - ".
    auto fields = split(line, ' ');
    const auto separator = std::find(fields.begin(), fields.end(), "-");
    if (fields.size() < 5 || separator == fields.end() || fields.end() - separator < 4) continue;
    const std::string_view type = *(separator + 1);
    if (type != "cgroup" && type != "cgroup2") continue;
    CgroupMount mount;
    mount.root = decode_field(fields[3]);
    mount.mount_point = decode_field(fields[4]);
    mount.v2 = type == "cgroup2";
    if (!mount.v2) {
      for (std::string_view option : split(*(separator + 3), ',')) {
        if (option == "rw" || option == "ro" || option.find('=') != std::string_view::npos ||
            option == "noprefix" || option == "clone_children" || option == "xattr") {
          continue;
        }
        mount.controllers.emplace_back(option);
      }
    }
    mounts.push_back(std::move(mount));
  }
  return mounts;
}

Result<std::optional<std::string>> own_unified_cgroup() {
  auto text = read_text_file("/proc/self/cgroup");
  if (!text) return std::unexpected(text.error());
  return parse_unified_cgroup(*text);
}

Result<std::vector<CgroupMount>> cgroup_mounts() {
  auto text = read_text_file("/proc/self/mountinfo");
  if (!text) return std::unexpected(text.error());
  return parse_cgroup_mounts(*text);
}

bool is_cgroup2(const std::string& path) {
  struct statfs info {};
  return ::statfs(path.c_str(), &info) == 0 &&
         static_cast<unsigned long>(info.f_type) == CGROUP2_SUPER_MAGIC;
}

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::size_t at = 0;
  while (at < text.size()) {
    while (at < text.size() && (text[at] == ' ' || text[at] == '\n')) ++at;
    std::size_t end = at;
    while (end < text.size() && text[end] != ' ' && text[end] != '\n') ++end;
    if (end > at) words.emplace_back(text.substr(at, end - at));
    at = end;
  }
  return words;
}

std::map<std::string, std::uint64_t, std::less<>> parse_flat_keyed(std::string_view text) {
  std::map<std::string, std::uint64_t, std::less<>> values;
  for (std::string_view line : split(text, '\n')) {
    const auto space = line.find(' ');
    if (space == std::string_view::npos) continue;
    std::uint64_t value = 0;
    const std::string_view number = line.substr(space + 1);
    auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (error != std::errc{}) continue;
    values.emplace(std::string(line.substr(0, space)), value);
  }
  return values;
}

Result<std::string> read_cgroup_file(const std::string& dir, std::string_view file) {
  return read_text_file(join_path(dir, file));
}

Status write_cgroup_file(const std::string& dir, std::string_view file, std::string_view value) {
  const std::string path = join_path(dir, file);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return fail_errno(cat("open ", path), errno,
                      errno == EACCES || errno == EPERM ? kDelegationHint : "");
  }
  ssize_t written;
  do {
    written = ::write(fd, value.data(), value.size());
  } while (written < 0 && errno == EINTR);
  const int saved = errno;
  ::close(fd);
  if (written != static_cast<ssize_t>(value.size())) {
    return fail_errno(cat("write \"", value, "\" to ", path), written < 0 ? saved : EIO);
  }
  return {};
}

Result<bool> make_cgroup(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) == 0) return true;
  if (errno == EEXIST) return false;
  return fail_errno(cat("mkdir ", dir), errno,
                    errno == EACCES || errno == EPERM || errno == EROFS ? kDelegationHint : "");
}

Status remove_cgroup(const std::string& dir) {
  if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return {};
  return fail_errno(cat("rmdir ", dir), errno,
                    errno == EBUSY ? "processes or child cgroups are still in it" : "");
}

Result<std::vector<std::string>> child_cgroups(const std::string& dir) {
  DIR* stream = ::opendir(dir.c_str());
  if (stream == nullptr) return fail_errno(cat("open ", dir));
  std::vector<std::string> children;
  while (const dirent* entry = ::readdir(stream)) {
    if (entry->d_type != DT_DIR) continue;
    const std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    children.emplace_back(name);
  }
  ::closedir(stream);
  std::sort(children.begin(), children.end());
  return children;
}

Status enable_controllers(const std::string& dir, const std::vector<std::string>& controllers) {
  if (controllers.empty()) return {};
  std::string value;
  for (const auto& controller : controllers)
    value += cat(value.empty() ? "" : " ", "+", controller);
  auto written = write_cgroup_file(dir, "cgroup.subtree_control", value);
  if (!written && written.error().errnum == EBUSY) {
    Error error = written.error();
    error.hint =
        "the no-internal-process rule: a cgroup with processes of its own cannot pass controllers "
        "to its children; move them into a leaf cgroup";
    return std::unexpected(error);
  }
  return written;
}

Status move_process(const std::string& dir, pid_t pid) {
  return write_cgroup_file(dir, "cgroup.procs", std::to_string(pid));
}

Result<std::vector<pid_t>> cgroup_processes(const std::string& dir) {
  auto text = read_cgroup_file(dir, "cgroup.procs");
  if (!text) return std::unexpected(text.error());
  std::vector<pid_t> pids;
  for (const auto& word : split_words(*text)) {
    pid_t pid = 0;
    auto [end, error] = std::from_chars(word.data(), word.data() + word.size(), pid);
    if (error == std::errc{} && pid > 0) pids.push_back(pid);
  }
  return pids;
}

namespace {

// Without cgroup.kill: SIGKILL to each process of `dir` and its children; true when one was
// found. A process forking meanwhile is caught by the next pass.
bool kill_listed(const std::string& dir) {
  bool found = false;
  if (auto pids = cgroup_processes(dir)) {
    for (pid_t pid : *pids) {
      ::kill(pid, SIGKILL);
      found = true;
    }
  }
  if (auto children = child_cgroups(dir)) {
    for (const auto& child : *children) found = kill_listed(join_path(dir, child)) || found;
  }
  return found;
}

}  // namespace

Status kill_cgroup(const std::string& dir) {
  auto killed = write_cgroup_file(dir, "cgroup.kill", "1");
  if (killed || killed.error().errnum != ENOENT) return killed;
  // Linux < 5.14. A process with SIGKILL pending cannot fork, so the passes end.
  for (int pass = 0; pass < 1000 && kill_listed(dir); ++pass) {
  }
  return {};
}

Result<bool> cgroup_populated(const std::string& dir) {
  auto text = read_cgroup_file(dir, "cgroup.events");
  if (!text) return std::unexpected(text.error());
  auto values = parse_flat_keyed(*text);
  auto found = values.find("populated");
  return found != values.end() && found->second != 0;
}

Result<UniqueFd> open_cgroup(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fail_errno(cat("open ", dir));
  return UniqueFd(fd);
}

}  // namespace ipcrt::platform
