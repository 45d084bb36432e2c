// libFuzzer target for the manifest edge: any bytes go through parse_manifest and, when they
// form a valid manifest, resolve_connections. Beyond the sanitizers it checks the parser's
// contract: a manifest is returned only without errors, and every pointer is a JSON pointer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/connections.hpp"
#include "config/parser.hpp"

namespace {

void check_contract(const ipcrt::config::ParseResult& result) {
  if (result.manifest.has_value() == result.diagnostics.has_errors()) std::abort();
  for (const auto& item : result.diagnostics.items()) {
    if (!item.pointer.empty() && item.pointer.front() != '/') std::abort();
    if (item.message.empty()) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (bool patterns : {false, true}) {
    ipcrt::config::ParseOptions options;
    options.allow_queue_patterns = patterns;
    auto result = ipcrt::config::parse_manifest(text, "fuzz.json", options);
    check_contract(result);
    if (result.manifest) {
      ipcrt::config::Diagnostics diagnostics;
      auto connections = ipcrt::config::resolve_connections(*result.manifest, diagnostics);
      for (const auto& connection : connections) {
        if (connection.plug_service.empty() || connection.plug.empty()) std::abort();
      }
    }
    (void)result.diagnostics.format("fuzz.json");
  }
  return 0;
}
