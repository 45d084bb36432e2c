#include "runtime/logs/log_ring.hpp"

#include <algorithm>

namespace ipcrt::runtime {
namespace {

std::size_t cost(const LogRecord& record) {
  return record.line.size() + record.service.size() + LogRing::kRecordOverhead;
}

}  // namespace

const char* log_source_name(LogSource source) {
  switch (source) {
    case LogSource::Stdout:
      return "stdout";
    case LogSource::Stderr:
      return "stderr";
    case LogSource::Runtime:
      return "ipcrt";
  }
  return "unknown";
}

LogRing::LogRing(std::size_t total_bytes, std::size_t share_max,
                 const std::vector<std::string>& shares)
    : share_limit_(std::min(share_max, total_bytes / (shares.size() + 1))) {
  shares_[""];
  for (const auto& name : shares) shares_[name];
}

const LogRecord& LogRing::add(const std::string& share, LogSource source,
                              std::chrono::system_clock::time_point time, std::string line) {
  auto found = shares_.find(share);
  if (found == shares_.end()) found = shares_.find("");
  Share& target = found->second;
  LogRecord record;
  record.seq = next_seq_++;
  record.time = time;
  record.service = found->first;
  record.source = source;
  record.line = std::move(line);
  const std::size_t bytes = cost(record);
  // The newest line is always kept, even alone over the limit (a line is at most ~17 KiB):
  // `logs` must show the line that was just written.
  while (!target.records.empty() && target.bytes + bytes > share_limit_) {
    target.bytes -= cost(target.records.front());
    target.last_dropped = target.records.front().seq;
    target.records.pop_front();
  }
  target.bytes += bytes;
  target.records.push_back(std::move(record));
  return target.records.back();
}

std::vector<std::string> LogRing::names() const {
  std::vector<std::string> names;
  for (const auto& [name, share] : shares_) {
    if (!name.empty()) names.push_back(name);
  }
  return names;
}

std::vector<const LogRing::Share*> LogRing::selected(
    const std::optional<std::string>& share) const {
  std::vector<const Share*> result;
  if (share) {
    if (auto found = shares_.find(*share); found != shares_.end()) result.push_back(&found->second);
    return result;
  }
  for (const auto& [name, item] : shares_) result.push_back(&item);
  return result;
}

std::vector<LogRecord> LogRing::last(std::size_t count,
                                     const std::optional<std::string>& share) const {
  const auto shares = selected(share);
  // Walk every share from its newest line back, taking the newest of all each time.
  std::vector<std::size_t> left;
  for (const Share* item : shares) left.push_back(item->records.size());
  std::vector<LogRecord> result;
  while (result.size() < count) {
    std::size_t best = shares.size();
    std::uint64_t best_seq = 0;
    for (std::size_t i = 0; i < shares.size(); ++i) {
      if (left[i] == 0) continue;
      const std::uint64_t seq = shares[i]->records[left[i] - 1].seq;
      if (best == shares.size() || seq > best_seq) {
        best = i;
        best_seq = seq;
      }
    }
    if (best == shares.size()) break;
    result.push_back(shares[best]->records[--left[best]]);
  }
  std::reverse(result.begin(), result.end());
  return result;
}

LogPage LogRing::read(std::uint64_t cursor, std::size_t max,
                      const std::optional<std::string>& share) const {
  const auto shares = selected(share);
  LogPage page;
  std::vector<std::size_t> at;
  for (const Share* item : shares) {
    auto first = std::lower_bound(
        item->records.begin(), item->records.end(), cursor,
        [](const LogRecord& record, std::uint64_t seq) { return record.seq < seq; });
    at.push_back(static_cast<std::size_t>(first - item->records.begin()));
    page.missed = page.missed || (item->last_dropped != 0 && item->last_dropped >= cursor);
  }
  while (page.records.size() < max) {
    std::size_t best = shares.size();
    std::uint64_t best_seq = 0;
    for (std::size_t i = 0; i < shares.size(); ++i) {
      if (at[i] >= shares[i]->records.size()) continue;
      const std::uint64_t seq = shares[i]->records[at[i]].seq;
      if (best == shares.size() || seq < best_seq) {
        best = i;
        best_seq = seq;
      }
    }
    if (best == shares.size()) break;
    page.records.push_back(shares[best]->records[at[best]++]);
  }
  // Nothing left unread below next_seq_ unless the page filled up.
  if (page.records.size() < max) {
    page.next = std::max(cursor, next_seq_);
  } else {
    page.next = page.records.empty() ? cursor : page.records.back().seq + 1;
  }
  return page;
}

std::size_t LogRing::share_bytes(const std::string& share) const {
  auto found = shares_.find(share);
  return found == shares_.end() ? 0 : found->second.bytes;
}

std::size_t LogRing::total_bytes() const {
  std::size_t total = 0;
  for (const auto& [name, share] : shares_) total += share.bytes;
  return total;
}

}  // namespace ipcrt::runtime
