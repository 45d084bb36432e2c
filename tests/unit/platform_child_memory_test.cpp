// What a service's init keeps when it forks the service (runtime/launch.cpp, become_init_of):
// the descriptors it names and the pages below the heap's new end, on the real kernel, in a
// forked child so that this process keeps its own.
#include <CppUTest/TestHarness.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "platform/descriptors.hpp"
#include "platform/memory.hpp"

namespace {

// Runs `body` in a forked child; its exit status (0: every check held).
template <typename Body>
int in_child(Body body) {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(body());
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool is_open(int fd) {
  return ::fcntl(fd, F_GETFD) >= 0;
}

}  // namespace

TEST_GROUP(ChildMemory){};

TEST(ChildMemory, OnlyTheNamedDescriptorsFromThreeUpStayOpen) {
  std::vector<int> fds;
  for (int i = 0; i < 8; ++i) fds.push_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const int result = in_child([&fds] {
    const int keep[] = {fds[5], -1, fds[1], fds[5], 2};  // any order, duplicates, unused slots
    if (ipcrt::platform::close_descriptors_except_these(keep, 5) != 0) return 10;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (is_open(fds[i]) != (i == 1 || i == 5)) return 20 + static_cast<int>(i);
    }
    return is_open(0) && is_open(1) && is_open(2) ? 0 : 30;
  });
  for (int fd : fds) ::close(fd);
  LONGS_EQUAL(0, result);
}

TEST(ChildMemory, MoreThanSixtyFourDescriptorsToKeepCloseNothing) {
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int result = in_child([fd] {
    std::vector<int> keep(65, 0);
    if (ipcrt::platform::close_descriptors_except_these(keep.data(), 65) != -E2BIG) return 10;
    return is_open(fd) ? 0 : 11;
  });
  ::close(fd);
  LONGS_EQUAL(0, result);
}

TEST(ChildMemory, TheHeapStartsWhereTheKernelSaysAndShrinksToTheGivenEnd) {
  auto start = ipcrt::platform::heap_start();
  CHECK_TRUE(start.has_value());
  const std::uintptr_t end = ipcrt::platform::heap_end();
  CHECK_TRUE(*start <= end);
  const int result = in_child([start = *start] {
    // Grow the heap by a megabyte of our own, then cut it back to where it began.
    const std::uintptr_t before = ipcrt::platform::heap_end();
    if (ipcrt::platform::shrink_heap(before + (1 << 20)) != 0) return 10;  // brk grows too
    std::memset(reinterpret_cast<void*>(before), 1, 1 << 20);
    if (ipcrt::platform::shrink_heap(before) != 0) return 11;
    if (ipcrt::platform::heap_end() != before) return 12;
    // Below the heap's start the kernel keeps the heap as it is.
    if (start > 4096 && ipcrt::platform::shrink_heap(start - 4096) != -ENOMEM) return 13;
    return 0;
  });
  LONGS_EQUAL(0, result);
}

TEST(ChildMemory, APrivateMappingIsWritableAndItsOwn) {
  auto mapping = ipcrt::platform::PrivateMapping::create(3 * 4096);
  CHECK_TRUE(mapping.has_value());
  std::memset(mapping->data(), 7, mapping->size());
  const int result = in_child([data = mapping->data()] {
    if (data[3 * 4096 - 1] != 7) return 10;  // the child's copy
    data[0] = 9;
    return 0;
  });
  LONGS_EQUAL(0, result);
  LONGS_EQUAL(7, mapping->data()[0]);  // the child wrote its own copy
  ipcrt::platform::PrivateMapping moved = std::move(*mapping);
  CHECK_TRUE(mapping->data() == nullptr && moved.size() == 3 * 4096);
}
