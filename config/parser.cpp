// Manifest parser: the edge where nlohmann-json exceptions become diagnostics.
#include "config/parser.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/text.hpp"

namespace ipcrt::config {
namespace {

using Json = nlohmann::ordered_json;

// nlohmann reports a byte offset; editors want line and column (1-based).
void report_syntax_error(std::string_view text, const nlohmann::json::parse_error& error,
                         Diagnostics& diagnostics) {
  const std::size_t offset = error.byte == 0 ? 0 : std::min(error.byte - 1, text.size());
  int line = 1;
  int column = 1;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  std::string what = error.what();
  // Keep nlohmann's explanation, drop its "[json.exception.parse_error.101] parse error at
  // line 3, column 14: " prefix, which repeats what the location already says.
  if (auto colon = what.find(": "); colon != std::string::npos) what = what.substr(colon + 2);
  diagnostics.syntax_error(line, column, "invalid JSON: " + what);
}

void read_top_level(const Json& document, Manifest& manifest, Diagnostics& diagnostics) {
  if (!document.is_object()) {
    diagnostics.error("", "the manifest must be a JSON object");
    return;
  }
  auto version = document.find("version");
  if (version == document.end()) {
    diagnostics.error("/version", "missing \"version\": add \"version\": 1");
  } else if (!version->is_number_integer() || version->get<long long>() != 1) {
    diagnostics.error("/version", "unsupported version " + version->dump() + ": use 1");
  }
  auto name = document.find("name");
  if (name != document.end() && name->is_string()) manifest.name = name->get<std::string>();
}

}  // namespace

ParseResult parse_manifest(std::string_view text, const std::string& file) {
  ParseResult result;
  Json document;
  try {
    document = Json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& error) {
    report_syntax_error(text, error, result.diagnostics);
    return result;
  }
  Manifest manifest;
  manifest.file = file;
  read_top_level(document, manifest, result.diagnostics);
  if (!result.diagnostics.has_errors()) result.manifest = std::move(manifest);
  return result;
}

ParseResult load_manifest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ParseResult result;
    result.diagnostics.error("", "cannot read the manifest file: check the path and permissions");
    return result;
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  return parse_manifest(contents.str(), path);
}

}  // namespace ipcrt::config
