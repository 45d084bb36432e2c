// CLI front end: a table of commands with their synopsis and options, so that usage errors
// are found before any command runs and `--help` is generated from the same table.
#include "runtime/cli/cli.hpp"

#include <cstdio>
#include <limits>
#include <string_view>

#include "common/text.hpp"
#include "runtime/cli/commands.hpp"

#ifndef IPCRT_VERSION
#define IPCRT_VERSION "unknown"
#endif

namespace ipcrt::runtime {
namespace {

struct OptionSpec {
  std::string_view name;  // "--json"
  bool takes_value;       // "--format=pfc" or "--format pfc"
  std::string_view short_name = {};  // "-n": "-n 5" or "-n5"
};

struct CommandSpec {
  std::string_view name;
  std::string_view synopsis;     // after "ipcrt <name> "
  std::string_view description;  // one line for --help
  std::size_t min_positionals;
  std::size_t max_positionals;
  std::vector<OptionSpec> options;
  int (*handler)(const CommandLine&);
};

// start, stop and restart take any number of services.
constexpr std::size_t kAnyNumber = std::numeric_limits<std::size_t>::max();

const std::vector<CommandSpec>& command_table() {
  static const std::vector<CommandSpec> table = {
      {"validate",
       "MANIFEST",
       "check a manifest; print errors and warnings",
       1,
       1,
       {},
       command_validate},
      {"plan",
       "MANIFEST [--json]",
       "show what run would create and start, in start order",
       1,
       1,
       {{"--json", false}},
       command_plan},
      {"run",
       "MANIFEST [--board NAME]",
       "create queues and shm, boot and supervise services",
       1,
       1,
       {{"--board", true}},
       command_run},
      {"policy",
       "MANIFEST SERVICE [--format=text|pfc|bpf]",
       "print a service's seccomp policy with the reason for each syscall",
       2,
       2,
       {{"--format", true}},
       command_policy},
      {"limits",
       "[--json]",
       "print the kernel's mqueue limits, usage and headroom",
       0,
       0,
       {{"--json", false}},
       command_limits},
      {"suggest",
       "MANIFEST [--seconds N]",
       "run in complain mode (default 10 s), print the merge patch that lets it run strict",
       1,
       1,
       {{"--seconds", true}},
       command_suggest},
      // The control commands (SPEC §10): clients of a running runtime.
      {"status",
       "[SERVICE] [--json] [--manifest NAME]",
       "show the runtime and each service's state, pid, uid, restarts and last exit",
       0,
       1,
       {{"--json", false}, {"--manifest", true}},
       command_status},
      {"connections",
       "[--json] [--manifest NAME]",
       "show each plug with the slot it is connected to",
       0,
       0,
       {{"--json", false}, {"--manifest", true}},
       command_connections},
      {"queues",
       "[--json] [--manifest NAME]",
       "show each queue's messages, bytes, owner, mode and grants",
       0,
       0,
       {{"--json", false}, {"--manifest", true}},
       command_queues},
      {"start",
       "SERVICE... [--manifest NAME]",
       "start services (root)",
       1,
       kAnyNumber,
       {{"--manifest", true}},
       command_start},
      {"stop",
       "SERVICE... [--manifest NAME]",
       "stop services until started again; their consumers keep running (root)",
       1,
       kAnyNumber,
       {{"--manifest", true}},
       command_stop},
      {"restart",
       "SERVICE... [--manifest NAME]",
       "stop and start services (root)",
       1,
       kAnyNumber,
       {{"--manifest", true}},
       command_restart},
      {"shutdown",
       "[--manifest NAME]",
       "stop every service and end the runtime (root)",
       0,
       0,
       {{"--manifest", true}},
       command_shutdown},
      {"reload",
       "[MANIFEST] [--confirm-ms N] [--manifest NAME]",
       "apply a changed manifest, only the difference; roll back unless confirmed (root)",
       0,
       1,
       {{"--confirm-ms", true}, {"--manifest", true}},
       command_reload},
      {"metrics",
       "[--manifest NAME]",
       "print the runtime's state in the Prometheus text format",
       0,
       0,
       {{"--manifest", true}},
       command_metrics},
      {"logs",
       "[-f] [-n N] [--json] [--manifest NAME] [SERVICE]",
       "print the last N lines (default 100) of every service, or of one; -f: follow new ones",
       0,
       1,
       {{"--follow", false, "-f"},
        {"--lines", true, "-n"},
        {"--json", false},
        {"--manifest", true}},
       command_logs},
      {"exec",
       "[--manifest NAME] SERVICE [COMMAND...]",
       "run COMMAND (default /bin/sh) in a running service's sandbox: its namespaces, uid, "
       "groups, capabilities and filter (root)",
       1,
       kAnyNumber,
       {{"--manifest", true}},
       command_exec},
  };
  return table;
}

std::string usage_text() {
  std::string text = "usage: ipcrt <command> [arguments]\n\ncommands:\n";
  for (const auto& spec : command_table()) {
    text += cat("  ipcrt ", spec.name, ' ', spec.synopsis, "\n      ", spec.description, '\n');
  }
  text +=
      "  ipcrt --help | --version\n\n"
      "exit status: 0 success, 1 invalid manifest, 2 usage error, 3 boot or operation failed\n"
      "             (also an unknown service), 4 a service failed, 5 no runtime reachable or\n"
      "             access refused\n";
  return text;
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "ipcrt: %s\nusage: ipcrt <command> [arguments] (see ipcrt --help)\n",
               message.c_str());
  return kExitUsage;
}

const CommandSpec* find_command(std::string_view name) {
  for (const auto& spec : command_table()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

const OptionSpec* find_option(const CommandSpec& spec, std::string_view name) {
  for (const auto& option : spec.options) {
    if (option.name == name) return &option;
  }
  return nullptr;
}

const OptionSpec* find_short_option(const CommandSpec& spec, std::string_view name) {
  for (const auto& option : spec.options) {
    if (!option.short_name.empty() && option.short_name == name) return &option;
  }
  return nullptr;
}

}  // namespace

int run_cli(std::span<char* const> arguments) {
  if (arguments.size() < 2) return usage_error("no command given");
  const std::string_view first = arguments[1];
  if (first == "--help" || first == "-h" || first == "help") {
    std::fputs(usage_text().c_str(), stdout);
    return kExitOk;
  }
  if (first == "--version") {
    std::printf("ipcrt %s\n", IPCRT_VERSION);
    return kExitOk;
  }
  const CommandSpec* spec = find_command(first);
  if (spec == nullptr) return usage_error(cat("unknown command '", first, "'"));

  CommandLine command_line;
  command_line.command = std::string(first);
  bool exec_dashes = false;  // exec: the command's words have begun
  for (std::size_t i = 2; i < arguments.size(); ++i) {
    std::string_view argument = arguments[i];
    if (argument == "--help") {
      std::printf("usage: ipcrt %s %s\n", std::string(spec->name).c_str(),
                  std::string(spec->synopsis).c_str());
      return kExitOk;
    }
    // exec: after SERVICE (and an optional "--"), every word is the command's.
    if (spec->name == "exec" && !command_line.positionals.empty()) {
      if (argument != "--" || command_line.positionals.size() > 1 || exec_dashes) {
        command_line.positionals.emplace_back(argument);
      }
      exec_dashes = true;
      continue;
    }
    if (argument.size() > 1 && argument[0] == '-' && argument[1] != '-') {
      // "-f", "-n 5", "-n5".
      const OptionSpec* option = find_short_option(*spec, argument.substr(0, 2));
      if (option == nullptr) {
        return usage_error(cat("unknown option '", argument.substr(0, 2), "' for ", spec->name));
      }
      std::string value;
      if (option->takes_value) {
        if (argument.size() > 2) {
          value = std::string(argument.substr(2));
        } else if (i + 1 < arguments.size()) {
          value = arguments[++i];
        } else {
          return usage_error(cat("option '", argument, "' needs a value"));
        }
      } else if (argument.size() > 2) {
        return usage_error(cat("option '", argument.substr(0, 2), "' takes no value"));
      }
      command_line.options[std::string(option->name)] = value;
      continue;
    }
    if (!argument.starts_with("--")) {
      command_line.positionals.emplace_back(argument);
      continue;
    }
    const auto equals = argument.find('=');
    const std::string_view name = argument.substr(0, equals);
    const OptionSpec* option = find_option(*spec, name);
    if (option == nullptr) return usage_error(cat("unknown option '", name, "' for ", spec->name));
    std::string value;
    if (option->takes_value) {
      if (equals != std::string_view::npos) {
        value = std::string(argument.substr(equals + 1));
      } else if (i + 1 < arguments.size()) {
        value = arguments[++i];
      } else {
        return usage_error(cat("option '", name, "' needs a value"));
      }
    } else if (equals != std::string_view::npos) {
      return usage_error(cat("option '", name, "' takes no value"));
    }
    command_line.options[std::string(name)] = value;
  }
  const auto count = command_line.positionals.size();
  if (count < spec->min_positionals || count > spec->max_positionals) {
    return usage_error(cat("wrong number of arguments: ipcrt ", spec->name, ' ', spec->synopsis));
  }
  return spec->handler(command_line);
}

int report_step_failure(std::string_view command, const StepFailure& failure) {
  if (failure.error) {
    std::fprintf(stderr, "ipcrt: %s: %s: %s\n", std::string(command).c_str(),
                 failure.step.c_str(), failure.error->describe().c_str());
  }
  return failure.exit_code;
}

}  // namespace ipcrt::runtime
