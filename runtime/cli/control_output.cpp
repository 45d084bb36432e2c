#include "runtime/cli/control_output.hpp"

#include <cstdio>

#include "common/text.hpp"
#include "runtime/control/methods.hpp"

namespace ipcrt::runtime {
namespace {

using control::Json;

int print_failure(const CommandLine& command_line, const std::string& message, int status) {
  std::fprintf(stderr, "ipcrt: %s: %s\n", command_line.command.c_str(), message.c_str());
  return status;
}

std::string string_member(const Json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A varlink error as a sentence with what to do, and its exit status.
int report_error(const CommandLine& command_line, const control::Reply& reply) {
  const std::string& name = *reply.error;
  const Json& parameters = reply.parameters;
  if (name == control::kPermissionDenied) {
    return print_failure(command_line,
                         cat("permission denied: ", string_member(parameters, "reason")),
                         kExitUnreachable);
  }
  if (name == control::kNoSuchService) {
    std::vector<std::string> services;
    if (auto list = parameters.find("services"); list != parameters.end() && list->is_array()) {
      for (const auto& service : *list) {
        if (service.is_string()) services.push_back(service.get<std::string>());
      }
    }
    return print_failure(command_line,
                         cat("no service \"", string_member(parameters, "service"),
                             "\" (services: ", join(services, ", "), ")"),
                         kExitBootFailed);
  }
  if (name == control::kOperationFailed) {
    return print_failure(
        command_line,
        cat(string_member(parameters, "service"), ": ", string_member(parameters, "reason")),
        kExitBootFailed);
  }
  if (name == control::kReloadRefused) {
    return print_failure(command_line, cat("refused: ", string_member(parameters, "reason")),
                         kExitBootFailed);
  }
  return print_failure(command_line,
                       cat("the runtime answered ", name, " ", control::dump_json(parameters)),
                       kExitBootFailed);
}

}  // namespace

std::expected<control::ControlClient, int> connect_runtime(const CommandLine& command_line) {
  auto path = control::choose_runtime(command_line.option("--manifest"));
  if (!path) {
    const int status =
        path.error().kind == control::Unreachable::Kind::Ambiguous ? kExitUsage : kExitUnreachable;
    return std::unexpected(print_failure(command_line, path.error().message, status));
  }
  auto client = control::ControlClient::connect(*path);
  if (!client) {
    return std::unexpected(print_failure(command_line, client.error().message, kExitUnreachable));
  }
  return std::move(*client);
}

std::expected<Json, int> call_runtime(control::ControlClient& client,
                                      const CommandLine& command_line, std::string_view method,
                                      const Json& parameters) {
  auto reply = client.call(method, parameters);
  if (!reply) {
    return std::unexpected(print_failure(command_line, reply.error().message, kExitUnreachable));
  }
  if (reply->error) return std::unexpected(report_error(command_line, *reply));
  return std::move(reply->parameters);
}

std::expected<Json, int> stream_runtime(control::ControlClient& client,
                                        const CommandLine& command_line, std::string_view method,
                                        const Json& parameters,
                                        const std::function<bool(const Json&)>& each,
                                        std::optional<std::chrono::milliseconds> timeout) {
  auto reply = client.call_more(
      method, parameters, [&](const control::Reply& part) { return each(part.parameters); },
      timeout);
  if (!reply) {
    return std::unexpected(print_failure(command_line, reply.error().message, kExitUnreachable));
  }
  if (reply->error) return std::unexpected(report_error(command_line, *reply));
  return std::move(reply->parameters);
}

void print_json(const Json& value) {
  std::puts(control::dump_json(value, 2).c_str());
}

std::string render_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths(header.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  };
  measure(header);
  for (const auto& row : rows) measure(row);
  std::string text;
  auto append = [&](const std::vector<std::string>& row) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    text += line + '\n';
  };
  append(header);
  for (const auto& row : rows) append(row);
  return text;
}

std::string cell(const Json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return "-";
  std::string text = it->is_string() ? it->get<std::string>() : control::dump_json(*it);
  // Queue names made through a pattern come from services: no escape sequence reaches the
  // operator's terminal.
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return text;
}

}  // namespace ipcrt::runtime
