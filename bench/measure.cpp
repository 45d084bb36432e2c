// Statistics, the report's table and process helpers shared by the benchmarks.
#include "bench/measure.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "common/file.hpp"
#include "platform/proc_status.hpp"

extern char** environ;

namespace ipcrt::bench {

double now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

namespace {

// Linear interpolation between the closest ranks of sorted values.
double percentile(const std::vector<double>& sorted, double fraction) {
  if (sorted.empty()) return 0;
  double position = fraction * static_cast<double>(sorted.size() - 1);
  auto below = static_cast<std::size_t>(std::floor(position));
  auto above = std::min(below + 1, sorted.size() - 1);
  double weight = position - static_cast<double>(below);
  return sorted[below] * (1 - weight) + sorted[above] * weight;
}

std::string number(double value) {
  char text[64];
  double magnitude = std::fabs(value);
  if (magnitude >= 100) {
    std::snprintf(text, sizeof text, "%.0f", value);
  } else if (magnitude >= 10) {
    std::snprintf(text, sizeof text, "%.1f", value);
  } else {
    std::snprintf(text, sizeof text, "%.2f", value);
  }
  return text;
}

std::string ratio_text(double ratio) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f×", ratio);
  return text;
}

std::string percent(double fraction) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f%%", fraction * 100);
  return text;
}

bool met(const Target& target) {
  return target.better == Better::Lower ? target.measured <= target.limit
                                        : target.measured >= target.limit;
}

std::string verdict(const Target& target) {
  if (met(target)) return "met";
  // How far from the limit, in the limit's own terms.
  double off = target.better == Better::Lower ? target.measured / target.limit - 1
                                              : 1 - target.measured / target.limit;
  return "**missed** by " + percent(off);
}

}  // namespace

Summary summarize(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  Summary summary;
  summary.median = percentile(samples, 0.5);
  if (summary.median != 0) {
    summary.spread = (percentile(samples, 0.75) - percentile(samples, 0.25)) / summary.median;
  }
  return summary;
}

Section& Report::section(std::string title, std::string note, std::string baseline,
                         std::string reference) {
  sections_.push_back(
      {std::move(title), std::move(note), std::move(baseline), std::move(reference), {}});
  return sections_.back();
}

std::string Report::format(const std::string& machine, int rounds) const {
  std::string out;
  out += "ipcrt benchmarks: " + machine + "\n";
  out += "Medians of " + std::to_string(rounds) +
         " interleaved rounds unless a section says otherwise; spread = (p75 - p25) / median; "
         "ratio = median / the reference's median.\n";
  for (const auto& section : sections_) {
    const bool two = !section.reference.empty();
    out += "\n### " + section.title + "\n\n" + section.note + "\n\n";
    out += "| configuration | median | spread | ratio to " + section.baseline + " |";
    out += two ? " ratio to " + section.reference + " |\n" : "\n";
    out += two ? "| --- | ---: | ---: | ---: | ---: |\n" : "| --- | ---: | ---: | ---: |\n";
    for (const auto& row : section.rows) {
      out += "| " + row.configuration + " | " + number(row.summary.median) + " " + row.unit +
             " | " + (row.summary.spread > 0 ? percent(row.summary.spread) : "") + " | " +
             (row.ratio ? ratio_text(*row.ratio) : "") + " |";
      if (two) out += " " + (row.other_ratio ? ratio_text(*row.other_ratio) : "") + " |";
      out += "\n";
    }
  }
  if (!targets_.empty()) {
    out += "\n### Targets\n\n| target | measured | limit | result |\n| --- | ---: | ---: | --- |\n";
    for (const auto& target : targets_) {
      std::string limit = (target.better == Better::Lower ? "≤ " : "≥ ") + number(target.limit);
      out += "| " + target.what + " | " + number(target.measured) + target.unit + " | " + limit +
             target.unit + " | " + verdict(target) + " |\n";
    }
  }
  for (const auto& failure : failures_) out += "\nFAILED: " + failure + "\n";
  return out;
}

