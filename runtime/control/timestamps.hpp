// Times on the control interface: RFC 3339 in UTC with milliseconds, "2026-12-01T14:06:09.123Z"
// (the `ts=` of SPEC §14's log lines), and back for the CLI's "3 min ago".
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace ipcrt::runtime::control {

[[nodiscard]] std::string format_timestamp(std::chrono::system_clock::time_point when);
// nullopt when `text` is not of format_timestamp's form.
[[nodiscard]] std::optional<std::chrono::system_clock::time_point> parse_timestamp(
    std::string_view text);

// "45s", "3m12s", "2h05m", "3d04h": how long, for people.
[[nodiscard]] std::string format_duration(std::chrono::seconds duration);

}  // namespace ipcrt::runtime::control
