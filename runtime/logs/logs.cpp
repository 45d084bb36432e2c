#include "runtime/logs/logs.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/text.hpp"
#include "runtime/logs/runtime_log.hpp"

namespace ipcrt::runtime {
namespace {

// The Logs whose open() routed the runtime's lines to it (one running manifest per process).
Logs* g_routing = nullptr;

// Handed to RuntimeLog in pieces of about this size: one write per drain, and a pipe to
// stderr (64 KiB) still takes a piece whole.
constexpr std::size_t kOutputChunk = 16 * 1024;
constexpr std::chrono::milliseconds kRetryMax{1000};

// Where a line of `text` (kMaxLine bytes) can be cut without splitting a UTF-8 character: the
// end, or before a lead byte whose sequence runs past it.
std::size_t utf8_cut(std::string_view text) {
  const std::size_t size = text.size();
  for (std::size_t back = 1; back <= 3 && back <= size; ++back) {
    const auto byte = static_cast<unsigned char>(text[size - back]);
    if ((byte & 0xC0) == 0x80) continue;  // a continuation byte: the lead is further back
    if (byte >= 0xC0) {
      const std::size_t length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : 2;
      if (length > back) return size - back;
    }
    break;
  }
  return size;
}

// `ms` rounded up to whole milliseconds. Not std::ceil: on targets without a rounding
// instruction (x86-64 before SSE4.1, armhf) it is a libm call that link-time optimisation adds
// only after the link has placed crtend.o, and libm's unwind entries then follow the
// terminator of .eh_frame that the static binary's unwinder walks (docs/decisions.md,
// "Binary size").
std::chrono::milliseconds::rep ceil_ms(double ms) {
  const auto whole = static_cast<std::chrono::milliseconds::rep>(ms);
  return static_cast<double>(whole) < ms ? whole + 1 : whole;
}

}  // namespace

Logs::Logs(std::string manifest_name, const std::vector<std::string>& services, LogOptions options)
    : manifest_(std::move(manifest_name)),
      options_(std::move(options)),
      ring_(options_.ring_bytes, options_.share_max_bytes, services) {
  options_.rate_bytes_per_s = std::max<std::size_t>(1, options_.rate_bytes_per_s);
  options_.burst_bytes = std::max(options_.burst_bytes, kMaxLine);
  for (const auto& name : services) service_named(name);
}

Logs::~Logs() {
  finish();
  // The runtime's last lines (logged after finish()) to a slow reader, within finish()'s wait.
  if (stderr_deadline_) RuntimeLog::instance().flush_until(*stderr_deadline_);
  if (routing_) {
    set_log_writer(previous_writer_);
    if (g_routing == this) g_routing = nullptr;
  }
  if (files_) files_->close();
}

Logs::Service& Logs::service_named(const std::string& name) {
  auto [found, added] = services_.try_emplace(name);
  if (added) {
    found->second.name = name;
    found->second.tokens = static_cast<double>(options_.burst_bytes);
    found->second.refilled = steady_now();
  }
  return found->second;
}

Logs::Clock::time_point Logs::steady_now() const {
  return supervisor_ != nullptr ? supervisor_->now() : Clock::now();
}

void Logs::open() {
  if (!routing_) {
    previous_writer_ = set_log_writer(&Logs::runtime_writer);
    g_routing = this;
    routing_ = true;
  }
  if (options_.files && !files_) {
    files_.emplace(*options_.files, manifest_ + ".log");
    if (auto opened = files_->open(); !opened) {
      files_.reset();
      log_warn("persistent logs off")
          .field("dir", options_.files->dir)
          .field("error", opened.error().describe())
          .field("hint", "lines still reach stderr and `ipcrt logs`");
    }
  }
}

void Logs::start(Supervisor& supervisor) {
  supervisor_ = &supervisor;
  finished_ = false;
  for (auto& [name, service] : services_) service.refilled = supervisor.now();
  arm_file_flush();
}

OutputHandler Logs::handler() {
  return [this](Supervisor& supervisor, const std::string& service, platform::UniqueFd output,
                platform::UniqueFd errors) {
    if (supervisor_ == nullptr) start(supervisor);
    Service& target = service_named(service);
    if (output.valid()) attach(target, LogSource::Stdout, std::move(output));
    if (errors.valid()) attach(target, LogSource::Stderr, std::move(errors));
  };
}

// ---- pipes

void Logs::catch_up(const std::string& name) {
  Service& service = service_named(name);
  if (service.paused) return;  // its budget decides when it is read again
  // on_readable may close a stream, which takes it out of the list.
  const std::vector<Stream*> streams = service.streams;
  for (Stream* stream : streams) {
    if (stream->watch) on_readable(*stream);
  }
}

void Logs::attach(Service& service, LogSource source, platform::UniqueFd fd) {
  auto owned = std::make_unique<Stream>();
  Stream& stream = *owned;
  stream.id = next_stream_++;
  stream.service = &service;
  stream.source = source;
  stream.fd = std::move(fd);
  streams_.emplace(stream.id, std::move(owned));
  service.streams.push_back(&stream);
  // A paused service's new pipes wait for its budget like its others.
  if (!service.paused && !watch(stream)) close_stream(stream);
}

bool Logs::watch(Stream& stream) {
  if (stream.watch || supervisor_ == nullptr) return true;
  Stream* raw = &stream;
  auto watched =
      supervisor_->watch(stream.fd.get(), EPOLLIN,
                         [this, raw](std::uint32_t, Supervisor::WatchId) { on_readable(*raw); });
  if (!watched) {
    // Closing the pipe: the service gets EPIPE rather than blocking on it forever.
    log_error("service output not read")
        .field("service", stream.service->name)
        .field("error", watched.error().describe());
    return false;
  }
  stream.watch = *watched;
  return true;
}

void Logs::unwatch(Stream& stream) {
  if (stream.watch && supervisor_ != nullptr) supervisor_->unwatch(*stream.watch);
  stream.watch.reset();
}

void Logs::on_readable(Stream& stream) {
  Service& service = *stream.service;
  refill(service);
  line_time_ = std::chrono::system_clock::now();
  char buffer[16 * 1024];
  std::size_t total = 0;
  bool ended = false;
  bool over_budget = false;
  stream.drained = false;
  while (total < kReadPerEvent) {
    const auto allowance = static_cast<std::size_t>(service.tokens);
    const std::size_t want = std::min({sizeof buffer, kReadPerEvent - total, allowance});
    if (want == 0) {
      over_budget = true;
      break;
    }
    const ssize_t n = ::read(stream.fd.get(), buffer, want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ended = errno != EAGAIN;
      stream.drained = true;
      break;
    }
    if (n == 0) {
      ended = true;
      break;
    }
    const auto got = static_cast<std::size_t>(n);
    total += got;
    service.tokens -= static_cast<double>(got);
    service.stats.bytes += got;
    if (service.in_episode) service.episode_bytes += got;
    split(stream, std::string_view(buffer, got));
    // A short read emptied the pipe (almost surely): the level-triggered watch says if not,
    // and the read that would only say EAGAIN is saved.
    if (got < want) {
      stream.drained = true;
      break;
    }
  }
  if (!holding()) flush_output();
  if (ended) {
    close_stream(stream);  // `stream` is gone
    return;
  }
  arm_partial(stream);
  if (over_budget) pause(service);
}

// The loop is over, so nothing waits on us: what the pipe still holds is read whatever the
// budget, and between pieces a slow reader of stderr is given time (until the deadline) rather
// than have the burst dropped.
void Logs::drain_final(Stream& stream) {
  char buffer[16 * 1024];
  std::size_t total = 0;
  while (total < kFinalDrain) {
    const ssize_t n = ::read(stream.fd.get(), buffer, std::min(sizeof buffer, kFinalDrain - total));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    const auto got = static_cast<std::size_t>(n);
    total += got;
    stream.service->stats.bytes += got;
    if (stream.service->in_episode) stream.service->episode_bytes += got;
    line_time_ = std::chrono::system_clock::now();
    split(stream, std::string_view(buffer, got));
    flush_output();
    if (stderr_deadline_) RuntimeLog::instance().flush_until(*stderr_deadline_);
  }
  line_time_ = std::chrono::system_clock::now();
  close_stream(stream);
}

void Logs::split(Stream& stream, std::string_view chunk) {
  while (!chunk.empty()) {
    const std::size_t newline = chunk.find('\n');
    const std::size_t take = newline == std::string_view::npos ? chunk.size() : newline;
    if (stream.partial.empty() && newline != std::string_view::npos && take <= kMaxLine) {
      emit(stream, chunk.substr(0, take), false);  // the common case: no copy
      chunk.remove_prefix(take + 1);
      continue;
    }
    if (stream.partial.empty()) stream.partial_since = steady_now();
    const std::size_t room = kMaxLine - stream.partial.size();
    if (take > room) {
      // Cut at kMaxLine (not inside a UTF-8 character); the rest starts a new line.
      stream.partial.append(chunk.substr(0, room));
      chunk.remove_prefix(room);
      const std::size_t cut = utf8_cut(stream.partial);
      emit(stream, std::string_view(stream.partial).substr(0, cut), true);
      stream.partial.erase(0, cut);
      continue;
    }
    stream.partial.append(chunk.substr(0, take));
    if (newline == std::string_view::npos) break;
    emit(stream, stream.partial, false);
    stream.partial.clear();
    chunk.remove_prefix(take + 1);
  }
}

void Logs::emit(Stream& stream, std::string_view text, bool cut) {
  Service& service = *stream.service;
  std::string line;
  line.reserve(text.size() + service.name.size() + 96);
  line += "ts=";
  append_log_time(line, line_time_);
  line += " level=info service=";
  line += service.name;
  line += " stream=";
  line += log_source_name(stream.source);
  line += " msg=";
  append_quoted(line, text);
  if (cut) line += " truncated=true";
  ++service.stats.lines;
  if (cut) ++service.stats.truncated;
  output_ += line;
  output_ += '\n';
  ++output_lines_;
  store(service.name, stream.source, line_time_, std::move(line));
  if (output_.size() >= kOutputChunk) flush_output();
}

void Logs::close_stream(Stream& stream) {
  if (!stream.partial.empty()) {
    line_time_ = std::chrono::system_clock::now();
    emit(stream, stream.partial, false);
    stream.partial.clear();
  }
  if (!holding()) flush_output();
  unwatch(stream);
  if (stream.partial_timer && supervisor_ != nullptr) supervisor_->cancel(*stream.partial_timer);
  auto& open = stream.service->streams;
  open.erase(std::remove(open.begin(), open.end(), &stream), open.end());
  streams_.erase(stream.id);  // closes the pipe
}

void Logs::arm_partial(Stream& stream) {
  if (stream.partial.empty() || stream.partial_timer || supervisor_ == nullptr) return;
  Stream* raw = &stream;
  const auto due = std::max(stream.partial_since + options_.partial_flush,
                            supervisor_->now() + std::chrono::milliseconds(1));
  stream.partial_timer = supervisor_->at(due, [this, raw] {
    raw->partial_timer.reset();
    on_partial_timer(*raw);
  });
}

// One timer per stream with a partial line, not one per chunk: when it fires for a partial
// line that has since ended, it waits for the current one instead.
void Logs::on_partial_timer(Stream& stream) {
  if (stream.partial.empty()) return;
  // Unless the last read emptied the pipe, the rest of the line may well be in it, held back
  // by us (the budget, the per-event bound) and not by the service: the line is written whole
  // once it is read.
  if (!stream.drained || steady_now() - stream.partial_since < options_.partial_flush) {
    arm_partial(stream);
    return;
  }
  line_time_ = std::chrono::system_clock::now();
  emit(stream, stream.partial, false);
  stream.partial.clear();
  flush_output();
}

// ---- the budget

void Logs::refill(Service& service) {
  const auto now = steady_now();
  if (now <= service.refilled) return;
  const double seconds = std::chrono::duration<double>(now - service.refilled).count();
  service.tokens =
      std::min(static_cast<double>(options_.burst_bytes),
               service.tokens + seconds * static_cast<double>(options_.rate_bytes_per_s));
  service.refilled = now;
}

void Logs::pause(Service& service) {
  if (service.paused || supervisor_ == nullptr) return;
  service.paused = true;
  for (Stream* stream : service.streams) unwatch(*stream);
  service.paused_at = steady_now();
  if (!service.in_episode) {
    service.in_episode = true;
    service.episode_bytes = 0;
    service.episode_paused = {};
    ++service.stats.pauses;
    if (service.episode_timer) supervisor_->cancel(*service.episode_timer);
    service.episode_timer.reset();
    log_warn("output paused")
        .field("service", service.name)
        .field("suppressed", true)
        .field("budget-bytes-per-s", options_.rate_bytes_per_s)
        .field("burst-bytes", options_.burst_bytes)
        .field("hint", "its pipes are read again as the budget refills; it waits, nothing is lost");
  }
  // Read again once a quarter second's worth has come back, not for every few bytes.
  const double resume_at =
      std::clamp(static_cast<double>(options_.rate_bytes_per_s) / 4, static_cast<double>(kMaxLine),
                 static_cast<double>(options_.burst_bytes));
  const double seconds =
      std::max(0.0, resume_at - service.tokens) / static_cast<double>(options_.rate_bytes_per_s);
  const auto delay = std::max<std::chrono::milliseconds::rep>(1, ceil_ms(seconds * 1000));
  Service* raw = &service;
  service.resume_timer = supervisor_->after(std::chrono::milliseconds(delay), [this, raw] {
    raw->resume_timer.reset();
    resume(*raw);
  });
}

void Logs::resume(Service& service) {
  if (!service.paused) return;
  service.paused = false;
  const auto paused_for = steady_now() - service.paused_at;
  service.episode_paused += paused_for;
  service.stats.paused_ms += static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(paused_for).count());
  std::vector<Stream*> unwatched;
  for (Stream* stream : service.streams) {
    if (!watch(*stream)) unwatched.push_back(stream);
  }
  for (Stream* stream : unwatched) close_stream(*stream);
  arm_episode_check(service);
}

