// Persistent logs (SPEC §14, `"log": {"dir": ..., "max-bytes": ..., "files": ...}`): every line
// in `<dir>/<manifest>.log`, rotated to `.1`, `.2`, ... so that no file exceeds `max-bytes` and
// at most `files` files exist. Lines are collected in a batch and written by the caller's
// timer or when the batch is full, not one write per line: the storage of a gateway is flash.
// Rotation happens at line boundaries, so every file holds whole lines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "platform/fd.hpp"

namespace ipcrt::runtime {

struct LogFileOptions {
  std::string dir;
  std::size_t max_bytes = 1024 * 1024;
  unsigned files = 3;  // the current file and files - 1 rotated ones
};

class LogFiles {
 public:
  // Past this the batch is written at once rather than at the next timer.
  static constexpr std::size_t kBatchMax = 64 * 1024;

  LogFiles(LogFileOptions options, std::string name);  // name: "<manifest>.log"
  LogFiles(const LogFiles&) = delete;
  LogFiles& operator=(const LogFiles&) = delete;
  ~LogFiles();

  // Creates the directory (0750) if needed and opens the current file for appending: the
  // lines of earlier boots are kept.
  [[nodiscard]] Status open();
  [[nodiscard]] bool is_open() const { return fd_.valid(); }
  // Adds one line (no newline); true when the batch should be written now.
  bool add(std::string_view line);
  [[nodiscard]] bool has_batch() const { return !batch_.empty(); }
  // Writes the batch, rotating where a file would pass max_bytes.
  void flush();
  // flush(), then fdatasync and close: what was logged survives a power cut from here on.
  void close();

  // index 0: the current file; 1..files-1: the rotated ones, newest first.
  [[nodiscard]] std::string path(unsigned index) const;
  [[nodiscard]] std::uint64_t lines_lost() const { return lost_; }

 private:
  [[nodiscard]] Status rotate();

  LogFileOptions options_;
  std::string name_;
  platform::UniqueFd fd_;
  std::size_t size_ = 0;  // of the current file
  std::string batch_;
  std::uint64_t lost_ = 0;
  bool opened_ = false;  // open() succeeded and close() was not called
  bool warned_ = false;  // a write error is logged once
};

}  // namespace ipcrt::runtime
