// The log subsystem of one running manifest (SPEC §14). It reads every service's stdout and
// stderr in the supervisor's loop, cuts them into lines (at 4 KiB; a partial line after 100 ms
// or at end of file), and writes each as one logfmt line
//   ts=2026-12-01T14:06:09.123Z level=info service=collector stream=stdout msg="..."
// to the runtime's log (RuntimeLog: stderr, never blocking), to the ring `ipcrt logs` reads
// (LogRing) and, with a manifest's `log.dir`, to rotated files (LogFiles). The runtime's own
// lines (common/log.hpp) and the services' denial lines go to the same three places.
//
// Each service has a byte budget (default 64 KiB/s, burst 256 KiB) for what is read of its
// pipes. Past it its pipes are not read (unwatched) until the budget has refilled: the pipe
// fills and the service waits in write(2), so a flood costs the supervisor no more than the
// budget and never delays other services, and no line is dropped. One over-budget episode is
// logged once when it starts (`msg="output paused" suppressed=true`) and once when the budget
// is full again (`msg="output resumed" held-back-bytes=N paused-ms=T`: what was read late and
// how long the pipes were left alone).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "common/log.hpp"
#include "platform/fd.hpp"
#include "runtime/logs/log_files.hpp"
#include "runtime/logs/log_ring.hpp"
#include "runtime/supervisor.hpp"

namespace ipcrt::runtime {

// The defaults are SPEC §14's; a manifest's `log` object sets ring_bytes and files, tests and
// benchmarks the rest.
struct LogOptions {
  std::size_t rate_bytes_per_s = 64 * 1024;
  std::size_t burst_bytes = 256 * 1024;
  std::size_t ring_bytes = 1024 * 1024;
  std::size_t share_max_bytes = 64 * 1024;  // of one service in the ring
  std::chrono::milliseconds partial_flush{100};
  std::chrono::milliseconds file_flush{1000};  // the batch of the files is written this often
  std::optional<LogFileOptions> files;         // none: stderr and the ring only
};

// What `ipcrt metrics` shows of one service's output and denials.
struct ServiceLogStats {
  std::uint64_t bytes = 0;  // read from its pipes
  std::uint64_t lines = 0;
  std::uint64_t truncated = 0;        // lines cut at 4 KiB
  std::uint64_t pauses = 0;           // over-budget episodes
  std::uint64_t held_back_bytes = 0;  // read late, during those episodes
  std::uint64_t paused_ms = 0;        // its pipes were left unread this long in all
  std::size_t ring_bytes = 0;         // its share of the ring in use
  std::uint64_t denials = 0;          // denial lines reported by mediation
  std::uint64_t denials_suppressed = 0;  // denials its rate limit held back (counted, no line)
};

class Logs {
 public:
  static constexpr std::size_t kMaxLine = 4096;
  // Read of one pipe per readiness event, so one chatty service cannot hold the loop.
  static constexpr std::size_t kReadPerEvent = 64 * 1024;
  // Read of one pipe at the end, whatever the budget (a dead service's pipe holds at most its
  // capacity; a bound for one that is still written by a process left behind).
  static constexpr std::size_t kFinalDrain = 1024 * 1024;
  // How long the end of a run waits at most for a slow reader of the runtime's stderr.
  static constexpr std::chrono::seconds kFinalStderrWait{2};

  Logs(std::string manifest_name, const std::vector<std::string>& services, LogOptions options);
  Logs(const Logs&) = delete;
  Logs& operator=(const Logs&) = delete;
  ~Logs();

  // Opens the files (a failure is logged: stderr and the ring go on) and from here on takes
  // the runtime's own lines too. Before start() nothing is written on a timer.
  void open();
  // The subsystem's timers run on `supervisor` from here until finish().
  void start(Supervisor& supervisor);
  // What the supervisor calls with each started service's pipes.
  [[nodiscard]] OutputHandler handler();
  // `service`'s main process has ended: what its pipes hold now is read (within its budget,
  // as a readable event would), so its last lines come before the runtime's `exited` line.
  void catch_up(const std::string& service);
  // A denial line of `service` (logfmt without `ts=`, from mediation's DenialLog).
  void denial(const std::string& service, std::string_view body);
  // The loop is over: reads what the pipes still hold (whatever the budget, at most
  // kFinalDrain each), writes partial lines, ends episodes, writes the files' batch. The
  // runtime's later lines still go to the ring and (unbatched) to the files.
  void finish();
  // The end of one step of the supervisor's loop (its after_update). Once it is called, the
  // service lines read in a step and the runtime's info lines wait for it to reach stderr, in
  // one write (warnings and errors are written at once, with what waits before them).
  void end_step();

