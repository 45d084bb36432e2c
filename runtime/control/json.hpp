// The control interface's JSON: nlohmann's ordered_json, the one instantiation in the binary
// (config/parser.cpp uses the same), so reply members keep the order the IDL gives them.
#pragma once

#include <nlohmann/json.hpp>

namespace ipcrt::runtime::control {

using Json = nlohmann::ordered_json;

// Serialises `value` without throwing: invalid UTF-8 in a string (a name the kernel returned,
// say) becomes U+FFFD instead of an exception in the supervisor.
[[nodiscard]] inline std::string dump_json(const Json& value, int indent = -1) {
  return value.dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace ipcrt::runtime::control
