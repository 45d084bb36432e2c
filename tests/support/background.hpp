// `ipcrt run` in the background, its output in files, for tests that signal it or talk to it
// while it runs.
#pragma once

#include <sys/types.h>

#include <string>

#include "tests/support/process.hpp"

namespace ipcrt::test {

class Background {
 public:
  // With `cgroup` (a cgroup2 directory), ipcrt starts inside that cgroup, as under a
  // systemd unit with Delegate=yes.
  Background(const TempDir& dir, const std::string& manifest, const std::string& cgroup = {});
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  ~Background();  // stop_runtime(), if still running

  // Polls stderr until it contains `text`; false if ipcrt exited first or 20 s passed (a
  // safety net against hanging the suite, not a timing assertion).
  bool wait_for(const std::string& text);
  void signal(int number);
  // Waits for its exit; the exit status, or 128 + the signal.
  int wait();
  [[nodiscard]] pid_t pid() const { return pid_; }
  // Whether it is still running (not exited, not a zombie).
  [[nodiscard]] bool running() const;
  // ipcrt's stdout, then what its services wrote (run_ipcrt's `out`).
  [[nodiscard]] std::string out() const;
  [[nodiscard]] std::string err() const;

 private:
  std::string out_;
  std::string err_;
  pid_t pid_ = -1;
};

}  // namespace ipcrt::test
