// Whole-file reads with read(2): <fstream> would pull iostreams into the static binary.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "common/error.hpp"

namespace ipcrt {

[[nodiscard]] inline Result<std::string> read_text_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail_errno("open " + path);
  std::string contents;
  char buffer[8192];
  for (;;) {
    ssize_t count = ::read(fd, buffer, sizeof buffer);
    if (count > 0) {
      contents.append(buffer, static_cast<std::size_t>(count));
    } else if (count == 0) {
      break;
    } else if (errno != EINTR) {
      int saved = errno;
      ::close(fd);
      return fail_errno("read " + path, saved);
    }
  }
  ::close(fd);
  return contents;
}

}  // namespace ipcrt
