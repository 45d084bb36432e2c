// SPEC §15: `${NAME}` in `command` arguments expands, inside the one argument, from the
// service's final environment; `$$` is a literal `$`; `command[0]` is never expanded. The
// syntax is checked at `validate` (check_argument_syntax), the names at `plan`, once the final
// environment is known (expand_arguments).
#pragma once

#include <cstddef>
#include <expected>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"

namespace ipcrt::config {

using Environment = std::vector<std::pair<std::string, std::string>>;

// Why `argument` (command[1] onwards) is not valid: a `$` not followed by `{` or `$`, a `${`
// without its `}`, or a NAME that is not `[A-Za-z_][A-Za-z0-9_]*`. "" when valid.
[[nodiscard]] std::string check_argument_syntax(std::string_view argument);

// Why `program` (command[0]) is not valid: it contains a `$` ("" when valid). It is never
// expanded (the program is resolved before the service's environment is final), so a `$` there
// is refused rather than taken literally: it would be read as a variable that never expands.
[[nodiscard]] std::string check_program_syntax(std::string_view program);

// One argument expanded from `environment` (the first entry of a name counts, as getenv finds
// it). An undefined name is an error naming it; syntax errors are check_argument_syntax's.
[[nodiscard]] Result<std::string> expand_argument(std::string_view argument,
                                                  const Environment& environment);

struct ExpansionError {
  std::size_t argument;  // index into the command: the JSON pointer is .../command/<argument>
  Error error;
};

// The command with every argument but command[0] expanded, or every argument's problem.
[[nodiscard]] std::expected<std::vector<std::string>, std::vector<ExpansionError>> expand_arguments(
    const std::vector<std::string>& command, const Environment& environment);

}  // namespace ipcrt::config
