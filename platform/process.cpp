// /proc/<pid>/stat readers, with open/read (no iostreams in the runtime).
#include "platform/process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "common/file.hpp"
#include "common/text.hpp"

namespace ipcrt::platform {
namespace {

// The next space-separated field of `text` from `position` as a number.
bool next_number(std::string_view text, std::size_t& position, pid_t& value) {
  while (position < text.size() && text[position] == ' ') ++position;
  std::size_t end = text.find(' ', position);
  if (end == std::string_view::npos) end = text.size();
  auto [last, error] = std::from_chars(text.data() + position, text.data() + end, value);
  if (error != std::errc{} || last != text.data() + end) return false;
  position = end;
  return true;
}

// Reads the stat file `name` relative to `dir_fd` into `buffer`; the fields we need are in
// the first few dozen bytes, so one read of a small buffer is enough.
Result<ProcessStat> read_stat_at(int dir_fd, const char* name, const std::string& shown) {
  int fd = ::openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail_errno(cat("open ", shown));
  char buffer[512];
  ssize_t count;
  do {
    count = ::read(fd, buffer, sizeof buffer);
  } while (count < 0 && errno == EINTR);
  int saved = errno;
  ::close(fd);
  // A process reaped between open and read reads as ESRCH: gone like ENOENT.
  if (count < 0) return fail_errno(cat("read ", shown), saved == ESRCH ? ENOENT : saved);
  auto parsed = parse_process_stat(std::string_view(buffer, static_cast<std::size_t>(count)));
  if (!parsed) return fail(cat("cannot parse ", shown), "is procfs mounted there?");
  return *parsed;
}

bool is_pid_name(const char* name) {
  if (*name == '\0') return false;
  for (const char* c = name; *c != '\0'; ++c) {
    if (*c < '0' || *c > '9') return false;
  }
  return true;
}

}  // namespace

std::optional<ProcessStat> parse_process_stat(std::string_view text) {
  ProcessStat stat;
  std::size_t position = 0;
  if (!next_number(text.substr(0, text.find(' ')), position, stat.pid)) return std::nullopt;
  std::size_t comm_end = text.rfind(')');
  if (comm_end == std::string_view::npos || comm_end + 2 >= text.size()) return std::nullopt;
  position = comm_end + 1;
  while (position < text.size() && text[position] == ' ') ++position;
  if (position >= text.size()) return std::nullopt;
  stat.state = text[position++];
  if (!next_number(text, position, stat.parent) ||
      !next_number(text, position, stat.process_group) ||
      !next_number(text, position, stat.session)) {
    return std::nullopt;
  }
  return stat;
}

Result<ProcessStat> read_process_stat(pid_t pid, const std::string& proc) {
  std::string path = cat(proc, "/", pid, "/stat");
  return read_stat_at(AT_FDCWD, path.c_str(), path);
}

Result<std::vector<ProcessStat>> list_session(pid_t session, const std::string& proc) {
  DIR* dir = ::opendir(proc.c_str());
  if (dir == nullptr) {
    return fail_errno(cat("open ", proc), errno, "mount procfs there: mount -t proc proc /proc");
  }
  std::vector<ProcessStat> members;
  for (;;) {
    errno = 0;  // readdir's end and its failure differ only in errno
    const dirent* entry = ::readdir(dir);
    if (entry == nullptr) break;
    if (!is_pid_name(entry->d_name)) continue;
    std::string name = cat(entry->d_name, "/stat");
    auto stat = read_stat_at(::dirfd(dir), name.c_str(), cat(proc, "/", name));
    if (!stat) {
      if (stat.error().errnum == ENOENT) continue;  // exited meanwhile
      ::closedir(dir);
      return std::unexpected(stat.error());
    }
    if (stat->session == session) members.push_back(*stat);
  }
  int saved = errno;
  ::closedir(dir);
  if (saved != 0) return fail_errno(cat("read directory ", proc), saved);
  return members;
}

Result<std::vector<pid_t>> child_pids(pid_t pid, const std::string& proc) {
  std::vector<pid_t> children;
  if (auto listed = read_text_file(cat(proc, "/", pid, "/task/", pid, "/children"))) {
    std::size_t position = 0;
    pid_t child = 0;
    while (next_number(*listed, position, child)) children.push_back(child);
    return children;
  }
  // CONFIG_PROC_CHILDREN missing: every process whose parent is `pid`.
  DIR* dir = ::opendir(proc.c_str());
  if (dir == nullptr) return fail_errno(cat("open ", proc), errno);
  while (const dirent* entry = ::readdir(dir)) {
    if (!is_pid_name(entry->d_name)) continue;
    std::string name = cat(entry->d_name, "/stat");
    auto stat = read_stat_at(::dirfd(dir), name.c_str(), cat(proc, "/", name));
    if (stat && stat->parent == pid) children.push_back(stat->pid);
  }
  ::closedir(dir);
  return children;
}

}  // namespace ipcrt::platform
