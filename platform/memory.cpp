#include "platform/memory.hpp"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <string>
#include <utility>

#include "common/file.hpp"

namespace ipcrt::platform {

std::optional<std::uintptr_t> heap_start() {
  auto stat = read_text_file("/proc/self/stat");
  if (!stat) return std::nullopt;
  // "pid (comm) state ...": comm may hold spaces and ')', so fields are counted from the
  // last ')'; the state is field 3, start_brk field 47 (proc(5), Linux 3.3).
  std::size_t at = stat->rfind(')');
  for (int field = 3; at != std::string::npos && field < 48; ++field) at = stat->find(' ', at + 1);
  if (at == std::string::npos) return std::nullopt;
  const unsigned long long value = std::strtoull(stat->c_str() + at + 1, nullptr, 10);
  // 0 is no heap a kernel gives a process (qemu-user's emulated /proc says so).
  if (value == 0) return std::nullopt;
  return static_cast<std::uintptr_t>(value);
}

std::uintptr_t heap_end() noexcept {
  return static_cast<std::uintptr_t>(::syscall(SYS_brk, 0));
}

HeapOutOfForks::HeapOutOfForks(std::uintptr_t from) noexcept {
  if (from == 0) return;
  const std::uintptr_t end = heap_end();
  if (end <= from) return;
  from_ = from;
  end_ = end;
  // A failure may have left part of the range marked: the destructor unmarks it all.
  left_out_ = ::madvise(reinterpret_cast<void*>(from), end - from, MADV_DONTFORK) == 0;
}

HeapOutOfForks::~HeapOutOfForks() {
  if (end_ == 0) return;
  // Another thread's malloc may have moved the heap's end since: all of it, mapped or not
  // (madvise skips the holes and says ENOMEM).
  const std::uintptr_t end = std::max(end_, heap_end());
  (void)::madvise(reinterpret_cast<void*>(from_), end - from_, MADV_DOFORK);
}

Result<PrivateMapping> PrivateMapping::create(std::size_t size) {
  void* data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (data == MAP_FAILED) return fail_errno("mmap of private memory");
  PrivateMapping mapping;
  mapping.data_ = static_cast<char*>(data);
  mapping.size_ = size;
  return mapping;
}

PrivateMapping::PrivateMapping(PrivateMapping&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

PrivateMapping& PrivateMapping::operator=(PrivateMapping&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) ::munmap(data_, size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

PrivateMapping::~PrivateMapping() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

}  // namespace ipcrt::platform
