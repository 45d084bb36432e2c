// The benchmarks of ipcrt-bench (issue #8, SPEC §9). Each runs its configurations side by
// side, interleaved round by round, and adds a section (and its targets) to the report.
#pragma once

#include "bench/measure.hpp"

namespace ipcrt::bench {

// One confined service started: bare fork+exec, the supervisor's launch, bubblewrap, `ipcrt run`.
void run_startup(const Options& options, Report& report);
// Manifests of 1, 16, 64 and 256 services booted to "every service running"; supervisor RSS.
void run_boot_scale(const Options& options, Report& report);
// 200 services stopped by `ipcrt run` against a bare kill of 200 processes (issue 18).
void run_stop_scale(const Options& options, Report& report);
// Round trips and throughput of a provider/consumer pair, confined and unconfined.
void run_message_flow(const Options& options, Report& report);
// An allowed syscall under no filter, a one-rule filter and a service's filter.
void run_filter_cost(const Options& options, Report& report);
// mq_open direct, under the filter alone, mediated by the supervisor and by a minimal mediator
// (the round trip's floor), pinned and unpinned.
void run_mq_open_cost(const Options& options, Report& report);
// mkstemp + unlink and open + close of a service that may write a shared-memory object.
void run_shm_calls_cost(const Options& options, Report& report);
// The supervisor's CPU per MiB of service output; round trips while another service floods.
void run_log_cost(const Options& options, Report& report);
// `ipcrt status --json` of 64 services against `validate`; GetStatus; RSS with 16 clients.
void run_control_cost(const Options& options, Report& report);
// `ipcrt reload` of one changed service in 64 against its start; messages lost (issue 19).
void run_reload_cost(const Options& options, Report& report);
// Stripped binary sizes given by scripts/size.
void report_binary_sizes(const Options& options, Report& report);

}  // namespace ipcrt::bench
