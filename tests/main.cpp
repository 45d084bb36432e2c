// Entry point of every CppUTest suite.
#include <CppUTest/CommandLineTestRunner.h>
#include <CppUTest/MemoryLeakWarningPlugin.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace {

// Every `ipcrt run` a suite starts keeps its dynamic ids in a registry of the suite's own
// (IPCRT_STATE_DIR), removed at the end: the host's /var/lib/ipcrt/ids is never written.
// Not under /tmp, which services see a private one of: their state directories (SPEC §4a)
// live there too, beside the test directories (IPCRT_TEST_DIR, default /var/lib/ipcrt-tests).
class SuiteStateDir {
 public:
  SuiteStateDir() {
    if (std::getenv("IPCRT_STATE_DIR") != nullptr) return;  // the caller chose one
    const char* base_env = std::getenv("IPCRT_TEST_DIR");
    std::filesystem::path base = base_env != nullptr && *base_env != '\0'
                                     ? std::filesystem::path(base_env)
                                     : std::filesystem::path("/var/lib/ipcrt-tests");
    std::error_code failed;
    std::filesystem::create_directories(base, failed);
    if (failed) base = std::filesystem::temp_directory_path();  // not root: no services either
    std::string pattern = (base / "ipcrt-test-state-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) return;
    // A service's uid passes through it to its state directory.
    std::filesystem::permissions(pattern, std::filesystem::perms(0755), failed);
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

// Runs of this suite's manifests (named `<prefix>-<pid>-<n>` by unique_name) leave their lock
// file in /run/ipcrt (the runtime keeps it: unlinking a lock another run may be opening would
// let two runs hold "the" lock), a SIGKILLed one its socket and its staging directories under
// /run/ipcrt/<manifest>/staging. At the end of the suite those of this process are removed, each lock only if no
// runtime holds it.
class SuiteRuntimeFiles {
 public:
  SuiteRuntimeFiles() : mark_("-" + std::to_string(::getpid()) + "-") {}
  SuiteRuntimeFiles(const SuiteRuntimeFiles&) = delete;
  SuiteRuntimeFiles& operator=(const SuiteRuntimeFiles&) = delete;
  ~SuiteRuntimeFiles() {
    std::error_code ignored;
    for (const auto& entry : std::filesystem::directory_iterator("/run/ipcrt", ignored)) {
      const std::string name = entry.path().filename().string();
      if (name.find(mark_) == std::string::npos || !name.ends_with(".lock")) continue;
      const int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
        const std::string base = entry.path().string().substr(0, entry.path().string().size() - 5);
        std::filesystem::remove(base + ".varlink", ignored);
        std::filesystem::remove(entry.path(), ignored);
      }
      ::close(fd);
    }
    for (const auto& entry : std::filesystem::directory_iterator("/run/ipcrt", ignored)) {
      const std::string name = entry.path().filename().string();
      if (name.find(mark_) == std::string::npos || !entry.is_directory(ignored)) continue;
      // The staging tmpfs a SIGKILLed runtime left; a store left there keeps the directory.
      ::umount2((entry.path() / "staging").c_str(), MNT_DETACH);
      ::rmdir((entry.path() / "staging").c_str());
      ::rmdir(entry.path().c_str());
    }
  }

 private:
  std::string mark_;
};

}  // namespace

int main(int argc, char** argv) {
  // CppUTest's new/delete bookkeeping reports libstdc++'s lazily allocated caches as leaks;
  // leaks are checked by LeakSanitizer in the fuzzing build instead.
  MemoryLeakWarningPlugin::turnOffNewDeleteOverloads();
  SuiteStateDir state_dir;
  SuiteRuntimeFiles runtime_files;
  return CommandLineTestRunner::RunAllTests(argc, argv);
}