  // ---- reading, for `ipcrt logs` (the control server's GetLogs)
  // The last `count` lines of `service` (its output, its denials and the runtime's lines
  // naming it with `service=`; nullopt: of every service and the runtime, interleaved by
  // time), oldest first. An unknown service is an error listing them.
  [[nodiscard]] Result<std::vector<LogRecord>> last(
      std::size_t count, const std::optional<std::string>& service = std::nullopt) const;
  // A cursor read (`logs -f` resuming after a slow client): see LogRing::read.
  [[nodiscard]] Result<LogPage> read(
      std::uint64_t cursor, std::size_t max,
      const std::optional<std::string>& service = std::nullopt) const;
  // The cursor of the next line to be logged.
  [[nodiscard]] std::uint64_t next_seq() const { return ring_.next_seq(); }
  // `follower` is called with every new line of `service` (nullopt: every line) from the
  // supervisor's loop, until unfollow(). It must not block: the control server queues what
  // it sends, bounded, and falls back to read() with a cursor when it lags.
  using FollowId = std::uint64_t;
  using Follower = std::function<void(const LogRecord&)>;
  [[nodiscard]] Result<FollowId> follow(const std::optional<std::string>& service,
                                        Follower follower);
  void unfollow(FollowId id);

  // ---- counters, for `ipcrt metrics`
  [[nodiscard]] Result<ServiceLogStats> stats(const std::string& service) const;
  // Lines the runtime's stderr could not take (RuntimeLog::lines_lost()).
  [[nodiscard]] std::uint64_t stderr_lines_lost() const;
  [[nodiscard]] std::uint64_t file_lines_lost() const;
  [[nodiscard]] std::size_t followers() const { return follows_.size(); }
  // The current file, "" without `log.dir`.
  [[nodiscard]] std::string file_path() const;
  [[nodiscard]] const LogRing& ring() const { return ring_; }

 private:
  using Clock = Supervisor::Clock;
  struct Stream;
  struct Service {
    std::string name;
    double tokens = 0;
    Clock::time_point refilled{};
    bool paused = false;
    std::optional<Supervisor::TimerId> resume_timer;
    bool in_episode = false;
    Clock::time_point paused_at{};
    Clock::duration episode_paused{};
    std::uint64_t episode_bytes = 0;
    std::optional<Supervisor::TimerId> episode_timer;
    std::vector<Stream*> streams;  // open pipes, of the current run and earlier ones
    ServiceLogStats stats;
  };
  struct Stream {
    std::uint64_t id = 0;
    Service* service = nullptr;
    LogSource source = LogSource::Stdout;
    platform::UniqueFd fd;
    std::optional<Supervisor::WatchId> watch;
    std::string partial;  // the start of a line not ended yet
    Clock::time_point partial_since{};
    bool drained = true;  // the last read found the pipe empty: the service owes the rest
    std::optional<Supervisor::TimerId> partial_timer;
  };

  Service& service_named(const std::string& name);
  void attach(Service& service, LogSource source, platform::UniqueFd fd);
  bool watch(Stream& stream);
  void unwatch(Stream& stream);
  void on_readable(Stream& stream);
  void drain_final(Stream& stream);
  void split(Stream& stream, std::string_view chunk);
  void emit(Stream& stream, std::string_view text, bool cut);
  void close_stream(Stream& stream);
  void arm_partial(Stream& stream);
  void on_partial_timer(Stream& stream);
  void refill(Service& service);
  void pause(Service& service);
  void resume(Service& service);
  void arm_episode_check(Service& service);
  void end_episode(Service& service);
  // Into the ring (and to followers) and the files' batch.
  void store(const std::string& service, LogSource source,
             std::chrono::system_clock::time_point time, std::string line);
  void flush_output();
  [[nodiscard]] bool holding() const;  // lines wait for end_step()
  void arm_file_flush();
  void arm_stderr_retry();
  void runtime_line(std::chrono::system_clock::time_point time, std::string_view line);
  [[nodiscard]] std::string subject_of(std::string_view line) const;
  static void runtime_writer(std::chrono::system_clock::time_point time, std::string_view line);
  [[nodiscard]] Clock::time_point steady_now() const;
  [[nodiscard]] Status no_such_service(const std::string& name) const;

  std::string manifest_;
  LogOptions options_;
  LogRing ring_;
  std::optional<LogFiles> files_;
  std::map<std::string, Service> services_;
  std::map<std::uint64_t, std::unique_ptr<Stream>> streams_;
  std::uint64_t next_stream_ = 1;
  Supervisor* supervisor_ = nullptr;
  // Service lines not yet handed to RuntimeLog: one write per drain, not per line.
  std::string output_;
  std::size_t output_lines_ = 0;
  std::chrono::system_clock::time_point line_time_{};  // of the lines being cut now
  std::optional<Supervisor::TimerId> file_timer_;
  std::optional<Supervisor::TimerId> retry_timer_;
  std::chrono::milliseconds retry_delay_{50};
  struct Follow {
    std::optional<std::string> service;
    Follower follower;
  };
  std::map<FollowId, Follow> follows_;
  FollowId next_follow_ = 1;
  bool routing_ = false;  // the runtime's lines come here
  LogWriter previous_writer_ = nullptr;
  bool finished_ = false;
  bool stepped_ = false;  // end_step() is called: lines may wait for the end of the step
  std::optional<std::chrono::steady_clock::time_point> stderr_deadline_;  // set by finish()
};

}  // namespace ipcrt::runtime
