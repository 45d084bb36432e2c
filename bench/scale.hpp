// What the boot and stop benchmarks at scale share (issues 8, 18, 21): waiting for services to
// say they run, and the floor of both, a minimal launcher doing ipcrt's confinement steps
// for as many services (bench/programs/floor.cpp).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "bench/measure.hpp"

namespace ipcrt::bench {

// Reads `count` bytes from the FIFO, or gives up after a minute or when `watched` (> 0) has
// exited. True when every service said it runs.
bool wait_until_running(int fifo, int count, pid_t watched);

struct FloorRun {
  double boot_ms = 0;  // from its fork until every service runs
  double stop_ms = 0;  // from SIGTERM until it has reaped every service and exited
  // CPU time through that stop: of every CPU (busy_cpu_ns), and of the launcher itself.
  double stop_busy_cpu_ms = 0;
  double stop_launcher_cpu_ms = 0;
};

// bench-floor of `services` bench-ready services reporting on `fifo_path`: in cgroups of their
// own when this machine gives ipcrt cgroups (as ipcrt's would be), else without.
[[nodiscard]] std::optional<FloorRun> run_floor(const Options& options,
                                                const std::string& fifo_path, int fifo,
                                                int services, std::string& failure);

// "in a cgroup each, cgroup.kill at each end" or "no cgroups": for the sections' notes.
[[nodiscard]] std::string floor_cgroups_note();

}  // namespace ipcrt::bench
