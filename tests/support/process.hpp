// Test helpers that run real processes (the ipcrt binary, example services) and capture
// what they print, plus unique names and temporary directories that clean up after themselves.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace ipcrt::test {

struct ProcessResult {
  int exit_code = -1;  // 128 + signal number when killed by a signal
  std::string out;
  std::string err;
};

// Runs argv[0] (an absolute path) to completion, capturing stdout and stderr. `input` is
// written to its stdin.
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input = {});

// Reads a child's stdout and stderr pipes together until both close (so a child filling one
// cannot deadlock against us), appending to result.out / result.err; closes both fds.
void collect_output(int out_fd, int err_fd, ProcessResult& result);

// Runs the ipcrt binary under test (IPCRT_BINARY, through IPCRT_EMULATOR in cross builds).
// `out` is ipcrt's own stdout followed by what its services wrote (service_output of `err`):
// services write to pipes the supervisor reads and logs, never to ipcrt's stdout.
ProcessResult run_ipcrt(const std::vector<std::string>& arguments);

// The lines services wrote, in order, as ipcrt logged them on `log` (its stderr): the `msg`
// of each logfmt line with a `stream=` field, unescaped, each followed by a newline. Only
// lines of `service` when it is given.
std::string service_output(const std::string& log, const std::string& service = {});

// Ends a runtime a test started and still runs: SIGTERM, so that it removes what it made (its
// private directories, remove-on-stop queues, socket), then SIGKILL after 5 s; reaps it.
void stop_runtime(pid_t pid);

// One field of a logfmt line, unquoted and unescaped; "" when absent.
std::string logfmt_field(const std::string& line, const std::string& key);

std::string ipcrt_binary();
std::string source_dir();                              // IPCRT_SOURCE_DIR
std::string build_dir();                               // IPCRT_BUILD_DIR
std::string source_path(const std::string& relative);  // source_dir() + "/" + relative

// "ipcrt-test-<pid>-<n>": unique per call, safe as a queue or shm name suffix.
std::string unique_name(const std::string& prefix = "ipcrt-test");

class TempDir {
 public:
  TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  [[nodiscard]] const std::string& path() const { return path_; }
  // Writes `contents` to path()/name and returns the full path.
  std::string write_file(const std::string& name, const std::string& contents) const;
  // Services run as users of their own: lets them create files here (mode 01777, as /tmp).
  void share_with_services() const;
  // An empty file any service may write, whatever its uid (mode 0666); returns its path.
  std::string shared_file(const std::string& name) const;

 private:
  std::string path_;
};

}  // namespace ipcrt::test
