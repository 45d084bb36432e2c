// epoll(7) wrappers.
#include "platform/epoll.hpp"

#include <cerrno>

#include "common/text.hpp"

namespace ipcrt::platform {

Result<Epoll> Epoll::create() {
  UniqueFd fd(::epoll_create1(EPOLL_CLOEXEC));
  if (!fd.valid()) return fail_errno("epoll_create1");
  return Epoll(std::move(fd));
}

Status Epoll::add(int fd, std::uint32_t events, std::uint64_t tag) {
  epoll_event event{};
  event.events = events;
  event.data.u64 = tag;
  if (::epoll_ctl(fd_.get(), EPOLL_CTL_ADD, fd, &event) != 0) {
    return fail_errno(cat("epoll_ctl add fd ", fd));
  }
  return {};
}

void Epoll::remove(int fd) {
  ::epoll_ctl(fd_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

Result<int> Epoll::wait(std::span<epoll_event> events, int timeout_ms) {
  int n = ::epoll_wait(fd_.get(), events.data(), static_cast<int>(events.size()), timeout_ms);
  if (n < 0) {
    if (errno == EINTR) return 0;
    return fail_errno("epoll_wait");
  }
  return n;
}

}  // namespace ipcrt::platform
