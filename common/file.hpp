// Whole-file and whole-pipe reads with read(2): <fstream> would pull iostreams into the static
// binary.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "common/error.hpp"

namespace ipcrt {

// What is left to read on `fd`: a file to its end, a pipe until every writer has closed it.
// `what` names the descriptor in the error. The caller keeps and closes `fd`.
[[nodiscard]] inline Result<std::string> read_to_end(int fd, const std::string& what) {
  std::string contents;
  char buffer[8192];
  for (;;) {
    ssize_t count = ::read(fd, buffer, sizeof buffer);
    if (count > 0) {
      contents.append(buffer, static_cast<std::size_t>(count));
    } else if (count == 0) {
      return contents;
    } else if (errno != EINTR) {
      int saved = errno;
      return fail_errno("read " + what, saved);
    }
  }
}

[[nodiscard]] inline Result<std::string> read_text_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail_errno("open " + path);
  auto contents = read_to_end(fd, path);
  ::close(fd);
  return contents;
}

}  // namespace ipcrt
