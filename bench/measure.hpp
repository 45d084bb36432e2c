// What every benchmark of ipcrt-bench shares: a clock, samples summarised as median and spread,
// the report they are collected into (rows, ratios, targets) and small process helpers. The
// benchmarks only measure; the report prints the one table (bench/report.cpp).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace ipcrt::bench {

double now_ns();  // CLOCK_MONOTONIC through the vDSO: no syscall, so it passes any filter

struct Summary {
  double median = 0;
  double spread = 0;  // (p75 - p25) / median: the interquartile range, relative
};

[[nodiscard]] Summary summarize(std::vector<double> samples);

// What the benchmarks are given: paths of the programs they start, how many rounds to run,
// and a scratch directory that the driver removes at the end.
struct Options {
  std::string ipcrt;        // the static ipcrt binary
  std::string ready;        // bench-ready: reports on a FIFO, then waits for a signal
  std::string flow;         // bench-flow: the message-flow provider and consumer
  std::string print;        // bench-print: the log benchmark's printing services
  std::string sequence;     // bench-sequence: numbered messages sent and received (reload)
  std::string floor;        // bench-floor: a minimal launcher, ipcrt's confinement (issue 21)
  std::string trivial;      // the program whose start-up is measured (/bin/true)
  std::string bwrap;        // bubblewrap, "" when missing
  std::string crun;         // crun, "" when missing
  std::string scratch_dir;  // temporary files (manifests, FIFOs, filters)
  int rounds = 11;          // interleaved rounds per benchmark (boot scale uses fewer)
  bool mediation = false;   // the kernel supports name-level mediation (SPEC §6)
  // The mount namespace the benchmark started in, when it moved into one of its own with a
  // tmpfs on /run/ipcrt (this machine's /run is not a tmpfs, see bench/main.cpp); else -1.
  int host_mount_namespace = -1;
  std::vector<std::pair<std::string, std::uint64_t>> binary_sizes;  // stripped, from scripts/size
};

enum class Better { Lower, Higher };

// One line of the table: medians divided by the section's baseline (and second reference).
struct Row {
  std::string configuration;
  Summary summary;
  std::string unit;  // "µs", "ns", "msg/s", "KiB", "bytes"
  std::optional<double> ratio;
  std::optional<double> other_ratio;
};

struct Section {
  std::string title;
  std::string note;       // what one sample is, printed under the title
  std::string baseline;   // "bare fork+exec": the ratio column's reference
  std::string reference;  // a second ratio column ("bubblewrap"), "" for none
  std::vector<Row> rows;
};

// A target of issue #8 / SPEC §9, checked against a value from the same run.
struct Target {
  std::string what;
  double measured = 0;
  double limit = 0;
  Better better = Better::Lower;
  std::string unit;  // "×", "MiB"
};

class Report {
 public:
  Section& section(std::string title, std::string note, std::string baseline,
                   std::string reference = {});
  void target(Target target) { targets_.push_back(std::move(target)); }
  void failure(std::string what) { failures_.push_back(std::move(what)); }
  [[nodiscard]] bool failed() const { return !failures_.empty(); }
  // Markdown: the machine, every section, the targets with met / missed by how much.
  [[nodiscard]] std::string format(const std::string& machine, int rounds) const;

 private:
  std::deque<Section> sections_;  // a deque: section() references stay valid
  std::vector<Target> targets_;
  std::vector<std::string> failures_;
};

// fork + execve of argv with the given environment; stdin from /dev/null; stdout to `stdout_fd`
// (-1: /dev/null), stderr to `stderr_fd` (-1: /dev/null); `keep_fd` stays open as fd 3 in the
// child when >= 0. argv and envp are laid out before fork. Returns the pid, or -1.
struct Exec {
  std::vector<std::string> argv = {};
  std::vector<std::string> environment = {};  // empty: this process's environment
  int stdout_fd = -1;
  int stderr_fd = -1;
  int keep_fd = -1;
  int cpu = -1;              // >= 0: the child and what it starts run on this CPU only
  int mount_namespace = -1;  // >= 0: the child enters it (setns) before exec
  bool new_session = false;  // the child calls setsid(), as ipcrt does for every service
  int cgroup_procs = -1;     // >= 0: a cgroup's open cgroup.procs, which the child joins
};
pid_t fork_exec(const Exec& exec);

// waitpid; the exit status, or 128 + signal.
int wait_exit(pid_t pid);

// CPU time the main thread of a process has used so far (its /proc/<pid>/schedstat), in
// nanoseconds; 0 when unreadable.
std::uint64_t main_thread_cpu_ns(pid_t pid);

// wait_exit, reading first, while the process is a zombie, main_thread_cpu_ns: the whole life's.
int wait_exit_with_main_thread_cpu(pid_t pid, std::uint64_t& main_thread_ns);

// Time every CPU of the machine has spent not idle since boot (user, system, interrupts, steal:
// every process's work and the kernel's), from /proc/stat, in nanoseconds. Its unit is the
// clock tick (10 ms for each CPU), so a difference is only as precise as that.
std::uint64_t busy_cpu_ns();

// Waits (at most `limit_ms`) until the machine is quiet: under 5% of its CPUs busy over a
// quarter of a second. What a benchmark leaves to the kernel (cgroups and namespaces freed
// by workers, RCU callbacks) must not be measured in the next. The milliseconds waited.
double wait_until_quiet(int limit_ms);

// Reads everything from `fd` until EOF, then closes it.
std::string read_all(int fd);

// Writes `text` to `path`; false on failure.
bool write_file(const std::string& path, const std::string& text);

// VmRSS of a process in KiB, 0 when unreadable.
std::uint64_t resident_kib(pid_t pid);

// CPU time a process has used so far, all its threads together, in nanoseconds (the first
// field of each /proc/<pid>/task/<tid>/schedstat); 0 when unreadable.
std::uint64_t cpu_ns(pid_t pid);

}  // namespace ipcrt::bench
