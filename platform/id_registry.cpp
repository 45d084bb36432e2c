// The id registry's file format, its lock and its atomic replacement.
#include "platform/id_registry.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <thread>

#include "common/file.hpp"
#include "common/text.hpp"
#include "platform/users.hpp"

namespace ipcrt::platform {
namespace {

constexpr std::string_view kHeader = "ipcrt-ids 1";
constexpr std::string_view kExplanation =
    "# Dynamic user and group ids of ipcrt (SPEC 4.3), one \"ID KEY\" per line; KEY is\n"
    "# MANIFEST/SERVICE (a user) or MANIFEST/SERVICE:SLOT (a slot's group). An id stays with\n"
    "# its key: delete a line only once nothing owned by its id is left.\n";

bool valid_key(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

// FNV-1a: small, stable across builds and architectures (std::hash is neither promised).
std::uint32_t key_hash(std::string_view key) {
  std::uint32_t hash = 2166136261U;
  for (char c : key) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 16777619U;
  }
  return hash;
}

// Whoever may write the registry or its directory decides which service gets which files.
Status check_trusted(const std::string& path, const struct stat& info, const char* what) {
  const uid_t self = ::geteuid();
  if (info.st_uid != self && info.st_uid != 0) {
    return fail(
        cat(what, ' ', path, " belongs to uid ", static_cast<unsigned long>(info.st_uid),
            ", not to root or this process (uid ", static_cast<unsigned long>(self), ")"),
        cat("whoever owns it decides which service gets which dynamic id: chown root ", path));
  }
  if ((info.st_mode & 022) != 0) {
    return fail(cat(what, ' ', path, " is writable by its group or by others"),
                cat("anyone who may write it decides which service gets which dynamic id: "
                    "chmod go-w ",
                    path));
  }
  return {};
}

Status create_directories(const std::string& dir) {
  if (dir.empty() || dir.front() != '/') {
    return fail(cat("state directory \"", dir, "\" is not an absolute path"),
                "set IPCRT_STATE_DIR to an absolute path, or unset it for /var/lib/ipcrt");
  }
  for (std::size_t end = 1; end <= dir.size(); ++end) {
    if (end != dir.size() && dir[end] != '/') continue;
    const std::string prefix = dir.substr(0, end);
    if (::mkdir(prefix.c_str(), 0755) == 0) {
      // mkdir applies the umask; the registry's readers need the directory as 0755.
      if (::chmod(prefix.c_str(), 0755) != 0) return fail_errno(cat("chmod 0755 ", prefix));
    } else if (errno != EEXIST) {
      return fail_errno(cat("mkdir ", prefix), errno,
                        "the id registry needs a writable state directory (run as root)");
    }
  }
  return {};
}

Status write_all(int fd, std::string_view text, const std::string& path) {
  while (!text.empty()) {
    ssize_t written = ::write(fd, text.data(), text.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return fail_errno(cat("write ", path));
    }
    text.remove_prefix(static_cast<std::size_t>(written));
  }
  return {};
}

}  // namespace

Result<IdRegistry> IdRegistry::open_for_update(const std::string& dir,
                                               std::chrono::milliseconds lock_timeout) {
  if (auto created = create_directories(dir); !created) return std::unexpected(created.error());
  struct stat info {};
  if (::stat(dir.c_str(), &info) != 0) return fail_errno(cat("stat ", dir));
  if (!S_ISDIR(info.st_mode)) return fail(cat(dir, " is not a directory"), "remove it");
  if (auto trusted = check_trusted(dir, info, "state directory"); !trusted) {
    return std::unexpected(trusted.error());
  }
  IdRegistry registry;
  registry.dir_ = dir;
  registry.path_ = dir + "/ids";
  const std::string lock_path = dir + "/ids.lock";
  registry.lock_.reset(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!registry.lock_.valid()) return fail_errno(cat("open ", lock_path));
  // Polled rather than blocking: a runtime stuck while holding it must not hang this one.
  const auto deadline = std::chrono::steady_clock::now() + lock_timeout;
  while (::flock(registry.lock_.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) return fail_errno(cat("flock ", lock_path));
    if (std::chrono::steady_clock::now() >= deadline) {
      return fail(
          cat("the id registry stays locked by another process (", lock_path, ")"),
          cat("another ipcrt is starting; if none is, find the holder with fuser ", lock_path));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (auto loaded = registry.load(); !loaded) return std::unexpected(loaded.error());
  return registry;
}

Result<IdRegistry> IdRegistry::read_only(const std::string& dir) {
  IdRegistry registry;
  registry.dir_ = dir;
  registry.path_ = dir + "/ids";
  if (auto loaded = registry.load(); !loaded) return std::unexpected(loaded.error());
  return registry;
}

Status IdRegistry::load() {
  UniqueFd fd(::open(path_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return {};
    return fail_errno(cat("open ", path_));
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) return fail_errno(cat("fstat ", path_));
  if (!S_ISREG(info.st_mode)) return fail(cat(path_, " is not a regular file"), "remove it");
  if (auto trusted = check_trusted(path_, info, "id registry"); !trusted) return trusted;
  auto text = read_to_end(fd.get(), path_);
  if (!text) return std::unexpected(text.error());

  // A damaged registry is never reset: forgetting which id owns which files would give them
  // to whichever service gets the id next.
  const std::string hint = cat("restore ", path_,
                               " from a backup or repair the line by hand; deleting it would let "
                               "ipcrt give ids that still own files to other services");
  std::string_view rest = *text;
  int line_number = 0;
  while (!rest.empty()) {
    ++line_number;
    const std::size_t end = rest.find('\n');
    if (end == std::string_view::npos) {
      return fail(cat(path_, ':', line_number, ": the file ends in the middle of a line"), hint);
    }
    const std::string_view line = rest.substr(0, end);
    rest.remove_prefix(end + 1);
    if (line_number == 1) {
      if (line != kHeader) {
        return fail(cat(path_, ":1: expected \"", kHeader, "\", found \"", line, "\""), hint);
      }
      continue;
    }
    if (line.empty() || line.front() == '#') continue;
    const std::size_t space = line.find(' ');
    const auto id =
        space == std::string_view::npos ? std::nullopt : parse_id(line.substr(0, space));
    const std::string_view key =
        space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    if (!id || !valid_key(key)) {
      return fail(cat(path_, ':', line_number, ": expected \"ID KEY\", found \"", line, "\""),
                  hint);
    }
    if (keys_.contains(*id) || ids_.contains(key)) {
      return fail(cat(path_, ':', line_number, ": ", keys_.contains(*id) ? "id" : "key",
                      " given twice in \"", line, "\""),
                  hint);
    }
    ids_.emplace(std::string(key), *id);
    keys_.emplace(*id, std::string(key));
  }
  if (line_number == 0) return fail(cat(path_, " is empty"), hint);
  return {};
}

std::optional<unsigned> IdRegistry::id_of(std::string_view key) const {
  auto it = ids_.find(key);
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

const std::string* IdRegistry::key_of(unsigned id) const {
  auto it = keys_.find(id);
  return it == keys_.end() ? nullptr : &it->second;
}

Result<unsigned> IdRegistry::allocate(const std::string& key, IdRange range,
                                      const std::set<unsigned>& taken) {
  if (auto known = id_of(key)) return *known;
  if (!valid_key(key)) {
    return fail(cat("id registry key \"", key, "\" has a space or a non-printable character"));
  }
  const unsigned size = range.size();
  const unsigned start = key_hash(key) % size;
  for (unsigned step = 0; step < size; ++step) {
    const unsigned id = range.first + (start + step) % size;
    if (keys_.contains(id) || taken.contains(id)) continue;
    ids_.emplace(key, id);
    keys_.emplace(id, key);
    changed_ = true;
    return id;
  }
  std::size_t registered = 0;
  for (const auto& [id, owner] : keys_) registered += range.contains(id);
  return fail(cat("no dynamic id left for ", key, " in ", range.first, "-", range.last, ": ",
                  registered, " belong to keys in ", path_, ", the rest to host accounts"),
              cat("delete the lines of manifests no longer on this device from ", path_,
                  ", once nothing their ids own is left"));
}

Status IdRegistry::save() {
  if (!lock_.valid()) return fail(cat(path_, " was opened read-only and cannot be saved"));
  if (!changed_) return {};
  std::string text = cat(kHeader, '\n', kExplanation);
  for (const auto& [id, key] : keys_) text += cat(id, ' ', key, '\n');

  const std::string temporary = path_ + ".tmp";
  // Left by a runtime that died while saving; nobody else writes it while we hold the lock.
  if (::unlink(temporary.c_str()) != 0 && errno != ENOENT) {
    return fail_errno(cat("unlink ", temporary));
  }
  UniqueFd fd(
      ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd.valid()) return fail_errno(cat("create ", temporary));
  auto written = [&]() -> Status {
    if (::fchmod(fd.get(), 0644) != 0) return fail_errno(cat("chmod 0644 ", temporary));
    if (auto all = write_all(fd.get(), text, temporary); !all) return all;
    if (::fsync(fd.get()) != 0) return fail_errno(cat("fsync ", temporary));
    if (::rename(temporary.c_str(), path_.c_str()) != 0) {
      return fail_errno(cat("rename ", temporary, " to ", path_));
    }
    return {};
  }();
  if (!written) {
    ::unlink(temporary.c_str());
    return written;
  }
  // The rename is durable only once the directory is.
  UniqueFd dir(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid() || ::fsync(dir.get()) != 0) return fail_errno(cat("fsync ", dir_));
  changed_ = false;
  return {};
}

}  // namespace ipcrt::platform
