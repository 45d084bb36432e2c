// The heap (brk area) of this process, which a launch leaves out of the child it forks
// (docs/decisions.md "Launch: the init's memory").
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "common/error.hpp"

namespace ipcrt::platform {

// Where the heap begins: start_brk of /proc/self/stat (Linux 3.3). Fixed for a process's life.
// Empty where /proc does not say.
[[nodiscard]] std::optional<std::uintptr_t> heap_start();

// Where it ends now (brk(2) with 0).
[[nodiscard]] std::uintptr_t heap_end() noexcept;

// While it lives, the heap from `from` (page-aligned) to its end is left out of the children
// this process forks (madvise MADV_DONTFORK, then MADV_DOFORK again): a child starts without
// those pages, and the fork neither copies their page tables nor makes the parent's pages
// copy-on-write. Only the thread that holds it may fork meanwhile; any other child would
// lack the heap too. `from` 0, or a kernel that refuses: nothing is left out.
class HeapOutOfForks {
 public:
  explicit HeapOutOfForks(std::uintptr_t from) noexcept;
  ~HeapOutOfForks();
  HeapOutOfForks(const HeapOutOfForks&) = delete;
  HeapOutOfForks& operator=(const HeapOutOfForks&) = delete;

  [[nodiscard]] bool left_out() const noexcept { return left_out_; }

 private:
  std::uintptr_t from_ = 0;
  std::uintptr_t end_ = 0;  // 0: nothing marked
  bool left_out_ = false;
};

// Private anonymous memory of its own mapping, read-write, unmapped with the object: apart
// from the heap, so that a child forked without the heap has it.
class PrivateMapping {
 public:
  [[nodiscard]] static Result<PrivateMapping> create(std::size_t size);

  PrivateMapping() = default;
  PrivateMapping(PrivateMapping&& other) noexcept;
  PrivateMapping& operator=(PrivateMapping&& other) noexcept;
  PrivateMapping(const PrivateMapping&) = delete;
  PrivateMapping& operator=(const PrivateMapping&) = delete;
  ~PrivateMapping();

  [[nodiscard]] char* data() const { return data_; }
  [[nodiscard]] std::size_t size() const { return size_; }

 private:
  char* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace ipcrt::platform
