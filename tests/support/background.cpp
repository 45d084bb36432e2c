#include "tests/support/background.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <thread>

#include "platform/process.hpp"

extern char** environ;

namespace ipcrt::test {
namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

Background::Background(const TempDir& dir, const std::string& manifest, const std::string& cgroup)
    : out_(dir.path() + "/" + unique_name("out")), err_(dir.path() + "/" + unique_name("err")) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::string binary = ipcrt_binary();
  if (cgroup.empty()) {
    const char* argv[] = {binary.c_str(), "run", manifest.c_str(), nullptr};
    ::posix_spawn(&pid_, binary.c_str(), &actions, nullptr, const_cast<char**>(argv), environ);
  } else {
    // The shell moves itself into the cgroup, then becomes ipcrt (the same pid).
    const char* script = "echo $$ > \"$0/cgroup.procs\" && exec \"$@\"";
    const char* argv[] = {"/bin/sh", "-c",  script,           cgroup.c_str(),
                          binary.c_str(), "run", manifest.c_str(), nullptr};
    ::posix_spawn(&pid_, "/bin/sh", &actions, nullptr, const_cast<char**>(argv), environ);
  }
  posix_spawn_file_actions_destroy(&actions);
}

Background::~Background() {
  stop_runtime(pid_);
}

bool Background::wait_for(const std::string& text) {
  for (int i = 0; i < 2000; ++i) {
    if (err().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

void Background::signal(int number) {
  ::kill(pid_, number);
}

int Background::wait() {
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool Background::running() const {
  auto stat = platform::read_process_stat(pid_);
  return pid_ > 0 && stat && stat->state != 'Z' && stat->state != 'X';
}

std::string Background::out() const {
  return read_all(out_) + service_output(err());
}

std::string Background::err() const {
  return read_all(err_);
}

}  // namespace ipcrt::test
