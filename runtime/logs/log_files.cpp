#include "runtime/logs/log_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>

#include "common/log.hpp"
#include "common/text.hpp"

namespace ipcrt::runtime {
namespace {

// Read too, only to look at the last byte a previous boot left (open()).
constexpr int kOpenFlags = O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW;

Status make_directories(const std::string& dir) {
  for (std::size_t slash = 1; slash <= dir.size(); ++slash) {
    if (slash != dir.size() && dir[slash] != '/') continue;
    const std::string prefix = dir.substr(0, slash);
    if (::mkdir(prefix.c_str(), 0750) != 0 && errno != EEXIST) {
      return fail_errno(cat("mkdir ", prefix), errno, "create it or choose another log.dir");
    }
  }
  struct stat info {};
  if (::stat(dir.c_str(), &info) != 0) return fail_errno(cat("stat ", dir));
  if (!S_ISDIR(info.st_mode))
    return fail(cat(dir, " is not a directory"), "choose another log.dir");
  return {};
}

std::uint64_t count_lines(std::string_view text) {
  return static_cast<std::uint64_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

LogFiles::LogFiles(LogFileOptions options, std::string name)
    : options_(std::move(options)), name_(std::move(name)) {
  options_.files = std::max(1U, options_.files);
}

LogFiles::~LogFiles() {
  close();
}

std::string LogFiles::path(unsigned index) const {
  std::string path = cat(options_.dir, '/', name_);
  if (index > 0) path += cat('.', index);
  return path;
}

Status LogFiles::open() {
  if (auto made = make_directories(options_.dir); !made) return made;
  const std::string current = path(0);
  platform::UniqueFd fd(::open(current.c_str(), kOpenFlags, 0640));
  if (!fd.valid()) return fail_errno(cat("open ", current));
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) return fail_errno(cat("stat ", current));
  if (!S_ISREG(info.st_mode)) return fail(cat(current, " is not a regular file"));
  size_ = static_cast<std::size_t>(info.st_size);
  // A power cut may have left the last line of the previous boot unfinished: end it, so the
  // first line of this boot does not continue it.
  if (size_ > 0) {
    char last = '\n';
    if (::pread(fd.get(), &last, 1, info.st_size - 1) == 1 && last != '\n' &&
        ::write(fd.get(), "\n", 1) == 1) {
      ++size_;
    }
  }
  fd_ = std::move(fd);
  opened_ = true;
  return {};
}

bool LogFiles::add(std::string_view line) {
  if (!fd_.valid()) {
    if (opened_) ++lost_;  // a rotation failed: the file is gone
    return false;
  }
  batch_.append(line);
  batch_ += '\n';
  return batch_.size() >= kBatchMax;
}

Status LogFiles::rotate() {
  fd_.reset();
  for (unsigned index = options_.files - 1; index >= 1; --index) {
    // Over the oldest, which goes; a rotated file that is missing is no error.
    if (::rename(path(index - 1).c_str(), path(index).c_str()) != 0 && errno != ENOENT) {
      return fail_errno(cat("rename ", path(index - 1)));
    }
  }
  const std::string current = path(0);
  platform::UniqueFd fd(::open(current.c_str(), kOpenFlags | O_TRUNC, 0640));
  if (!fd.valid()) return fail_errno(cat("open ", current));
  fd_ = std::move(fd);
  size_ = 0;
  return {};
}

void LogFiles::flush() {
  if (batch_.empty() || !fd_.valid()) return;
  // Taken out first: a warning logged below comes back here as a line of the next batch.
  std::string batch;
  batch.swap(batch_);
  std::string_view rest = batch;
  std::optional<Error> failure;
  while (!rest.empty()) {
    const std::size_t room = size_ < options_.max_bytes ? options_.max_bytes - size_ : 0;
    // The whole lines that still fit in the current file.
    std::size_t fits = 0;
    if (room >= rest.size()) {
      fits = rest.size();
    } else if (room > 0) {
      const std::size_t end = rest.rfind('\n', room - 1);
      fits = end == std::string_view::npos ? 0 : end + 1;
    }
    if (fits == 0) {
      if (size_ == 0) {
        // One line longer than a whole file (max-bytes is at least 64 KiB, a line about
        // 17 KiB): dropped rather than break the bound.
        const std::size_t end = rest.find('\n');
        rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
        ++lost_;
        continue;
      }
      if (auto rotated = rotate(); !rotated) {
        failure = rotated.error();
        break;
      }
      continue;
    }
    std::size_t done = 0;
    while (done < fits) {
      const ssize_t written = ::write(fd_.get(), rest.data() + done, fits - done);
      if (written < 0 && errno == EINTR) continue;
      if (written <= 0) {
        failure = Error{cat("write ", path(0)), written < 0 ? errno : ENOSPC, {}};
        break;
      }
      done += static_cast<std::size_t>(written);
      size_ += static_cast<std::size_t>(written);
    }
    if (failure) break;
    rest.remove_prefix(fits);
  }
  if (!failure) return;
  lost_ += count_lines(rest);
  if (!warned_) {
    warned_ = true;
    log_warn("log file not written")
        .field("error", failure->describe())
        .field("hint", "lines still reach stderr and `ipcrt logs`; check the space on log.dir");
  }
}

void LogFiles::close() {
  if (!fd_.valid()) return;
  flush();
  (void)::fdatasync(fd_.get());
  fd_.reset();
  opened_ = false;
}

}  // namespace ipcrt::runtime
