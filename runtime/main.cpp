// ipcrt's entry point.
#include <span>

#include "runtime/cli.hpp"

int main(int argc, char** argv) {
  return ipcrt::runtime::run_cli(std::span<char* const>(argv, static_cast<std::size_t>(argc)));
}
