// The heap (brk area) of this process, for an init that keeps little of the runtime it was
// forked from (docs/decisions.md "Launch: the init's memory").
#pragma once

#include <cstdint>

#include "common/error.hpp"

namespace ipcrt::platform {

// Where the heap begins: start_brk of /proc/self/stat (Linux 3.3). Fixed for a process's life.
[[nodiscard]] Result<std::uintptr_t> heap_start();

// Where it ends now (brk(2) with 0). Async-signal-safe.
[[nodiscard]] std::uintptr_t heap_end() noexcept;

// brk(2): the heap above `end` is unmapped. 0, or -ENOMEM when the kernel kept the heap as it
// was (below its start). Async-signal-safe, allocates nothing.
[[nodiscard]] int shrink_heap(std::uintptr_t end) noexcept;

}  // namespace ipcrt::platform
