// What services write to stdout and stderr (SPEC §14): read from their pipes in the
// supervisor's loop, never blocking it, and written as labelled log lines.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include "runtime/supervisor.hpp"

namespace ipcrt::runtime {

// A line longer than this is cut (and the rest starts a new line).
inline constexpr std::size_t kMaxOutputLine = 4096;

class ServiceOutput {
 public:
  ServiceOutput() = default;
  ServiceOutput(const ServiceOutput&) = delete;
  ServiceOutput& operator=(const ServiceOutput&) = delete;

  // What the supervisor calls with each started service's pipes.
  [[nodiscard]] OutputHandler handler();
  // After the loop has ended: what is still in the pipes of services that have ended (the
  // loop stops as soon as the last one exits, maybe before it read their last lines).
  void drain_all(Supervisor& supervisor);

 private:
  struct Stream {
    std::string service;
    const char* name;  // "stdout" or "stderr"
    platform::UniqueFd fd;
    std::string partial;  // the start of a line not ended yet
  };
  void attach(Supervisor& supervisor, const std::string& service, const char* name,
              platform::UniqueFd fd);
  void drain(Supervisor& supervisor, Stream& stream, Supervisor::WatchId self, bool hung_up);
  static void emit(const Stream& stream, std::string_view line, bool cut);

  std::map<Supervisor::WatchId, std::unique_ptr<Stream>> streams_;
};

}  // namespace ipcrt::runtime