// The episode ends once the budget is full again: the service has written less than its rate
// for burst/rate seconds.
void Logs::arm_episode_check(Service& service) {
  if (!service.in_episode || service.episode_timer || supervisor_ == nullptr) return;
  refill(service);
  const double missing = static_cast<double>(options_.burst_bytes) - service.tokens;
  const double seconds = missing / static_cast<double>(options_.rate_bytes_per_s);
  const auto delay = std::max<std::chrono::milliseconds::rep>(100, ceil_ms(seconds * 1000));
  Service* raw = &service;
  service.episode_timer = supervisor_->after(std::chrono::milliseconds(delay), [this, raw] {
    raw->episode_timer.reset();
    refill(*raw);
    if (!raw->paused && raw->tokens >= static_cast<double>(options_.burst_bytes)) {
      end_episode(*raw);
    } else if (!raw->paused) {
      arm_episode_check(*raw);
    }  // paused: resume() arms it again
  });
}

void Logs::end_episode(Service& service) {
  if (!service.in_episode) return;
  service.in_episode = false;
  service.stats.held_back_bytes += service.episode_bytes;
  log_info("output resumed")
      .field("service", service.name)
      .field("held-back-bytes", service.episode_bytes)
      .field("paused-ms",
             std::chrono::duration_cast<std::chrono::milliseconds>(service.episode_paused).count());
}

