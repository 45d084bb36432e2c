// `${NAME}` and `$$` in command arguments, read by hand (no <regex>).
#include "config/expansion.hpp"

#include <optional>

#include "common/text.hpp"

namespace ipcrt::config {
namespace {

bool is_name_start(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9');
}

// One `$` at `at`: a literal `$` ("$$"), a name ("${NAME}"), or the reason it is neither.
struct Dollar {
  std::size_t length = 0;  // bytes it spans
  std::string_view name;   // empty for "$$"
  std::string problem;
};

Dollar read_dollar(std::string_view text, std::size_t at) {
  const std::string_view rest = text.substr(at + 1);
  const std::string literal_hint = "write \"$$\" for a literal '$'";
  if (rest.empty()) {
    return {0, {}, cat("'$' at the end of the argument: ", literal_hint)};
  }
  if (rest[0] == '$') return {2, {}, {}};
  if (rest[0] != '{') {
    std::size_t word = 0;
    while (word < rest.size() && is_name_char(rest[word])) ++word;
    const std::string_view name = rest.substr(0, word);
    return {0,
            {},
            name.empty() || !is_name_start(name[0])
                ? cat("'$' before '", rest[0], "' expands nothing: ", literal_hint)
                : cat("\"$", name, "\" is not expanded: write \"${", name,
                      "}\" for the variable, or \"$$\" for a literal '$'")};
  }
  const auto close = rest.find('}');
  if (close == std::string_view::npos) {
    return {0, {}, cat("\"$", rest, "\" has no closing '}': write \"${NAME}\"")};
  }
  const std::string_view name = rest.substr(1, close - 1);
  if (name.empty()) return {0, {}, "\"${}\" names no variable: write \"${NAME}\""};
  bool valid = is_name_start(name[0]);
  for (char c : name) valid = valid && is_name_char(c);
  if (!valid) {
    return {0,
            {},
            cat("\"${", name,
                "}\" is not a variable name: letters, digits and '_', not starting with a "
                "digit (no shell operators such as \":-\")")};
  }
  return {close + 2, name, {}};
}

}  // namespace

std::string check_argument_syntax(std::string_view argument) {
  for (std::size_t at = argument.find('$'); at != std::string_view::npos;) {
    Dollar dollar = read_dollar(argument, at);
    if (!dollar.problem.empty()) return dollar.problem;
    at = argument.find('$', at + dollar.length);
  }
  return {};
}

std::string check_program_syntax(std::string_view program) {
  if (program.find('$') == std::string_view::npos) return {};
  return cat("\"", program,
             "\" contains '$', but the program path (command[0]) is never expanded: write the "
             "path out (through a symlink if its file name has a '$')");
}

Result<std::string> expand_argument(std::string_view argument, const Environment& environment) {
  std::string out;
  std::size_t from = 0;
  for (std::size_t at = argument.find('$'); at != std::string_view::npos;
       at = argument.find('$', from)) {
    out.append(argument.substr(from, at - from));
    Dollar dollar = read_dollar(argument, at);
    if (!dollar.problem.empty()) return fail(dollar.problem);
    if (dollar.name.empty()) {
      out += '$';
    } else {
      const std::string* value = nullptr;
      for (const auto& [key, entry] : environment) {
        if (key == dollar.name) {
          value = &entry;
          break;
        }
      }
      if (value == nullptr) {
        return fail(cat("\"${", dollar.name, "}\" names no variable of the service's environment"),
                    cat("set ", dollar.name, " in \"environment\", or write \"$${", dollar.name,
                        "}\" for the text itself"));
      }
      out += *value;
    }
    from = at + dollar.length;
  }
  out.append(argument.substr(from));
  return out;
}

std::expected<std::vector<std::string>, std::vector<ExpansionError>> expand_arguments(
    const std::vector<std::string>& command, const Environment& environment) {
  std::vector<std::string> expanded;
  std::vector<ExpansionError> errors;
  for (std::size_t i = 0; i < command.size(); ++i) {
    if (i == 0) {
      expanded.push_back(command[0]);
      continue;
    }
    auto argument = expand_argument(command[i], environment);
    if (argument) {
      expanded.push_back(std::move(*argument));
    } else {
      errors.push_back({i, std::move(argument.error())});
    }
  }
  if (!errors.empty()) return std::unexpected(std::move(errors));
  return expanded;
}

}  // namespace ipcrt::config
