// ipcrt-bench: every benchmark of issue #8 in one run, printed as one Markdown table with the
// machine it ran on. Not a test: nothing here fails on a slow machine; missed targets are
// reported as such. Run it through scripts/bench, which builds what it needs first.
//   ipcrt-bench [--rounds N]
//               [--only startup,boot,stop,flow,filter,open,shm,logs,control,reload]
//               [--binary-size NAME=BYTES]... [--ipcrt PATH] [--ready PATH] [--flow PATH]
//               [--print PATH] [--sequence PATH] [--floor PATH] [--trivial PATH]
//               [--bwrap PATH|""] [--crun PATH|""]
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "bench/benchmarks.hpp"
#include "runtime/mediation/notification.hpp"

namespace ipcrt::bench {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

std::string machine_description(const Options& options) {
  utsname names{};
  ::uname(&names);
  std::string cpu = "unknown CPU";
  if (FILE* cpuinfo = std::fopen("/proc/cpuinfo", "r")) {
    char line[512];
    while (std::fgets(line, sizeof line, cpuinfo) != nullptr) {
      if (std::strncmp(line, "model name", 10) == 0 && std::strchr(line, ':') != nullptr) {
        cpu = std::strchr(line, ':') + 2;
        if (!cpu.empty() && cpu.back() == '\n') cpu.pop_back();
        break;
      }
    }
    std::fclose(cpuinfo);
  }
  char date[32];
  std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
  return std::string(date) + ", Linux " + names.release + " " + names.machine + ", " + cpu + ", " +
         std::to_string(::sysconf(_SC_NPROCESSORS_ONLN)) + " CPUs" +
         (options.mediation ? "" : ", no name-level mediation") +
         (options.host_mount_namespace < 0
              ? ""
              : "\n/run is not a tmpfs here (a directory of the root file system): every row "
                "runs with a tmpfs on /run/ipcrt, as on Debian and ipcrt as PID 1, in a mount "
                "namespace of the benchmark's own; one start-up row shows the host's /run.");
}

// Debian (systemd), every gateway image and ipcrt as PID 1 (SPEC §4.5) have /run on a tmpfs;
// a machine without one (this development VM: /run is a directory of the ext4 root, mounted
// with `discard`) makes each run's directories under /run/ipcrt a journalled create and a
// synchronous discard at their removal, several milliseconds that no device pays. There the
// benchmark moves into a mount namespace of its own (host mounts still propagate in, nothing
// of its own out) with a tmpfs on /run/ipcrt, says so with the machine, and keeps the
// namespace it came from for the start-up row that shows what the host's /run costs.
// Returns the kept namespace's descriptor, -1 where /run/ipcrt is a tmpfs already, or -2 on
// failure.
int give_run_ipcrt_a_tmpfs() {
  struct statfs run {};
  if (::mkdir("/run/ipcrt", 0755) != 0 && errno != EEXIST) return -2;
  if (::statfs("/run/ipcrt", &run) != 0) return -2;
  if (run.f_type == TMPFS_MAGIC) return -1;
  const int host = ::open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
  if (host < 0) return -2;
  if (::unshare(CLONE_NEWNS) != 0 ||
      ::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0 ||
      ::mount("ipcrt-bench-run", "/run/ipcrt", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0) {
    ::close(host);
    return -2;
  }
  return host;
}

bool starts_with_option(const char* argument, const char* option) {
  return std::strcmp(argument, option) == 0;
}

int usage() {
  std::fprintf(
      stderr,
      "usage: ipcrt-bench [--rounds N]\n"
      "                   [--only startup,boot,stop,flow,filter,open,shm,logs,control,reload]\n"
      "                   [--binary-size NAME=BYTES]... [--ipcrt PATH] [--ready PATH]\n"
      "                   [--flow PATH] [--print PATH] [--sequence PATH] [--floor PATH]\n"
      "                   [--trivial PATH] [--bwrap PATH] [--crun PATH]\n");
  return 2;
}

}  // namespace

void report_binary_sizes(const Options& options, Report& report) {
  if (options.binary_sizes.empty()) return;
  Section& section = report.section("Stripped static ipcrt",
                                    "From scripts/size: release build (GCC 12, -Os), stripped.",
                                    options.binary_sizes.front().first);
  const double reference = static_cast<double>(options.binary_sizes.front().second);
  for (const auto& [name, bytes] : options.binary_sizes) {
    section.rows.push_back({name + " (" + std::to_string(bytes) + " bytes)",
                            {static_cast<double>(bytes) / kMiB, 0},
                            "MiB",
                            static_cast<double>(bytes) / reference,
                            {}});
    if (name == "arm64") {
      report.target(
          {"static aarch64 binary", static_cast<double>(bytes) / kMiB, 1.2, Better::Lower, " MiB"});
    }
  }
}

}  // namespace ipcrt::bench

