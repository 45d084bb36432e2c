// Manifest parser and validator (SPEC §2.1–2.4, §2.6, and the keys of §4a, §11, §13, §15):
// JSON text in, a normalised Manifest and every diagnostic out. nlohmann's exceptions stop here
// and become diagnostics.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "config/diagnostics.hpp"
#include "config/manifest.hpp"

namespace ipcrt::config {

struct ParseResult {
  std::optional<Manifest> manifest;  // set only when diagnostics has no errors
  Diagnostics diagnostics;
};

struct ParseOptions {
  // Queue paths ending in one `*` (SPEC §6); only valid where name-level mediation runs.
  bool allow_queue_patterns = false;
  // Whether a seccomp.allow or seccomp.deny entry names a syscall or group that exists (message
  // and hint), or nullopt. libseccomp belongs to the runtime, which passes
  // runtime::seccomp_entry_problem; unset, only the spelling of each entry is checked.
  std::optional<Error> (*seccomp_entry_problem)(std::string_view entry, SeccompList list) = nullptr;
};

// `file` is only used to fill Manifest::file; diagnostics carry pointers, not the file.
[[nodiscard]] ParseResult parse_manifest(std::string_view text, const std::string& file,
                                         const ParseOptions& options = {});

// SPEC §2.6: `after` entries that form a cycle, one error per cycle naming it. parse_manifest
// applies it; the planner reports with it too, for models built without the parser.
void check_after_cycles(const Manifest& manifest, Diagnostics& diagnostics);

// Reads `path` and parses it; an unreadable file is a diagnostic, not an exception.
[[nodiscard]] ParseResult load_manifest(const std::string& path, const ParseOptions& options = {});

}  // namespace ipcrt::config
