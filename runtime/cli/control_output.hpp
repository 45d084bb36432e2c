// What the control commands (status, connections, queues, start, stop, restart, shutdown,
// metrics, logs) share: reaching the runtime and calling it with SPEC §7's exit statuses and
// messages, and printing aligned columns.
#pragma once

#include <chrono>
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/cli/cli.hpp"
#include "runtime/control/client.hpp"
#include "runtime/control/json.hpp"

namespace ipcrt::runtime {

// A connection to the runtime the command line names (--manifest) or the only one; on failure
// the message is printed and the exit status returned (5; 2 when several run and none is
// named).
[[nodiscard]] std::expected<control::ControlClient, int> connect_runtime(
    const CommandLine& command_line);

// Calls `method` and returns the reply's parameters. A varlink error is printed as a sentence
// and turned into an exit status: 5 for PermissionDenied or a lost runtime, 3 for an unknown
// service or a failed operation.
[[nodiscard]] std::expected<control::Json, int> call_runtime(
    control::ControlClient& client, const CommandLine& command_line, std::string_view method,
    const control::Json& parameters = control::Json::object());

// call_runtime for a call with more: `each` gets every reply's parameters as they come (the
// last one included) and returns false to stop. Without `timeout`, waits as long as the
// runtime streams.
[[nodiscard]] std::expected<control::Json, int> stream_runtime(
    control::ControlClient& client, const CommandLine& command_line, std::string_view method,
    const control::Json& parameters, const std::function<bool(const control::Json&)>& each,
    std::optional<std::chrono::milliseconds> timeout);

// Prints `value` as `--json` does: the reply's members as they are, indented.
void print_json(const control::Json& value);

// Left-aligned columns two spaces apart, a header line first.
[[nodiscard]] std::string render_table(const std::vector<std::string>& header,
                                       const std::vector<std::vector<std::string>>& rows);

// A JSON member as a cell: "-" for null or absent, numbers and strings as they are, control
// characters as '?'.
[[nodiscard]] std::string cell(const control::Json& object, const char* key);

}  // namespace ipcrt::runtime