pid_t fork_exec(const Exec& exec) {
  std::vector<char*> argv;
  for (const auto& argument : exec.argv) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& variable : exec.environment) {
    envp.push_back(const_cast<char*>(variable.c_str()));
  }
  envp.push_back(nullptr);
  char** environment = exec.environment.empty() ? environ : envp.data();
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0) return -1;
  const int out = exec.stdout_fd >= 0 ? exec.stdout_fd : null_fd;
  const int err = exec.stderr_fd >= 0 ? exec.stderr_fd : null_fd;

  pid_t pid = ::fork();
  if (pid == 0) {
    // The kept descriptor is moved out of the way first (any of the others may be fd 3), and
    // dup2 clears close-on-exec on every copy.
    int keep = exec.keep_fd >= 0 ? ::fcntl(exec.keep_fd, F_DUPFD_CLOEXEC, 10) : -1;
    if (exec.keep_fd >= 0 && keep < 0) ::_exit(126);
    if (::dup2(null_fd, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) ::_exit(126);
    if (keep >= 0 && ::dup2(keep, 3) < 0) ::_exit(126);
    if (exec.cpu >= 0) {
      cpu_set_t cpus;
      CPU_ZERO(&cpus);
      CPU_SET(exec.cpu, &cpus);
      if (::sched_setaffinity(0, sizeof cpus, &cpus) != 0) ::_exit(126);
    }
    if (exec.mount_namespace >= 0 && ::setns(exec.mount_namespace, CLONE_NEWNS) != 0) {
      ::_exit(126);
    }
    if (exec.new_session && ::setsid() < 0) ::_exit(126);
    if (exec.cgroup_procs >= 0 && ::write(exec.cgroup_procs, "0", 1) != 1) ::_exit(126);
    ::execve(argv[0], argv.data(), environment);
    ::_exit(127);
  }
  ::close(null_fd);
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::uint64_t main_thread_cpu_ns(pid_t pid) {
  auto text = read_text_file("/proc/" + std::to_string(pid) + "/schedstat");
  return text ? std::strtoull(text->c_str(), nullptr, 10) : 0;
}

int wait_exit_with_main_thread_cpu(pid_t pid, std::uint64_t& main_thread_ns) {
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) != 0) {
    if (errno != EINTR) return -1;
  }
  // A zombie's main thread is not released until it is reaped: its schedstat still reads.
  main_thread_ns = main_thread_cpu_ns(pid);
  return wait_exit(pid);
}

std::uint64_t busy_cpu_ns() {
  auto text = read_text_file("/proc/stat");
  if (!text || !text->starts_with("cpu ")) return 0;
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice; guest time is
  // already counted in user and nice.
  unsigned long long field[8] = {};
  if (std::sscanf(text->c_str(), "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &field[0],
                  &field[1], &field[2], &field[3], &field[4], &field[5], &field[6],
                  &field[7]) != 8) {
    return 0;
  }
  const unsigned long long busy = field[0] + field[1] + field[2] + field[5] + field[6] + field[7];
  return busy * (1000000000ULL / static_cast<unsigned long long>(::sysconf(_SC_CLK_TCK)));
}

double wait_until_quiet(int limit_ms) {
  constexpr long kWindowNs = 250'000'000;
  const double start = now_ns();
  const long cpus = std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN));
  while (now_ns() - start < limit_ms * 1e6) {
    const std::uint64_t before = busy_cpu_ns();
    timespec window{0, kWindowNs};
    ::nanosleep(&window, nullptr);
    const double busy = static_cast<double>(busy_cpu_ns() - before);
    if (busy < 0.05 * static_cast<double>(kWindowNs * cpus)) break;
  }
  return (now_ns() - start) / 1e6;
}

std::string read_all(int fd) {
  std::string text = read_to_end(fd, "a child's output").value_or(std::string{});
  ::close(fd);
  return text;
}

bool write_file(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  return ::close(fd) == 0 && written;
}

std::uint64_t resident_kib(pid_t pid) {
  auto status = platform::read_proc_status(pid);
  if (!status) return 0;
  return platform::proc_status_number(*status, "VmRSS", 10).value_or(0);
}

std::uint64_t cpu_ns(pid_t pid) {
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  std::uint64_t total = 0;
  bool precise = true;
  if (DIR* dir = ::opendir(tasks.c_str())) {
    while (const dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] == '.') continue;
      auto text = read_text_file(tasks + "/" + entry->d_name + "/schedstat");
      if (!text) {
        precise = false;
        break;
      }
      total += std::strtoull(text->c_str(), nullptr, 10);
    }
    ::closedir(dir);
  }
  if (precise && total > 0) return total;
  // Without CONFIG_SCHED_INFO: utime + stime (fields 14 and 15) in clock ticks, after the
  // command's closing parenthesis.
  auto stat = read_text_file("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return 0;
  const std::size_t end = stat->rfind(')');
  if (end == std::string::npos) return 0;
  const char* at = stat->c_str() + end + 1;
  unsigned long long ticks = 0;
  for (int field = 3; field <= 15 && *at != '\0'; ++field) {
    char* next = nullptr;
    unsigned long long value = std::strtoull(at, &next, 10);
    if (next == at) {  // the state letter
      while (*at == ' ') ++at;
      ++at;
      continue;
    }
    if (field >= 14) ticks += value;
    at = next;
  }
  return ticks * (1000000000ULL / static_cast<unsigned long long>(::sysconf(_SC_CLK_TCK)));
}

}  // namespace ipcrt::bench
