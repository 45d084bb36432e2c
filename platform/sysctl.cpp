#include "platform/sysctl.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>

#include "common/file.hpp"
#include "common/text.hpp"
#include "platform/fd.hpp"

namespace ipcrt::platform {

Result<long> read_sysctl(const std::string& path) {
  auto text = read_text_file(path);
  long value = 0;
  if (text) {
    const char* end = text->data() + text->size();
    auto [ptr, ec] = std::from_chars(text->data(), end, value);
    if (ec == std::errc() && (ptr == end || *ptr == '\n')) return value;
  }
  return fail(cat("cannot read a number from ", path),
              "is CONFIG_POSIX_MQUEUE enabled and /proc mounted?");
}

Status write_sysctl(const std::string& path, long value) {
  const char* hint = "run as root, with CONFIG_POSIX_MQUEUE and /proc mounted read-write";
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd.valid()) return fail_errno(cat("open ", path, " to write ", value), errno, hint);
  std::string text = cat(value, "\n");
  ssize_t written = ::write(fd.get(), text.data(), text.size());
  if (written != static_cast<ssize_t>(text.size())) {
    return fail_errno(cat("write ", value, " to ", path), written < 0 ? errno : EIO, hint);
  }
  return {};
}

}  // namespace ipcrt::platform
