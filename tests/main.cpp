// Entry point of every CppUTest suite.
#include <CppUTest/CommandLineTestRunner.h>
#include <CppUTest/MemoryLeakWarningPlugin.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

namespace {

// Every `ipcrt run` a suite starts keeps its dynamic ids in a registry of the suite's own
// (IPCRT_STATE_DIR), removed at the end: the host's /var/lib/ipcrt/ids is never written.
class SuiteStateDir {
 public:
  SuiteStateDir() {
    if (std::getenv("IPCRT_STATE_DIR") != nullptr) return;  // the caller chose one
    std::string pattern =
        (std::filesystem::temp_directory_path() / "ipcrt-test-state-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) return;
    path_ = pattern;
    ::setenv("IPCRT_STATE_DIR", path_.c_str(), 1);
  }
  SuiteStateDir(const SuiteStateDir&) = delete;
  SuiteStateDir& operator=(const SuiteStateDir&) = delete;
  ~SuiteStateDir() {
    if (path_.empty()) return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

 private:
  std::string path_;
};

}  // namespace

int main(int argc, char** argv) {
  // CppUTest's new/delete bookkeeping reports libstdc++'s lazily allocated caches as leaks;
  // leaks are checked by LeakSanitizer in the fuzzing build instead.
  MemoryLeakWarningPlugin::turnOffNewDeleteOverloads();
  SuiteStateDir state_dir;
  return CommandLineTestRunner::RunAllTests(argc, argv);
}
