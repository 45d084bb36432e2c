// fork, NO_NEW_PRIVS, load the BPF program, execve; the parent collects output and status.
#include "tests/support/filtered_exec.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

extern char** environ;

namespace ipcrt::test {
namespace {

void child_fail(const char* message, int error) {
  // Async-signal-safe only: write(2) and _exit(2).
  [[maybe_unused]] auto n = ::write(STDERR_FILENO, message, __builtin_strlen(message));
  char digits[8] = {' ', '0', '0', '0', '0', '\n', 0, 0};
  for (int i = 4; i >= 1; --i, error /= 10) digits[i] = static_cast<char>('0' + error % 10);
  n = ::write(STDERR_FILENO, digits, 6);
  ::_exit(127);
}

}  // namespace

// Relative to the build tree at run time, so the suite also finds it inside a test image.
std::string probe_path() {
  return build_dir() + "/tests/probe/probe";
}

ProcessResult run_filtered(const platform::BpfProgram& program,
                           const std::vector<std::string>& argv) {
  ProcessResult result;
  std::vector<char*> args;
  for (const auto& word : argv) args.push_back(const_cast<char*>(word.c_str()));
  args.push_back(nullptr);
  sock_fprog fprog{static_cast<unsigned short>(program.instructions.size()),
                   const_cast<sock_filter*>(program.instructions.data())};
  bool filtered = !program.instructions.empty();
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return result;
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return result;
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    if (int rc = platform::set_no_new_privs(); rc != 0) child_fail("no_new_privs failed", -rc);
    if (filtered) {
      if (int rc = platform::load_seccomp_filter(fprog, false); rc < 0) {
        child_fail("seccomp load failed", -rc);
      }
    }
    ::execve(args[0], args.data(), environ);
    child_fail("execve failed", errno);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (pid < 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return result;
  }
  collect_output(out_pipe[0], err_pipe[0], result);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

int probe_errno(const platform::BpfProgram& program, const std::vector<std::string>& args) {
  std::vector<std::string> argv{probe_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto result = run_filtered(program, argv);
  if (result.exit_code != 0 || !result.out.starts_with("errno=")) return -1;
  return std::atoi(result.out.c_str() + 6);
}

}  // namespace ipcrt::test
