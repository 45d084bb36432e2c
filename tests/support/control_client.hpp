// Test helpers for the control interface: an `ipcrt run` in the background, the CLI run as
// another user, and raw varlink connections that do what no well-behaved client does.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace ipcrt::test {

// `ipcrt run MANIFEST` in the background, its stdout and stderr in files of `directory`.
// Killed (and its control socket removed) when it goes out of scope.
class BackgroundRuntime {
 public:
  BackgroundRuntime(const std::string& directory, const std::string& manifest_path,
                    const std::string& manifest_name);
  BackgroundRuntime(const BackgroundRuntime&) = delete;
  BackgroundRuntime& operator=(const BackgroundRuntime&) = delete;
  ~BackgroundRuntime();

  // Polls stderr (or stdout) until it contains `text`: false if ipcrt exited first or 20 s
  // passed (a safety net against hanging the suite, not a timing assertion).
  bool wait_for(const std::string& text);
  bool wait_for_output(const std::string& text);
  // Waits for the exit and returns its status (128 + signal when killed).
  int wait();
  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] std::string out() const;
  [[nodiscard]] std::string err() const;
  [[nodiscard]] const std::string& socket() const { return socket_; }

 private:
  std::string out_;
  std::string err_;
  std::string socket_;
  pid_t pid_ = -1;
};

// Runs the ipcrt binary with these credentials (setgroups, setgid, setuid before exec).
ProcessResult run_ipcrt_as(uid_t uid, gid_t gid, const std::vector<gid_t>& groups,
                           const std::vector<std::string>& arguments);

// A raw connection to a control socket; -1 with errno set when connect fails.
int connect_control(const std::string& socket_path);
// Writes all of `bytes`; false when the peer is gone.
bool send_bytes(int fd, const std::string& bytes);
// The next NUL-terminated message (without the NUL), or "" when the connection ended or
// nothing came within `timeout`.
std::string receive_message(int fd, std::chrono::milliseconds timeout = std::chrono::seconds(10));
// Whether the peer closed the connection within `timeout` (whatever it sent before).
bool closed_within(int fd, std::chrono::milliseconds timeout);

}  // namespace ipcrt::test
