// `ipcrt run MANIFEST [--board NAME]` (SPEC §4): the arguments, then the runtime library's
// composition root (runtime/daemon) does the rest.
#include <cstdio>

#include "config/board.hpp"
#include "runtime/cli/commands.hpp"
#include "runtime/daemon.hpp"

namespace ipcrt::runtime {

int command_run(const CommandLine& command_line) {
  DaemonOptions options;
  options.manifest_path = command_line.positionals.at(0);
  if (auto board_name = command_line.option("--board")) {
    auto board = config::find_board(*board_name);
    if (!board) {
      std::fprintf(stderr, "ipcrt: run: %s\n", board.error().describe().c_str());
      return kExitUsage;
    }
    options.board = std::move(*board);
  }
  return run_manifest(std::move(options));
}

}  // namespace ipcrt::runtime
