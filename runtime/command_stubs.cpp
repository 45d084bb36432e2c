// Commands whose capability has not landed yet: they say so instead of pretending.
#include <cstdio>

#include "runtime/commands.hpp"

namespace ipcrt::runtime {
namespace {

int not_yet(const CommandLine& command_line) {
  std::fprintf(stderr, "ipcrt: '%s' is not implemented in this version yet\n",
               command_line.command.c_str());
  return kExitUsage;
}

}  // namespace

int command_plan(const CommandLine& command_line) { return not_yet(command_line); }
int command_run(const CommandLine& command_line) { return not_yet(command_line); }
int command_policy(const CommandLine& command_line) { return not_yet(command_line); }
int command_limits(const CommandLine& command_line) { return not_yet(command_line); }

}  // namespace ipcrt::runtime
