// Manifest parser and validator (SPEC §2.1–2.4, §2.6): JSON text in, a normalised Manifest and
// every diagnostic out. nlohmann's exceptions stop here and become diagnostics.
#pragma once

#include <optional>
#include <string>
#include <string_view>

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
};

// `file` is only used to fill Manifest::file; diagnostics carry pointers, not the file.
[[nodiscard]] ParseResult parse_manifest(std::string_view text, const std::string& file,
                                         const ParseOptions& options = {});

// Reads `path` and parses it; an unreadable file is a diagnostic, not an exception.
[[nodiscard]] ParseResult load_manifest(const std::string& path, const ParseOptions& options = {});

}  // namespace ipcrt::config