// ---- where lines go

void Logs::store(const std::string& service, LogSource source,
                 std::chrono::system_clock::time_point time, std::string line) {
  if (files_) {
    if (files_->add(line)) {
      files_->flush();
    } else {
      arm_file_flush();
    }
  }
  const LogRecord& stored = ring_.add(service, source, time, std::move(line));
  if (follows_.empty()) return;
  // A copy: a follower may log, and a line logged into the same share could drop this one.
  const LogRecord record = stored;
  std::vector<FollowId> ids;
  for (const auto& [id, follow] : follows_) ids.push_back(id);
  for (FollowId id : ids) {
    auto found = follows_.find(id);  // an earlier follower may have unfollowed this one
    if (found == follows_.end()) continue;
    if (found->second.service && *found->second.service != record.service) continue;
    Follower follower = found->second.follower;
    follower(record);
  }
}

void Logs::flush_output() {
  if (output_.empty()) return;
  RuntimeLog::instance().write(output_, output_lines_);
  output_.clear();
  output_lines_ = 0;
  arm_stderr_retry();
}

void Logs::arm_file_flush() {
  if (!files_ || !files_->has_batch() || file_timer_) return;
  if (supervisor_ == nullptr) {
    if (finished_) files_->flush();  // no loop any more; before start() the batch waits
    return;
  }
  file_timer_ = supervisor_->after(options_.file_flush, [this] {
    file_timer_.reset();
    if (files_) files_->flush();
  });
}

