// One handler per command of SPEC §7; each returns an ExitCode. Arguments have already been
// checked against the command's synopsis by the CLI front end.
#pragma once

#include <string_view>

#include "runtime/cli/cli.hpp"
#include "runtime/manifest_input.hpp"

namespace ipcrt::runtime {

// Prints why `command` stopped at a step (unless the diagnostics already said it all) and
// returns the step's exit status.
[[nodiscard]] int report_step_failure(std::string_view command, const StepFailure& failure);

[[nodiscard]] int command_validate(const CommandLine& command_line);
[[nodiscard]] int command_plan(const CommandLine& command_line);
[[nodiscard]] int command_run(const CommandLine& command_line);
[[nodiscard]] int command_policy(const CommandLine& command_line);
[[nodiscard]] int command_limits(const CommandLine& command_line);
[[nodiscard]] int command_suggest(const CommandLine& command_line);
// The control commands of SPEC §10, clients of a running runtime's socket.
[[nodiscard]] int command_status(const CommandLine& command_line);
[[nodiscard]] int command_connections(const CommandLine& command_line);
[[nodiscard]] int command_queues(const CommandLine& command_line);
[[nodiscard]] int command_start(const CommandLine& command_line);
[[nodiscard]] int command_stop(const CommandLine& command_line);
[[nodiscard]] int command_restart(const CommandLine& command_line);
[[nodiscard]] int command_shutdown(const CommandLine& command_line);
[[nodiscard]] int command_reload(const CommandLine& command_line);
[[nodiscard]] int command_metrics(const CommandLine& command_line);
[[nodiscard]] int command_logs(const CommandLine& command_line);
[[nodiscard]] int command_exec(const CommandLine& command_line);

}  // namespace ipcrt::runtime
