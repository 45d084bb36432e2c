// The value syntaxes of `resources` (SPEC §13) and `stop-signal` (SPEC §11) as pure functions:
// text in, a typed value or the reason (with a hint naming the allowed forms) out. The parser
// adds the JSON pointer; `plan` and logs print the values back with the same spelling.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "config/manifest.hpp"

namespace ipcrt::config {

// The largest byte count anywhere in `resources`: what an off_t (and a cgroup file) holds.
inline constexpr std::uint64_t kMaxBytes = 9223372036854775807ULL;

// How sizes are written, for messages.
inline constexpr std::string_view kSizeForms =
    "bytes (65536) or a size with K, M, G or T (\"64M\")";

// A size string: decimal digits with an optional K, M, G or T (powers of 1024): "65536", "64K",
// "16M", at most kMaxBytes; with `allow_max`, also "max" (kNoLimit). Lower-case suffixes,
// "MiB"/"MB", fractions and spaces are refused with a hint that says how to write the value.
[[nodiscard]] Result<std::uint64_t> parse_size(std::string_view text, bool allow_max = false);

// Bytes as the manifest would write them: "16M" when exact, else the number: "16777217".
[[nodiscard]] std::string format_size(std::uint64_t bytes);

// The kernel's bounds on cpu.max (kernel/sched/core.c): period 1 ms .. 1 s, quota at least
// 1 ms and at most max_cfs_runtime (2^44 - 1 µs).
inline constexpr std::uint64_t kMinCpuPeriodUs = 1000;
inline constexpr std::uint64_t kMaxCpuPeriodUs = 1000000;
inline constexpr std::uint64_t kMinCpuQuotaUs = 1000;
inline constexpr std::uint64_t kMaxCpuQuotaUs = (1ULL << 44U) - 1;

// `cpu-max`: "50%" of one CPU (up to three decimals; above 100% for several CPUs) with the
// period 100000 µs, "QUOTA PERIOD" in µs, "max" or "max PERIOD" (cpu.max's own syntax).
[[nodiscard]] Result<CpuMax> parse_cpu_max(std::string_view text);

// What cpu.max takes: "50000 100000", "max 100000".
[[nodiscard]] std::string format_cpu_max(const CpuMax& cpu);

// `stop-signal`: a name with or without "SIG" ("SIGTERM", "TERM"), upper-case, among those a
// program may treat as "stop": TERM, INT, HUP, QUIT, USR1, USR2, ABRT, ALRM, WINCH, PWR. Numbers
// are refused (they differ between architectures), SIGKILL and SIGSTOP with the reason.
[[nodiscard]] Result<int> parse_stop_signal(std::string_view text);

// "SIGTERM" for a signal parse_stop_signal() accepts, or SIGKILL; else "signal N".
[[nodiscard]] std::string signal_name(int signal);

}  // namespace ipcrt::config
