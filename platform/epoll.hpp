// A minimal epoll(7) owner: register fds with a 64-bit tag, wait for ready ones.
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <span>

#include "common/error.hpp"
#include "platform/fd.hpp"

namespace ipcrt::platform {

class Epoll {
 public:
  [[nodiscard]] static Result<Epoll> create();

  [[nodiscard]] Status add(int fd, std::uint32_t events, std::uint64_t tag);
  void remove(int fd);
  // Waits up to `timeout_ms` (-1: forever). Returns the number of ready events (0 on timeout
  // or EINTR).
  [[nodiscard]] Result<int> wait(std::span<epoll_event> events, int timeout_ms);

 private:
  explicit Epoll(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace ipcrt::platform