// What stderr could not take yet is retried on a timer (backing off to 1 s while nothing
// moves), also when no new line comes to push it.
void Logs::arm_stderr_retry() {
  RuntimeLog& log = RuntimeLog::instance();
  if (!log.pending() || retry_timer_ || supervisor_ == nullptr) return;
  retry_timer_ = supervisor_->after(retry_delay_, [this] {
    retry_timer_.reset();
    RuntimeLog& log = RuntimeLog::instance();
    const std::size_t before = log.pending_bytes();
    log.flush();
    retry_delay_ = log.pending_bytes() < before ? std::chrono::milliseconds(50)
                                                : std::min(retry_delay_ * 2, kRetryMax);
    arm_stderr_retry();
  });
}

void Logs::runtime_writer(std::chrono::system_clock::time_point time, std::string_view line) {
  if (g_routing != nullptr) {
    g_routing->runtime_line(time, line);
    return;
  }
  std::string out(line);
  out += '\n';
  RuntimeLog::instance().write(out, 1);
}

namespace {

// An info line: one that may wait for the end of the loop's step (end_step()) on its way to
// stderr. Warnings and errors never wait (one logged just before a crash is not lost).
bool is_info_line(std::string_view line) {
  const auto at = line.find(" level=");
  return at != std::string_view::npos && at < 40 && line.substr(at + 7).starts_with("info ");
}

}  // namespace

