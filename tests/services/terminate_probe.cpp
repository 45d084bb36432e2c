// Ends the way an uncaught exception ends ipcrt: built with runtime/terminate_handler.cpp, it
// lets the test check that replacement's report. Argument: "exception", "int" or "none".
#include <sys/resource.h>

#include <exception>
#include <stdexcept>
#include <string_view>

int main(int argc, char** argv) {
  // It aborts on purpose: leave no core file behind wherever the test runs.
  const rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  const std::string_view kind = argc > 1 ? argv[1] : "exception";
  if (kind == "int") throw 42;
  if (kind == "none") std::terminate();
  throw std::runtime_error("probe failure");
}
