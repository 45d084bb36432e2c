// Reading and writing one numeric sysctl file (/proc/sys/...).
#pragma once

#include <string>

#include "common/error.hpp"

namespace ipcrt::platform {

// The number in `path` (a decimal integer, optionally followed by a newline).
[[nodiscard]] Result<long> read_sysctl(const std::string& path);

// Writes `value` followed by a newline to `path` in one write.
[[nodiscard]] Status write_sysctl(const std::string& path, long value);

}  // namespace ipcrt::platform