void Logs::end_step() {
  stepped_ = true;
  flush_output();
}

bool Logs::holding() const {
  return stepped_ && supervisor_ != nullptr && !finished_;
}

void Logs::runtime_line(std::chrono::system_clock::time_point time, std::string_view line) {
  // While the loop runs (and calls end_step()), info lines join the service lines of the step
  // and reach stderr in one write with them at its end: a step that stops or reaps 200
  // services logs 200 lines, which were 200 writes. The ring and followers have each at once.
  if (holding() && is_info_line(line)) {
    output_ += line;
    output_ += '\n';
    ++output_lines_;
    store(subject_of(line), LogSource::Runtime, time, std::string(line));
    if (output_.size() >= kOutputChunk) flush_output();
    return;
  }
  flush_output();  // lines logged before this one are written before it
  std::string out;
  out.reserve(line.size() + 1);
  out += line;
  out += '\n';
  RuntimeLog::instance().write(out, 1);
  store(subject_of(line), LogSource::Runtime, time, std::string(line));
  arm_stderr_retry();
}

// The service a line of the runtime's is about (its `service=` field), if it names one of this
// manifest's: `ipcrt logs collector` shows when collector started and how it exited beside
// what it printed, as `systemctl status` does. Service names are never quoted in logfmt.
std::string Logs::subject_of(std::string_view line) const {
  constexpr std::string_view kField = " service=";
  const auto at = line.find(kField);
  if (at == std::string_view::npos) return {};
  const auto start = at + kField.size();
  const auto end = line.find(' ', start);
  std::string name(line.substr(start, end == std::string_view::npos ? end : end - start));
  return ring_.has(name) ? name : std::string();
}

void Logs::denial(const std::string& service, std::string_view body) {
  // Counted for `status` and `metrics` from the lines themselves: mediation's DenialLog
  // reports each denial (msg=denied) or, past its rate, how many it held back.
  if (auto found = services_.find(service); found != services_.end()) {
    ServiceLogStats& stats = found->second.stats;
    if (body.find(" msg=denied ") != std::string_view::npos) {
      ++stats.denials;
    } else if (body.find(" msg=denials-suppressed ") != std::string_view::npos) {
      constexpr std::string_view kCount = " count=";
      if (const auto at = body.find(kCount); at != std::string_view::npos) {
        std::uint64_t count = 0;
        for (std::size_t i = at + kCount.size();
             i < body.size() && body[i] >= '0' && body[i] <= '9'; ++i) {
          count = count * 10 + static_cast<std::uint64_t>(body[i] - '0');
        }
        stats.denials_suppressed += count;
      }
    }
  }
  const auto now = std::chrono::system_clock::now();
  const std::string line = timestamped_line(body, now);
  flush_output();
  RuntimeLog::instance().write(line + '\n', 1);
  store(service, LogSource::Runtime, now, std::move(line));
  arm_stderr_retry();
}

