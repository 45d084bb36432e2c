// Fields of /proc/<pid>/status ("Umask:\t0022", "CapEff:\t000001ffffffffff", "VmRSS:\t 1234 kB"):
// one parser for every reader, so a field is found at the start of its line and never inside
// another field's value.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace ipcrt::platform {

// The value of field `name` ("Umask") in a status text, without the whitespace around it;
// nullopt when the text has no such field.
[[nodiscard]] std::optional<std::string_view> proc_status_field(std::string_view status_text,
                                                                std::string_view name);

// The number at the start of field `name`'s value, read in `base` (Umask is octal, CapEff
// hexadecimal, VmRSS decimal kB); nullopt when the field is missing or holds no number.
[[nodiscard]] std::optional<std::uint64_t> proc_status_number(std::string_view status_text,
                                                              std::string_view name, int base);

// The status text of process `pid`, as this process's /proc shows it.
[[nodiscard]] Result<std::string> read_proc_status(pid_t pid);

// This process's own status text: /proc/self, which is right even where getpid() is not the
// number this /proc knows it by (a /proc mounted for another PID namespace).
[[nodiscard]] Result<std::string> read_own_proc_status();

}  // namespace ipcrt::platform