int main(int argc, char** argv) {
  using namespace ipcrt::bench;
  namespace fs = std::filesystem;
  const fs::path here = fs::canonical("/proc/self/exe").parent_path();
  Options options;
  options.ipcrt = (here.parent_path() / "runtime" / "ipcrt").string();
  options.ready = (here / "bench-ready").string();
  options.flow = (here / "bench-flow").string();
  options.print = (here / "bench-print").string();
  options.sequence = (here / "bench-sequence").string();
  options.floor = (here / "bench-floor").string();
  options.trivial = "/bin/true";
  options.bwrap = fs::exists("/usr/bin/bwrap") ? "/usr/bin/bwrap" : "";
  options.crun = fs::exists("/usr/bin/crun") ? "/usr/bin/crun" : "";
  std::string only = "startup,boot,stop,flow,filter,open,shm,logs,control,reload";
  for (int i = 1; i < argc; ++i) {
    if (i + 1 >= argc) return usage();
    const char* value = argv[++i];
    const char* option = argv[i - 1];
    if (starts_with_option(option, "--rounds")) {
      options.rounds = std::max(1, std::atoi(value));
    } else if (starts_with_option(option, "--only")) {
      only = value;
    } else if (starts_with_option(option, "--binary-size")) {
      const char* equals = std::strchr(value, '=');
      if (equals == nullptr) return usage();
      options.binary_sizes.emplace_back(std::string(value, equals),
                                        std::strtoull(equals + 1, nullptr, 10));
    } else if (starts_with_option(option, "--ipcrt")) {
      options.ipcrt = value;
    } else if (starts_with_option(option, "--ready")) {
      options.ready = value;
    } else if (starts_with_option(option, "--flow")) {
      options.flow = value;
    } else if (starts_with_option(option, "--print")) {
      options.print = value;
    } else if (starts_with_option(option, "--sequence")) {
      options.sequence = value;
    } else if (starts_with_option(option, "--floor")) {
      options.floor = value;
    } else if (starts_with_option(option, "--trivial")) {
      options.trivial = value;
    } else if (starts_with_option(option, "--bwrap")) {
      options.bwrap = value;
    } else if (starts_with_option(option, "--crun")) {
      options.crun = value;
    } else {
      return usage();
    }
  }
  if (::geteuid() != 0) {
    std::fprintf(stderr, "ipcrt-bench: run as root (ipcrt creates queues and namespaces)\n");
    return 1;
  }
  for (const auto& program :
       {options.ipcrt, options.ready, options.flow, options.print, options.sequence, options.floor,
        options.trivial}) {
    if (::access(program.c_str(), X_OK) != 0) {
      std::fprintf(stderr, "ipcrt-bench: %s is missing (build the tree first)\n", program.c_str());
      return 1;
    }
  }
  options.host_mount_namespace = give_run_ipcrt_a_tmpfs();
  if (options.host_mount_namespace == -2) {
    std::perror("ipcrt-bench: a tmpfs on /run/ipcrt in a mount namespace of its own");
    return 1;
  }
  options.mediation = ipcrt::runtime::mediation_support().has_value();
  // Not under /tmp: every service has a private one, and FIFOs here are how services say
  // they run. Services run as dynamic users, so the directory is searchable by all.
  char scratch[] = "/var/lib/ipcrt-bench.XXXXXX";
  if (::mkdtemp(scratch) == nullptr || ::chmod(scratch, 0755) != 0) {
    std::perror("ipcrt-bench: mkdtemp /var/lib/ipcrt-bench.*");
    return 1;
  }
  options.scratch_dir = scratch;
  // The runs' state directories (SPEC §4a) and dynamic ids go with the scratch directory, not
  // into the device's /var/lib/ipcrt, unless the caller chose a state root.
  if (std::getenv("IPCRT_STATE_DIR") == nullptr) {
    ::setenv("IPCRT_STATE_DIR", (options.scratch_dir + "/state").c_str(), 1);
  }

  Report report;
  auto wanted = [&only](const char* name) {
    return ("," + only + ",").find(name) != std::string::npos;
  };
  struct Benchmark {
    const char* name;
    void (*run)(const Options&, Report&);
  };
  const Benchmark benchmarks[] = {{",startup,", run_startup},
                                  {",boot,", run_boot_scale},
                                  {",stop,", run_stop_scale},
                                  {",flow,", run_message_flow},
                                  {",filter,", run_filter_cost},
                                  {",open,", run_mq_open_cost},
                                  {",shm,", run_shm_calls_cost},
                                  {",logs,", run_log_cost},
                                  {",control,", run_control_cost},
                                  {",reload,", run_reload_cost}};
  for (const auto& benchmark : benchmarks) {
    if (!wanted(benchmark.name)) continue;
    const double waited = wait_until_quiet(10000);
    std::fprintf(stderr, "ipcrt-bench: running %.*s (after %.0f ms for the machine to be quiet)\n",
                 static_cast<int>(std::strlen(benchmark.name) - 2), benchmark.name + 1, waited);
    benchmark.run(options, report);
  }
  report_binary_sizes(options, report);
  std::error_code ignored;
  fs::remove_all(options.scratch_dir, ignored);

  std::fputs(report.format(machine_description(options), options.rounds).c_str(), stdout);
  return report.failed() ? 1 : 0;
}
