// What a denial line says about a refused call (SPEC §15): `arg`, the argument that matters
// for that call (a socket's family and type, an ioctl's request, clone's namespace flags, an
// open's path), and `need`, the narrowest fix. Where no filter change can help because the
// call needs a capability no confined service has, `need` says what to change in the manifest
// instead; calls that programs make and recover from are marked so, with advice that does not
// widen the sandbox.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "config/manifest.hpp"

namespace ipcrt::runtime {

// A refused call as the supervisor sees it, with a way to read the caller's memory (for paths
// and socket addresses; reads that fail leave the argument out).
struct RefusedCall {
  std::string_view syscall;
  std::array<std::uint64_t, 6> args{};
  bool wide = true;  // 64-bit pointers and longs
  std::function<std::optional<std::string>(std::uint64_t address, std::size_t max)> read_string;
  std::function<bool(std::uint64_t address, void* out, std::size_t size)> read_memory;
  // For the set*id calls (changes_ids()): the caller's uid and gid, when they could be read.
  // A call that only sets the ids the caller has needs no capability.
  std::optional<std::pair<std::uint32_t, std::uint32_t>> caller_ids = std::nullopt;
};

// setuid, setresgid, setgroups, ... (and their 32-bit ARM spellings).
[[nodiscard]] bool changes_ids(std::string_view syscall);

struct DenialAdvice {
  std::string argument;  // "" when nothing about it matters
  std::string need;
  // A call programs make and recover from (glibc's probe of nscd's socket): logged at info.
  bool recoverable = false;
};

// `filter_need` is what the filter would need (need_for_syscall): the advice when nothing
// about the call says otherwise.
[[nodiscard]] DenialAdvice advise(const RefusedCall& call, const std::string& filter_need);

// The argument part alone (unit tests, and calls whose need is decided elsewhere).
[[nodiscard]] std::string describe_argument(const RefusedCall& call);

}  // namespace ipcrt::runtime
