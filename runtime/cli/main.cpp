// ipcrt's entry point. Started by the kernel as /init (PID 1, no arguments), it runs the
// gateway image's manifest in PID-1 mode (SPEC §4.5).
#include <unistd.h>

#include <span>

#include "runtime/cli/cli.hpp"
#include "runtime/pid1.hpp"

int main(int argc, char** argv) {
  if (::getpid() == 1 && argc <= 1) return ipcrt::runtime::run_pid1();
  return ipcrt::runtime::run_cli(std::span<char* const>(argv, static_cast<std::size_t>(argc)));
}
