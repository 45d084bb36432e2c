#include "platform/memory.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "common/file.hpp"

namespace ipcrt::platform {

Result<std::uintptr_t> heap_start() {
  auto stat = read_text_file("/proc/self/stat");
  if (!stat) return std::unexpected(stat.error());
  // "pid (comm) state ...": comm may hold spaces and ')', so fields are counted from the
  // last ')'; the state is field 3, start_brk field 47 (proc(5)).
  const auto close = stat->rfind(')');
  if (close == std::string::npos) return fail("/proc/self/stat has no ')'");
  std::size_t at = close + 1;
  for (int field = 3; field < 47; ++field) {
    at = stat->find(' ', at + 1);
    if (at == std::string::npos) return fail("/proc/self/stat has no start_brk (Linux < 3.3)");
  }
  char* end = nullptr;
  const unsigned long long value = std::strtoull(stat->c_str() + at + 1, &end, 10);
  if (end == stat->c_str() + at + 1) return fail("/proc/self/stat: start_brk is not a number");
  return static_cast<std::uintptr_t>(value);
}

std::uintptr_t heap_end() noexcept {
  return static_cast<std::uintptr_t>(::syscall(SYS_brk, 0));
}

int shrink_heap(std::uintptr_t end) noexcept {
  return static_cast<std::uintptr_t>(::syscall(SYS_brk, end)) == end ? 0 : -ENOMEM;
}

}  // namespace ipcrt::platform