void Logs::finish() {
  if (finished_) return;
  stderr_deadline_ = std::chrono::steady_clock::now() + kFinalStderrWait;
  std::vector<Stream*> open;
  for (auto& [id, stream] : streams_) open.push_back(stream.get());
  for (Stream* stream : open) {
    unwatch(*stream);
    drain_final(*stream);
  }
  for (auto& [name, service] : services_) {
    if (supervisor_ != nullptr) {
      if (service.resume_timer) supervisor_->cancel(*service.resume_timer);
      if (service.episode_timer) supervisor_->cancel(*service.episode_timer);
    }
    service.resume_timer.reset();
    service.episode_timer.reset();
    if (service.paused) {
      service.paused = false;
      service.episode_paused += steady_now() - service.paused_at;
    }
    end_episode(service);
  }
  if (supervisor_ != nullptr) {
    if (file_timer_) supervisor_->cancel(*file_timer_);
    if (retry_timer_) supervisor_->cancel(*retry_timer_);
  }
  file_timer_.reset();
  retry_timer_.reset();
  flush_output();
  RuntimeLog::instance().flush_until(*stderr_deadline_);
  supervisor_ = nullptr;
  finished_ = true;
  // Said where it can still be read: the ring and the files (stderr may well drop it too).
  const RuntimeLog& stderr_log = RuntimeLog::instance();
  if (stderr_log.lines_lost() > 0 || stderr_log.pending()) {
    log_warn("log lines not written to stderr")
        .field("count", stderr_log.lines_lost())
        .field("waiting-bytes", stderr_log.pending_bytes())
        .field("hint",
               "whoever reads the runtime's stderr did not keep up; `ipcrt logs` and "
               "log.dir have them");
  }
  if (files_) files_->flush();
}

// ---- reading and counters

Status Logs::no_such_service(const std::string& name) const {
  return fail(cat("no service \"", name, "\""), cat("services: ", join(ring_.names(), ", ")));
}

Result<std::vector<LogRecord>> Logs::last(std::size_t count,
                                          const std::optional<std::string>& service) const {
  if (service && (service->empty() || !ring_.has(*service))) {
    return std::unexpected(no_such_service(*service).error());
  }
  return ring_.last(count, service);
}

Result<LogPage> Logs::read(std::uint64_t cursor, std::size_t max,
                           const std::optional<std::string>& service) const {
  if (service && (service->empty() || !ring_.has(*service))) {
    return std::unexpected(no_such_service(*service).error());
  }
  return ring_.read(cursor, max, service);
}

Result<Logs::FollowId> Logs::follow(const std::optional<std::string>& service, Follower follower) {
  if (service && (service->empty() || !ring_.has(*service))) {
    return std::unexpected(no_such_service(*service).error());
  }
  const FollowId id = next_follow_++;
  follows_.emplace(id, Follow{service, std::move(follower)});
  return id;
}

void Logs::unfollow(FollowId id) {
  follows_.erase(id);
}

Result<ServiceLogStats> Logs::stats(const std::string& service) const {
  auto found = services_.find(service);
  if (found == services_.end()) return std::unexpected(no_such_service(service).error());
  ServiceLogStats stats = found->second.stats;
  stats.ring_bytes = ring_.share_bytes(service);
  return stats;
}

std::uint64_t Logs::stderr_lines_lost() const {
  return RuntimeLog::instance().lines_lost();
}

std::uint64_t Logs::file_lines_lost() const {
  return files_ ? files_->lines_lost() : 0;
}

std::string Logs::file_path() const {
  return files_ ? files_->path(0) : std::string();
}

}  // namespace ipcrt::runtime
