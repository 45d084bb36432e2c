// Real-process helpers for the test suites.
#include "tests/support/process.hpp"

#include <signal.h>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

extern char** environ;

namespace ipcrt::test {
namespace {

std::string env_or_die(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    throw std::runtime_error(std::string(name) + " is not set: run the suite through ctest");
  }
  return value;
}

}  // namespace

void collect_output(int out_fd, int err_fd, ProcessResult& result) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_count = 2;
  char buffer[4096];
  while (open_count > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_count;
      }
    }
  }
}

ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input) {
  int out_pipe[2];
  int err_pipe[2];
  int in_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0 ||
      ::pipe2(in_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe2 failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  std::vector<char*> raw;
  for (const auto& arg : argv) raw.push_back(const_cast<char*>(arg.c_str()));
  raw.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, raw[0], &actions, nullptr, raw.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ::close(in_pipe[1]);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    throw std::runtime_error("posix_spawn " + argv[0] + " failed");
  }
  if (!input.empty()) {
    [[maybe_unused]] auto written = ::write(in_pipe[1], input.data(), input.size());
  }
  ::close(in_pipe[1]);
  ProcessResult result;
  collect_output(out_pipe[0], err_pipe[0], result);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

ProcessResult run_ipcrt(const std::vector<std::string>& arguments) {
  std::vector<std::string> argv;
  if (const char* emulator = std::getenv("IPCRT_EMULATOR"); emulator && *emulator) {
    argv.emplace_back(emulator);
  }
  argv.push_back(ipcrt_binary());
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  ProcessResult result = run_process(argv);
  result.out += service_output(result.err);
  return result;
}

namespace {

// The value starting at `at` (just after "key="): bare up to a space, or quoted with logfmt's
// escapes.
std::string logfmt_value(const std::string& line, std::size_t at) {
  std::string value;
  if (at >= line.size() || line[at] != '"') {
    const auto end = line.find(' ', at);
    return line.substr(at, end == std::string::npos ? std::string::npos : end - at);
  }
  for (std::size_t i = at + 1; i < line.size(); ++i) {
    const char c = line[i];
    if (c == '"') break;
    if (c != '\\' || i + 1 >= line.size()) {
      value += c;
      continue;
    }
    const char escaped = line[++i];
    if (escaped == 'n') {
      value += '\n';
    } else if (escaped == 't') {
      value += '\t';
    } else if (escaped == 'x' && i + 2 < line.size()) {
      value += static_cast<char>(std::stoi(line.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      value += escaped;
    }
  }
  return value;
}

}  // namespace

std::string logfmt_field(const std::string& line, const std::string& key) {
  // A key starts the line or follows a space outside any quoted value.
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
      continue;
    }
    if (c == '"') {
      quoted = true;
      continue;
    }
    if ((i == 0 || line[i - 1] == ' ') && line.compare(i, key.size() + 1, key + "=") == 0) {
      return logfmt_value(line, i + key.size() + 1);
    }
  }
  return {};
}

std::string service_output(const std::string& log, const std::string& service) {
  std::string output;
  std::size_t start = 0;
  while (start < log.size()) {
    auto end = log.find('\n', start);
    if (end == std::string::npos) end = log.size();
    const std::string line = log.substr(start, end - start);
    start = end + 1;
    if (logfmt_field(line, "stream").empty()) continue;
    if (!service.empty() && logfmt_field(line, "service") != service) continue;
    output += logfmt_field(line, "msg");
    output += '\n';
  }
  return output;
}

std::string ipcrt_binary() {
  return env_or_die("IPCRT_BINARY");
}
std::string source_dir() {
  return env_or_die("IPCRT_SOURCE_DIR");
}
std::string build_dir() {
  return env_or_die("IPCRT_BUILD_DIR");
}
std::string source_path(const std::string& relative) {
  return source_dir() + "/" + relative;
}

std::string unique_name(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

TempDir::TempDir() {
  // Not under /tmp: every service has a private /tmp, so what a test shares with a service
  // must live elsewhere (IPCRT_TEST_DIR, default /var/lib/ipcrt-tests).
  const char* base_env = std::getenv("IPCRT_TEST_DIR");
  const std::filesystem::path base = base_env != nullptr && *base_env != '\0'
                                         ? std::filesystem::path(base_env)
                                         : std::filesystem::path("/var/lib/ipcrt-tests");
  std::filesystem::create_directories(base);
  std::string pattern = (base / "ipcrt-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::write_file(const std::string& name, const std::string& contents) const {
  std::string full = path_ + "/" + name;
  std::ofstream(full, std::ios::binary) << contents;
  return full;
}

void TempDir::share_with_services() const {
  if (::chmod(path_.c_str(), 01777) != 0) throw std::runtime_error("chmod " + path_ + " failed");
}

std::string TempDir::shared_file(const std::string& name) const {
  std::string full = write_file(name, "");
  // Services must reach it through the directory, but need not create anything there.
  struct stat dir {};
  if (::stat(path_.c_str(), &dir) != 0 ||
      ::chmod(path_.c_str(), (dir.st_mode & 07777) | 0111) != 0 ||
      ::chmod(full.c_str(), 0666) != 0) {
    throw std::runtime_error("chmod " + full + " failed");
  }
  return full;
}

void stop_runtime(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  for (int i = 0; i < 500; ++i) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return;
    ::usleep(10000);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

}  // namespace ipcrt::test
