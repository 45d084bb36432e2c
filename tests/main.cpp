// Entry point of every CppUTest suite.
#include <CppUTest/CommandLineTestRunner.h>
#include <CppUTest/MemoryLeakWarningPlugin.h>

int main(int argc, char** argv) {
  // CppUTest's new/delete bookkeeping reports libstdc++'s lazily allocated caches as leaks;
  // leaks are checked by LeakSanitizer in the fuzzing build instead.
  MemoryLeakWarningPlugin::turnOffNewDeleteOverloads();
  return CommandLineTestRunner::RunAllTests(argc, argv);
}
